"""Request counts and latencies in the Prometheus text format (version 0.0.4).

No client library: a handful of counters, one histogram and a sliding-window
summary per route are a few dozen lines, and the exposition format is stable.
Updated from the event loop and read by ``/metrics``; a lock keeps the two
consistent when the audit writer's thread adds its counts.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from typing import Final

import numpy as np

LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)
QUANTILES: Final = (0.5, 0.95, 0.99)
_WINDOW: Final = 4096


class Metrics:
    """What ``/metrics`` reports; see :meth:`render`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._latency_buckets: dict[str, list[int]] = {}
        self._latency_sum: dict[str, float] = defaultdict(float)
        self._latency_count: dict[str, int] = defaultdict(int)
        self._recent: dict[str, deque[float]] = {}
        self._batch_buckets = [0] * len(BATCH_BUCKETS)
        self._batch_sum = 0
        self._batch_count = 0

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(endpoint, method, status)] += 1
            buckets = self._latency_buckets.get(endpoint)
            if buckets is None:
                buckets = self._latency_buckets[endpoint] = [0] * len(LATENCY_BUCKETS)
                self._recent[endpoint] = deque(maxlen=_WINDOW)
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
                    break
            self._latency_sum[endpoint] += seconds
            self._latency_count[endpoint] += 1
            self._recent[endpoint].append(seconds)

    def observe_batch(self, size: int) -> None:
        """One Resolver.resolve call of ``size`` records (after micro-batching)."""
        with self._lock:
            for i, bound in enumerate(BATCH_BUCKETS):
                if size <= bound:
                    self._batch_buckets[i] += 1
                    break
            self._batch_sum += size
            self._batch_count += 1

    def requests(self) -> Mapping[tuple[str, str, int], int]:
        with self._lock:
            return dict(self._requests)

    def render(self, gauges: Mapping[str, tuple[str, float]] | None = None) -> str:
        """The exposition text; ``gauges`` maps a metric name to (help, value)."""
        lines: list[str] = []
        add = lines.append
        with self._lock:
            add("# HELP linkage_requests_total HTTP requests by route template, method and status.")
            add("# TYPE linkage_requests_total counter")
            for (endpoint, method, status), count in sorted(self._requests.items()):
                add(
                    f'linkage_requests_total{{endpoint="{_label(endpoint)}",method="{method}",'
                    f'status="{status}"}} {count}'
                )
            add("# HELP linkage_request_duration_seconds Request latency by route template.")
            add("# TYPE linkage_request_duration_seconds histogram")
            for endpoint in sorted(self._latency_buckets):
                label = f'endpoint="{_label(endpoint)}"'
                _histogram(
                    add,
                    "linkage_request_duration_seconds",
                    label,
                    LATENCY_BUCKETS,
                    self._latency_buckets[endpoint],
                    self._latency_sum[endpoint],
                    self._latency_count[endpoint],
                )
            add(
                "# HELP linkage_request_latency_seconds Latency quantiles over the last "
                f"{_WINDOW} requests per route template."
            )
            add("# TYPE linkage_request_latency_seconds summary")
            for endpoint in sorted(self._recent):
                window = np.fromiter(self._recent[endpoint], dtype=np.float64)
                label = f'endpoint="{_label(endpoint)}"'
                for q, value in zip(QUANTILES, np.quantile(window, QUANTILES), strict=True):
                    add(f'linkage_request_latency_seconds{{{label},quantile="{q}"}} {value:.6f}')
                total, count = self._latency_sum[endpoint], self._latency_count[endpoint]
                add(f"linkage_request_latency_seconds_sum{{{label}}} {total:.6f}")
                add(f"linkage_request_latency_seconds_count{{{label}}} {count}")
            add("# HELP linkage_resolve_batch_size Records per resolver call after micro-batching.")
            add("# TYPE linkage_resolve_batch_size histogram")
            _histogram(
                add,
                "linkage_resolve_batch_size",
                "",
                BATCH_BUCKETS,
                self._batch_buckets,
                self._batch_sum,
                self._batch_count,
            )
        for name, (help_text, value) in sorted((gauges or {}).items()):
            add(f"# HELP {name} {help_text}")
            add(f"# TYPE {name} gauge")
            add(f"{name} {value:g}")
        return "\n".join(lines) + "\n"


def _histogram(
    add: Callable[[str], None],
    name: str,
    label: str,
    bounds: tuple[float, ...],
    counts: list[int],
    total: float,
    count: int,
) -> None:
    prefix = f"{label}," if label else ""
    cumulative = 0
    for bound, n in zip(bounds, counts, strict=True):
        cumulative += n
        add(f'{name}_bucket{{{prefix}le="{bound:g}"}} {cumulative}')
    add(f'{name}_bucket{{{prefix}le="+Inf"}} {count}')
    suffix = f"{{{label}}}" if label else ""
    add(f"{name}_sum{suffix} {total:.6f}")
    add(f"{name}_count{suffix} {count}")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
