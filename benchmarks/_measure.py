"""Small helpers shared by the benchmark scripts: wall time and peak memory per stage."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class StageTimer:
    """Collects (stage, seconds, peak RSS) rows and prints them as a table."""

    rows: list[tuple[str, float, float]] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.rows.append((name, time.perf_counter() - started, peak_rss_mib()))

    @property
    def total_seconds(self) -> float:
        return sum(r[1] for r in self.rows)

    def print(self, file=sys.stdout) -> None:
        print(f"{'stage':<14}{'seconds':>10}{'peak RSS MiB':>14}", file=file)
        for name, seconds, rss in self.rows:
            print(f"{name:<14}{seconds:>10.2f}{rss:>14.0f}", file=file)
        print(f"{'total':<14}{self.total_seconds:>10.2f}{peak_rss_mib():>14.0f}", file=file)
