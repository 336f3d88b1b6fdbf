"""The identity store: round trips on SQLite and PostgreSQL, migrations, raw records, ingest."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from linkage import store as store_module
from linkage.identities import (
    EVENT_KIND,
    EVENT_REASON,
    EVENT_RECORDS,
    EVENT_SCHEMA,
    RELATED_IDS,
    assign_person_ids,
)
from linkage.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    IdentityStore,
    IngestBatch,
    StoreError,
    mask_id_expr,
)
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError
from normalizers.masking import mask_id


@pytest.fixture(scope="module")
def pg_url(local_postgres_url: str | None) -> str:
    url = local_postgres_url
    if url is None:
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is unreachable")
    return url


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A schema of its own per test, dropped afterwards, so tests can run repeatedly and in parallel."""
    name = f"test_store_{uuid.uuid4().hex[:12]}"
    yield name
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    engine.dispose()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("sqlite-executemany", id="sqlite-executemany"),
    pytest.param("copy", id="postgres-copy", marks=pytest.mark.postgres),
    pytest.param("executemany", id="postgres-executemany", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def open_store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A function opening (and reopening) one store of the parametrized backend."""
    opened: list[IdentityStore] = []
    if request.param == "sqlite":
        url, kwargs = f"sqlite:///{tmp_path}/out/identity.db", {}
    elif request.param == "sqlite-executemany":
        url, kwargs = f"sqlite:///{tmp_path}/out/identity.db", {"bulk": "executemany"}
    else:
        schema = request.getfixturevalue("pg_schema")
        url, kwargs = request.getfixturevalue("pg_url"), {"schema": schema, "bulk": request.param}

    def _open(**extra: object) -> IdentityStore:
        store = IdentityStore.open(url, **{**kwargs, **extra})  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


def clusters(*groups: str, source: str = "tax") -> pl.DataFrame:
    rows = [(source, rid, i) for i, group in enumerate(groups) for rid in group]
    return pl.DataFrame(
        rows,
        schema={s.SOURCE: pl.String, s.RECORD_ID: pl.String, s.CLUSTER_ID: pl.UInt32},
        orient="row",
    )


def canonical(assigned: pl.DataFrame) -> pl.DataFrame:
    return assigned.unique(s.PERSON_ID, maintain_order=True).select(
        s.PERSON_ID,
        pl.lit("张三").alias(s.NAME_NORM),
        pl.lit("RESIDENT").alias(s.ID_KIND),
        pl.lit("110101199003071234").alias(s.ID_NORM),
        pl.lit(dt.date(1990, 3, 7)).alias(s.DOB),
        pl.lit("M").alias(s.SEX_BEST),
    )


def with_extras(assigned: pl.DataFrame) -> pl.DataFrame:
    return assigned.with_columns(
        pl.lit(0.97).alias(s.MATCH_PROBABILITY),
        pl.format("RESIDENT:{}", s.RECORD_ID).alias(s.ID_KEY),
    )


def run_once(
    store: IdentityStore, frame: pl.DataFrame, *, model: str | None = None
) -> tuple[int, pl.DataFrame, pl.DataFrame]:
    run = store.begin_run({"job": "test"})
    assigned, events = store.reconcile(frame)
    store.save_run(run, with_extras(assigned), canonical(assigned), events, model)
    store.finish_run(run)
    return run, assigned, events


# ------------------------------------------------------------------ round trip
def test_round_trip(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    assert store.version == SCHEMA_VERSION
    assert store.load_crosswalk().height == 0 and store.latest_model() is None
    run1, first, _ = run_once(store, clusters("abc", "de", "f"), model='{"m": 1}')
    loaded = store.load_crosswalk()
    assert loaded.sort(s.RECORD_ID).equals(first.sort(s.RECORD_ID))
    p, q, r = (first.filter(pl.col(s.RECORD_ID) == k)[s.PERSON_ID].item() for k in "adf")

    person = store.get_person(p)
    assert person is not None
    assert (person["status"], person["records"], person["sources"]) == ("active", 3, '["tax"]')
    assert (person["name"], person["id_masked"], person["dob"]) == (
        "张三",
        "110101********1234",
        dt.date(1990, 3, 7),
    )
    assert person["created_run"] == person["updated_run"] == run1
    assert store.events_of(p)["kind"].to_list() == ["CREATE"]
    model = store.latest_model()
    assert model is not None and model.model_json == '{"m": 1}'
    assert model.created_at.tzinfo is not None
    assert store.runs().row(0, named=True)["status"] == "finished"
    assert store.runs().row(0, named=True)["records"] == 6

    # run 2: d and e join p's cluster (q merged), f disappears (r retired), g is new
    run2, second, events2 = run_once(store, clusters("abcde", "g"))
    assert sorted(events2["kind"]) == ["CREATE", "MERGE", "RETIRE"]
    assert store.load_crosswalk().height == 6
    assert store.get_person(q)["status"] == "merged"  # type: ignore[index]
    assert store.get_person(q)["merged_into"] == p  # type: ignore[index]
    assert store.get_person(r)["status"] == "retired"  # type: ignore[index]
    assert store.current_person_id(q) == p and store.current_person_id(r) is None
    assert store.reserved_ids() == {q, r}
    assert store.get_person(p)["records"] == 5  # type: ignore[index]
    assert store.get_person(p)["updated_run"] == run2  # type: ignore[index]

    records = store.records_of(p).sort(s.RECORD_ID)
    assert records[s.RECORD_ID].to_list() == list("abcde")
    lineage = {row[s.RECORD_ID]: row for row in records.iter_rows(named=True)}
    assert (
        lineage["a"]["first_seen_run"],
        lineage["a"]["last_seen_run"],
        lineage["a"][s.RUN_ID],
    ) == (run1, run2, run1)
    assert lineage["d"][s.RUN_ID] == run2  # its person changed in run 2
    stale = store.records_of(r)
    assert stale["last_seen_run"].to_list() == [
        run1
    ]  # kept for lineage, not in the latest crosswalk

    assert store.find_by_id_key("RESIDENT:d")[s.PERSON_ID].to_list() == [p]
    keys = pl.DataFrame({s.SOURCE: ["tax", "tax", "court"], s.RECORD_ID: ["g", "a", "a"]})
    found = store.persons_of(keys)
    assert found[s.PERSON_ID].to_list() == [
        second.filter(pl.col(s.RECORD_ID) == "g")[s.PERSON_ID].item(),
        p,
        None,
    ]

    # run 3: identical clusters: no events, nothing updated
    _, third, events3 = run_once(store, clusters("abcde", "g"))
    assert events3.height == 0 and third.equals(second)
    assert store.get_person(p)["updated_run"] == run2  # type: ignore[index]
    # the latest model is still the one saved with run 1
    assert store.latest_model().model_json == '{"m": 1}'  # type: ignore[union-attr]

    # reopening applies no migration and sees the same data
    store.close()
    again = open_store()
    assert again.load_crosswalk().sort(s.RECORD_ID).equals(third.sort(s.RECORD_ID))


def test_retired_record_returning_gets_a_fresh_id(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    _, first, _ = run_once(store, clusters("a", "b"))
    _, _, events = run_once(store, clusters("a"))
    assert events["kind"].to_list() == ["RETIRE"]
    _, third, events = run_once(store, clusters("a", "b"))
    old_b = first.filter(pl.col(s.RECORD_ID) == "b")[s.PERSON_ID].item()
    new_b = third.filter(pl.col(s.RECORD_ID) == "b")[s.PERSON_ID].item()
    assert new_b != old_b and events["kind"].to_list() == ["CREATE"]


def test_save_run_is_atomic(open_store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    run = store.begin_run()
    assigned, events = store.reconcile(clusters("ab"))

    def boom(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(IdentityStore, "_persons_select", boom)
    with pytest.raises(RuntimeError):
        store.save_run(run, assigned, None, events)
    monkeypatch.undo()
    assert store.load_crosswalk().height == 0
    store.save_run(run, assigned, None, events)  # staging tables were rolled back too
    assert store.load_crosswalk().height == 2


def test_sqlite_scratch_staging_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ADBC scratch file beside the store is deleted and detached, after success and failure."""
    out = tmp_path / "out"
    with IdentityStore.open(f"sqlite:///{out}/identity.db", bulk="adbc") as store:
        run = store.begin_run()
        assigned, events = store.reconcile(clusters("ab", "c"))
        monkeypatch.setattr(
            IdentityStore, "_persons_select", lambda *a: (_ for _ in ()).throw(RuntimeError("x"))
        )
        with pytest.raises(RuntimeError):
            store.save_run(run, assigned, canonical(assigned), events)
        monkeypatch.undo()
        assert store.load_crosswalk().height == 0 and store.events_of("x").height == 0
        store.save_run(run, assigned, canonical(assigned), events)
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith("identity.db")) == []
        with store.engine.connect() as conn:  # the pooled connection has no scratch attached
            names = [row[1] for row in conn.exec_driver_sql("PRAGMA database_list")]
        assert "linkage_stage" not in names
        assert store.load_crosswalk().height == 3
        person = assigned[s.PERSON_ID][0]
        assert store.get_person(person)["dob"] == dt.date(1990, 3, 7)
        assert store.events_of(person)[EVENT_KIND].to_list() == ["CREATE"]


