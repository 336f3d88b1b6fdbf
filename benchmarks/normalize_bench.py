"""Normalization throughput: records/s over all fields for N generated records.

    python -m benchmarks.normalize_bench --records 1000000 [--repeat 3]

Generates multi-department records with benchmarks.datagen (not timed), then
times normalizers.normalize_frame alone, and prints records/s, distinct values
per field and peak memory.  Target (issue 2): >= 500,000 records/s on 2 cores.

The first run in a process also loads the shipped tables and warms caches (what
one ``linkage normalize`` pays); with ``--repeat`` the best run is the figure
and the first is shown beside it.  The machine may be shared: the load average
and the process CPU time of each run are printed, since a busy machine slows
the wall clock without changing the work done.
"""

from __future__ import annotations

import argparse
import os
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

    runs: list[float] = []
    for i in range(args.repeat):
        load = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        normalized = normalize_frame(records)
        runs.append(time.perf_counter() - started)
        print(
            f"  run {i + 1}: {runs[-1]:.2f} s wall, {time.process_time() - cpu:.2f} s CPU,"
            f" load average {load:.2f} before, {os.getloadavg()[0]:.2f} after"
        )
    best = min(runs)
    rate = records.height / best
    print(f"normalize_frame: {records.height:,} records in {best:.2f} s = {rate:,.0f} records/s")
    if args.repeat > 1:
        print(f"  first run (loads the tables): {runs[0]:.2f} s = {records.height / runs[0]:,.0f} records/s")
    print(f"peak RSS: {peak_rss_mib():,.0f} MiB")
    counts = reason_counts(normalized)
    print(counts.filter(pl.col("reason") != "OK").head(25))


if __name__ == "__main__":
    main()
