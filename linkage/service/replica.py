"""Resolver replicas in processes of their own: the service's second core.

One service process holds the GIL for its resolver and its HTTP layer alike,
so it uses one core however many it has.  A replica is a child process with a
:class:`linkage.resolver.Resolver` built from the same store: resolves (single
records and batches) go to an idle replica, and the service process resolves
only when none is idle.

Ingests stay in the service process, which alone writes the store.  Each
ingest's :class:`linkage.resolver.IngestDelta` is sent down every replica's
pipe before the ingest answers, and a replica reads its pipe in order, so a
resolve sent after an ingest returned sees that ingest (read-your-writes).  A
replica that fails is dropped (logged); the service carries on without it.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing as mp
import queue
import threading
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from linkage.resolver import IngestDelta, Resolution, Resolver

log = logging.getLogger(__name__)

START_TIMEOUT: Final = 900.0  # seconds a replica may take to index the store


class ReplicaError(RuntimeError):
    """A replica failed to start or to answer."""


def _serve(conn: Connection, store_url: str, store_schema: str | None) -> None:
    """The replica process: build the index, then answer requests from the pipe in order."""
    from linkage.resolver import Resolver
    from linkage.store import IdentityStore

    try:
        store = IdentityStore.open(store_url, schema=store_schema)
        try:
            resolver = Resolver.from_store(store)
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which refuses to start
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    gc.collect()
    gc.freeze()  # the index lives as long as the process (see linkage.service.app)
    conn.send(("ready", resolver.size))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        kind = message[0]
        if kind == "stop":
            return
        if kind == "delta":
            resolver.apply_delta(message[1])
            continue
        _, rows, top_k, explain = message
        try:
            conn.send(("ok", resolver.resolve(rows, top_k=top_k, explain=explain)))
        except Exception as exc:  # noqa: BLE001 - the caller falls back to its own resolver
            conn.send(("error", type(exc).__name__))


class Replica:
    """One replica process and its pipe."""

    def __init__(self, store_url: str, store_schema: str | None, number: int) -> None:
        ctx = mp.get_context("spawn")  # polars' thread pool does not survive fork
        self._conn, child = ctx.Pipe()
        self._process: BaseProcess = ctx.Process(
            target=_serve,
            args=(child, store_url, store_schema),
            name=f"resolver-replica-{number}",
            daemon=True,
        )
        self._process.start()
        child.close()
        self.name = self._process.name
        self._send_lock = threading.Lock()  # deltas (ingest thread) and requests share the pipe
        self.alive = True

    def wait_ready(self, timeout: float = START_TIMEOUT) -> int:
        """Block until the replica has built its index; its record count."""
        if not self._conn.poll(timeout):
            raise ReplicaError(f"{self.name}: no index after {timeout:.0f} s")
        try:
            kind, detail = self._conn.recv()
        except EOFError:
            raise ReplicaError(f"{self.name}: exited while indexing") from None
        if kind != "ready":
            raise ReplicaError(f"{self.name}: {detail}")
        return int(detail)

    def send_delta(self, delta: IngestDelta) -> None:
        if not self.alive:
            return
        try:
            with self._send_lock:
                self._conn.send(("delta", delta))
        except (OSError, ValueError) as exc:
            self._fail(exc)

    def resolve(
        self, rows: Sequence[Mapping[str, Any]], top_k: int, explain: bool
    ) -> list[Resolution]:
        """Resolve on the replica (one request at a time: the caller holds it)."""
        try:
            with self._send_lock:
                self._conn.send(("resolve", list(rows), top_k, explain))
            kind, detail = self._conn.recv()
        except (OSError, EOFError, ValueError) as exc:
            self._fail(exc)
            raise ReplicaError(f"{self.name}: lost") from exc
        if kind != "ok":
            raise ReplicaError(f"{self.name}: {detail}")
        return detail  # type: ignore[no-any-return]

    def _fail(self, exc: BaseException) -> None:
        if self.alive:
            log.error("%s: failed (%s); serving without it", self.name, type(exc).__name__)
        self.alive = False

    def stop(self, timeout: float = 10.0) -> None:
        try:
            with self._send_lock:
                self._conn.send(("stop",))
        except (OSError, ValueError):
            pass
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout)
        self._conn.close()
        self.alive = False


class ReplicaSet:
    """The replicas of a service: started together, fed every ingest, lent out one call at a time.

    :meth:`resolve` takes an idle replica or, when none is, resolves with the
    service's own resolver: a call never waits for a replica.
    """

    def __init__(self, store_url: str, store_schema: str | None, n: int) -> None:
        """Start ``n`` replica processes indexing the store (:meth:`start` waits for them)."""
        if n < 1:
            raise ValueError("ReplicaSet: at least one replica")
        self._resolver: Resolver | None = None
        self._replicas = [Replica(store_url, store_schema, i + 1) for i in range(n)]
        self._idle: queue.SimpleQueue[Replica] = queue.SimpleQueue()
        self.local_calls = 0
        self.replica_calls = 0

    def start(self, resolver: Resolver, timeout: float = START_TIMEOUT) -> None:
        """Wait for every replica's index (it must hold what ``resolver``'s does), then follow
        ``resolver``'s ingests and fall back on it."""
        self._resolver = resolver
        try:
            for replica in self._replicas:
                size = replica.wait_ready(timeout)
                if size != resolver.size:
                    raise ReplicaError(
                        f"{replica.name}: indexed {size} records, the service {resolver.size}"
                    )
        except BaseException:
            self.stop()
            raise
        # from here every ingest reaches the replicas (none was accepted before: the
        # service takes requests only once this returns)
        resolver.add_listener(self._broadcast)
        for replica in self._replicas:
            self._idle.put(replica)
        log.info("%d resolver replica(s) ready", len(self._replicas))

    @property
    def alive(self) -> int:
        return sum(r.alive for r in self._replicas)

    def _broadcast(self, delta: IngestDelta) -> None:
        for replica in self._replicas:
            replica.send_delta(delta)

    def resolve(
        self, rows: Sequence[Mapping[str, Any]], top_k: int, explain: bool
    ) -> list[Resolution]:
        try:
            replica = self._idle.get_nowait()
        except queue.Empty:
            replica = None
        if replica is not None:
            try:
                result = replica.resolve(rows, top_k, explain)
                self.replica_calls += 1
                return result
            except ReplicaError as exc:
                log.error("resolve on %s failed (%s); resolving here", replica.name, exc)
            finally:
                if replica.alive:
                    self._idle.put(replica)
        if self._resolver is None:
            raise ReplicaError("the replicas are not started")
        self.local_calls += 1
        return self._resolver.resolve(rows, top_k=top_k, explain=explain)

    def stop(self) -> None:
        for replica in self._replicas:
            replica.stop()