def test_bad_writes(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    assigned, events = assign_person_ids(clusters("ab"))
    with pytest.raises(StoreError, match="no such run"):
        store.save_run(99, assigned, None, events)
    run = store.begin_run()
    with pytest.raises(SchemaError, match="share"):
        store.save_run(run, pl.concat([assigned, assigned]))
    with pytest.raises(SchemaError, match="missing"):
        store.save_run(run, assigned.drop(s.PERSON_ID))
    with pytest.raises(ConfigError):
        store.finish_run(run, status="done")  # type: ignore[arg-type]


# ------------------------------------------------------------------ migrations
def test_migrations_are_recorded(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    with store.engine.connect() as conn:
        rows = (
            conn.execute(sa.select(store_module.schema_meta.c.version).order_by("version"))
            .scalars()
            .all()
        )
    assert rows == [m.version for m in MIGRATIONS]


def test_newer_store_is_refused(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    with store.engine.begin() as conn:
        conn.execute(
            store_module.schema_meta.insert().values(
                version=SCHEMA_VERSION + 1,
                description="from the future",
                applied_at=dt.datetime.now(dt.UTC),
            )
        )
    store.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1} is newer"):
        open_store()


def test_a_new_migration_is_applied_once(open_store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    open_store().close()
    calls = []

    def add_table(conn: sa.Connection) -> None:
        calls.append(1)
        conn.exec_driver_sql("CREATE TABLE service_keys (k VARCHAR(10) PRIMARY KEY)")

    extra = store_module.Migration(SCHEMA_VERSION + 1, "service keys", add_table)
    monkeypatch.setattr(store_module, "MIGRATIONS", (*MIGRATIONS, extra))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    assert open_store().version == SCHEMA_VERSION + 1
    assert open_store().version == SCHEMA_VERSION + 1
    assert calls == [1]


def test_failed_migration_leaves_the_old_version(
    open_store, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    open_store().close()

    def half_done(conn: sa.Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE half (k INTEGER)")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(
        store_module,
        "MIGRATIONS",
        (*MIGRATIONS, store_module.Migration(SCHEMA_VERSION + 1, "broken", half_done)),
    )
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError):
        open_store()
    monkeypatch.undo()
    store = open_store()
    assert store.version == SCHEMA_VERSION
    assert "half" not in sa.inspect(store.engine).get_table_names()  # the DDL was rolled back too


# ---------------------------------------------------------------- open errors
def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="URL"):
        IdentityStore.open("not a url")
    with pytest.raises(ConfigError, match="schema"):
        IdentityStore.open(f"sqlite:///{tmp_path}/x.db", schema="s")
    with pytest.raises(ConfigError, match="copy"):
        IdentityStore.open(f"sqlite:///{tmp_path}/x.db", bulk="copy")
    with pytest.raises(ConfigError, match="adbc"):
        IdentityStore.open(f"sqlite:///{tmp_path}/x.db", bulk="bulk")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="cannot connect"):
        IdentityStore.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")


def test_unreachable_message_hides_the_password() -> None:
    with pytest.raises(StoreError) as info:
        IdentityStore.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value)


