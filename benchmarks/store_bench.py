"""Speed of the identity store's bulk writes and reads on SQLite and PostgreSQL.

    python -m benchmarks.store_bench --rows 1000000
    python -m benchmarks.store_bench --rows 1000000 --backend sqlite --no-records

Builds synthetic frames shaped like the batch job's (not timed): ``--rows``
crosswalk rows of ``--persons`` persons (default 40% of the rows) over six
sources, their canonical person values, one CREATE event per person and the
records' raw canonical fields.  Then, per backend, on a fresh store:

- run 1: ``save_run`` into the empty store;
- run 2: ``save_run`` of the same records plus 10% new ones (new persons),
  so the crosswalk, persons and records tables already hold a run's rows;
- ``load_crosswalk`` and ``load_records`` of the result;
- ``apply_ingest`` as the service calls it: 50 calls of one record attached to
  a known person (median and p95 milliseconds), then one call of 1,000 records
  of 1,000 new persons.

It prints the wall seconds of each, and inside each save_run the wall seconds
of its phases as the store logs them (``linkage.store`` records ``phases`` on
its "run saved" log record) with this process's CPU seconds in brackets: on a
busy machine the CPU figure is the steadier one for SQLite, which runs in this
process; for PostgreSQL it leaves out the server's work.  PostgreSQL runs in a
private schema of the server at ``--pg-url`` (dropped afterwards) and is
skipped when the server is unreachable.  ``--no-records`` saves without
``records_frame``, as the batch job did before schema version 2.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa

from benchmarks._measure import peak_rss_mib
from linkage.identities import EVENT_KIND, EVENT_REASON, EVENT_RECORDS, RELATED_IDS, EventKind
from linkage.store import IdentityStore
from normalizers import schema as s

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SOURCES = ("tax", "court", "bank", "social", "police", "customs")
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英")


def person_id_expr(column: str) -> pl.Expr:
    """An opaque 17-character ID like linkage.identities' (order unrelated to the number)."""
    mixed = (pl.col(column).cast(pl.UInt64) * 0x9E3779B97F4A7C15) % (2**61 - 1)
    return pl.format("P{}", (mixed % 10**16).cast(pl.String).str.zfill(16))


