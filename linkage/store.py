"""The identity store: the memory of person IDs across runs, on SQLAlchemy Core.

The batch job keeps it in ``sqlite:///OUTDIR/identity.db``; a shared
deployment uses PostgreSQL (``postgresql+psycopg://user@host/db``, optionally in
its own ``schema``).  Tables of schema version 1::

    schema_meta  version PK, description, applied_at       one row per applied migration
    runs         run_id PK, started_at, finished_at, records, persons, config_json, model_id,
                 status (running -> saved -> finished | failed)
    persons      person_id PK, status (active | merged | retired), merged_into, created_run,
                 updated_run (last run that changed the row), records, sources (JSON list),
                 name, name_latin, id_kind, id_number, id_masked, dob, sex  (canonical values chosen
                 by the pipeline; id_masked for display)
    crosswalk    (source, record_id) PK, person_id (indexed), run_id (run that assigned the
                 person), match_probability, id_key (indexed), first_seen_run, last_seen_run
    events       event_id PK, run_id, at, kind, person_id (indexed), related_ids (JSON list),
                 records, reason
    models       model_id PK (content hash), created_at, model_json

Schema version 2 adds what the resolve-identity service needs::

    records            (source, record_id) PK, the raw canonical fields, run_id (see below)
    api_keys           key_id PK, name (unique), key_hash (sha256 hex, unique), roles (JSON list),
                       created_at, revoked_at
    audit              audit_id PK, at (indexed), key_name, method, endpoint, purpose, input_hash,
                       person_ids (JSON list), outcome, status_code, latency_ms; append-only
                       (triggers refuse UPDATE and DELETE)
    watchlists         list_name PK, kind (red | black | other), loaded_at, entries, origin
    watchlist_entries  (list_name, source, record_id) PK, the raw canonical fields

The crosswalk keeps every record ever seen (lineage); the records of the latest
saved run (``last_seen_run`` = that run) are the previous state the next run
reconciles with.  Person rows are never deleted: merged and retired IDs stay,
so an ID is never issued twice and a merged ID resolves to its survivor.
``records`` holds the raw canonical fields of every linked record (upserted by
each run and by the service's ingest; ``run_id`` is the run that first wrote the
row or last changed its fields), so the service can re-normalize and compare
against them without the batch job's input files (:meth:`IdentityStore.load_records`).

The resolve-identity service writes between batch runs with
:meth:`IdentityStore.apply_ingest`: new records' crosswalk rows are stamped with
the latest saved run (``run_id`` = ``first_seen_run`` = ``last_seen_run``), so
the next batch run reconciles with them as if that run had produced them.

Migrations: :data:`MIGRATIONS` is the ordered list of schema changes; opening a
store applies the missing ones, each in one transaction with its schema_meta
row.  To change the schema, append ``Migration(n + 1, "what", function)`` whose
function creates or alters what it needs, and add the same tables or columns to
the query-time definitions on ``_META`` (a ``_tables_vN`` function applied after
``_tables_v1``); never edit an applied migration.  A store of a newer version
than this code is refused.  The crosswalk and persons tables are rebuilt by every
run (see below): other tables must not declare foreign keys to them, and a new
column on them must also be written by ``_crosswalk_select``/``_persons_select``.

Bulk writes stage rows first: on SQLite through ADBC (Arrow, no Python rows)
into a private scratch file beside the store that the write transaction
ATTACHes as ``linkage_stage`` (written outside it, deleted afterwards; the
store's tables change only inside the one transaction); on PostgreSQL into
temporary tables by psycopg's COPY (ADBC's binary COPY measured slower there);
``bulk="executemany"`` stages into temporary tables in chunks.  Then they
rebuild the crosswalk and persons tables from the old rows and the staged ones
with one ``INSERT ... SELECT`` each, creating their secondary indexes
afterwards, and upsert the records table set-based
(SQLite: one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``; PostgreSQL: one
``UPDATE ... FROM`` and one ``INSERT ... SELECT`` of the new keys, faster there;
rows whose fields did not change are not rewritten): all in one transaction,
which readers see atomically.  Large reads go through COPY on PostgreSQL and
the sqlite3 cursor on SQLite.  ``save_run`` logs the seconds of each phase (the
``phases`` attribute of its "run saved" log record; ``benchmarks/store_bench.py``
prints them).  Only one batch run may write at a time; writers take SQLite's
write lock when they begin.  Full ID numbers are stored (this is the identity
store) but never logged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, Self

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateTable

from linkage.identities import EVENT_KIND, EVENT_REASON, EVENT_RECORDS, RELATED_IDS, EventKind
from normalizers import schema as s
from normalizers.errors import ConfigError, LinkageError, SchemaError

log = logging.getLogger(__name__)

RunStatus = Literal["running", "saved", "finished", "failed"]
BulkMode = Literal["auto", "copy", "adbc", "executemany"]


class StoreError(LinkageError):
    """The identity store cannot be opened or used: unreachable, newer schema, unknown run."""


# ------------------------------------------------------------------ tables
def _tables_v1(metadata: sa.MetaData) -> None:
    """The tables of schema version 1 (also the query-time tables until a migration adds more)."""
    sa.Table(
        "runs",
        metadata,
        sa.Column(s.RUN_ID, sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("records", sa.Integer),
        sa.Column("persons", sa.Integer),
        sa.Column("config_json", sa.Text),
        sa.Column("model_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
    )
    sa.Table(
        "persons",
        metadata,
        sa.Column(s.PERSON_ID, sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("merged_into", sa.String(32)),
        sa.Column("created_run", sa.Integer, nullable=False),
        sa.Column("updated_run", sa.Integer, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("sources", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("name_latin", sa.Text),
        sa.Column("id_kind", sa.String(16)),
        sa.Column("id_number", sa.String(64)),
        sa.Column("id_masked", sa.String(64)),
        sa.Column("dob", sa.Date),
        sa.Column("sex", sa.String(1)),
    )
    sa.Table(
        "crosswalk",
        metadata,
        sa.Column(s.SOURCE, sa.String, primary_key=True),
        sa.Column(s.RECORD_ID, sa.String, primary_key=True),
        sa.Column(s.PERSON_ID, sa.String(32), nullable=False, index=True),
        sa.Column(s.RUN_ID, sa.Integer, nullable=False),
        sa.Column(s.MATCH_PROBABILITY, sa.Double),
        sa.Column(s.ID_KEY, sa.String, index=True),
        sa.Column("first_seen_run", sa.Integer, nullable=False),
        sa.Column("last_seen_run", sa.Integer, nullable=False, index=True),
    )
    sa.Table(
        "events",
        metadata,
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(s.RUN_ID, sa.Integer, nullable=False, index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(EVENT_KIND, sa.String(16), nullable=False),
        sa.Column(s.PERSON_ID, sa.String(32), nullable=False, index=True),
        sa.Column(RELATED_IDS, sa.Text, nullable=False),
        sa.Column(EVENT_RECORDS, sa.Integer, nullable=False),
        sa.Column(EVENT_REASON, sa.Text, nullable=False),
    )
    sa.Table(
        "models",
        metadata,
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_json", sa.Text, nullable=False),
    )


def _tables_v2(metadata: sa.MetaData) -> None:
    """Schema version 2: what the resolve-identity service reads and writes.

    ``records`` keeps each linked record's raw canonical fields (the service
    re-normalizes them to block and compare against); ``api_keys`` holds hashed
    keys with their roles; ``audit`` is append-only (triggers refuse UPDATE and
    DELETE); ``watchlists`` and ``watchlist_entries`` hold named red/black lists.
    None declares a foreign key to crosswalk or persons (rebuilt by every run).
    """
    sa.Table(
        "records",
        metadata,
        sa.Column(s.SOURCE, sa.String, primary_key=True),
        sa.Column(s.RECORD_ID, sa.String, primary_key=True),
        *(sa.Column(c, sa.Text) for c in s.RAW_COLUMNS if c not in s.KEY_COLUMNS),
        sa.Column(s.RUN_ID, sa.Integer, nullable=False),  # the run (or ingest's run) that wrote it
    )
    sa.Table(
        "api_keys",
        metadata,
        sa.Column("key_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),  # sha256 hex
        sa.Column("roles", sa.Text, nullable=False),  # JSON list of role names
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    sa.Table(
        "audit",
        metadata,
        sa.Column("audit_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("key_name", sa.String(64)),  # null: the request named no valid key
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("purpose", sa.Text),
        sa.Column("input_hash", sa.String(64)),  # sha256 hex of the request body
        sa.Column("person_ids", sa.Text, nullable=False),  # JSON list of the person IDs returned
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Double),
    )
    sa.Table(
        "watchlists",
        metadata,
        sa.Column("list_name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),  # "red", "black" or "other"
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("origin", sa.Text),  # the file it was loaded from
    )
    sa.Table(
        "watchlist_entries",
        metadata,
        sa.Column("list_name", sa.String(64), primary_key=True),
        sa.Column(s.SOURCE, sa.String, primary_key=True),
        sa.Column(s.RECORD_ID, sa.String, primary_key=True),
        *(sa.Column(c, sa.Text) for c in s.RAW_COLUMNS if c not in s.KEY_COLUMNS),
    )


_APPEND_ONLY: Final = "audit is append-only"
_IMMEDIATE: Final = "linkage_begin_immediate"  # execution option: SQLite BEGIN IMMEDIATE


def _migrate_v2(conn: Connection) -> None:
    metadata = sa.MetaData()
    _tables_v2(metadata)
    metadata.create_all(conn)
    if conn.dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER audit_no_{action.lower()} BEFORE {action} ON audit "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )


_META = sa.MetaData()
schema_meta = sa.Table(
    "schema_meta",
    _META,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)
_tables_v1(_META)
_tables_v2(_META)
runs = _META.tables["runs"]
persons = _META.tables["persons"]
crosswalk = _META.tables["crosswalk"]
events = _META.tables["events"]
models = _META.tables["models"]
records = _META.tables["records"]
api_keys = _META.tables["api_keys"]
audit = _META.tables["audit"]
watchlists = _META.tables["watchlists"]
watchlist_entries = _META.tables["watchlist_entries"]


# -------------------------------------------------------------- migrations
@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change: ``apply`` runs inside the transaction that records ``version``."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _migrate_v1(conn: Connection) -> None:
    metadata = sa.MetaData()
    _tables_v1(metadata)
    metadata.create_all(conn)


MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(1, "runs, persons, crosswalk, events, models", _migrate_v1),
    Migration(2, "records, api_keys, audit (append-only), watchlists, watchlist_entries", _migrate_v2),
)
SCHEMA_VERSION: Final = MIGRATIONS[-1].version
assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1)), (
    "migrations must be 1..n"
)


# ------------------------------------------------------------------ staging
_STAGE_META = sa.MetaData()
_stage_crosswalk = sa.Table(
    "_stage_crosswalk",
    _STAGE_META,
    sa.Column(s.SOURCE, sa.String, primary_key=True),
    sa.Column(s.RECORD_ID, sa.String, primary_key=True),
    sa.Column(s.PERSON_ID, sa.String(32)),
    sa.Column(s.MATCH_PROBABILITY, sa.Double),
    sa.Column(s.ID_KEY, sa.String),
    prefixes=["TEMPORARY"],
)
_stage_persons = sa.Table(
    "_stage_persons",
    _STAGE_META,
    *(
        sa.Column(c.name, c.type, primary_key=c.primary_key)
        for c in persons.columns
        if c.name not in ("status", "merged_into", "created_run", "updated_run")
    ),
    prefixes=["TEMPORARY"],
)
_stage_keys = sa.Table(
    "_stage_keys",
    _STAGE_META,
    sa.Column(s.SOURCE, sa.String, primary_key=True),
    sa.Column(s.RECORD_ID, sa.String, primary_key=True),
    prefixes=["TEMPORARY"],
)

RECORD_FIELDS: Final[tuple[str, ...]] = tuple(c for c in s.RAW_COLUMNS if c not in s.KEY_COLUMNS)
"""The records table's raw fields besides its key (all text)."""