@given(
    st.one_of(st.none(), st.text(max_size=25), st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True))
)
def test_mask_expression_equals_mask_id(value: str | None) -> None:
    frame = pl.DataFrame({"v": [value]}, schema={"v": pl.String})
    assert frame.select(mask_id_expr("v")).item() == mask_id(value)



def test_awkward_keys_round_trip(open_store) -> None:  # type: ignore[no-untyped-def]
    """CSV-based COPY must keep empty strings, quotes, commas, newlines and Han characters."""
    store = open_store()
    keys = ["", '"', "a,b", "line\nbreak", "社保-001", " padded "]
    frame = pl.DataFrame(
        {
            s.SOURCE: ["人社局"] * len(keys),
            s.RECORD_ID: keys,
            s.CLUSTER_ID: pl.Series(range(len(keys)), dtype=pl.UInt32),
        }
    )
    run_once(store, frame)
    loaded = store.load_crosswalk()
    assert sorted(loaded[s.RECORD_ID].to_list()) == sorted(keys)
    assert loaded[s.SOURCE].unique().to_list() == ["人社局"]


# ------------------------------------------------------- records and ingest
def raw(frame: pl.DataFrame, tag: str = "") -> pl.DataFrame:
    """Raw canonical fields for the records of ``frame`` (name derived from the record id)."""
    return frame.select(
        s.SOURCE,
        s.RECORD_ID,
        pl.format("张{}{}", s.RECORD_ID, pl.lit(tag)).alias(s.NAME),
        pl.lit("110101199003071234").alias(s.ID_NUMBER),
        pl.lit("1990-03-07").alias(s.BIRTH_DATE),
        pl.lit("13812345678").alias(s.PHONE),
    )


