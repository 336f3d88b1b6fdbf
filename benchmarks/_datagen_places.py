"""Where people are born and live: region codes by year, addresses and phone numbers.

Region codes come from the shipped GB/T 2260 table (normalizers.regions).  A
person's ID keeps the county code in use when the ID was first issued, so an
older person is often born under a code retired since; the address uses the
county's current name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import polars as pl

from benchmarks import _datagen_tables as T
from normalizers.regions import region_table

FIRST_YEAR, LAST_YEAR = 1981, 2024


@dataclass(frozen=True, slots=True)
class RegionIndex:
    by_year: dict[
        int, tuple[np.ndarray, np.ndarray]
    ]  # year -> (county codes in use, probabilities)
    current: np.ndarray  # county codes in use today, sorted
    current_p: np.ndarray
    migrant_p: np.ndarray
    forward_keys: np.ndarray  # every county code ever, sorted
    forward_values: np.ndarray  # -> today's county code (or -1)
    prefix: tuple[str, ...]  # per `current` code: "广东省深圳市南山区"
    province_of_current: np.ndarray


def _province_weights(codes: np.ndarray, pull: bool = False) -> np.ndarray:
    province = codes // 10000
    weights = np.zeros(len(codes))
    for prefix, (population, _, _) in T.PROVINCES.items():
        mask = province == int(prefix)
        if mask.any():
            factor = T.MIGRATION_PULL.get(prefix, 1.0) if pull else 1.0
            weights[mask] = population * factor / mask.sum()
    return weights / weights.sum()


@cache
def region_index() -> RegionIndex:
    """Per-year county code lists with population weights, and today's names of counties."""
    table = region_table()
    provinces = {int(p) for p in T.PROVINCES}
    periods = [
        (int(code), r)
        for code, rs in sorted(table.by_code.items())
        for r in rs
        if r.level == 3 and int(code) // 10000 in provinces
    ]
    by_year = {}
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        codes = np.array(
            sorted({c for c, r in periods if r.start <= year and (r.end is None or year < r.end)}),
            dtype=np.int64,
        )
        by_year[year] = (codes, _province_weights(codes))
    current = by_year[LAST_YEAR][0]
    in_use = set(current.tolist())
    latest = {c: r for c, r in periods}  # periods are in start order, so the last wins
    keys = np.array(sorted(latest), dtype=np.int64)
    values = np.array(
        [
            int(latest[c].current) if latest[c].current and int(latest[c].current) in in_use else -1
            for c in keys
        ],
        dtype=np.int64,
    )
    values = np.where(np.isin(keys, current), keys, values)
    prefix = []
    for code in current.tolist():
        r = latest[code]
        city = "" if r.prefecture in ("直辖", "") else r.prefecture
        prefix.append(r.province + city + r.name)
    return RegionIndex(
        by_year=by_year,
        current=current,
        current_p=_province_weights(current),
        migrant_p=_province_weights(current, pull=True),
        forward_keys=keys,
        forward_values=values,
        prefix=tuple(prefix),
        province_of_current=current // 10000,
    )


def draw_birth_regions(rng: np.random.Generator, issue_years: np.ndarray) -> np.ndarray:
    """County codes in use in each row's issue year, weighted by provincial population."""
    index = region_index()
    out = np.zeros(len(issue_years), dtype=np.int64)
    for year in np.unique(issue_years):
        rows = np.flatnonzero(issue_years == year)
        codes, p = index.by_year[int(year)]
        out[rows] = codes[rng.choice(len(codes), size=rows.size, p=p)]
    return out