# no key: rows are checked unique before they are staged, and the upsert reads it once in order
_stage_records = sa.Table(
    "_stage_records",
    _STAGE_META,
    sa.Column(s.SOURCE, sa.String),
    sa.Column(s.RECORD_ID, sa.String),
    *(sa.Column(c, sa.Text) for c in RECORD_FIELDS),
    prefixes=["TEMPORARY"],
)

_stage_events = sa.Table(
    "_stage_events",
    _STAGE_META,
    *(sa.Column(c.name, c.type) for c in events.columns if c.name != "event_id"),
    prefixes=["TEMPORARY"],
)

_SCRATCH: Final = "linkage_stage"
"""The schema name under which save_run ATTACHes its scratch staging database (SQLite)."""


def _scratch_table(table: sa.Table, metadata: sa.MetaData) -> sa.Table:
    """``table`` of the scratch database: keyed ones WITHOUT ROWID (the key is the only index)."""
    return sa.Table(
        table.name,
        metadata,
        *(sa.Column(c.name, c.type, primary_key=c.primary_key) for c in table.columns),
        sqlite_with_rowid=not table.primary_key.columns,
    )


_STAGED: Final = (_stage_crosswalk, _stage_persons, _stage_records, _stage_events)
_SCRATCH_META = sa.MetaData(schema=_SCRATCH)
_SCRATCH_TABLES: Final[Mapping[str, sa.Table]] = {
    t.name: _scratch_table(t, _SCRATCH_META) for t in _STAGED
}
_SCRATCH_DDL_META = sa.MetaData()
_SCRATCH_DDL: Final[Mapping[str, sa.Table]] = {
    t.name: _scratch_table(t, _SCRATCH_DDL_META) for t in _STAGED
}

# persons frame column (pipeline) -> persons table column
PERSON_COLUMNS: Final[Mapping[str, str]] = {
    s.NAME_NORM: "name",
    s.NAME_LATIN_NORM: "name_latin",
    s.ID_KIND: "id_kind",
    s.ID_NORM: "id_number",
    s.DOB: "dob",
    s.SEX_BEST: "sex",
}
_PERSON_TYPES: Final[Mapping[str, pl.DataType]] = {
    "name": pl.String(),
    "name_latin": pl.String(),
    "id_kind": pl.String(),
    "id_number": pl.String(),
    "dob": pl.Date(),
    "sex": pl.String(),
}
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class StoredModel:
    model_id: str
    created_at: datetime
    model_json: str


@dataclass(frozen=True, slots=True)
class IngestBatch:
    """What the service's ingest decided for one request (see :meth:`IdentityStore.apply_ingest`).

    ``records``: SOURCE, RECORD_ID and the raw canonical columns of the ingested
    records.  ``crosswalk``: SOURCE, RECORD_ID, PERSON_ID, optionally
    MATCH_PROBABILITY and ID_KEY.  ``new_persons``: PERSON_ID and any of
    :data:`PERSON_COLUMNS` for the persons this batch creates.  ``merges``:
    ``(merged_away_id, survivor_id)`` pairs.  ``events``: an events frame of
    :mod:`linkage.identities` (CREATE for new persons, MERGE for merges).
    """

    records: pl.DataFrame
    crosswalk: pl.DataFrame
    new_persons: pl.DataFrame | None = None
    merges: Sequence[tuple[str, str]] = ()
    events: pl.DataFrame | None = None