def run_with_records(
    store: IdentityStore, frame: pl.DataFrame, config: object = None
) -> tuple[int, pl.DataFrame]:
    """One run saved with its records' raw fields; the run id and the assigned person IDs."""
    run = store.begin_run(config or {"job": "test"})
    assigned, events = store.reconcile(frame)
    store.save_run(
        run,
        with_extras(assigned),
        canonical(assigned),
        events,
        '{"m": 1}',
        records_frame=raw(frame),
    )
    store.finish_run(run)
    return run, assigned


def records_table(store: IdentityStore) -> pl.DataFrame:
    table = store_module.records
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(table)).all()
    schema = {c.name: pl.Int64 if c.name == s.RUN_ID else pl.String for c in table.columns}
    return pl.DataFrame(rows, schema=schema, orient="row").sort(s.SOURCE, s.RECORD_ID)


def person_of(assigned: pl.DataFrame, record_id: str) -> str:
    return assigned.filter(pl.col(s.RECORD_ID) == record_id)[s.PERSON_ID].item()


def test_records_are_upserted_across_runs(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    run1, _ = run_with_records(store, clusters("ab", "c"))
    # run 2: b's name changes, c is unchanged, d is new, a is absent (its row stays)
    frame = clusters("bd", "c")
    run2 = store.begin_run()
    assigned, events = store.reconcile(frame)
    fields = raw(frame).with_columns(
        pl.when(pl.col(s.RECORD_ID) == "b").then(pl.lit("李四")).otherwise(s.NAME).alias(s.NAME)
    )
    store.save_run(run2, assigned, None, events, records_frame=fields)
    table = records_table(store)
    assert table[s.RECORD_ID].to_list() == ["a", "b", "c", "d"]
    assert table[s.NAME].to_list() == ["张a", "李四", "张c", "张d"]
    assert table[s.RUN_ID].to_list() == [run1, run2, run1, run2]  # unchanged rows keep their run
    assert table[s.PHONE].to_list() == ["13812345678"] * 4
    assert table[s.ADDRESS].to_list() == [None] * 4  # absent columns are stored null


def test_bad_records_frames(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    run = store.begin_run()
    assigned, events = store.reconcile(clusters("ab"))
    fields = raw(clusters("ab"))
    with pytest.raises(SchemaError, match="share"):
        store.save_run(run, assigned, None, events, records_frame=pl.concat([fields, fields]))
    with pytest.raises(SchemaError, match="missing"):
        store.save_run(run, assigned, None, events, records_frame=fields.drop(s.RECORD_ID))
    assert records_table(store).height == 0 and store.load_crosswalk().height == 0


def test_load_records_and_person_records(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    assert store.load_records().columns == [*s.RAW_COLUMNS, s.PERSON_ID, s.MATCH_PROBABILITY]
    assert store.load_records().height == 0
    _, first = run_with_records(store, clusters("abc", "de", "f"))
    p, r = person_of(first, "a"), person_of(first, "f")
    # run 2: d, e join p; f's person retires; g is new and saved without raw fields
    _, second, _ = run_once(store, clusters("abcde", "g"))
    loaded = store.load_records()
    assert loaded.schema == {
        **{c: pl.String for c in s.RAW_COLUMNS},
        s.PERSON_ID: pl.String,
        s.MATCH_PROBABILITY: pl.Float64,
    }
    assert loaded[s.RECORD_ID].to_list() == list("abcde")  # not f (retired), not g (no fields)
    assert loaded[s.PERSON_ID].to_list() == [p] * 5
    assert loaded[s.NAME].to_list() == [f"张{k}" for k in "abcde"]
    assert loaded[s.ID_NUMBER].to_list() == ["110101199003071234"] * 5
    assert loaded[s.MATCH_PROBABILITY].to_list() == [0.97] * 5
    assert store.get_person(r)["status"] == "retired"  # type: ignore[index]

    rows = store.person_records(p)
    assert rows[s.RECORD_ID].to_list() == list("abcde")
    assert rows[s.NAME].to_list() == [f"张{k}" for k in "abcde"]
    assert {"first_seen_run", "last_seen_run", s.MATCH_PROBABILITY, s.PHONE} <= set(rows.columns)
    g = person_of(second, "g")
    assert store.person_records(g)[s.NAME].to_list() == [None]  # crosswalk row, no raw fields
    assert store.person_records("P-nobody").height == 0


def test_latest_run_config(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    assert store.latest_run_config() is None
    run_with_records(store, clusters("ab"), config={"preset": "default", "n": 1})
    assert json_of(store.latest_run_config()) == {"preset": "default", "n": 1}
    store.begin_run({"preset": "latin"})  # begun, never saved: not the latest saved run
    assert json_of(store.latest_run_config()) == {"preset": "default", "n": 1}
    run_with_records(store, clusters("ab"), config={"preset": "latin"})
    assert json_of(store.latest_run_config()) == {"preset": "latin"}


def json_of(text: str | None) -> object:
    assert text is not None
    return json.loads(text)


def ingest_frames(
    keys: list[tuple[str, str, str]], probability: float = 0.99
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """records and crosswalk frames of an IngestBatch for (source, record_id, person_id) keys."""
    crosswalk = pl.DataFrame(
        keys, schema={s.SOURCE: pl.String, s.RECORD_ID: pl.String, s.PERSON_ID: pl.String},
        orient="row",
    ).with_columns(
        pl.lit(probability).alias(s.MATCH_PROBABILITY),
        pl.format("RESIDENT:{}", s.RECORD_ID).alias(s.ID_KEY),
    )
    return raw(crosswalk, "*"), crosswalk


def event(kind: str, person_id: str, related: list[str], records: int) -> dict[str, object]:
    return {
        EVENT_KIND: kind,
        s.PERSON_ID: person_id,
        RELATED_IDS: related,
        EVENT_RECORDS: records,
        EVENT_REASON: f"service ingest: {kind.lower()}",
    }


def events_frame(*rows: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=EVENT_SCHEMA)


def test_ingest_needs_a_saved_run(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    store.begin_run()  # begun, not saved
    records, crosswalk = ingest_frames([("bank", "n1", "PNEW1")])
    with pytest.raises(StoreError, match="no saved run"):
        store.apply_ingest(IngestBatch(records=records, crosswalk=crosswalk))


def test_ingest_creates_attaches_and_merges(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    _, first = run_with_records(store, clusters("abc", "de", "f"))
    latest, second = run_with_records(store, clusters("abc", "de", "g"))
    p, q, g = person_of(second, "a"), person_of(second, "d"), person_of(second, "g")
    r = person_of(first, "f")
    assert store.get_person(r)["status"] == "retired"  # type: ignore[index]

    # 1. a new person, and a record attached to p (from another source)
    records, crosswalk = ingest_frames([("bank", "n1", "PNEW1"), ("court", "x1", p)])
    store.apply_ingest(
        IngestBatch(
            records=records,
            crosswalk=crosswalk,
            new_persons=pl.DataFrame(
                {
                    s.PERSON_ID: ["PNEW1"],
                    s.NAME_NORM: ["王五"],
                    s.ID_NORM: ["110101199003071234"],
                    s.DOB: [dt.date(1990, 3, 7)],
                }
            ),
            events=events_frame(event("CREATE", "PNEW1", [], 1)),
        )
    )
    new = store.get_person("PNEW1")
    assert new is not None
    summary = (new["status"], new["records"], new["sources"], new["name"], new["id_masked"])
    assert summary == ("active", 1, '["bank"]', "王五", "110101********1234")
    assert new["created_run"] == new["updated_run"] == latest and new["dob"] == dt.date(1990, 3, 7)
    attached = store.get_person(p)
    assert attached is not None and attached["updated_run"] == latest
    assert (attached["records"], attached["sources"]) == (4, '["court", "tax"]')
    row = store.records_of("PNEW1").row(0, named=True)
    assert (row[s.RUN_ID], row["first_seen_run"], row["last_seen_run"]) == (latest,) * 3
    assert row[s.MATCH_PROBABILITY] == 0.99 and row[s.ID_KEY] == "RESIDENT:n1"
    assert store.events_of("PNEW1")[[EVENT_KIND, s.RUN_ID]].rows() == [("CREATE", latest)]
    assert store.person_records(p).filter(pl.col(s.RECORD_ID) == "x1")[s.NAME].item() == "张x1*"
    assert store.latest_run() == latest  # no new run: the rows belong to the latest one
    loaded = store.load_crosswalk()
    assert {("bank", "n1", "PNEW1"), ("court", "x1", p)} <= set(loaded.rows())
    ingested = store.load_records().filter(pl.col(s.RECORD_ID) == "n1").row(0, named=True)
    assert ingested == {
        **dict.fromkeys(s.RAW_COLUMNS),
        s.SOURCE: "bank",
        s.RECORD_ID: "n1",
        s.NAME: "张n1*",
        s.ID_NUMBER: "110101199003071234",
        s.BIRTH_DATE: "1990-03-07",
        s.PHONE: "13812345678",
        s.PERSON_ID: "PNEW1",
        s.MATCH_PROBABILITY: 0.99,
    }

    # 2. a record joining q and g: g (and the re-ingested stale record f) merge into q
    records, crosswalk = ingest_frames([("bank", "n2", q), ("tax", "f", q)])
    store.apply_ingest(
        IngestBatch(
            records=records,
            crosswalk=crosswalk,
            merges=[(g, q)],
            events=events_frame(event("MERGE", g, [q], 1)),
        )
    )
    gone = store.get_person(g)
    assert gone is not None
    assert (gone["status"], gone["merged_into"], gone["updated_run"]) == ("merged", q, latest)
    assert store.current_person_id(g) == q and g in store.reserved_ids()
    assert store.records_of(g).height == 0
    moved = store.records_of(q)
    assert moved[s.RECORD_ID].to_list() == ["n2", "d", "e", "f", "g"]
    assert moved.filter(pl.col(s.RECORD_ID) == "g")[s.RUN_ID].item() == latest
    stale = moved.filter(pl.col(s.RECORD_ID) == "f").row(0, named=True)
    assert (stale["first_seen_run"], stale["last_seen_run"]) == (latest - 1, latest)
    survivor = store.get_person(q)
    assert survivor is not None
    assert (survivor["records"], survivor["sources"]) == (5, '["bank", "tax"]')
    assert store.get_person(r)["status"] == "retired"  # type: ignore[index]  # f's old owner stays
    assert store.events_of(g)[EVENT_KIND].to_list() == ["CREATE", "MERGE"]
    assert store.events_of(g)[RELATED_IDS].to_list()[-1] == [q]
    linked = store.load_records().filter(pl.col(s.PERSON_ID) == q)
    assert sorted(linked[s.RECORD_ID]) == ["d", "e", "f", "g", "n2"]

    # 3. the next batch run reconciles with the ingested rows: their persons keep their IDs
    keys = [("tax", k, 0) for k in "abc"] + [("tax", k, 1) for k in "defg"]
    keys += [("court", "x1", 0), ("bank", "n2", 1), ("bank", "n1", 2)]
    frame = pl.DataFrame(
        keys,
        schema={s.SOURCE: pl.String, s.RECORD_ID: pl.String, s.CLUSTER_ID: pl.UInt32},
        orient="row",
    )
    _, assigned, events = run_once(store, frame)
    assert person_of(assigned, "n1") == "PNEW1"
    assert person_of(assigned, "x1") == p and person_of(assigned, "n2") == q
    assert events.height == 0  # the store already held these identities


def test_ingest_is_atomic(open_store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    _, assigned = run_with_records(store, clusters("ab"))
    records, crosswalk = ingest_frames([("bank", "n", person_of(assigned, "a"))])

    def boom(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store_module, "_recount", boom)  # after every other write but events
    with pytest.raises(RuntimeError):
        store.apply_ingest(
            IngestBatch(records, crosswalk, new_persons=pl.DataFrame({s.PERSON_ID: ["PNEW"]}))
        )
    assert store.load_crosswalk().height == 2 and records_table(store).height == 2
    assert store.get_person("PNEW") is None


def test_ingest_merge_chains_and_refusals(open_store) -> None:  # type: ignore[no-untyped-def]
    store = open_store()
    _, assigned = run_with_records(store, clusters("a", "b", "c"))
    a, b, c = (person_of(assigned, k) for k in "abc")
    records, crosswalk = ingest_frames([("bank", "n", a)])

    refused = [
        (
            IngestBatch(records, crosswalk.with_columns(pl.lit("P-unknown").alias(s.PERSON_ID))),
            "not active",
        ),
        (
            IngestBatch(records, crosswalk, new_persons=pl.DataFrame({s.PERSON_ID: [b]})),
            "already issued",
        ),
        (IngestBatch(records, crosswalk, merges=[(a, b), (b, a)]), "cycle"),
        (IngestBatch(records, crosswalk, merges=[(a, a)]), "itself"),
        (IngestBatch(records, crosswalk, merges=[(a, "P-unknown")]), "not active"),
    ]
    for batch, message in refused:
        with pytest.raises(StoreError, match=message):
            store.apply_ingest(batch)
    # nothing was written
    assert store.load_crosswalk().height == 3 and records_table(store).height == 3

    # a -> b -> c in one batch: a's and b's rows (and the new record) end with c
    store.apply_ingest(IngestBatch(records, crosswalk, merges=[(a, b), (b, c)]))
    assert store.get_person(a)["merged_into"] == b  # type: ignore[index]
    assert store.current_person_id(a) == c
    assert store.records_of(c)[s.RECORD_ID].to_list() == ["n", "a", "b", "c"]
    assert store.get_person(c)["records"] == 4  # type: ignore[index]
    # a merged-away person keeps the counts it had (as in batch runs)
    assert store.get_person(a)["records"] == 1  # type: ignore[index]
