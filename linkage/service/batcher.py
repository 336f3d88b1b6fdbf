"""Coalescing concurrent single-record resolves into one resolver call.

A resolver call has a large fixed cost (building and joining polars frames:
tens of milliseconds) and a small cost per record, so resolving 50 queued
records in one call costs little more than resolving one.  The batcher takes
each single-record request off the event loop's hands: requests that arrive
while ``concurrency`` calls are already running queue up and go together in the
next call (up to ``max_batch``).  When a call is running and a slot is free, it
also waits up to ``max_wait`` seconds for company; an idle service dispatches
at once, so a lone client pays no wait.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linkage.resolver import Resolution

    ResolveFn = Callable[[Sequence[Mapping[str, Any]], int, bool], list[Resolution]]

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class _Item:
    row: Mapping[str, Any]
    top_k: int
    explain: bool
    future: asyncio.Future[Resolution]


class ServiceClosed(RuntimeError):
    """The batcher was closed while a request waited."""


class ResolveBatcher:
    """Queue single-record resolves and run them in batches on ``executor``.

    ``resolve(rows, top_k, explain)`` is the resolver call (run in the executor);
    ``on_batch(size)`` is told each call's size (metrics).
    """

    def __init__(
        self,
        resolve: ResolveFn,
        executor: Executor,
        *,
        max_batch: int = 128,
        max_wait: float = 0.0015,
        concurrency: int = 2,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch < 1 or concurrency < 1 or max_wait < 0:
            raise ValueError("max_batch and concurrency must be >= 1, max_wait >= 0")
        self._resolve = resolve
        self._executor = executor
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._concurrency = concurrency
        self._on_batch = on_batch or (lambda _size: None)
        self._queue: asyncio.Queue[_Item] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Start the dispatch loop (call from the event loop that will submit)."""
        self._queue = asyncio.Queue()
        self._slots = asyncio.Semaphore(self._concurrency)
        self._loop_task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self) -> None:
        """Stop taking requests; fail the queued ones; wait for running calls."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            try:
                await self._loop_task
            except asyncio.CancelledError:
                pass
            self._loop_task = None
        if self._queue is not None:
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if not item.future.done():
                    item.future.set_exception(ServiceClosed("the service is shutting down"))
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def resolve(self, row: Mapping[str, Any], *, top_k: int, explain: bool) -> Resolution:
        if self._queue is None or self._loop_task is None:
            raise ServiceClosed("the resolver is not running")
        future: asyncio.Future[Resolution] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(row, top_k, explain, future))
        return await future

    async def _loop(self) -> None:
        assert self._queue is not None and self._slots is not None
        loop = asyncio.get_running_loop()
        queue, slots = self._queue, self._slots
        while True:
            first = await queue.get()
            arrived = loop.time()
            busy = slots.locked() or len(self._running) > 0
            await slots.acquire()
            batch = [first]
            self._drain(batch)
            if busy:
                deadline = arrived + self._max_wait
                while len(batch) < self._max_batch:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(queue.get(), remaining))
                    except TimeoutError:
                        break
                    self._drain(batch)
            task = loop.create_task(self._dispatch(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _drain(self, batch: list[_Item]) -> None:
        assert self._queue is not None
        while len(batch) < self._max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                return

    async def _dispatch(self, batch: list[_Item]) -> None:
        assert self._slots is not None
        loop = asyncio.get_running_loop()
        try:
            live = [item for item in batch if not item.future.done()]
            if live:
                outcomes = await loop.run_in_executor(self._executor, self._run, live)
                for item, outcome in zip(live, outcomes, strict=True):
                    if item.future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        item.future.set_exception(outcome)
                    else:
                        item.future.set_result(outcome)
        except BaseException as exc:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(
                        exc if isinstance(exc, Exception) else ServiceClosed("cancelled")
                    )
            if not isinstance(exc, Exception):
                raise
        finally:
            self._slots.release()

    def _run(self, items: list[_Item]) -> list[Resolution | BaseException]:
        """In the executor: one resolver call per ``explain`` flag; isolate a failing record."""
        outcomes: list[Resolution | BaseException | None] = [None] * len(items)
        for explain in (False, True):
            index = [i for i, item in enumerate(items) if item.explain is explain]
            if not index:
                continue
            top_k = max(items[i].top_k for i in index)
            rows = [items[i].row for i in index]
            try:
                results = self._call(rows, top_k, explain)
            except Exception as exc:  # noqa: BLE001
                if len(index) == 1:
                    outcomes[index[0]] = exc
                    continue
                # one bad record must not fail its batch-mates: retry each alone
                for i in index:
                    try:
                        single_result = self._call([items[i].row], items[i].top_k, explain)[0]
                        outcomes[i] = _trim(single_result, items[i].top_k)
                    except Exception as single:  # noqa: BLE001
                        outcomes[i] = single
                continue
            for i, result in zip(index, results, strict=True):
                outcomes[i] = _trim(result, items[i].top_k)
        return outcomes  # type: ignore[return-value]

    def _call(self, rows: list[Mapping[str, Any]], top_k: int, explain: bool) -> list[Resolution]:
        self._on_batch(len(rows))
        results = self._resolve(rows, top_k, explain)
        if len(results) != len(rows):
            raise RuntimeError(f"resolver returned {len(results)} results for {len(rows)} rows")
        return results


def _trim(result: Resolution, top_k: int) -> Resolution:
    if len(result.candidates) <= top_k:
        return result
    return dataclasses.replace(result, candidates=result.candidates[:top_k])
