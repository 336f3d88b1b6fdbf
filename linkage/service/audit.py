"""The audit trail: one append-only row per request, written off the request path.

Every request, refused ones included, becomes an :class:`AuditEntry`: when,
which key, which route (the template, ``/v1/persons/{person_id}``, never the
raw path), the stated purpose, the SHA-256 of the request body (the body itself
is never kept), the person IDs returned, the outcome and status code, the
latency.  :class:`AuditWriter` queues entries and inserts them in batches from
one background thread, so a SQLite commit (an fsync) never sits between a
client and its answer; ``flush()`` waits until everything queued is written
and ``close()`` flushes before shutdown.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import polars as pl
import sqlalchemy as sa

from linkage.store import IdentityStore, audit

log = logging.getLogger(__name__)

_STOP: Final = object()
_PURPOSE_MAX: Final = 500


@dataclass(slots=True)
class AuditEntry:
    """One request as the audit table records it."""

    at: datetime
    method: str
    endpoint: str
    status_code: int
    outcome: str
    latency_ms: float
    key_name: str | None = None
    purpose: str | None = None
    input_hash: str | None = None
    person_ids: Sequence[str] = field(default_factory=tuple)

    def row(self) -> dict[str, object]:
        return {
            "at": self.at,
            "key_name": self.key_name,
            "method": self.method[:8],
            "endpoint": self.endpoint[:128],
            "purpose": None if self.purpose is None else self.purpose[:_PURPOSE_MAX],
            "input_hash": self.input_hash,
            "person_ids": json.dumps(list(self.person_ids), ensure_ascii=False),
            "outcome": self.outcome[:32],
            "status_code": self.status_code,
            "latency_ms": round(self.latency_ms, 3),
        }


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


class AuditWriter:
    """Batches audit rows into the store from a background thread.

    ``submit`` never blocks and never touches the database.  A failed insert is
    retried (``retries`` times, a second apart) before its rows are given up
    and counted in :attr:`lost`, and the failure is logged without the rows.
    """

    def __init__(
        self,
        store: IdentityStore,
        *,
        max_batch: int = 1000,
        interval: float = 0.05,
        retries: int = 3,
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._interval = interval
        self._retries = retries
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.lost = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def submit(self, entry: AuditEntry) -> None:
        self._queue.put(entry)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every entry submitted before this call is written (True) or timed out."""
        if self._thread is None or not self._thread.is_alive():
            self._drain_inline()
            return True
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        self._thread = None
        self._drain_inline()

    def _drain_inline(self) -> None:
        rows: list[dict[str, object]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, AuditEntry):
                rows.append(item.row())
            elif isinstance(item, _Flush):
                item.done.set()
        self._write(rows)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            rows: list[dict[str, object]] = []
            markers: list[_Flush] = []
            stop = False
            deadline = time.monotonic() + self._interval
            while True:
                if isinstance(item, AuditEntry):
                    rows.append(item.row())
                elif isinstance(item, _Flush):
                    markers.append(item)
                elif item is _STOP:
                    stop = True
                if stop or markers or len(rows) >= self._max_batch:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            self._write(rows)
            for marker in markers:
                marker.done.set()
            if stop:
                return

    def _write(self, rows: list[dict[str, object]]) -> None:
        if not rows:
            return
        for attempt in range(self._retries + 1):
            try:
                with self._store.engine.begin() as conn:
                    conn.execute(audit.insert(), rows)
                self.written += len(rows)
                return
            except Exception as exc:  # noqa: BLE001 - the writer must outlive a database hiccup
                log.error(
                    "audit: writing %d rows failed (attempt %d): %s",
                    len(rows),
                    attempt + 1,
                    type(exc).__name__,
                )
                if attempt < self._retries:
                    time.sleep(1.0)
        self.lost += len(rows)
        log.error("audit: gave up on %d rows", len(rows))


_AUDIT_SCHEMA: Final = {
    "audit_id": pl.Int64,
    "at": pl.Datetime("us", "UTC"),
    "key_name": pl.String,
    "method": pl.String,
    "endpoint": pl.String,
    "purpose": pl.String,
    "input_hash": pl.String,
    "person_ids": pl.String,
    "outcome": pl.String,
    "status_code": pl.Int64,
    "latency_ms": pl.Float64,
}


def read_audit(store: IdentityStore, *, limit: int | None = None) -> pl.DataFrame:
    """Audit rows, oldest first, ``at`` in UTC and ``person_ids`` decoded to a list."""
    query = sa.select(*(audit.c[name] for name in _AUDIT_SCHEMA)).order_by(audit.c.audit_id)
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        rows = [(row[0], _utc(row[1]), *row[2:]) for row in conn.execute(query).all()]
    frame = pl.DataFrame(rows, schema=_AUDIT_SCHEMA, orient="row")
    return frame.with_columns(pl.col("person_ids").str.json_decode(pl.List(pl.String)))


def _utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes, PostgreSQL aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
