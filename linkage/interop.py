"""Interoperability with the ``recordlinkage`` toolkit (0.16).

Two bridges: our comparison vectors as a pandas feature frame indexed by
(row_l, row_r), ready for recordlinkage's classifiers (one-hot encode the
levels for e.g. ``LogisticRegressionClassifier``, or reduce them to agreement
indicators for ``ECMClassifier``); and any of our
comparisons as a ``recordlinkage`` compare feature, so that it can be added to a
``recordlinkage.Compare`` object next to the toolkit's own features.

>>> import recordlinkage
>>> from linkage.comparisons import DobComparison
>>> compare = recordlinkage.Compare()
>>> compare.add(RecordLinkageFeature(DobComparison()))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from recordlinkage.base import BaseCompareFeature

from linkage.comparisons import Comparison
from normalizers import schema as s
from normalizers.errors import SchemaError


def to_recordlinkage_features(vectors: pl.DataFrame) -> pd.DataFrame:
    """The gamma columns as a pandas frame (one Int8 column per comparison, named by it).

    Indexed by a MultiIndex of (row_l, row_r), as recordlinkage expects.
    """
    gammas = [c for c in vectors.columns if c.startswith(s.GAMMA_PREFIX)]
    if not gammas:
        raise SchemaError(f"vectors: no {s.GAMMA_PREFIX}* columns")
    for c in (s.ROW_L, s.ROW_R):
        if c not in vectors.columns:
            raise SchemaError(f"vectors: expected a {c!r} column")
    index = pd.MultiIndex.from_arrays(
        [vectors[s.ROW_L].to_numpy(), vectors[s.ROW_R].to_numpy()], names=[s.ROW_L, s.ROW_R]
    )
    data = {c.removeprefix(s.GAMMA_PREFIX): vectors[c].to_numpy() for c in gammas}
    return pd.DataFrame(data, index=index)


def one_hot(features: pd.DataFrame, *, drop_null: bool = True) -> pd.DataFrame:
    """Binary indicator columns ``<comparison>_<level>`` for recordlinkage's binary classifiers.

    The null level (0, no information) gets no column unless ``drop_null`` is false.
    """
    parts = []
    for name in features.columns:
        levels = np.unique(features[name].to_numpy())
        for level in levels:
            if drop_null and level == 0:
                continue
            parts.append((features[name] == level).astype(np.int8).rename(f"{name}_{level}"))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=features.index)


def agreement(features: pd.DataFrame) -> pd.DataFrame:
    """1 where a comparison is at its strongest agreement level (level 1), else 0.

    recordlinkage's ``ECMClassifier`` models binary agree/disagree features;
    fed these it behaves (``init="jaro"``), whereas multi-level one-hot columns
    make its EM take log(0).
    """
    return (features == 1).astype(np.int8)


class RecordLinkageFeature(BaseCompareFeature):
    """One of our comparisons as a recordlinkage compare feature (output: the Int8 level).

    The records given to ``recordlinkage.Compare.compute`` must carry the
    comparison's ``columns``; ``schema`` (e.g. the polars records' schema)
    restores dtypes lost in pandas, such as dates turned into datetimes.
    """

    name = "chengxin_comparison"
    description = "Compare records with a chengxin-linkage comparison"

    def __init__(
        self,
        comparison: Comparison,
        *,
        label: str | None = None,
        schema: Mapping[str, Any] | None = None,
    ) -> None:
        columns = list(comparison.columns)
        super().__init__(columns, columns, label=label or comparison.name)
        self.comparison = comparison
        self.schema = dict(schema or {})

    def _frame(self, series: tuple[pd.Series, ...]) -> pl.DataFrame:
        columns = []
        for name, values in zip(self.comparison.columns, series, strict=True):
            col = pl.from_pandas(values.reset_index(drop=True)).alias(name)
            if name in self.schema:
                col = col.cast(self.schema[name])
            columns.append(col)
        return pl.DataFrame(columns)

    def _compute_vectorized(self, *args: pd.Series) -> pd.Series:
        k = len(self.comparison.columns)
        left, right = self._frame(args[:k]), self._frame(args[k:])
        levels = self.comparison.compute(left, right)
        return pd.Series(levels.to_numpy(), index=args[0].index, name=self.label)
