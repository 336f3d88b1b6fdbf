"""Stable person IDs across runs: a first run on 90% of the records, a rerun on all of them.

    python -m benchmarks.rerun_bench --records 200000

Issue 3 asks that a rerun with 10% more records keep at least 99% of the
existing person IDs that are still correct, and that the event log explain
every change.  This script generates the records (seeded), runs the batch job
on a random 90% of them into an identity store, reruns it on all of them
against the same store, and prints:

* the share of first-run records whose person ID is unchanged;
* the share of first-run persons that were *still correct* (all their records
  belong to one true person) whose ID survives on all their records;
* event counts by kind, and how many changed records no event explains (the
  record's old or new person must be the subject or a related ID of an event
  of the rerun).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import polars as pl

from benchmarks.datagen import generate, persons_for_records
from linkage.pipeline import CROSSWALK, run_job
from linkage.store import IdentityStore
from normalizers import schema as s


def bench(records: int, seed: int, fraction: float, work: Path) -> dict[str, float]:
    data, truth = generate(persons_for_records(records), seed=seed)
    first = data.sample(fraction=fraction, seed=seed, shuffle=True)
    first.write_parquet(work / "first.parquet")
    data.write_parquet(work / "all.parquet")
    store = f"sqlite:///{work / 'identity.db'}"
    t0 = time.perf_counter()
    run_job([work / "first.parquet"], work / "run1", store_url=store)
    t1 = time.perf_counter()
    second = run_job([work / "all.parquet"], work / "run2", store_url=store)
    t2 = time.perf_counter()

    key = [s.SOURCE, s.RECORD_ID]
    before = pl.read_parquet(work / "run1" / CROSSWALK).select(*key, s.PERSON_ID)
    after = pl.read_parquet(work / "run2" / CROSSWALK).select(*key, pl.col(s.PERSON_ID).alias("after"))
    both = before.join(after, on=key).join(
        truth.select(*key, pl.col(s.PERSON_ID).alias("truth")), on=key
    )
    kept_records = float((both[s.PERSON_ID] == both["after"]).mean())
    persons = both.group_by(s.PERSON_ID).agg(
        (pl.col("truth").n_unique() == 1).alias("correct"),
        (pl.col("after") == pl.col(s.PERSON_ID)).all().alias("kept"),
    )
    correct = persons.filter("correct")
    kept_correct = float(correct["kept"].mean())

    with IdentityStore.open(store) as st:
        run_id = st.latest_run()
        with st.engine.connect() as conn:
            events = pl.read_database(
                f"SELECT kind, person_id, related_ids FROM events WHERE run_id = {run_id}", conn
            )
    counts = dict(events.group_by("kind").len().sort("kind").iter_rows())
    explained: set[str] = set(events["person_id"].to_list())
    for related in events["related_ids"].to_list():
        explained.update(json.loads(related))
    changed = both.filter(pl.col(s.PERSON_ID) != pl.col("after"))
    unexplained = changed.filter(
        ~pl.col(s.PERSON_ID).is_in(list(explained)) & ~pl.col("after").is_in(list(explained))
    ).height

    print(f"  run 1: {first.height:,} records in {t1 - t0:.1f} s; "
          f"run 2: {data.height:,} records in {t2 - t1:.1f} s ({second.persons:,} persons)")
    print(f"  first-run records keeping their person ID: {kept_records:.4%}")
    print(f"  still-correct first-run persons keeping their ID: {kept_correct:.4%} "
          f"({correct.height:,} of {persons.height:,} persons were still correct)")
    print(f"  rerun events: {counts}")
    print(f"  changed records: {changed.height:,}, without an explaining event: {unexplained:,}")
    return {"kept_records": kept_records, "kept_correct": kept_correct, "unexplained": unexplained}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fraction", type=float, default=0.9, help="share of records in run 1")
    parser.add_argument("--work", type=Path, default=None, help="work directory (default: a temp dir)")
    args = parser.parse_args(argv)
    if not 0 < args.fraction < 1:
        parser.error("--fraction: expected a share between 0 and 1")
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f"{args.records:,} records (seed {args.seed}), run 1 on {args.fraction:.0%}:")
        bench(args.records, args.seed, args.fraction, work)


if __name__ == "__main__":
    main()
