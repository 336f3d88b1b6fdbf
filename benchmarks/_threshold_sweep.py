"""The clustering threshold that maximises F1 against the truth: an oracle figure.

A tool that writes its scored pairs can be clustered (connected components, as
Splink's ``cluster_pairwise_predictions_at_threshold`` and the recordlinkage peer do)
at any threshold.  Sweeping a fixed grid and keeping the best pairwise F1 uses the
labels, so the result is an upper bound on what the tool reaches unlabelled; the
harness prints it next to the tool's own threshold, marked as such.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl

from benchmarks.peers._runner import (
    MATCH_PROBABILITY,
    PERSON_ID,
    ROW_L,
    ROW_R,
    connected_components,
)
from linkage.evaluate import EvaluationReport, evaluate
from normalizers import schema as S

THRESHOLDS: Final[tuple[float, ...]] = (
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.3,
    0.4,
    0.5,
    0.6,
    0.7,
    0.8,
    0.85,
    0.9,
    0.92,
    0.94,
    0.95,
    0.96,
    0.97,
    0.98,
    0.99,
    0.995,
    0.998,
    0.999,
    0.9995,
    0.9999,
)


def cluster_at(keys: pl.DataFrame, pairs: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Crosswalk (source, record_id, person_id) of the components of pairs >= threshold.

    ``keys`` holds the records' SOURCE and RECORD_ID in input row order; ``pairs``
    refers to rows by their 0-based number.
    """
    kept = pairs.filter(pl.col(MATCH_PROBABILITY) >= threshold)
    labels = connected_components(
        keys.height,
        kept.get_column(ROW_L).to_numpy().astype(np.int64),
        kept.get_column(ROW_R).to_numpy().astype(np.int64),
    )
    return keys.select(S.SOURCE, S.RECORD_ID).with_columns(
        pl.Series(PERSON_ID, labels, dtype=pl.Int64)
    )


def sweep(
    truth: pl.DataFrame,
    keys: pl.DataFrame,
    pairs: pl.DataFrame,
    thresholds: tuple[float, ...] = THRESHOLDS,
) -> list[tuple[float, EvaluationReport]]:
    """The evaluation at each threshold, in the order given."""
    return [(t, evaluate(truth, cluster_at(keys, pairs, t), by_source=False)) for t in thresholds]


def best_threshold(
    truth: pl.DataFrame,
    keys: pl.DataFrame,
    pairs: pl.DataFrame,
    thresholds: tuple[float, ...] = THRESHOLDS,
) -> tuple[float, EvaluationReport]:
    """The grid threshold with the highest pairwise F1 (the higher threshold on ties)."""
    points = sweep(truth, keys, pairs, thresholds)
    return max(points, key=lambda point: (point[1].pairwise.f1, point[0]))
