"""Derive ``address_chains.tsv`` and ``address_divisions.tsv`` from ``regions.tsv`` and ``ethnicities.tsv``.

Maintainer tool, run whenever either input changes (a test checks that the
shipped files equal a fresh build); the package ships the result because
building the dictionary costs about half a second of Python per process.  Usage::

    python -m normalizers.data.build_address_chains normalizers/data

A *chain* is one way of writing province + prefecture + county that the GB/T
2260 table (1981-2024) allows, each level optional: full names
(广东省深圳市南山区) and short ones (广东深圳南山); 省, 市, 区, 县, 旗, 盟, 地区,
自治区/州/县/旗 with their ethnic names, 特别行政区 dropped, plus 延边州 and
长阳县 for autonomous prefectures and counties; names as they were (湖北省襄樊市,
北京市崇文区) with today's codes; a county only under its own province or
prefecture, or alone in a full form (朝阳区).  When one string means different
places the reading that starts with a province wins, then the one that starts
with a prefecture; names in use win over retired ones; levels on which the
remaining readings disagree are left empty (see :mod:`normalizers.addresses`).

``address_divisions.tsv``: one row per distinct (province, city, county) of
today's 6-digit codes, any of them empty; the row number (from 0) identifies it.

``address_chains.tsv``: every chain, sorted by code point, front-coded to keep
the file small: ``shared`` (characters in common with the previous chain),
``rest`` (the characters after those) and ``division`` (a row of
``address_divisions.tsv``).
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from normalizers.ethnicity import ethnic_group_names
from normalizers.regions import Region, region_table

CHAINS_FILE = "address_chains.tsv"
DIVISIONS_FILE = "address_divisions.tsv"

Codes = tuple[str | None, str | None, str | None]

_NO_PREFECTURE = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")
_SUFFIXES = (
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "地区",
    "林区",
    "特区",
    "省",
    "市",
    "区",
    "县",
    "旗",
    "盟",
)
_AUTONOMOUS_GENERIC = {"自治区": "自治区", "自治州": "州", "自治县": "县", "自治旗": "旗"}


@cache
def _split_name() -> re.Pattern[str]:
    """stem, ethnic names, 自治 suffix | plain suffix.  Xinjiang writes ethnic names without 族."""
    names = ethnic_group_names()
    ethnic = sorted({*names, *(n.removesuffix("族") for n in names)} - {""}, key=len, reverse=True)
    ethnic = [n for n in ethnic if len(n) >= 2]
    plain = [s for s in _SUFFIXES if not s.startswith("自治")]
    return re.compile(
        r"^(.{2,}?)(?:((?:"
        + "|".join(map(re.escape, ethnic))
        + r")*)(自治区|自治州|自治县|自治旗)"
        + r"|("
        + "|".join(map(re.escape, plain))
        + r"))$"
    )


@cache
def _forms(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(all forms, full forms) of a division name.

    Full forms keep a suffix (长阳土家族自治县, 长阳县); all forms add the bare
    stem (长阳).  A county written alone must use a full form.
    """
    full = [name]
    forms = [name]
    match = _split_name().match(name)
    if match:
        stem, _, autonomous, _ = match.groups()
        forms.append(stem)
        if autonomous:
            full.append(stem + _AUTONOMOUS_GENERIC[autonomous])
    if name == "内蒙古自治区":
        forms.append("内蒙")
    return tuple(dict.fromkeys(forms + full)), tuple(dict.fromkeys(full))


def _codes_for(current: str) -> tuple[str, str | None, str | None] | None:
    table = region_table()
    region = table.latest(current)
    if region is None or not region.in_use:
        return None
    province = current[:2] + "0000"
    prefecture = current[:4] + "00"
    city_region = table.latest(prefecture)
    has_city = (
        region.level >= 2
        and city_region is not None
        and city_region.in_use
        and city_region.level == 2
    )
    city = prefecture if has_city else None
    county = current if region.level == 3 else None
    return province, city, county