class _Laps:
    """Wall seconds per named phase: each call closes the phase running since the previous one.

    ``cpu`` holds this process's CPU seconds per phase alongside: on a busy
    machine, or while the database server works, the two tell waiting from working.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._mark = self._start = time.perf_counter()
        self._cpu_mark = time.process_time()

    def __call__(self, phase: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._mark
        self.cpu[phase] = self.cpu.get(phase, 0.0) + cpu - self._cpu_mark
        self._mark, self._cpu_mark = now, cpu

    @property
    def total(self) -> float:
        return self._mark - self._start

    def __str__(self) -> str:
        return ", ".join(f"{phase} {seconds:.2f}" for phase, seconds in self.seconds.items())


def mask_id_expr(column: str) -> pl.Expr:
    """Vectorized :func:`normalizers.masking.mask_id`: first 6 and last 4 characters of long IDs."""
    n = pl.col(column).str.len_chars()
    head = pl.when(n >= 14).then(6).when(n >= 8).then(2).when(n >= 4).then(1).otherwise(0)
    tail = pl.when(n >= 14).then(4).when(n >= 8).then(2).when(n >= 4).then(1).otherwise(0)
    middle = pl.lit("").str.pad_end(n - head - tail, "*")  # a regex per character is far slower
    return pl.concat_str(
        pl.col(column).str.slice(0, head), middle, pl.col(column).str.slice(n - tail, tail)
    )


def _now() -> datetime:
    return datetime.now(UTC)


# -------------------------------------------------------------------- store
class IdentityStore:
    """Persons, crosswalk, events, runs and models of one deployment; see the module docstring."""

    def __init__(
        self, engine: Engine, *, bulk: BulkMode = "auto", chunk_size: int = 100_000
    ) -> None:
        self._engine = engine
        self._chunk_size = chunk_size
        is_psycopg = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        if bulk == "copy" and not is_psycopg:
            raise ConfigError(
                f"bulk: 'copy' needs postgresql+psycopg (got {engine.dialect.name}+"
                f"{engine.dialect.driver})"
            )
        self._copy = bulk == "copy" or (bulk == "auto" and is_psycopg)
        if bulk == "adbc" and engine.dialect.name != "sqlite":
            raise ConfigError(
                f"bulk: 'adbc' stages through a scratch SQLite file and needs a SQLite store "
                f"(got {engine.dialect.name}); PostgreSQL stages by psycopg's COPY"
            )
        self._scratch = bulk == "adbc" or (
            bulk == "auto"
            and engine.dialect.name == "sqlite"
            and importlib.util.find_spec("adbc_driver_sqlite") is not None
        )

    # ---------------------------------------------------------------- setup
    @classmethod
    def open(
        cls,
        url: str,
        *,
        schema: str | None = None,
        bulk: BulkMode = "auto",
        chunk_size: int = 100_000,
    ) -> IdentityStore:
        """Open (creating or migrating) the store at a SQLAlchemy URL.

        ``schema`` (PostgreSQL only) keeps the tables in their own schema, created
        if missing.  ``bulk`` chooses how save_run stages rows: ``copy``
        (PostgreSQL + psycopg; the ``auto`` choice there), ``adbc`` (SQLite: an
        Arrow-native load into a scratch file that the write transaction
        ATTACHes; the ``auto`` choice there) or ``executemany``.
        """
        if bulk not in ("auto", "copy", "adbc", "executemany"):
            raise ConfigError(
                f"bulk: expected 'auto', 'copy', 'adbc' or 'executemany' (got {bulk!r})"
            )
        if chunk_size < 1:
            raise ConfigError(f"chunk_size: expected >= 1 (got {chunk_size})")
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError:
            raise ConfigError(f"store: not a database URL: {url!r}") from None
        connect_args: dict[str, Any] = {}
        if schema is not None:
            if parsed.get_backend_name() != "postgresql":
                raise ConfigError("store schema: only PostgreSQL stores have schemas")
            if not _SCHEMA_NAME.fullmatch(schema):
                raise ConfigError(f"store schema: expected an identifier (got {schema!r})")
            connect_args["options"] = f"-csearch_path={schema}"
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args=connect_args)
        if engine.dialect.name == "sqlite":
            _sqlite_transactions(engine)
        shown = parsed.render_as_string(hide_password=True)
        try:
            if schema is not None:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            store = cls(engine, bulk=bulk, chunk_size=chunk_size)
            store._migrate(shown)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise StoreError(f"store {shown}: cannot connect: {exc.orig}") from None
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def version(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema_meta.c.version))).scalar() or 0)

    def _migrate(self, shown: str) -> None:
        with self._engine.begin() as conn:
            schema_meta.create(conn, checkfirst=True)
        current = self.version
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"store {shown}: schema version {current} is newer than this code supports "
                f"({SCHEMA_VERSION}); upgrade chengxin-linkage"
            )
        for migration in MIGRATIONS[current:]:
            with self._engine.begin() as conn:
                migration.apply(conn)
                conn.execute(
                    schema_meta.insert().values(
                        version=migration.version,
                        description=migration.description,
                        applied_at=_now(),
                    )
                )
            log.info("store migrated to version %d: %s", migration.version, migration.description)

    # ----------------------------------------------------------------- runs
    def begin_run(self, config: Any = None) -> int:
        """Record the start of a run and its config (pydantic model, mapping or JSON text)."""
        if config is None:
            config_json = None
        elif isinstance(config, str):
            config_json = config
        elif hasattr(config, "model_dump_json"):
            config_json = config.model_dump_json()
        else:
            config_json = json.dumps(config, ensure_ascii=False, sort_keys=True, default=str)
        with self._engine.begin() as conn:
            result = conn.execute(
                runs.insert().values(started_at=_now(), config_json=config_json, status="running")
            )
            run_id = int(result.inserted_primary_key[0])
        log.info("run %d started", run_id)
        return run_id

    def finish_run(self, run_id: int, *, status: RunStatus = "finished") -> None:
        """Mark a run finished (or failed); its saved identities stay either way."""
        if status not in ("finished", "failed"):
            raise ConfigError(f"status: expected 'finished' or 'failed' (got {status!r})")
        with self._engine.begin() as conn:
            self._check_run(conn, run_id)
            conn.execute(
                runs.update()
                .where(runs.c[s.RUN_ID] == run_id)
                .values(finished_at=_now(), status=status)
            )
        log.info("run %d %s", run_id, status)

    def runs(self) -> pl.DataFrame:
        """Every run, oldest first."""
        return self._frame(sa.select(runs).order_by(runs.c[s.RUN_ID]))

    def _check_run(self, conn: Connection, run_id: int) -> None:
        status = conn.execute(sa.select(runs.c.status).where(runs.c[s.RUN_ID] == run_id)).scalar()
        if status is None:
            raise StoreError(f"run {run_id}: no such run")

    # ----------------------------------------------------------------- read
    def latest_run(self) -> int | None:
        """The latest run whose identities were saved."""
        with self._engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(crosswalk.c.last_seen_run))).scalar()
        return None if value is None else int(value)

    def load_crosswalk(self) -> pl.DataFrame:
        """SOURCE, RECORD_ID, PERSON_ID of the latest saved run: the state to reconcile with."""
        latest = self.latest_run()
        columns = [crosswalk.c[s.SOURCE], crosswalk.c[s.RECORD_ID], crosswalk.c[s.PERSON_ID]]
        schema = {s.SOURCE: pl.String, s.RECORD_ID: pl.String, s.PERSON_ID: pl.String}
        if latest is None:
            return pl.DataFrame(schema=schema)
        query = sa.select(*columns).where(crosswalk.c.last_seen_run == latest)
        return self._read(query, schema)

    def load_records(self) -> pl.DataFrame:
        """Every record whose crosswalk person is active, with its raw fields, in key order.

        Columns ``s.RAW_COLUMNS`` (all text), PERSON_ID and MATCH_PROBABILITY:
        what the resolve-identity service indexes at start-up.  Records saved
        without raw fields (before schema version 2) are left out.
        """
        text = {c: pl.String for c in s.RAW_COLUMNS}
        links = {
            s.SOURCE: pl.String,
            s.RECORD_ID: pl.String,
            s.PERSON_ID: pl.String,
            s.MATCH_PROBABILITY: pl.Float64,
        }
        # three scans joined here: on SQLite a million index lookups per joined table cost
        # more than the scans, and PostgreSQL gains nothing from joining them itself
        with self._snapshot() as conn:
            raw = self._read(sa.select(*(records.c[c] for c in s.RAW_COLUMNS)), text, conn)
            linked = self._read(sa.select(*(crosswalk.c[c] for c in links)), links, conn)
            active = self._read(
                sa.select(persons.c[s.PERSON_ID]).where(persons.c.status == "active"),
                {s.PERSON_ID: pl.String},
                conn,
            )
        linked = linked.join(active, on=s.PERSON_ID, how="semi")
        return raw.join(linked, on=[s.SOURCE, s.RECORD_ID], how="inner").sort(
            s.SOURCE, s.RECORD_ID
        )

    def person_records(self, person_id: str) -> pl.DataFrame:
        """The crosswalk rows of a person (with lineage) joined with their raw fields, in key order.

        Crosswalk columns, then ``RECORD_FIELDS`` (null for a record saved
        without them).  Rows of earlier runs have an older ``last_seen_run``.
        """
        key = (crosswalk.c[s.SOURCE] == records.c[s.SOURCE]) & (
            crosswalk.c[s.RECORD_ID] == records.c[s.RECORD_ID]
        )
        return self._frame(
            sa.select(crosswalk, *(records.c[c] for c in RECORD_FIELDS))
            .select_from(crosswalk.outerjoin(records, key))
            .where(crosswalk.c[s.PERSON_ID] == person_id)
            .order_by(crosswalk.c[s.SOURCE], crosswalk.c[s.RECORD_ID])
        )

    def latest_run_config(self) -> str | None:
        """The config JSON (a JobConfig) of the latest saved run; None without one."""
        latest = sa.select(sa.func.max(crosswalk.c.last_seen_run)).scalar_subquery()
        with self._engine.connect() as conn:
            value = conn.execute(
                sa.select(runs.c.config_json).where(runs.c[s.RUN_ID] == latest)
            ).scalar()
        return None if value is None else str(value)

    def _read(
        self,
        query: sa.Select[Any],
        schema: Mapping[str, Any],
        conn: Connection | None = None,
    ) -> pl.DataFrame:
        """A large query's rows as a frame of ``schema`` (its columns in order), fast.

        COPY on PostgreSQL; on SQLite the sqlite3 cursor's tuples in chunks
        (SQLAlchemy's Row objects cost more than the query at a million rows).
        """
        if conn is None:
            with self._engine.connect() as own:
                return self._read(query, schema, own)
        if self._copy:
            return self._copy_out(query, schema, conn)
        if conn.dialect.name != "sqlite":
            return self._frame(query, schema=schema, conn=conn)
        compiled = query.compile(dialect=conn.dialect)
        params = tuple(compiled.params[name] for name in compiled.positiontup or ())
        frames = []
        cursor = _driver_connection(conn).cursor()
        try:
            cursor.execute(compiled.string, params)
            while rows := cursor.fetchmany(self._chunk_size):
                frames.append(pl.DataFrame(rows, schema=dict(schema), orient="row"))
        finally:
            cursor.close()
        return pl.concat(frames) if frames else pl.DataFrame(schema=dict(schema))

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A read-only transaction whose statements all see one state of the store."""
        with self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():  # SQLite in WAL mode: one read snapshot per transaction
                yield conn

    def _copy_out(
        self, query: sa.Select[Any], schema: Mapping[str, Any], conn: Connection
    ) -> pl.DataFrame:
        """Read a query of text and numbers through PostgreSQL's COPY (faster than fetching)."""
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        buffer = bytearray()
        copy_sql = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"
        with _driver_connection(conn).cursor() as cursor, cursor.copy(copy_sql) as copy:
            for block in copy:
                buffer += block
        if not buffer:
            return pl.DataFrame(schema=dict(schema))
        # COPY quotes empty strings and leaves nulls bare, which read_csv tells apart the same way
        return pl.read_csv(
            bytes(buffer), has_header=False, new_columns=list(schema), schema=dict(schema)
        )

    def reserved_ids(self) -> set[str]:
        """Person IDs never to issue again: merged-away and retired ones."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(persons.c[s.PERSON_ID]).where(persons.c.status != "active")
            )
            return {row[0] for row in rows}

    def reconcile(self, clusters: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """:func:`linkage.identities.assign_person_ids` against this store's latest crosswalk."""
        from linkage.identities import assign_person_ids

        return assign_person_ids(clusters, self.load_crosswalk(), reserved=self.reserved_ids())

    def latest_model(self) -> StoredModel | None:
        """The model of the latest run that saved one, else the newest stored model."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(models)
                .join(runs, runs.c.model_id == models.c.model_id, isouter=True)
                .order_by(sa.func.coalesce(runs.c[s.RUN_ID], 0).desc(), models.c.created_at.desc())
                .limit(1)
            ).first()
        return (
            None if row is None else StoredModel(row.model_id, _utc(row.created_at), row.model_json)
        )

    def get_person(self, person_id: str) -> dict[str, Any] | None:
        """The person row (any status), or None."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(persons).where(persons.c[s.PERSON_ID] == person_id)
            ).first()
        return None if row is None else dict(row._mapping)

    def current_person_id(self, person_id: str) -> str | None:
        """Follows merges: the active ID now holding ``person_id``'s records, or None."""
        seen: set[str] = set()
        current: str | None = person_id
        while current is not None and current not in seen:
            seen.add(current)
            row = self.get_person(current)
            if row is None or row["status"] == "retired":
                return None
            if row["status"] == "active":
                return current
            current = row["merged_into"]
        return None

    def records_of(self, person_id: str) -> pl.DataFrame:
        """The crosswalk rows of a person, with lineage (stale rows have an older last_seen_run)."""
        return self._frame(
            sa.select(crosswalk)
            .where(crosswalk.c[s.PERSON_ID] == person_id)
            .order_by(crosswalk.c[s.SOURCE], crosswalk.c[s.RECORD_ID])
        )

    def find_by_id_key(self, id_key: str) -> pl.DataFrame:
        """Crosswalk rows whose record carried this ID_KEY ("<kind>:<value>")."""
        return self._frame(
            sa.select(crosswalk)
            .where(crosswalk.c[s.ID_KEY] == id_key)
            .order_by(crosswalk.c[s.SOURCE], crosswalk.c[s.RECORD_ID])
        )

    def persons_of(self, keys: pl.DataFrame) -> pl.DataFrame:
        """SOURCE, RECORD_ID, PERSON_ID for the given record keys (null when unknown), in order."""
        keys = keys.select(pl.col(s.SOURCE).cast(pl.String), pl.col(s.RECORD_ID).cast(pl.String))
        schema = {s.SOURCE: pl.String, s.RECORD_ID: pl.String, s.PERSON_ID: pl.String}
        if keys.height == 0:
            return pl.DataFrame(schema=schema)
        with self._engine.begin() as conn:
            _stage_keys.create(conn)
            try:
                self._bulk_load(conn, _stage_keys, keys.unique())
                query = sa.select(
                    crosswalk.c[s.SOURCE], crosswalk.c[s.RECORD_ID], crosswalk.c[s.PERSON_ID]
                ).join(
                    _stage_keys,
                    (crosswalk.c[s.SOURCE] == _stage_keys.c[s.SOURCE])
                    & (crosswalk.c[s.RECORD_ID] == _stage_keys.c[s.RECORD_ID]),
                )
                found = self._frame(query, schema=schema, conn=conn)
            finally:
                _stage_keys.drop(conn)
        return keys.join(found, on=[s.SOURCE, s.RECORD_ID], how="left", maintain_order="left")

    def events_of(self, person_id: str) -> pl.DataFrame:
        """Events whose subject is ``person_id``, oldest first (related_ids decoded)."""
        frame = self._frame(
            sa.select(events).where(events.c[s.PERSON_ID] == person_id).order_by(events.c.event_id)
        )
        return frame.with_columns(pl.col(RELATED_IDS).str.json_decode(pl.List(pl.String)))

    def _frame(
        self,
        query: sa.Select[Any],
        *,
        schema: Mapping[str, Any] | None = None,
        conn: Connection | None = None,
    ) -> pl.DataFrame:
        if conn is None:
            with self._engine.connect() as own:
                return self._frame(query, schema=schema, conn=own)
        result = conn.execute(query)
        names = list(result.keys())
        rows = result.fetchall()
        if schema is None:
            schema = {
                name: _polars_type(column.type)
                for name, column in zip(names, query.selected_columns)
            }
        frame = pl.DataFrame(
            [tuple(_utc(v) for v in row) for row in rows]
            if any(t == pl.Datetime for t in schema.values())
            else rows,
            schema=dict(schema),
            orient="row",
        )
        return frame

    # ---------------------------------------------------------------- write
    def save_run(
        self,
        run_id: int,
        crosswalk_frame: pl.DataFrame,
        persons_frame: pl.DataFrame | None = None,
        events_frame: pl.DataFrame | None = None,
        model_json: str | None = None,
        *,
        records_frame: pl.DataFrame | None = None,
    ) -> None:
        """Write one run's identities in one transaction.

        ``crosswalk_frame``: SOURCE, RECORD_ID, PERSON_ID, optionally
        MATCH_PROBABILITY and ID_KEY: every record of the run.  ``persons_frame``:
        PERSON_ID and any of :data:`PERSON_COLUMNS` (the pipeline's canonical
        values); record and source counts come from the crosswalk.  Active persons
        absent from this run become ``merged`` (per a MERGE event) or ``retired``.
        ``records_frame``: SOURCE, RECORD_ID and any raw canonical columns
        (``s.RAW_COLUMNS``) of the run's records, upserted into ``records``;
        records of earlier runs stay.
        """
        laps = _Laps()
        staged_crosswalk = _crosswalk_rows(crosswalk_frame)
        staged_persons = _person_rows(staged_crosswalk, persons_frame)
        staged_records = None if records_frame is None else _record_rows(records_frame)
        event_rows = _event_rows(events_frame, run_id)
        merges = (
            events_frame.filter(pl.col(EVENT_KIND) == EventKind.MERGE.value)
            .select(
                pl.col(s.PERSON_ID).alias("pid"), pl.col(RELATED_IDS).list.first().alias("into")
            )
            .to_dicts()
            if events_frame is not None and events_frame.height
            else []
        )
        laps("prepare")
        frames = {
            _stage_crosswalk.name: staged_crosswalk,
            _stage_persons.name: staged_persons,
            _stage_events.name: event_rows,
        }
        if staged_records is not None and staged_records.height:
            frames[_stage_records.name] = staged_records
        with self._staged_writing(frames, laps) as (conn, stage):
            self._check_run(conn, run_id)
            if conn.dialect.name == "postgresql":
                # this transaction sorts and indexes a million rows: let it do so in memory
                conn.exec_driver_sql("SET LOCAL work_mem TO '256MB'")
                conn.exec_driver_sql("SET LOCAL maintenance_work_mem TO '512MB'")
            model_id = self._save_model(conn, model_json) if model_json is not None else None
            cw_stage, persons_stage = stage[_stage_crosswalk.name], stage[_stage_persons.name]
            self._rebuild(
                conn, crosswalk, lambda prev: self._crosswalk_select(prev, run_id, cw_stage)
            )
            laps("crosswalk")
            self._rebuild(
                conn, persons, lambda prev: self._persons_select(prev, run_id, persons_stage)
            )
            if merges:
                conn.execute(
                    persons.update()
                    .where(persons.c[s.PERSON_ID] == sa.bindparam("pid"))
                    .where(persons.c.status != "active")
                    .values(status="merged", merged_into=sa.bindparam("into"), updated_run=run_id),
                    merges,
                )
            laps("persons")
            if _stage_records.name in stage:
                _upsert_staged_records(conn, run_id, stage[_stage_records.name])
                laps("records")
            if _stage_events.name in stage:
                staged_events = stage[_stage_events.name]
                conn.execute(
                    events.insert().from_select(
                        [c.name for c in staged_events.columns],
                        sa.select(*staged_events.columns).order_by(sa.literal_column("rowid")),
                    )
                )
            else:
                self._bulk_load(conn, events, event_rows)
            values: dict[str, Any] = {
                "records": staged_crosswalk.height,
                "persons": staged_persons.height,
                "status": "saved",
            }
            if model_id is not None:
                values["model_id"] = model_id
            conn.execute(runs.update().where(runs.c[s.RUN_ID] == run_id).values(**values))
            laps("events")
            if conn.dialect.name == "postgresql":
                # fresh statistics, or the planner takes the new million-row tables for empty ones
                conn.exec_driver_sql("ANALYZE crosswalk, persons, records")
                laps("analyze")
        laps("commit")
        log.info(
            "run %d saved: %d records, %d persons, %d raw records, %d events (%d merges) "
            "in %.1fs (%s)",
            run_id,
            staged_crosswalk.height,
            staged_persons.height,
            0 if staged_records is None else staged_records.height,
            event_rows.height,
            len(merges),
            laps.total,
            laps,
            extra={"phases": dict(laps.seconds), "phases_cpu": dict(laps.cpu)},
        )

    def apply_ingest(self, batch: IngestBatch) -> None:
        """Write what the service's ingest decided, in one transaction.

        Records are upserted into ``records`` and their crosswalk rows are stamped
        with the latest saved run (``run_id`` = ``first_seen_run`` =
        ``last_seen_run`` for a new key; an existing key keeps its
        ``first_seen_run``), so the next batch run's :meth:`load_crosswalk` sees
        them.  New persons are created active in that run; each merged-away
        person becomes ``merged`` into its survivor and its crosswalk rows move to
        the survivor (following chains within the batch).  The ``records`` and
        ``sources`` counts of every person that gained or lost rows are
        recomputed.  A few statements over the batch's rows, none over the whole
        tables.  Raises StoreError if the store has no saved run, or if the batch
        names persons that are unknown or not active, or issues an ID already issued.
        """
        started = time.perf_counter()
        staged_records = _record_rows(batch.records)
        staged_crosswalk = _crosswalk_rows(batch.crosswalk)
        new_persons = (
            _canonical_rows(batch.new_persons)
            if batch.new_persons is not None and batch.new_persons.height
            else None
        )
        new_ids = [] if new_persons is None else new_persons[s.PERSON_ID].to_list()
        linked_ids = set(staged_crosswalk[s.PERSON_ID].unique().to_list())
        merged_into = _merge_targets(batch.merges)
        with self._writing() as conn:
            latest = conn.execute(sa.select(sa.func.max(crosswalk.c.last_seen_run))).scalar()
            if latest is None:
                raise StoreError("ingest: the store has no saved run yet; run the batch job first")
            _check_ingest(conn, new_ids, linked_ids, merged_into)
            run = {s.RUN_ID: latest}
            previous_owners = _owners(conn, staged_crosswalk)
            _upsert_records(conn, staged_records.with_columns(**run).to_dicts())
            if new_persons is not None:
                self._bulk_load(
                    conn,
                    persons,
                    new_persons.with_columns(
                        status=pl.lit("active"),
                        merged_into=pl.lit(None, pl.String),
                        created_run=pl.lit(latest),
                        updated_run=pl.lit(latest),
                        records=pl.lit(0),
                        sources=pl.lit("[]"),
                    ),
                )
            _upsert(
                conn,
                crosswalk,
                staged_crosswalk.with_columns(
                    first_seen_run=pl.lit(latest), last_seen_run=pl.lit(latest), **run
                ).to_dicts(),
                [c.name for c in crosswalk.columns],
                lambda proposed: {
                    s.PERSON_ID: proposed[s.PERSON_ID],
                    s.RUN_ID: sa.case(
                        (crosswalk.c[s.PERSON_ID] == proposed[s.PERSON_ID], crosswalk.c[s.RUN_ID]),
                        else_=proposed[s.RUN_ID],
                    ),
                    s.MATCH_PROBABILITY: proposed[s.MATCH_PROBABILITY],
                    s.ID_KEY: proposed[s.ID_KEY],
                    "last_seen_run": proposed["last_seen_run"],
                },
            )
            survivors = {p: _final(p, merged_into) for p in merged_into}
            if merged_into:
                conn.execute(
                    persons.update()
                    .where(persons.c[s.PERSON_ID] == sa.bindparam("pid"))
                    .values(status="merged", merged_into=sa.bindparam("into"), updated_run=latest),
                    [{"pid": p, "into": into} for p, into in merged_into.items()],
                )
                conn.execute(
                    crosswalk.update()
                    .where(crosswalk.c[s.PERSON_ID] == sa.bindparam("pid"))
                    .values({s.PERSON_ID: sa.bindparam("into"), s.RUN_ID: latest}),
                    [{"pid": p, "into": into} for p, into in survivors.items()],
                )
            touched = (linked_ids | set(new_ids) | set(survivors.values()) | previous_owners) - set(
                merged_into
            )
            _recount(conn, touched, latest)
            self._bulk_load(conn, events, _event_rows(batch.events, latest))
        log.debug(
            "ingest into run %d: %d records, %d new persons, %d merges in %.3fs",
            latest,
            staged_crosswalk.height,
            len(new_ids),
            len(merged_into),
            time.perf_counter() - started,
        )

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction that holds the write lock from its start, for a caller that reads
        before it writes (a deferred SQLite transaction then fails with "database is locked"
        when another writer, the service's audit writer say, committed in between)."""
        with self._writing() as conn:
            yield conn

    @contextmanager
    def _writing(self, attach: Path | None = None) -> Iterator[Connection]:
        """A write transaction that holds the write lock from its start.

        On SQLite a deferred transaction that reads first fails at its first
        write if another writer committed meanwhile; BEGIN IMMEDIATE waits for
        the lock (the busy timeout) instead.  PostgreSQL's are already fine.
        ``attach`` (SQLite): a database file readable as schema ``linkage_stage``
        for the transaction (ATTACH cannot run inside one), detached afterwards.
        """
        with self._engine.connect() as conn:
            raw = None if attach is None else _driver_connection(conn)
            if raw is not None:
                raw.execute(f"ATTACH DATABASE ? AS {_SCRATCH}", (str(attach),))
            try:
                conn.execution_options(**{_IMMEDIATE: True})
                with conn.begin():
                    yield conn
            finally:
                if raw is not None:
                    try:
                        raw.execute(f"DETACH DATABASE {_SCRATCH}")
                    except sqlite3.Error:
                        conn.invalidate()  # never pool a connection with the scratch attached

    @contextmanager
    def _staged_writing(
        self, frames: Mapping[str, pl.DataFrame], laps: _Laps
    ) -> Iterator[tuple[Connection, Mapping[str, sa.Table]]]:
        """A write transaction (:meth:`_writing`) that reads ``frames`` (stage table name ->
        rows) as staging tables, which it yields by name.

        SQLite (bulk ``adbc``): the frames go through ADBC (Arrow, no Python
        rows, ~3-5x sqlite3's executemany) into a new scratch file beside the
        store, written before the transaction and outside the write lock, then
        ATTACHed for it; the store's own tables change only inside the one
        transaction, so a failed save leaves the store as it was, and the
        scratch file is deleted either way.  Otherwise: temporary tables loaded
        in the transaction (COPY on PostgreSQL), dropped at its end; events are
        not staged there but loaded straight into ``events``.
        """
        if not self._scratch:
            with self._writing() as conn:
                staged = {}
                for table in (_stage_crosswalk, _stage_persons, _stage_records):
                    if table.name in frames:
                        table.create(conn)
                        self._bulk_load(conn, table, frames[table.name])
                        staged[table.name] = table
                laps("stage")
                yield conn, staged
                for table in staged.values():
                    table.drop(conn)
            return
        database = self._engine.url.database
        directory = (
            Path(database).resolve().parent if database not in (None, "", ":memory:") else None
        )
        with tempfile.TemporaryDirectory(prefix=".linkage-stage-", dir=directory) as tmp:
            path = Path(tmp) / "stage.db"
            _write_scratch(path, frames)
            laps("stage")
            with self._writing(attach=path) as conn:
                yield conn, {name: _SCRATCH_TABLES[name] for name in frames}

    def _save_model(self, conn: Connection, model_json: str) -> str:
        model_id = hashlib.sha256(model_json.encode("utf-8")).hexdigest()[:32]
        exists = conn.execute(
            sa.select(models.c.model_id).where(models.c.model_id == model_id)
        ).first()
        if exists is None:
            conn.execute(
                models.insert().values(model_id=model_id, created_at=_now(), model_json=model_json)
            )
        return model_id

    def _rebuild(
        self, conn: Connection, table: sa.Table, rows: Callable[[sa.Table], sa.Select[Any]]
    ) -> None:
        """Replace ``table``'s rows by ``rows(previous table)``, then build its secondary indexes.

        Rewriting a million-row table into a fresh one and indexing it once is
        several times faster than a million upserts maintaining every index, and
        leaves no dead rows behind.
        """
        prev = sa.Table(
            f"_{table.name}_prev",
            sa.MetaData(),
            *(sa.Column(c.name, c.type) for c in table.columns),
        )
        quote = conn.dialect.identifier_preparer.quote
        conn.exec_driver_sql(f"ALTER TABLE {quote(table.name)} RENAME TO {quote(prev.name)}")
        for index in table.indexes:
            conn.exec_driver_sql(f"DROP INDEX {quote(index.name)}")  # type: ignore[arg-type]
        if conn.dialect.name == "postgresql":  # constraint names are schema-wide there
            conn.exec_driver_sql(
                f"ALTER TABLE {quote(prev.name)} RENAME CONSTRAINT {quote(table.name + '_pkey')} "
                f"TO {quote(prev.name + '_pkey')}"
            )
        conn.execute(CreateTable(table))
        conn.execute(table.insert().from_select([c.name for c in table.columns], rows(prev)))
        prev.drop(conn)
        for index in table.indexes:
            index.create(conn)

    def _crosswalk_select(self, prev: sa.Table, run_id: int, staged: sa.Table) -> sa.Select[Any]:
        """This run's records (first_seen_run kept, run_id kept while the person stays), others."""
        run = sa.literal(run_id, sa.Integer)
        stage = staged.c
        same_key = (prev.c[s.SOURCE] == stage[s.SOURCE]) & (
            prev.c[s.RECORD_ID] == stage[s.RECORD_ID]
        )
        seen = sa.select(
            stage[s.SOURCE],
            stage[s.RECORD_ID],
            stage[s.PERSON_ID],
            sa.case((prev.c[s.PERSON_ID] == stage[s.PERSON_ID], prev.c[s.RUN_ID]), else_=run),
            stage[s.MATCH_PROBABILITY],
            stage[s.ID_KEY],
            sa.func.coalesce(prev.c.first_seen_run, run),
            run,
        ).select_from(staged.outerjoin(prev, same_key))
        unseen = sa.select(*(prev.c[c.name] for c in crosswalk.columns)).where(
            ~sa.exists().where(same_key)
        )
        return sa.union_all(seen, unseen).order_by(s.SOURCE, s.RECORD_ID)  # type: ignore

    def _persons_select(self, prev: sa.Table, run_id: int, staged: sa.Table) -> sa.Select[Any]:
        """This run's persons (active), then the others (absent active ones retire)."""
        run = sa.literal(run_id, sa.Integer)
        stage = staged.c
        attributes = [c.name for c in staged.columns if c.name != s.PERSON_ID]
        changed = sa.or_(
            prev.c[s.PERSON_ID].is_(None),
            prev.c.status != "active",
            *(prev.c[name].is_distinct_from(stage[name]) for name in attributes),
        )
        values = {
            "status": sa.literal("active", sa.String),
            "merged_into": sa.null(),
            "created_run": sa.func.coalesce(prev.c.created_run, run),
            "updated_run": sa.case((changed, run), else_=prev.c.updated_run),
        }
        seen = sa.select(
            *(stage[c.name] if c.name in stage else values[c.name] for c in persons.columns)
        ).select_from(staged.outerjoin(prev, prev.c[s.PERSON_ID] == stage[s.PERSON_ID]))
        retiring = prev.c.status == "active"
        others = {
            "status": sa.case((retiring, "retired"), else_=prev.c.status),
            "updated_run": sa.case((retiring, run), else_=prev.c.updated_run),
        }
        unseen = sa.select(*(others.get(c.name, prev.c[c.name]) for c in persons.columns)).where(
            ~sa.exists().where(stage[s.PERSON_ID] == prev.c[s.PERSON_ID])
        )
        return sa.union_all(seen, unseen).order_by(s.PERSON_ID)  # type: ignore[return-value]

    def _bulk_load(self, conn: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
        """Insert ``frame`` (columns named as ``table``'s, autoincrement keys left out) into it."""
        if frame.height == 0:
            return
        names = [c.name for c in table.columns if c.name in frame.columns]
        frame = frame.select(names)
        if self._copy:
            quoted = ", ".join(f'"{name}"' for name in names)
            sql = f'COPY "{table.name}" ({quoted}) FROM STDIN WITH (FORMAT csv)'
            with _driver_connection(conn).cursor() as cursor, cursor.copy(sql) as copy:
                for chunk in frame.iter_slices(self._chunk_size):
                    copy.write(chunk.write_csv(include_header=False))
            return
        if conn.dialect.name == "sqlite":
            frame = _sqlite_values(frame)
        marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f'INSERT INTO "{table.name}" ({", ".join(f"{chr(34)}{n}{chr(34)}" for n in names)}) '
            f"VALUES ({', '.join([marker] * len(names))})"
        )
        for chunk in frame.iter_slices(self._chunk_size):
            conn.exec_driver_sql(sql, chunk.rows())


# ------------------------------------------------------------ frame shaping
def _crosswalk_rows(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in (s.SOURCE, s.RECORD_ID, s.PERSON_ID) if c not in frame.columns]
    if missing:
        raise SchemaError(f"crosswalk: missing column(s) {missing}")
    optional = {s.MATCH_PROBABILITY: pl.Float64, s.ID_KEY: pl.String}
    rows = frame.select(
        pl.col(s.SOURCE).cast(pl.String),
        pl.col(s.RECORD_ID).cast(pl.String),
        pl.col(s.PERSON_ID).cast(pl.String),
        *(
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(dtype).alias(c)
            for c, dtype in optional.items()
        ),
    )
    nulls = [c for c in (s.SOURCE, s.RECORD_ID, s.PERSON_ID) if rows[c].null_count()]
    if nulls:
        raise SchemaError(f"crosswalk: null values in {nulls}")
    return _sorted_by_key(rows, "crosswalk")


def raw_rows(frame: pl.DataFrame, what: str) -> pl.DataFrame:
    """``frame``'s key and raw canonical fields as text (absent columns null), as the store
    keeps records: SchemaError, naming ``what``, when a key column is missing or null."""
    missing = [c for c in s.KEY_COLUMNS if c not in frame.columns]
    if missing:
        raise SchemaError(f"{what}: missing column(s) {missing}")
    rows = frame.select(
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(pl.String).alias(c)
        for c in s.RAW_COLUMNS
    )
    nulls = [c for c in s.KEY_COLUMNS if rows[c].null_count()]
    if nulls:
        raise SchemaError(f"{what}: null values in {nulls}")
    return rows


def _record_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """The records table's key and raw fields, checked and sorted."""
    return _sorted_by_key(raw_rows(frame, "records"), "records")


def _sorted_by_key(rows: pl.DataFrame, what: str) -> pl.DataFrame:
    """``rows`` in (SOURCE, RECORD_ID) order; SchemaError if two share a key.

    Key order makes the staging tables' inserts sequential, and once sorted,
    duplicates are neighbours: cheaper to find than by hashing every key.
    Two stable single-column sorts (record ID, then source) are ~2.5x faster
    in polars than one sort on both columns, and rows already in order (a
    linear check) are not sorted again.
    """
    source, record_id = pl.col(s.SOURCE), pl.col(s.RECORD_ID)
    ordered = rows.select(
        (
            (source > source.shift())
            | ((source == source.shift()) & (record_id >= record_id.shift()))
        )
        .fill_null(True)
        .all()
    ).item()
    if not ordered:
        rows = rows.sort(s.RECORD_ID).sort(s.SOURCE, maintain_order=True)
    repeated = int(
        rows.select(
            (
                (pl.col(s.SOURCE) == pl.col(s.SOURCE).shift())
                & (pl.col(s.RECORD_ID) == pl.col(s.RECORD_ID).shift())
            ).sum()
        ).item()
    )
    if repeated:
        raise SchemaError(
            f"{what}: {repeated} rows share a ({s.SOURCE}, {s.RECORD_ID}) key with another row"
        )
    return rows


def _person_rows(crosswalk_rows: pl.DataFrame, frame: pl.DataFrame | None) -> pl.DataFrame:
    """One row per person of the crosswalk: counts from it, canonical values from ``frame``."""
    names = sorted(crosswalk_rows[s.SOURCE].unique().to_list())
    records = pl.len().cast(pl.Int64).alias("records")
    encoded: dict[Any, str]
    if len(names) < 64:
        # one bit per source, in name order: far cheaper than a sorted set of strings per person
        bit = pl.lit(2, pl.UInt64).pow(pl.col(s.SOURCE).cast(pl.Enum(names)).to_physical())
        counts = crosswalk_rows.group_by(s.PERSON_ID).agg(
            records, bit.unique().sum().alias("sources")
        )
        encoded = {
            mask: json.dumps([n for i, n in enumerate(names) if mask >> i & 1], ensure_ascii=False)
            for mask in counts["sources"].unique().to_list()
        }
    else:
        counts = crosswalk_rows.group_by(s.PERSON_ID).agg(
            records, pl.col(s.SOURCE).unique().sort().str.join("\x1f").alias("sources")
        )
        encoded = {
            c: json.dumps(c.split("\x1f"), ensure_ascii=False)
            for c in counts["sources"].unique().to_list()
        }
    # few distinct source combinations: encode each once
    counts = counts.with_columns(
        pl.col("sources").replace_strict(encoded, return_dtype=pl.String)
        if encoded
        else pl.lit(None, pl.String).alias("sources")
    )
    if frame is not None and frame.height:
        counts = counts.join(_canonical_rows(frame), on=s.PERSON_ID, how="left")
    else:
        counts = counts.with_columns(
            pl.lit(None, dtype).alias(name) for name, dtype in _PERSON_TYPES.items()
        ).with_columns(pl.lit(None, pl.String).alias("id_masked"))
    # key order makes the staging table's primary-key inserts sequential
    return counts.select([c.name for c in _stage_persons.columns]).sort(s.PERSON_ID)


def _canonical_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """PERSON_ID and the persons table's canonical columns (absent ones null) of a persons frame."""
    if s.PERSON_ID not in frame.columns:
        raise SchemaError(f"persons: missing column {s.PERSON_ID}")
    rows = frame.select(
        pl.col(s.PERSON_ID).cast(pl.String),
        *(
            (pl.col(src) if src in frame.columns else pl.lit(None))
            .cast(_PERSON_TYPES[dst])
            .alias(dst)
            for src, dst in PERSON_COLUMNS.items()
        ),
    )
    if rows[s.PERSON_ID].null_count():
        raise SchemaError(f"persons: null values in {[s.PERSON_ID]}")
    return rows.unique(s.PERSON_ID, keep="first", maintain_order=True).with_columns(
        mask_id_expr("id_number").alias("id_masked")
    )


def _event_rows(frame: pl.DataFrame | None, run_id: int) -> pl.DataFrame:
    """The events table's rows (without event_id) for an events frame of linkage.identities."""
    columns = [c.name for c in events.columns if c.name != "event_id"]
    if frame is None or frame.height == 0:
        return pl.DataFrame(schema={c: pl.String for c in columns})
    related = frame[RELATED_IDS].fill_null([])
    plain = related.explode().drop_nulls().str.contains(r"^[A-Za-z0-9_.:-]*$").all()
    # person IDs need no JSON escaping; anything else goes through json.dumps
    ids = pl.col(RELATED_IDS)
    encoded = (
        pl.DataFrame({RELATED_IDS: related})
        .select(
            pl.when(ids.list.len() == 0)
            .then(pl.lit("[]"))
            .otherwise(pl.lit('["') + ids.list.join('","') + pl.lit('"]'))
        )
        .to_series()
        if plain
        else related.map_elements(lambda values: json.dumps(list(values)), return_dtype=pl.String)
    )
    rows = frame.select(
        pl.lit(run_id, pl.Int64).alias(s.RUN_ID),
        pl.lit(_now(), pl.Datetime("us", "UTC")).alias("at"),
        pl.col(EVENT_KIND).cast(pl.String),
        pl.col(s.PERSON_ID).cast(pl.String),
        encoded.alias(RELATED_IDS),
        pl.col(EVENT_RECORDS).cast(pl.Int64),
        pl.col(EVENT_REASON).cast(pl.String),
    ).select(columns)
    # person order makes the person_id index's inserts sequential (events_of orders per person)
    return rows.sort(s.PERSON_ID, maintain_order=True)


def _upsert(
    conn: Connection,
    table: sa.Table,
    rows: sa.Select[Any] | list[dict[str, Any]],
    columns: Sequence[str],
    updates: Callable[[Any], Mapping[str, Any]],
    changed: Callable[[Any], sa.ColumnElement[bool]] | None = None,
) -> None:
    """Insert ``rows`` (a SELECT of ``columns``, or parameter dicts) into ``table``: one statement.

    A row whose primary key exists updates it instead: ``updates(excluded)``
    maps columns to new values (``excluded`` = the proposed row), and only
    where ``changed(excluded)`` holds.  SQLite (>= 3.24) and PostgreSQL.
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise StoreError(f"store: upserts need SQLite or PostgreSQL (got {conn.dialect.name})")
    statement = insert(table)
    if isinstance(rows, sa.Select):
        # WHERE true: SQLite would otherwise read ON CONFLICT as the SELECT's join constraint
        statement = statement.from_select(list(columns), rows.where(sa.true()))
    statement = statement.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key.columns],
        set_=dict(updates(statement.excluded)),
        where=None if changed is None else changed(statement.excluded),
    )
    if isinstance(rows, sa.Select):
        conn.execute(statement)
    elif rows:
        conn.execute(statement, rows)


def _upsert_records(conn: Connection, rows: sa.Select[Any] | list[dict[str, Any]]) -> None:
    """Upsert raw records (``s.RAW_COLUMNS`` + RUN_ID); unchanged rows keep their run_id."""
    _upsert(
        conn,
        records,
        rows,
        [*s.RAW_COLUMNS, s.RUN_ID],
        lambda proposed: {c: proposed[c] for c in (*RECORD_FIELDS, s.RUN_ID)},
        lambda proposed: sa.or_(
            *(records.c[c].is_distinct_from(proposed[c]) for c in RECORD_FIELDS)
        ),
    )


def _merge_targets(merges: Sequence[tuple[str, str]]) -> dict[str, str]:
    """merged-away ID -> survivor ID, checked: no self-merge, no ID merged twice, no cycle."""
    targets: dict[str, str] = {}
    for away, survivor in merges:
        if away == survivor:
            raise StoreError(f"ingest: person {away} cannot be merged into itself")
        if away in targets and targets[away] != survivor:
            raise StoreError(f"ingest: person {away} is merged into two persons")
        targets[str(away)] = str(survivor)
    for away in targets:
        _final(away, targets)
    return targets


def _final(person_id: str, targets: Mapping[str, str]) -> str:
    """The survivor at the end of ``person_id``'s chain of merges."""
    seen = {person_id}
    while person_id in targets:
        person_id = targets[person_id]
        if person_id in seen:
            raise StoreError(f"ingest: merges form a cycle through person {person_id}")
        seen.add(person_id)
    return person_id


# values per IN list: well under SQLite's and PostgreSQL's bound-parameter limits
_IN_CHUNK: Final = 2_000


def _check_ingest(
    conn: Connection, new_ids: Sequence[str], linked_ids: set[str], targets: Mapping[str, str]
) -> None:
    """StoreError unless the batch's persons exist and are active (or are its new ones)."""
    named = sorted(linked_ids | set(new_ids) | set(targets) | set(targets.values()))
    status: dict[str, str] = {}
    for start in range(0, len(named), _IN_CHUNK):
        rows = conn.execute(
            sa.select(persons.c[s.PERSON_ID], persons.c.status).where(
                persons.c[s.PERSON_ID].in_(named[start : start + _IN_CHUNK])
            )
        )
        status.update((row[0], row[1]) for row in rows)
    taken = sorted(p for p in new_ids if p in status)
    if taken:
        raise StoreError(f"ingest: new person ID(s) already issued: {taken[:5]}")
    usable = {p for p, value in status.items() if value == "active"} | set(new_ids)
    missing = sorted((linked_ids | set(targets) | set(targets.values())) - usable)
    if missing:
        raise StoreError(f"ingest: person(s) unknown or not active: {missing[:5]}")


def _owners(conn: Connection, keys: pl.DataFrame) -> set[str]:
    """The persons now holding these (SOURCE, RECORD_ID) keys in the crosswalk.

    One ``source = ? AND record_id IN (...)`` per source: both databases walk the
    primary key with it, while SQLite scans the whole table for a row-value IN.
    """
    owners: set[str] = set()
    grouped = keys.group_by(s.SOURCE).agg(pl.col(s.RECORD_ID)).iter_rows()
    for source, record_ids in grouped:
        for start in range(0, len(record_ids), _IN_CHUNK):
            rows = conn.execute(
                sa.select(crosswalk.c[s.PERSON_ID])
                .where(crosswalk.c[s.SOURCE] == source)
                .where(crosswalk.c[s.RECORD_ID].in_(record_ids[start : start + _IN_CHUNK]))
                .distinct()
            )
            owners.update(row[0] for row in rows)
    return owners


def _recount(conn: Connection, person_ids: set[str], run_id: int) -> None:
    """Recompute records and sources of these persons (active ones) from their ``run_id`` rows."""
    ids = sorted(person_ids)
    per_person: dict[str, dict[str, int]] = {p: {} for p in ids}
    seen = crosswalk.c.last_seen_run
    for start in range(0, len(ids), _IN_CHUNK):
        # the run is filtered here, not in SQL: SQLite, without statistics, could pick the
        # last_seen_run index, which holds every row of the run, over the person_id one
        rows = conn.execute(
            sa.select(crosswalk.c[s.PERSON_ID], crosswalk.c[s.SOURCE], seen, sa.func.count())
            .where(crosswalk.c[s.PERSON_ID].in_(ids[start : start + _IN_CHUNK]))
            .group_by(crosswalk.c[s.PERSON_ID], crosswalk.c[s.SOURCE], seen)
        )
        for person_id, source, last_seen, n in rows:
            if last_seen == run_id:
                per_person[person_id][source] = int(n)
    if ids:
        conn.execute(
            persons.update()
            .where(persons.c[s.PERSON_ID] == sa.bindparam("pid"))
            .where(persons.c.status == "active")
            .values(records=sa.bindparam("n"), sources=sa.bindparam("src"), updated_run=run_id),
            [
                {
                    "pid": p,
                    "n": sum(counts.values()),
                    "src": json.dumps(sorted(counts), ensure_ascii=False),
                }
                for p, counts in per_person.items()
            ],
        )


def _upsert_staged_records(conn: Connection, run_id: int, staged: sa.Table) -> None:
    """Upsert ``staged`` records into ``records`` (``run_id`` on new and changed rows), set-based.

    SQLite: one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``.  PostgreSQL:
    ``UPDATE ... FROM`` the changed rows, then ``INSERT ... SELECT`` the new
    keys: two hash joins, ~40% faster there than ON CONFLICT's per-row
    speculative insertion at a million rows (and the reverse on SQLite).
    """
    stage = staged.c
    run = sa.literal(run_id, sa.Integer)
    rows = sa.select(*(stage[c] for c in s.RAW_COLUMNS), run)
    if conn.dialect.name != "postgresql":
        _upsert_records(conn, rows)
        return
    same = (records.c[s.SOURCE] == stage[s.SOURCE]) & (records.c[s.RECORD_ID] == stage[s.RECORD_ID])
    changed = sa.or_(*(records.c[c].is_distinct_from(stage[c]) for c in RECORD_FIELDS))
    conn.execute(
        records.update()
        .where(same, changed)
        .values({**{c: stage[c] for c in RECORD_FIELDS}, s.RUN_ID: run})
    )
    conn.execute(
        records.insert().from_select(
            [*s.RAW_COLUMNS, s.RUN_ID], rows.where(~sa.exists().where(same))
        )
    )


def _sqlite_values(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates and datetimes as the text SQLAlchemy writes to SQLite (sqlite3's adapters are
    deprecated, and ADBC would write its own format)."""
    return frame.with_columns(
        pl.col(pl.Date).dt.to_string("%Y-%m-%d"),
        pl.col(pl.Datetime)
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
        .dt.to_string("%Y-%m-%d %H:%M:%S.%6f"),
    )


def _write_scratch(path: Path, frames: Mapping[str, pl.DataFrame]) -> None:
    """Load ``frames`` (stage table name -> rows) into a new SQLite file through ADBC.

    The file is private scratch: no journal, no fsync.  Keyed tables are
    WITHOUT ROWID (rows arrive in key order, so the key B-tree is appended to).
    ADBC's driver links its own SQLite library: it must never open the store's
    own file while the sqlite3 module may hold it (two libraries in one process
    do not see each other's POSIX locks); it writes only this file and closes
    it before the store's connection attaches it.
    """
    import adbc_driver_sqlite.dbapi as adbc_sqlite
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    dialect = sqlite_dialect.dialect()
    with adbc_sqlite.connect(str(path), autocommit=True) as db, db.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=OFF")
        cursor.fetchall()
        cursor.execute("PRAGMA synchronous=OFF")
        for name, frame in frames.items():
            table = _SCRATCH_DDL[name]
            cursor.execute(str(CreateTable(table).compile(dialect=dialect)))
            columns = [c.name for c in table.columns if c.name in frame.columns]
            if frame.height:
                arrow = _sqlite_values(frame.select(columns)).to_arrow()
                cursor.adbc_ingest(name, arrow, mode="append")


def _driver_connection(conn: Connection) -> Any:
    """The DBAPI connection under a SQLAlchemy one (psycopg's COPY, sqlite3's cursor)."""
    return conn.connection.dbapi_connection


def _utc(value: Any) -> Any:
    """SQLite returns naive datetimes, PostgreSQL aware ones: make both aware UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _polars_type(sql_type: sa.types.TypeEngine[Any]) -> Any:
    if isinstance(sql_type, sa.Integer):
        return pl.Int64
    if isinstance(sql_type, sa.Double | sa.Float):
        return pl.Float64
    if isinstance(sql_type, sa.DateTime):
        return pl.Datetime("us", "UTC")
    if isinstance(sql_type, sa.Date):
        return pl.Date
    return pl.String


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, open transactions, so DDL is transactional too."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA temp_store=MEMORY")
        # the default 2 MB page cache thrashes on the random index inserts of a million-row save
        cursor.execute("PRAGMA cache_size=-524288")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
