"""What every peer shares: its command line, stage timer and output files.

A peer is run as ``python -m benchmarks.peers.<tool> --records PATH --out DIR`` and
writes into DIR:

``crosswalk.parquet``
    :data:`~normalizers.schema.SOURCE`, :data:`~normalizers.schema.RECORD_ID`,
    ``person_id``: one row per input record, records of one predicted person sharing
    the id.
``stats.json``
    ``tool``, ``version``, ``records``, ``candidate_pairs`` (pairs the tool scored),
    ``stages`` (list of ``[name, seconds]`` in run order), ``peak_rss_mib`` (this
    process and its waited-for children, from getrusage), ``threshold`` and ``notes``.
``pairs.parquet`` (optional)
    ``row_l``, ``row_r`` (0-based row numbers in the records file) and
    ``match_probability`` of every scored (candidate) pair; the harness measures
    blocking recall on it and sweeps clustering thresholds over it.

A failure exits non-zero with a one-line message on stderr (the harness shows the
last lines of stderr).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from normalizers import schema as S

if TYPE_CHECKING:  # imported where used, so that the `ours` wrapper stays small in memory
    import numpy as np
    import polars as pl

CROSSWALK_FILE: Final = "crosswalk.parquet"
STATS_FILE: Final = "stats.json"
PAIRS_FILE: Final = "pairs.parquet"
PERSON_ID: Final = "person_id"
ROW_L: Final = "row_l"
ROW_R: Final = "row_r"
MATCH_PROBABILITY: Final = S.MATCH_PROBABILITY


class PeerError(Exception):
    """A peer cannot run (missing tool, unusable input); the message is shown as is."""


def peak_rss_mib() -> float:
    """Peak RSS of this process or of its largest waited-for child, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


@dataclass
class Stages:
    """Wall time per named stage, in run order."""

    seconds: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds.append((name, time.perf_counter() - started))
            print(f"[{name}] {self.seconds[-1][1]:.2f} s", file=sys.stderr, flush=True)


def parse_args(
    tool: str, argv: list[str] | None, doc: str, *, default_threshold: float = 0.9
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m benchmarks.peers.{tool}", description=doc.split("\n\n")[0]
    )
    parser.add_argument("--records", type=Path, required=True, help="records.parquet (raw schema)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--threshold",
        type=float,
        default=default_threshold,
        help=f"match probability to cluster at (default {default_threshold})",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for sampling steps")
    return parser.parse_args(argv)


def read_records(path: Path) -> pl.DataFrame:
    """The input records; all raw columns as strings."""
    import polars as pl

    try:
        records = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise PeerError(f"cannot read records {path}: {exc}") from exc
    missing = [c for c in S.RAW_COLUMNS if c not in records.columns]
    if missing:
        raise PeerError(f"records {path}: missing column(s) {missing}")
    return records.select(pl.col(c).cast(pl.String) for c in S.RAW_COLUMNS)


def crosswalk(records: pl.DataFrame, labels: np.ndarray) -> pl.DataFrame:
    """(source, record_id, person_id) with one cluster label per record row."""
    import polars as pl

    return records.select(S.SOURCE, S.RECORD_ID).with_columns(
        pl.Series(PERSON_ID, labels, dtype=pl.Int64)
    )


def write_outputs(
    out: Path,
    *,
    tool: str,
    version: str,
    crosswalk_frame: pl.DataFrame,
    stages: Stages,
    candidate_pairs: int | None,
    threshold: float | None,
    pairs: pl.DataFrame | None = None,
    notes: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the files of the module doc."""
    import polars as pl

    out.mkdir(parents=True, exist_ok=True)
    crosswalk_frame.write_parquet(out / CROSSWALK_FILE)
    if pairs is not None:
        pairs.select(
            pl.col(ROW_L).cast(pl.Int64),
            pl.col(ROW_R).cast(pl.Int64),
            pl.col(MATCH_PROBABILITY).cast(pl.Float64),
        ).write_parquet(out / PAIRS_FILE)
    stats = {
        "tool": tool,
        "version": version,
        "records": crosswalk_frame.height,
        "candidate_pairs": candidate_pairs,
        "stages": [[name, round(seconds, 3)] for name, seconds in stages.seconds],
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "threshold": threshold,
        "notes": notes or [],
        **(extra or {}),
    }
    (out / STATS_FILE).write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")


def connected_components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component label (0..k-1) of each of ``n`` nodes under the undirected edges."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as components

    graph = coo_matrix(
        (np.ones(len(left), dtype=np.int8), (np.asarray(left), np.asarray(right))), shape=(n, n)
    )
    return components(graph, directed=False)[1]


def run_main(main: Any, argv: list[str] | None = None) -> int:
    """Run a peer's ``main``; a PeerError becomes exit code 3 with its message."""
    try:
        main(argv)
    except PeerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0