def synthetic(rows: int, persons: int, seed: int, offset: int = 0) -> dict[str, pl.DataFrame]:
    """Crosswalk, persons, events and records frames of ``rows`` records of ``persons`` persons.

    Record and person numbers start at ``offset`` so a second call adds new
    records of new persons to the first call's.
    """
    rng = np.random.default_rng(seed + offset)
    owner = np.concatenate([np.arange(persons), rng.integers(0, persons, rows - persons)])
    rng.shuffle(owner)
    base = pl.DataFrame(
        {
            "n": np.arange(offset, offset + rows, dtype=np.int64),
            "p": owner.astype(np.int64) + offset,
            "src": rng.integers(0, len(SOURCES), rows).astype(np.int64),
            "has_id": rng.random(rows) < 0.7,
            "prob": rng.random(rows),
        }
    )
    id_number = pl.format("110101{}", (pl.col("p") % 10**12).cast(pl.String).str.zfill(12))
    dob = pl.date(1940, 1, 1) + pl.duration(days=pl.col("p") % 25_000)
    source = pl.col("src").replace_strict(list(range(len(SOURCES))), list(SOURCES))
    keyed = base.select(
        source.alias(s.SOURCE),
        pl.format("R{}", pl.col("n").cast(pl.String).str.zfill(10)).alias(s.RECORD_ID),
        person_id_expr("p").alias(s.PERSON_ID),
        pl.col("prob").alias(s.MATCH_PROBABILITY),
        pl.when("has_id").then(pl.format("RESIDENT:{}", id_number)).alias(s.ID_KEY),
        pl.when("has_id").then(id_number).alias(s.ID_NUMBER),
        pl.concat_str(
            pl.col("p").mod(len(SURNAMES)).replace_strict(list(range(len(SURNAMES))), SURNAMES),
            pl.col("p").floordiv(7).mod(len(GIVEN)).replace_strict(list(range(len(GIVEN))), GIVEN),
            pl.col("p").floordiv(11).mod(len(GIVEN)).replace_strict(list(range(len(GIVEN))), GIVEN),
        ).alias(s.NAME),
        dob.dt.to_string("%Y-%m-%d").alias(s.BIRTH_DATE),
        pl.when(pl.col("p") % 2 == 0).then(pl.lit("男")).otherwise(pl.lit("女")).alias(s.SEX),
        pl.format("13{}", (pl.col("n") * 7919 % 10**9).cast(pl.String).str.zfill(9)).alias(s.PHONE),
        pl.format("北京市朝阳区建国路{}号", pl.col("n") % 997).alias(s.ADDRESS),
        pl.lit("汉").alias(s.ETHNICITY),
        pl.lit(None, pl.String).alias(s.NAME_LATIN),
        pl.when("has_id").then(pl.lit("居民身份证")).alias(s.ID_TYPE),
        dob.alias(s.DOB),
        pl.col("p"),
    )
    crosswalk = keyed.select(s.SOURCE, s.RECORD_ID, s.PERSON_ID, s.MATCH_PROBABILITY, s.ID_KEY)
    records = keyed.select(s.RAW_COLUMNS)
    people = keyed.group_by("p").agg(pl.all().first()).sort("p")
    persons_frame = people.select(
        s.PERSON_ID,
        pl.col(s.NAME).alias(s.NAME_NORM),
        pl.col(s.NAME_LATIN).alias(s.NAME_LATIN_NORM),
        pl.when(pl.col(s.ID_NUMBER).is_not_null()).then(pl.lit("RESIDENT")).alias(s.ID_KIND),
        pl.col(s.ID_NUMBER).alias(s.ID_NORM),
        s.DOB,
        pl.when(pl.col(s.SEX) == "男").then(pl.lit("M")).otherwise(pl.lit("F")).alias(s.SEX_BEST),
    )
    events = people.select(
        pl.lit(EventKind.CREATE.value).alias(EVENT_KIND),
        s.PERSON_ID,
        pl.lit([], pl.List(pl.String)).alias(RELATED_IDS),
        pl.lit(1, pl.Int64).alias(EVENT_RECORDS),
        pl.lit("new person: a cluster of records no known person held").alias(EVENT_REASON),
    )
    return {"crosswalk": crosswalk, "persons": persons_frame, "events": events, "records": records}


