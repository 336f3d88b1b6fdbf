"""Explanations of a finished run, read back from its output directory.

A pair: the waterfall of the model's weights (prior, then each comparison's
level and weight, then the final probability), recomputed with the saved model
so that it is exactly what scoring did.  A person: its records (ID and phone
numbers masked) and the edges that joined them, or were cut by constraints.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.table import Table

from linkage.model import FSModel, PairExplanation, explain_pair
from linkage.pipeline import EDGE_KIND, EDGES, MODEL, RECORDS
from normalizers import schema as s
from normalizers.errors import ConfigError, InputFileError
from normalizers.masking import mask_id, mask_phone


def load_run(out_dir: Path) -> tuple[pl.DataFrame, FSModel]:
    """The normalized records (linkable ones) and the model of the run in ``out_dir``."""
    out_dir = Path(out_dir)
    records_path, model_path = out_dir / RECORDS, out_dir / MODEL
    for path in (records_path, model_path):
        if not path.exists():
            raise InputFileError(f"{path}: not found; is {out_dir} the output directory of `linkage run`?")
    records = pl.read_parquet(records_path).filter(pl.col(s.RECORD_REASON).is_null())
    return records, FSModel.from_json(model_path.read_text(encoding="utf-8"))


def _row_of(records: pl.DataFrame, key: str) -> int:
    source, sep, record_id = key.partition(":")
    if not sep or not source or not record_id:
        raise ConfigError(f"record: expected SOURCE:RECORD_ID (got {key!r})")
    found = records.filter((pl.col(s.SOURCE) == source) & (pl.col(s.RECORD_ID) == record_id))
    if found.height == 0:
        raise ConfigError(f"record {key!r}: not among the linked records of this run")
    return int(found[s.ROW_ID][0])


def explain_records(out_dir: Path, left: str, right: str) -> PairExplanation:
    """The explanation of the pair ``SOURCE:RECORD_ID`` x ``SOURCE:RECORD_ID``."""
    records, model = load_run(out_dir)
    row_l, row_r = sorted((_row_of(records, left), _row_of(records, right)))
    return explain_pair(records, row_l, row_r, model)


def explain_pair_table(out_dir: Path, left: str, right: str) -> Table:
    """A rich table of the waterfall, for the CLI."""
    explanation = explain_records(out_dir, left, right)
    frame = explanation.to_frame()
    table = Table(title=f"{left}  vs  {right}", caption=(
        f"match weight {explanation.match_weight:+.2f} bits -> "
        f"probability {explanation.match_probability:.6f}"
    ))
    for column in ("comparison", "level", "m", "u", "weight", "cumulative"):
        table.add_column(column, justify="left" if column in ("comparison", "level") else "right")
    for row in frame.iter_rows(named=True):
        weight = row["weight"]
        colour = "green" if weight > 0 else "red" if weight < 0 else "dim"
        u = row["u_tf"] if row["u_tf"] is not None else row["u"]
        table.add_row(
            row["comparison"],
            row["label"] or "",
            "" if row["m"] is None else f"{row['m']:.4g}",
            "" if u is None else f"{u:.4g}" + (" (tf)" if row["u_tf"] is not None else ""),
            f"[{colour}]{weight:+.2f}[/{colour}]",
            f"{row['cumulative']:+.2f}",
        )
    return table


def person_records(out_dir: Path, person_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The person's records (masked) and the edges among them (kept and cut)."""
    out_dir = Path(out_dir)
    path = out_dir / RECORDS
    if not path.exists():
        raise InputFileError(f"{path}: not found; is {out_dir} the output directory of `linkage run`?")
    records = pl.read_parquet(path).filter(pl.col(s.PERSON_ID) == person_id)
    if records.height == 0:
        raise ConfigError(f"person {person_id!r}: not in this run")
    rows = records[s.ROW_ID].implode()
    edges = pl.read_parquet(out_dir / EDGES).filter(
        pl.col(s.ROW_L).is_in(rows) | pl.col(s.ROW_R).is_in(rows)
    )
    shown = records.select(
        s.ROW_ID, s.SOURCE, s.RECORD_ID, s.NAME_NORM, s.NAME_LATIN_NORM,
        pl.col(s.ID_NORM).map_elements(mask_id, return_dtype=pl.String),
        s.DOB, s.SEX_BEST,
        pl.col(s.PHONE_NORM).map_elements(mask_phone, return_dtype=pl.String),
    )
    return shown, edges


def explain_person_table(out_dir: Path, person_id: str) -> list[Table]:
    """Rich tables: the person's records, then the edges that formed it."""
    shown, edges = person_records(out_dir, person_id)
    records_table = Table(title=f"person {person_id}: {shown.height} records")
    for column in shown.columns:
        records_table.add_column(column)
    for row in shown.iter_rows():
        records_table.add_row(*("" if v is None else str(v) for v in row))
    key = {r[0]: f"{r[1]}:{r[2]}" for r in shown.select(s.ROW_ID, s.SOURCE, s.RECORD_ID).iter_rows()}
    edges_table = Table(title="edges (kept joined the person; cut were removed by constraints)")
    for column in ("edge", "left", "right", "rule", "weight", "probability"):
        edges_table.add_column(column)
    for row in edges.sort(s.MATCH_WEIGHT, descending=True).iter_rows(named=True):
        edges_table.add_row(
            row[EDGE_KIND], key.get(row[s.ROW_L], str(row[s.ROW_L])),
            key.get(row[s.ROW_R], str(row[s.ROW_R])), str(row.get(s.RULE) or ""),
            f"{row[s.MATCH_WEIGHT]:+.2f}", f"{row[s.MATCH_PROBABILITY]:.6f}",
        )
    return [records_table, edges_table]
