"""Normalization throughput: records/s over all fields for N generated records.

    python -m benchmarks.normalize_bench --records 1000000

Generates multi-department records with benchmarks.datagen (not timed), then
times normalizers.normalize_frame alone, and prints records/s, distinct values
per field and peak memory.  Target (issue 2): >= 500,000 records/s on 2 cores.
"""

from __future__ import annotations

import argparse
import time

import polars as pl

from benchmarks._measure import peak_rss_mib
from benchmarks.datagen import generate, persons_for_records
from normalizers import schema
from normalizers.frame import normalize_frame, reason_counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="time the best of this many runs")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    records, _truth = generate(persons_for_records(args.records), seed=args.seed)
    print(f"generated {records.height:,} records in {time.perf_counter() - t0:.1f} s (not timed below)")
    for col in (schema.NAME, schema.ID_NUMBER, schema.BIRTH_DATE, schema.PHONE, schema.ADDRESS):
        print(f"  distinct {col:<12} {records[col].n_unique():>10,}")

    best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        normalized = normalize_frame(records)
        best = min(best, time.perf_counter() - started)
    rate = records.height / best
    print(f"normalize_frame: {records.height:,} records in {best:.2f} s = {rate:,.0f} records/s")
    print(f"peak RSS: {peak_rss_mib():,.0f} MiB")
    counts = reason_counts(normalized)
    print(counts.filter(pl.col("reason") != "OK").head(25))


if __name__ == "__main__":
    main()