class _Phases(logging.Handler):
    """Collects the ``phases`` the store attaches to its "run saved" log record."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.phases: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        phases = getattr(record, "phases", None)
        if phases:
            self.phases = dict(phases)
            self.cpu = dict(getattr(record, "phases_cpu", {}))


def _save(
    store: IdentityStore, frames: dict[str, pl.DataFrame], with_records: bool, label: str
) -> None:
    handler = _Phases()
    logger = logging.getLogger("linkage.store")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        run = store.begin_run({"bench": label})
        extra: dict[str, Any] = {"records_frame": frames["records"]} if with_records else {}
        started, cpu = time.perf_counter(), time.process_time()
        store.save_run(
            run, frames["crosswalk"], frames["persons"], frames["events"], '{"m": 1}', **extra
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        store.finish_run(run)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = True
    inner = " · ".join(
        f"{k} {v:.2f} ({handler.cpu.get(k, 0.0):.2f})" for k, v in handler.phases.items()
    )
    print(f"  {label:<14} {seconds:7.2f} s (cpu {cpu:5.2f})   {inner}", flush=True)


def bench(
    url: str,
    frames1: dict[str, pl.DataFrame],
    frames2: dict[str, pl.DataFrame],
    with_records: bool,
    **open_kwargs: Any,
) -> None:
    with IdentityStore.open(url, **open_kwargs) as store:
        _save(store, frames1, with_records, "save run 1")
        _save(store, frames2, with_records, "save run 2")
        loads = [("load_crosswalk", store.load_crosswalk)]
        if with_records and hasattr(store, "load_records"):
            loads.append(("load_records", store.load_records))
        for label, load in loads:
            started, cpu = time.perf_counter(), time.process_time()
            loaded = load()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"  {label:<14} {seconds:7.2f} s (cpu {cpu:5.2f})   {loaded.height:,} rows",
                flush=True,
            )
        if with_records and hasattr(store, "apply_ingest"):
            _ingest(store, frames2)


def _ingest(store: IdentityStore, frames: dict[str, pl.DataFrame], calls: int = 50) -> None:
    """Service-sized writes: single records attached to known persons, then 1,000 new persons."""
    from linkage.store import IngestBatch

    known = frames["crosswalk"].select(s.SOURCE, s.RECORD_ID, s.PERSON_ID).sample(calls, seed=1)
    fields = frames["records"].join(known, on=[s.SOURCE, s.RECORD_ID], how="semi")
    seconds = []
    for i, row in enumerate(known.iter_rows(named=True)):
        key = {s.SOURCE: "ingest", s.RECORD_ID: f"I{i:06d}"}
        one = fields.filter(
            (pl.col(s.SOURCE) == row[s.SOURCE]) & (pl.col(s.RECORD_ID) == row[s.RECORD_ID])
        ).with_columns(**{k: pl.lit(v) for k, v in key.items()})
        crosswalk = pl.DataFrame([{**key, s.PERSON_ID: row[s.PERSON_ID]}])
        started = time.perf_counter()
        store.apply_ingest(IngestBatch(records=one, crosswalk=crosswalk))
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    print(
        f"  {'ingest 1 x' + str(calls):<14} {1000 * seconds[len(seconds) // 2]:7.1f} ms median, "
        f"{1000 * seconds[int(len(seconds) * 0.95)]:.1f} ms p95 (attach to a known person)",
        flush=True,
    )
    batch = synthetic(1000, 1000, 7, offset=10**8)
    started = time.perf_counter()
    store.apply_ingest(
        IngestBatch(
            records=batch["records"],
            crosswalk=batch["crosswalk"],
            new_persons=batch["persons"],
            events=batch["events"],
        )
    )
    print(
        f"  {'ingest 1000':<14} {1000 * (time.perf_counter() - started):7.1f} ms "
        "(1,000 new persons in one call)",
        flush=True,
    )


def _pg_reachable(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="crosswalk rows of run 1")
    parser.add_argument("--persons", type=int, default=None, help="default: 40%% of --rows")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        action="append",
        help="repeatable; default both",
    )
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument(
        "--no-records",
        action="store_true",
        help="save without records_frame (the store before schema v2's records)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    persons = args.persons or max(1, int(args.rows * 0.4))
    if not 0 < persons <= args.rows:
        parser.error("--persons must be between 1 and --rows")
    started = time.perf_counter()
    frames1 = synthetic(args.rows, persons, args.seed)
    extra = synthetic(max(1, args.rows // 10), max(1, persons // 10), args.seed, offset=args.rows)
    frames2 = {
        "crosswalk": pl.concat([frames1["crosswalk"], extra["crosswalk"]]),
        "persons": pl.concat([frames1["persons"], extra["persons"]]),
        "events": extra["events"],
        "records": pl.concat([frames1["records"], extra["records"]]),
    }
    print(
        f"frames: run 1 {args.rows:,} records of {persons:,} persons, run 2 "
        f"{frames2['crosswalk'].height:,} records; built in {time.perf_counter() - started:.1f} s"
    )
    with_records = not args.no_records
    for backend in args.backend or ["sqlite", "postgresql"]:
        print(f"{backend}{'' if with_records else ' (no records table)'}:", flush=True)
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                bench(f"sqlite:///{Path(tmp) / 'identity.db'}", frames1, frames2, with_records)
            continue
        if not _pg_reachable(args.pg_url):
            print(f"  skipped: {args.pg_url} is unreachable")
            continue
        schema = f"store_bench_{uuid.uuid4().hex[:8]}"
        try:
            bench(args.pg_url, frames1, frames2, with_records, schema=schema)
        finally:
            engine = sa.create_engine(args.pg_url)
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            engine.dispose()
    print(f"peak RSS {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
