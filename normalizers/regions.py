"""GB/T 2260 administrative division codes, 1981-2024, shipped as ``data/regions.tsv``.

A resident ID keeps the region code of the place and year it was issued for
life, so validation needs every code ever issued, and comparison needs the
code each retired one maps to today.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class Region:
    """One period of use of one division code."""

    code: str
    name: str
    province: str
    prefecture: str  # "直辖" for counties directly under a province-level unit
    level: int  # 1 province, 2 prefecture, 3 county
    start: int
    end: int | None  # first year no longer in use; None while in use
    current: str | None  # today's code for the same area; None if abolished without successor

    @property
    def in_use(self) -> bool:
        return self.end is None


@dataclass(frozen=True, slots=True)
class RegionTable:
    by_code: dict[str, tuple[Region, ...]]
    provinces: frozenset[str]  # two-digit province prefixes ever used

    def periods(self, code: str) -> tuple[Region, ...]:
        """All periods of use of ``code`` (empty if never issued)."""
        return self.by_code.get(code, ())

    def is_known(self, code: str) -> bool:
        """True when ``code`` was issued at any time between 1981 and 2024."""
        return code in self.by_code

    def latest(self, code: str) -> Region | None:
        periods = self.by_code.get(code)
        return periods[-1] if periods else None

    def current_code(self, code: str) -> str | None:
        """Today's code for the area ``code`` named when it was last in use."""
        r = self.latest(code)
        return r.current if r else None

    def province_known(self, code: str) -> bool:
        return code[:2] in self.provinces


@cache
def region_table() -> RegionTable:
    """The shipped table, loaded once per process."""
    by_code: dict[str, list[Region]] = {}
    text = resources.files("normalizers.data").joinpath("regions.tsv").read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines(), delimiter="\t"):
        region = Region(
            code=row["code"],
            name=row["name"],
            province=row["province"],
            prefecture=row["prefecture"],
            level=int(row["level"]),
            start=int(row["start"]),
            end=int(row["end"]) if row["end"] else None,
            current=row["current"] or None,
        )
        by_code.setdefault(region.code, []).append(region)
    return RegionTable(
        by_code={k: tuple(v) for k, v in by_code.items()},
        provinces=frozenset(k[:2] for k in by_code),
    )
