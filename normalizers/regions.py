"""GB/T 2260 administrative division codes, 1981-2024, shipped as ``data/regions.tsv``.

A resident ID keeps the region code of the place and year it was issued for
life, so validation needs every code ever issued, and comparison needs the
code each retired one maps to today.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

_COLUMNS = ("code", "name", "province", "prefecture", "level", "start", "end", "current")


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


class RegionTable:
    """Every code with its periods of use; the lookups the ID paths need work without building
    the :class:`Region` objects, which are made on first use of :attr:`by_code`."""

    __slots__ = ("_by_code", "_rows", "current", "names", "provinces")

    def __init__(self, rows: list[list[str]]) -> None:
        self._rows = rows  # the fields of regions.tsv, sorted by code, then start
        self._by_code: dict[str, tuple[Region, ...]] | None = None
        # code -> today's code for the area it named when last in use (the last period's)
        self.current: dict[str, str | None] = {row[0]: row[7] or None for row in rows}
        self.names: frozenset[str] = frozenset(row[1] for row in rows)
        self.provinces: frozenset[str] = frozenset(code[:2] for code in self.current)

    @property
    def by_code(self) -> dict[str, tuple[Region, ...]]:
        """Code -> its periods of use, oldest first."""
        if self._by_code is None:
            by_code: dict[str, list[Region]] = {}
            for code, name, province, prefecture, level, start, end, current in self._rows:
                region = Region(
                    code=code,
                    name=name,
                    province=province,
                    prefecture=prefecture,
                    level=int(level),
                    start=int(start),
                    end=int(end) if end else None,
                    current=current or None,
                )
                by_code.setdefault(code, []).append(region)
            self._by_code = {k: tuple(v) for k, v in by_code.items()}
        return self._by_code

    def periods(self, code: str) -> tuple[Region, ...]:
        """All periods of use of ``code`` (empty if never issued)."""
        return self.by_code.get(code, ())

    def is_known(self, code: str) -> bool:
        """True when ``code`` was issued at any time between 1981 and 2024."""
        return code in self.current

    def latest(self, code: str) -> Region | None:
        periods = self.by_code.get(code)
        return periods[-1] if periods else None

    def current_code(self, code: str) -> str | None:
        """Today's code for the area ``code`` named when it was last in use."""
        return self.current.get(code)

    def province_known(self, code: str) -> bool:
        return code[:2] in self.provinces


@cache
def region_table() -> RegionTable:
    """The shipped table, loaded once per process."""
    text = resources.files("normalizers.data").joinpath("regions.tsv").read_text(encoding="utf-8")
    lines = text.splitlines()
    if lines[0].split("\t") != list(_COLUMNS):
        raise RuntimeError(f"regions.tsv: unexpected header {lines[0]!r}")
    # plain splitting: build_regions.py writes the file without quoting
    rows = [line.split("\t") for line in lines[1:]]
    if any(len(row) != len(_COLUMNS) for row in rows):
        raise RuntimeError("regions.tsv: a row without all its fields")
    return RegionTable(rows)
