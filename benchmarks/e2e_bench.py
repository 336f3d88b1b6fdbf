"""End-to-end speed and memory of `linkage run`: time and peak RSS per stage, and accuracy.

    python -m benchmarks.e2e_bench --records 1000000
    python -m benchmarks.e2e_bench --records 100000 --records 1000000   # growth

Generates the records with benchmarks.datagen (not timed), writes them to a
work directory, runs linkage.pipeline.run_job on them and prints, per stage,
wall seconds and the process's peak RSS when the stage ended, then the total,
the row accounting and pairwise precision/recall against the generator's
truth.  Targets (issue 3): 1,000,000 records <= 60 s and <= 8 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from benchmarks._measure import peak_rss_mib
from benchmarks.datagen import generate, persons_for_records
from linkage.evaluate import evaluate
from linkage.pipeline import CROSSWALK, run_job


def bench(records: int, seed: int, work: Path) -> dict[str, float]:
    import polars as pl

    data, truth = generate(persons_for_records(records), seed=seed)
    path = work / f"records_{records}.parquet"
    data.write_parquet(path)
    del data
    stages: list[tuple[str, float, float]] = []
    started: dict[str, float] = {}

    def on_stage(stage: str, message: str) -> None:
        if not message:
            started[stage] = time.perf_counter()
        else:
            stages.append((stage, time.perf_counter() - started[stage], peak_rss_mib()))
            print(f"  {stage:<10} {stages[-1][1]:7.2f} s  peak {stages[-1][2]:7,.0f} MiB  {message}",
                  flush=True)

    t0 = time.perf_counter()
    result = run_job([path], work / f"out_{records}", on_stage=on_stage)
    total = time.perf_counter() - t0
    report = evaluate(truth, pl.read_parquet(work / f"out_{records}" / CROSSWALK))
    print(f"  total      {total:7.2f} s  peak {peak_rss_mib():7,.0f} MiB  (report and summary included)")
    print(f"  {result.accounting_line}")
    print(
        f"  pairwise P {report.pairwise.precision:.5f} R {report.pairwise.recall:.5f} "
        f"F1 {report.pairwise.f1:.5f}; hard-pair merge rates "
        + ", ".join(f"{h.kind} {h.merge_rate:.2%}" for h in report.hard_cases)
    )
    return {"records": result.input_rows, "seconds": total, "rss": peak_rss_mib()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, action="append", help="repeatable")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None, help="work directory (default: a temp dir)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sizes = args.records or [1_000_000]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows = []
        for n in sizes:
            print(f"{n:,} records (seed {args.seed}):")
            rows.append(bench(n, args.seed, work))
    if len(rows) > 1:
        base = rows[0]
        for row in rows[1:]:
            growth = row["seconds"] / base["seconds"]
            print(f"{base['records']:,} -> {row['records']:,} records: time x{growth:.1f} "
                  f"for x{row['records'] / base['records']:.1f} records")


if __name__ == "__main__":
    main()