def _chain_entries(r: Region) -> Iterable[tuple[str, int]]:
    """(chain string, rank) pairs naming ``r``; rank 0 starts with a province, 1 a prefecture, 2 a county."""
    provinces = _forms(r.province)[0]
    if r.level == 1:
        for p in provinces:
            yield p, 0
        return
    names, full = _forms(r.name)
    if r.level == 2:
        for c in names:
            yield c, 1
            for p in provinces:
                yield p + c, 0
        return
    prefectures = _forms(r.prefecture)[0] if r.prefecture not in ("", "直辖") else ()
    # Pickers built on the statistical division codes write a placeholder level
    # for counties with no prefecture: 北京市市辖区朝阳区, 重庆市县城口县, 湖北省省直辖县级行政区划仙桃市.
    fillers = ("",) if prefectures else ("", *_NO_PREFECTURE)
    for k in full:
        yield k, 2
    for k in names:
        for p in provinces:
            for filler in fillers:
                yield p + filler + k, 0
        for c in prefectures:
            yield c + k, 1
            for p in provinces:
                yield p + c + k, 0


def _merge(readings: list[tuple[int, int, Codes]]) -> Codes:
    """One reading for a chain string: the best-ranked ones, cut at the first level where they disagree."""
    first = readings[0][2]
    if len(readings) == 1:
        return first
    if all(codes == first for _, _, codes in readings):
        return first
    best = min((rank, retired) for rank, retired, _ in readings)
    codes = {c for rank, retired, c in readings if (rank, retired) == best}
    merged: list[str | None] = [None, None, None]
    for level in range(3):
        values = {c[level] for c in codes}
        if len(values) != 1:
            break
        merged[level] = values.pop()
    return merged[0], merged[1], merged[2]


def chains() -> dict[str, Codes]:
    """Every chain string and the codes it names; ambiguous chains map to no codes at all.

    Ambiguous chains stay in so that 朝阳区 does not fall back to 朝阳 (朝阳市).
    """
    readings: defaultdict[str, list[tuple[int, int, Codes]]] = defaultdict(list)
    for periods in region_table().by_code.values():
        for r in periods:
            if r.current is None:
                continue
            codes = _codes_for(r.current)
            if codes is None:
                continue
            retired = 0 if r.in_use else 1
            for chain, rank in _chain_entries(r):
                readings[chain].append((rank, retired, codes))
    return {chain: _merge(found) for chain, found in readings.items()}


def _sort_key(codes: Codes) -> tuple[str, str, str]:
    return codes[0] or "", codes[1] or "", codes[2] or ""


def rows() -> tuple[list[Codes], list[tuple[int, str, int]]]:
    """(divisions, front-coded chain rows) as written to the two files."""
    lookup = chains()
    divisions = sorted(set(lookup.values()), key=_sort_key)
    index = {codes: i for i, codes in enumerate(divisions)}
    out = []
    previous = ""
    for chain in sorted(lookup):
        shared = 0
        limit = min(len(previous), len(chain))
        while shared < limit and previous[shared] == chain[shared]:
            shared += 1
        out.append((shared, chain[shared:], index[lookup[chain]]))
        previous = chain
    return divisions, out


def build(out_dir: Path) -> int:
    """Write both files into ``out_dir``; return the number of chains."""
    divisions, chain_rows = rows()
    with (out_dir / DIVISIONS_FILE).open("w", encoding="utf-8", newline="\n") as f:
        f.write("# built by build_address_chains.py from regions.tsv; row n (from 0) is division n\n")
        f.write("province\tcity\tcounty\n")
        f.writelines("\t".join(code or "" for code in codes) + "\n" for codes in divisions)
    with (out_dir / CHAINS_FILE).open("w", encoding="utf-8", newline="\n") as f:
        f.write("# built by build_address_chains.py from regions.tsv and ethnicities.tsv; front-coded\n")
        f.write("shared\trest\tdivision\n")
        f.writelines(f"{shared}\t{rest}\t{division}\n" for shared, rest, division in chain_rows)
    return len(chain_rows)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
    print(f"wrote {build(target)} chains to {CHAINS_FILE} and {DIVISIONS_FILE}")