def draw_regions_in_province(
    rng: np.random.Generator, issue_years: np.ndarray, provinces: np.ndarray
) -> np.ndarray:
    """Like draw_birth_regions, but inside a given province (small subsets only: loops over groups)."""
    index = region_index()
    out = np.zeros(len(issue_years), dtype=np.int64)
    groups = np.unique(np.stack([issue_years, provinces]), axis=1)
    for year, province in groups.T:
        rows = np.flatnonzero((issue_years == year) & (provinces == province))
        codes = index.by_year[int(year)][0]
        codes = codes[codes // 10000 == province]
        if codes.size == 0:  # province created later (Hainan 1988, Chongqing 1997)
            codes = index.current[index.province_of_current == province]
        out[rows] = codes[rng.integers(0, codes.size, rows.size)]
    return out


def draw_current_counties(rng: np.random.Generator, n: int, migrants: bool = False) -> np.ndarray:
    """Positions into ``region_index().current`` of counties people live in now."""
    index = region_index()
    return rng.choice(
        len(index.current), size=n, p=index.migrant_p if migrants else index.current_p
    )


def residence_of(birth_codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Position in ``current`` of the county a birth code maps to today (a random one of the province if none)."""
    index = region_index()
    pos = np.searchsorted(index.forward_keys, birth_codes)
    pos = np.clip(pos, 0, len(index.forward_keys) - 1)
    today = np.where(index.forward_keys[pos] == birth_codes, index.forward_values[pos], -1)
    out = np.searchsorted(index.current, today)
    missing = np.flatnonzero(today < 0)
    if missing.size:
        province = birth_codes[missing] // 10000
        for p in np.unique(province):
            rows = missing[province == p]
            pool = np.flatnonzero(index.province_of_current == p)
            if pool.size == 0:
                pool = np.arange(len(index.current))
            out[rows] = pool[rng.integers(0, pool.size, rows.size)]
    return out


# -------------------------------------------------------------- addresses

ADDRESS_PARTS = (
    "county",
    "style",
    "street",
    "number",
    "community",
    "building",
    "unit",
    "room",
    "town",
    "village",
    "group",
)


def draw_address_parts(rng: np.random.Generator, county_pos: np.ndarray) -> dict[str, np.ndarray]:
    """The numbers behind one address per row; strings are built by :func:`address_expr`."""
    n = len(county_pos)
    return {
        "county": county_pos.astype(np.int32),
        "style": rng.choice(3, size=n, p=[0.35, 0.45, 0.20]).astype(np.int8),
        "street": rng.integers(0, len(T.STREETS), n).astype(np.int16),
        "number": rng.integers(1, 400, n).astype(np.int16),
        "community": rng.integers(0, len(T.COMMUNITIES), n).astype(np.int16),
        "building": rng.integers(1, 30, n).astype(np.int16),
        "unit": rng.integers(1, 7, n).astype(np.int16),
        "room": (rng.integers(1, 33, n) * 100 + rng.integers(1, 5, n)).astype(np.int16),
        "town": rng.integers(0, len(T.TOWNS), n).astype(np.int16),
        "village": rng.integers(0, len(T.VILLAGES), n).astype(np.int16),
        "group": rng.integers(1, 13, n).astype(np.int16),
    }


def address_detail_expr(prefix: str) -> pl.Expr:
    """Street-level part of an address from the ``<prefix>_<part>`` columns."""

    def c(part: str) -> pl.Expr:
        return pl.col(f"{prefix}_{part}")

    def lookup(values: tuple[str, ...], part: str) -> pl.Expr:
        return pl.lit(pl.Series(values)).gather(c(part))

    road = pl.concat_str(lookup(T.STREETS, "street"), c("number").cast(pl.String), pl.lit("号"))
    community = pl.concat_str(
        road,
        lookup(T.COMMUNITIES, "community"),
        c("building").cast(pl.String),
        pl.lit("栋"),
        c("unit").cast(pl.String),
        pl.lit("单元"),
        c("room").cast(pl.String),
        pl.lit("室"),
    )
    rural = pl.concat_str(
        lookup(T.TOWNS, "town"),
        pl.lit("镇"),
        lookup(T.VILLAGES, "village"),
        pl.lit("村"),
        c("group").cast(pl.String),
        pl.lit("组"),
        c("number").cast(pl.String),
        pl.lit("号"),
    )
    style = c("style")
    return pl.when(style == 0).then(road).when(style == 1).then(community).otherwise(rural)


def county_prefix_expr(prefix: str) -> pl.Expr:
    """'广东省深圳市南山区' for the ``<prefix>_county`` column."""
    return pl.lit(pl.Series(region_index().prefix)).gather(pl.col(f"{prefix}_county"))


HMT_HOME_ADDRESSES: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {
    1: (
        (
            "香港特别行政区九龙城区",
            "香港特别行政区油尖旺区",
            "香港特别行政区沙田区",
            "香港特别行政区湾仔区",
            "香港特别行政区东区",
        ),
        ("弥敦道", "太子道西", "轩尼诗道", "英皇道", "皇后大道中", "德辅道中"),
    ),
    2: (
        ("澳门特别行政区花地玛堂区", "澳门特别行政区大堂区", "澳门特别行政区风顺堂区"),
        ("新马路", "高士德大马路", "亚马喇马路", "罗理基博士大马路"),
    ),
    3: (
        (
            "台湾省台北市大安区",
            "台湾省台北市信义区",
            "台湾省新北市板桥区",
            "台湾省台中市西屯区",
            "台湾省高雄市苓雅区",
        ),
        ("忠孝东路", "复兴南路", "中山北路", "民生东路", "中正路"),
    ),
}


def hmt_home_addresses(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    """Home addresses in Hong Kong (1), Macau (2) or Taiwan (3), simplified script."""
    out = np.empty(len(region), dtype=object)
    for r, (districts, streets) in HMT_HOME_ADDRESSES.items():
        rows = np.flatnonzero(region == r)
        d = rng.integers(0, len(districts), rows.size)
        s = rng.integers(0, len(streets), rows.size)
        k = rng.integers(1, 300, rows.size)
        out[rows] = [f"{districts[i]}{streets[j]}{x}号" for i, j, x in zip(d, s, k)]
    return out


# ------------------------------------------------------------------ phones


def unique_draws(
    rng: np.random.Generator, n: int, low: int, high: int, taken: np.ndarray | None = None
) -> np.ndarray:
    """``n`` distinct integers in [low, high), none in ``taken``; redraws collisions until none are left."""
    out = rng.integers(low, high, n, dtype=np.int64)
    for _ in range(100):
        _, first = np.unique(out, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if taken is not None:
            dup |= np.isin(out, taken)
        if not dup.any():
            return out
        out[dup] = rng.integers(low, high, int(dup.sum()), dtype=np.int64)
    raise RuntimeError("could not draw distinct numbers; the range is too small")


def draw_mobiles(rng: np.random.Generator, n: int, taken: np.ndarray | None = None) -> np.ndarray:
    """Distinct 11-digit mainland mobile numbers with valid network prefixes (as int64)."""
    prefixes = np.array(T.MOBILE_PREFIXES, dtype=np.int64)
    # encode prefix choice and subscriber digits in one integer so uniqueness is checked once
    slot = unique_draws(
        rng, n, 0, len(prefixes) * 10**8, taken=None if taken is None else _slots(taken, prefixes)
    )
    return prefixes[slot // 10**8] * 10**8 + slot % 10**8


def _slots(numbers: np.ndarray, prefixes: np.ndarray) -> np.ndarray:
    order = np.argsort(prefixes)
    pos = np.searchsorted(prefixes[order], numbers // 10**8)
    pos = np.clip(pos, 0, len(prefixes) - 1)
    return order[pos].astype(np.int64) * 10**8 + numbers % 10**8


def draw_landlines(rng: np.random.Generator, provinces: np.ndarray) -> np.ndarray:
    """Landline numbers '0371-62345678' in the province capital's area (object array)."""
    n = len(provinces)
    local = rng.integers(2 * 10**7, 9 * 10**7, n)
    out = np.empty(n, dtype=object)
    for prefix, (_, _, area) in T.PROVINCES.items():
        rows = np.flatnonzero(provinces == int(prefix))
        out[rows] = [f"{area}-{x}" for x in local[rows]]
    return out
