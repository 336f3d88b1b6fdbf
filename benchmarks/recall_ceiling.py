"""Which true pairs a run missed, and what evidence they had: the recall a name-only rule forbids.

    python -m benchmarks.recall_ceiling --records 200000
    python -m benchmarks.recall_ceiling --records 200000 --out DIR   # analyse an earlier run

Runs the batch job on generated records (or reads the output directory of a
run on ``benchmarks.datagen`` data of the same size and seed), then takes every
true pair the run left in two persons and compares it again with the run's own
comparisons and model.  A missed pair is *name-only* when no comparison other
than the name has a weight of at least ``--min-bits`` (2) for it: the two
records share no ID, birth date, phone or address (the sex agreeing, 1 bit, is a
coin flip between two people of one name), and linking them would mean linking on a name alone,
which this library refuses (two people of one name are common; a false merge in
a credit database costs more than a missed link).  The script prints the missed
pairs by the best non-name evidence they hold and by department, and the recall
the run would reach if every pair with some other evidence were linked: the
ceiling without name-only links.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.datagen import generate, persons_for_records
from linkage.comparisons import comparison_vectors
from linkage.model import load_model
from linkage.pipeline import MODEL, RECORDS, run_job
from normalizers import schema as s

TRUE_PERSON = "true_person"


def missed_pairs(records: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The true pairs (ROW_L < ROW_R) in different predicted persons, and the count of true pairs."""
    sizes = records.group_by(TRUE_PERSON).len()
    true_pairs = int((sizes["len"].cast(pl.Int64) * (sizes["len"].cast(pl.Int64) - 1) // 2).sum())
    side = records.select(s.ROW_ID, TRUE_PERSON, s.PERSON_ID)
    pairs = (
        side.join(side, on=TRUE_PERSON, suffix="_r")
        .filter(
            (pl.col(s.ROW_ID) < pl.col(s.ROW_ID + "_r"))
            & (pl.col(s.PERSON_ID) != pl.col(s.PERSON_ID + "_r"))
        )
        .select(pl.col(s.ROW_ID).alias(s.ROW_L), pl.col(s.ROW_ID + "_r").alias(s.ROW_R))
    )
    return pairs, true_pairs


def classify(
    records: pl.DataFrame, pairs: pl.DataFrame, model_path: Path, min_bits: float
) -> pl.DataFrame:
    """Each missed pair with EVIDENCE: its best non-name comparison level of at least
    ``min_bits``, or 'name only'."""
    model = load_model(model_path)
    comparisons = model.build_comparisons()
    vectors = comparison_vectors(records, pairs, comparisons)
    best_label = np.full(pairs.height, "name only", dtype=object)
    best_weight = np.full(pairs.height, min_bits, dtype=np.float64)
    for params in model.comparisons:
        if params.name == "name":
            continue
        levels = vectors[s.GAMMA_PREFIX + params.name].to_numpy()
        weight = params.weights()[levels]
        better = weight >= best_weight
        best_weight[better] = weight[better]
        best_label[better] = [f"{params.name} {params.levels[k].label}" for k in levels[better]]
    source = records.select(s.ROW_ID, s.SOURCE)
    return (
        pairs.with_columns(pl.Series("evidence", best_label.tolist(), dtype=pl.String))
        .join(source.rename({s.ROW_ID: s.ROW_L, s.SOURCE: "source_l"}), on=s.ROW_L)
        .join(source.rename({s.ROW_ID: s.ROW_R, s.SOURCE: "source_r"}), on=s.ROW_R)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="an earlier run's output directory")
    parser.add_argument("--min-bits", type=float, default=2.0,
                        help="weight a non-name level needs to count as evidence (default 2)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    data, truth = generate(persons_for_records(args.records), seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out
        if out is None:
            out = Path(tmp) / "out"
            path = Path(tmp) / "records.parquet"
            data.write_parquet(path)
            run_job([path], out)
        del data
        records = pl.read_parquet(out / RECORDS).join(
            truth.select(s.SOURCE, s.RECORD_ID, pl.col(s.PERSON_ID).alias(TRUE_PERSON)),
            on=[s.SOURCE, s.RECORD_ID],
        )
        pairs, true_pairs = missed_pairs(records)
        missed = classify(records, pairs, out / MODEL, args.min_bits)
    name_only = int((missed["evidence"] == "name only").sum())
    recall = 1 - missed.height / true_pairs
    print(f"{records.height:,} records, {true_pairs:,} true pairs, {missed.height:,} missed: "
          f"recall {recall:.5f}")
    print(f"name-only misses {name_only:,} ({name_only / max(missed.height, 1):.1%} of misses); "
          f"recall if every other miss were linked: {1 - name_only / true_pairs:.5f}")
    with pl.Config(tbl_rows=30, tbl_hide_dataframe_shape=True):
        print(missed.group_by("evidence").len().sort("len", descending=True))
        sources = pl.concat_str([pl.min_horizontal("source_l", "source_r"),
                                 pl.max_horizontal("source_l", "source_r")], separator=" + ")
        print(missed.filter(pl.col("evidence") == "name only")
              .group_by(sources.alias("name-only misses: departments")).len()
              .sort("len", descending=True).head(10))


if __name__ == "__main__":
    main()
