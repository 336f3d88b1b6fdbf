"""Addresses: a cleaned string plus the province, prefecture and county codes it starts with.

``ADDRESS_NORM`` is the address after NFKC (full-width digits and letters, the
ideographic space), traditional-to-simplified conversion and whitespace
collapsing.  Conversion is character by character with OpenCC's t2s table,
so the batch path can run it inside polars; characters that occur in division
names are left alone (乾安县 and 乾县 must not become 干安县 and 干县).

The divisions are read from the start of the address, against a dictionary of
*chains*: every way of writing province + prefecture + county that the GB/T
2260 table (:func:`normalizers.regions.region_table`, 1981-2024) allows, with
each level optional:

* full names (广东省深圳市南山区) and short ones (广东深圳南山): 省, 市, 区, 县,
  旗, 盟, 地区, 自治区/州/县/旗 with their ethnic names, 特别行政区 dropped, plus
  延边州 and 长阳县 for autonomous prefectures and counties;
* names as they were, so 湖北省襄樊市 and 北京市崇文区 resolve to today's codes;
* a county only under its own province or prefecture; alone, only its full name
  (朝阳区) and only if no other county has it: 朝阳区 exists in Beijing and
  Changchun, so a bare 朝阳区 gives no county, while 北京朝阳 does.

When one string means different places (海南: the province, or short for 海南
藏族自治州 in Qinghai) the reading that starts with a province wins, then the
one that starts with a prefecture; names in use win over retired ones; levels on
which the remaining readings disagree are left empty.  The longest chain that
prefixes the address is taken, looking at its first :data:`HEAD` characters
after a leading 中国 / 中华人民共和国.  The batch path finds it with a binary
search over the sorted chains, so its cost does not depend on the dictionary
size.

Codes are today's 6-digit codes: ``ADDRESS_CITY`` is null for the districts of
the four municipalities and for counties directly under a province (仙桃市),
which have no prefecture.  When the record's resident ID was issued in a
different province the reason is ``ADDRESS_REGION_CONFLICTS_ID``: informative
only, people move.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
import polars as pl

from normalizers import schema
from normalizers._vector import choose, map_distinct
from normalizers.errors import NormalizationError, OnError, SchemaError, check_on_error
from normalizers.ethnicity import ethnic_group_names
from normalizers.reasons import Reason
from normalizers.regions import Region, region_table

logger = logging.getLogger(__name__)

HEAD = 32
"""Characters of the address (after 中国) searched for division names; longer than any chain."""

_PLACEHOLDERS = frozenset(
    {"无", "暂无", "不详", "未知", "空", "-", "--", "/", "null", "none", "n/a", "na"}
)
_COUNTRY_PREFIXES = ("中华人民共和国", "中国")
# Characters whose NFKC form is the same character by character, so the batch path
# can apply NFKC and t2s as one character map; anything else takes the scalar path.
_FAST_RANGES = (
    (0x20, 0x7E),
    (0xB7, 0xB7),
    (0x2010, 0x2027),
    (0x3000, 0x303F),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xFF01, 0xFF5E),
)
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


@dataclass(frozen=True, slots=True)
class AddressResult:
    """The cleaned address and the 6-digit codes of the divisions it starts with."""

    norm: str | None
    province: str | None
    city: str | None
    county: str | None
    reason: Reason


# ------------------------------------------------------------------ text


@cache
def _char_map() -> dict[str, str]:
    """NFKC followed by OpenCC t2s, per character, for the characters of ``_FAST_RANGES``."""
    import opencc

    region_chars = {
        ch for periods in region_table().by_code.values() for r in periods for ch in r.name
    }
    chars = [chr(c) for lo, hi in _FAST_RANGES for c in range(lo, hi + 1)]
    folded = [unicodedata.normalize("NFKC", ch) for ch in chars]
    # One call for all: newlines stop OpenCC from reading neighbours as phrases.
    simplified = opencc.OpenCC("t2s").convert("\n".join(folded)).split("\n")
    mapping = {}
    for ch, nfkc, simple in zip(chars, folded, simplified, strict=True):
        out = nfkc if nfkc in region_chars or len(nfkc) != 1 else simple
        if out != ch:
            mapping[ch] = out
    return mapping


@cache
def _t2s_table() -> dict[int, str]:
    """The t2s part of :func:`_char_map` as a ``str.translate`` table (applied after NFKC)."""
    return {
        ord(ch): out for ch, out in _char_map().items() if unicodedata.normalize("NFKC", ch) == ch
    }


def _clean(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).translate(_t2s_table())
    return " ".join(text.split())


def _key(norm: str) -> str:
    key = norm.replace(" ", "")
    for prefix in _COUNTRY_PREFIXES:
        key = key.removeprefix(prefix)
    return key


# ------------------------------------------------------------------ chains


@dataclass(frozen=True, slots=True)
class _Chains:
    lookup: dict[str, tuple[str | None, str | None, str | None]]
    sorted_keys: pl.Series
    parent: np.ndarray  # index of the longest chain that is a proper prefix, -1 if none
    province: pl.Series
    city: pl.Series
    county: pl.Series
    max_len: int


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


_AUTONOMOUS_GENERIC = {"自治区": "自治区", "自治州": "州", "自治县": "县", "自治旗": "旗"}


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


_Codes = tuple[str | None, str | None, str | None]
_NOTHING: _Codes = (None, None, None)


def _merge(readings: list[tuple[int, int, _Codes]]) -> _Codes:
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


@cache
def _chains() -> _Chains:
    readings: defaultdict[str, list[tuple[int, int, _Codes]]] = defaultdict(list)
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
    # Ambiguous chains stay in, with no codes, so that 朝阳区 does not fall back to 朝阳 (朝阳市).
    lookup = {chain: _merge(found) for chain, found in readings.items()}
    keys = sorted(lookup)
    parent = np.full(len(keys), -1, dtype=np.int64)
    stack: list[int] = []
    for i, key in enumerate(keys):
        while stack and not key.startswith(keys[stack[-1]]):
            stack.pop()
        parent[i] = stack[-1] if stack else -1
        stack.append(i)
    max_len = max(map(len, keys))
    if max_len > HEAD:
        raise RuntimeError(f"a division chain of {max_len} characters exceeds HEAD={HEAD}")
    codes = [lookup[k] for k in keys]
    province, city, county = ([c[level] for c in codes] for level in range(3))
    return _Chains(
        lookup=lookup,
        sorted_keys=pl.Series(keys, dtype=pl.Utf8),
        parent=parent,
        province=pl.Series(province, dtype=pl.Utf8),
        city=pl.Series(city, dtype=pl.Utf8),
        county=pl.Series(county, dtype=pl.Utf8),
        max_len=max_len,
    )


def _find(key: str) -> tuple[str | None, str | None, str | None]:
    chains = _chains()
    lookup = chains.lookup
    for length in range(min(len(key), chains.max_len), 0, -1):
        hit = lookup.get(key[:length])
        if hit is not None:
            return hit
    return _NOTHING


# ------------------------------------------------------------------ scalar


@cache
def _id_province(id_region: str | None) -> str | None:
    """Two-digit province of an ID's region code, following retired codes forward (Chongqing, Hainan)."""
    if (
        id_region is None
        or len(id_region) != 6
        or not id_region.isascii()
        or not id_region.isdigit()
    ):
        return None
    table = region_table()
    current = table.current_code(id_region)
    if current is not None:
        return current[:2]
    return id_region[:2] if table.province_known(id_region) else None


@cache
def _provinces_by_code() -> pl.Series:
    """:func:`_id_province` of every 6-digit code, as an integer (-1 for None), indexed by the code."""
    table = region_table()
    known = np.zeros(100, dtype=bool)
    known[[int(p) for p in table.provinces if p.isdigit()]] = True
    codes = np.arange(10**6)
    provinces = np.where(known[codes // 10_000], codes // 10_000, -1).astype(np.int16)
    for code in table.by_code:
        current = table.current_code(code)
        if current is not None and code.isdigit() and len(code) == 6:
            provinces[int(code)] = int(current[:2])
    return pl.Series(provinces)


def normalize_address(
    value: str | None, *, id_region: str | None = None, on_error: OnError = "reject"
) -> AddressResult:
    """Clean an address and recognize the divisions it starts with.

    ``id_region`` is the 6-digit region code of the record's resident ID, if any.

    >>> normalize_address("广东深圳南山科技园").county
    '440305'
    >>> normalize_address("廣東省深圳市南山區", id_region="110105").reason
    <Reason.ADDRESS_REGION_CONFLICTS_ID: 'ADDRESS_REGION_CONFLICTS_ID'>
    """
    check_on_error(on_error)
    result = _normalize(value, id_region)
    if on_error == "raise" and result.reason.rejects:
        raise NormalizationError(schema.ADDRESS, None, "a non-empty address", result.reason)
    return result


def _normalize(value: str | None, id_region: str | None) -> AddressResult:
    if value is None:
        return AddressResult(None, None, None, None, Reason.MISSING)
    norm = _clean(value)
    if not norm or norm.lower() in _PLACEHOLDERS:
        return AddressResult(None, None, None, None, Reason.MISSING)
    province, city, county = _find(_key(norm)[:HEAD])
    if province is None:
        return AddressResult(norm, None, None, None, Reason.ADDRESS_NO_REGION)
    id_province = _id_province(id_region)
    conflict = id_province is not None and id_province != province[:2]
    reason = Reason.ADDRESS_REGION_CONFLICTS_ID if conflict else Reason.ADDRESS_REGION_FOUND
    return AddressResult(norm, province, city, county, reason)


# ------------------------------------------------------------------ frames


def _class_pattern(codepoints: Iterable[int]) -> str:
    """``^[...]*$`` over the given code points, written as ranges."""
    ranges: list[list[int]] = []
    for cp in sorted(codepoints):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "^[" + "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in ranges) + "]*$"


@cache
def _patterns() -> tuple[str, str]:
    """(fast, clean): strings of ``_FAST_RANGES`` characters, and those that need no mapping at all."""
    fast = {cp for lo, hi in _FAST_RANGES for cp in range(lo, hi + 1)}
    clean = fast - {ord(ch) for ch in _char_map()}
    return _class_pattern(fast), _class_pattern(clean)


def _scatter(target: pl.Series, mask: pl.Series, fn: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``target`` with ``fn`` applied to the rows where ``mask`` is true (a few, usually)."""
    rows = mask.arg_true()
    if rows.len() == 0:
        return target
    return target.clone().scatter(rows, fn(target.gather(rows)))


def _clean_frame(raw: pl.Series) -> pl.Series:
    """:func:`_clean` for a whole column: polars for common characters, Python for the rest."""
    fast_pattern, clean_pattern = _patterns()
    norm = _scatter(
        raw,
        ~raw.str.contains(clean_pattern).fill_null(True),
        lambda s: _clean_some(s, fast_pattern),
    )
    norm = _scatter(
        norm,
        norm.str.contains("  ", literal=True) | norm.str.starts_with(" ") | norm.str.ends_with(" "),
        lambda s: s.str.replace_all(" {2,}", " ").str.strip_chars(" "),
    )
    # placeholders are at most 4 characters (12 bytes); only those rows are lower-cased
    return _scatter(norm, (norm.str.len_bytes() <= 12).fill_null(False), _drop_placeholders)


def _clean_some(values: pl.Series, fast_pattern: str) -> pl.Series:
    """Rows that need mapping: one ``replace_many`` when all their characters are mapped per
    character (the ideographic space becomes a plain one, collapsed later), Python otherwise.
    Python's ``str.split()`` also splits on control characters, which fail the fast pattern."""
    mapping = _char_map()
    fast = values.str.contains(fast_pattern)
    out = _scatter(
        values, fast, lambda s: s.str.replace_many(list(mapping), list(mapping.values()))
    )

    def slow(s: pl.Series) -> pl.Series:
        return map_distinct(s.to_frame("v"), ["v"], lambda v: (_clean(v),), {"n": pl.Utf8})["n"]

    return _scatter(out, ~fast, slow)


def _drop_placeholders(short: pl.Series) -> pl.Series:
    placeholder = (short == "") | short.str.to_lowercase().is_in(
        pl.Series(sorted(_PLACEHOLDERS)).implode()
    )
    return short.zip_with(~placeholder, pl.Series([None] * len(short), dtype=pl.Utf8))


def _key_frame(norm: pl.Series) -> pl.Series:
    """:func:`_key` for a whole column, touching only the rows that have spaces or a country prefix."""
    key = _scatter(
        norm,
        norm.str.contains(" ", literal=True).fill_null(False),
        lambda s: s.str.replace_all(" ", "", literal=True),
    )

    def strip(s: pl.Series) -> pl.Series:
        for prefix in _COUNTRY_PREFIXES:
            s = s.str.strip_prefix(prefix)
        return s

    return _scatter(key, key.str.starts_with("中").fill_null(False), strip)


def address_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """``ADDRESS_NORM``, ``ADDRESS_PROVINCE``/``CITY``/``COUNTY`` and ``ADDRESS_REASON`` per row.

    Reads ``schema.ADDRESS`` and, when present, ``schema.ID_REGION``.  Cleaning
    runs in polars for addresses made of common characters (CJK, ASCII,
    full-width forms), the rest is cleaned once per distinct value; division
    lookup is a vectorized binary search over the sorted chain dictionary.
    """
    if schema.ADDRESS not in frame.columns:
        raise SchemaError(f"{schema.ADDRESS}: column missing (have {sorted(frame.columns)})")
    chains = _chains()
    norm = _clean_frame(frame.get_column(schema.ADDRESS).cast(pl.Utf8))
    key = _key_frame(norm)
    present = key.is_not_null().arg_true()
    # chains are shorter than HEAD, so searching whole keys finds what their heads would
    found = _longest_chain(key.gather(present), chains)
    at = np.full(len(key), -1, dtype=np.int64)
    at[present.to_numpy()] = found
    # -1 (no chain) becomes a null index, which gathers nulls
    index = pl.Series(at).replace(-1, None)
    columns = pl.DataFrame(
        {
            schema.ADDRESS_NORM: norm,
            schema.ADDRESS_PROVINCE: chains.province.gather(index),
            schema.ADDRESS_CITY: chains.city.gather(index),
            schema.ADDRESS_COUNTY: chains.county.gather(index),
        }
    ).with_columns(
        choose(
            (pl.col(schema.ADDRESS_NORM).is_null(), Reason.MISSING.value),
            (pl.col(schema.ADDRESS_PROVINCE).is_null(), Reason.ADDRESS_NO_REGION.value),
            otherwise=Reason.ADDRESS_REGION_FOUND.value,
        ).alias(schema.ADDRESS_REASON)
    )
    if schema.ID_REGION not in frame.columns:
        return columns
    return check_id_region(columns, frame.get_column(schema.ID_REGION))


def check_id_region(columns: pl.DataFrame, id_region: pl.Series) -> pl.DataFrame:
    """``address_columns``' output, ``ADDRESS_REGION_CONFLICTS_ID`` where ``id_region`` is elsewhere.

    Lets a caller find the divisions before the ID numbers are normalized.
    """
    code = pl.lit(id_region.cast(pl.Utf8))
    code = pl.when(code.str.contains("^[0-9]{6}$")).then(code.str.to_integer(strict=False))
    # the province number of each ID region (as _id_province), from a table indexed by the code
    id_province = pl.lit(_provinces_by_code()).gather(code).replace(-1, None)
    province = pl.col(schema.ADDRESS_PROVINCE).str.slice(0, 2).str.to_integer(strict=False)
    conflict = (id_province != province).fill_null(False)
    found = pl.col(schema.ADDRESS_REASON) == Reason.ADDRESS_REGION_FOUND.value
    return columns.with_columns(
        choose(
            (found & conflict, Reason.ADDRESS_REGION_CONFLICTS_ID.value),
            (found, Reason.ADDRESS_REGION_FOUND.value),
            (pl.col(schema.ADDRESS_NORM).is_null(), Reason.MISSING.value),
            otherwise=Reason.ADDRESS_NO_REGION.value,
        ).alias(schema.ADDRESS_REASON)
    )


def _longest_chain(head: pl.Series, chains: _Chains) -> np.ndarray:
    """Index into the sorted chains of the longest one that prefixes each head, -1 if none.

    The greatest chain <= head starts with the answer (any string between a
    prefix of ``head`` and ``head`` itself starts with that prefix), so the
    answer is found by walking up that chain's parents.
    """
    keys = chains.sorted_keys
    index = (keys.search_sorted(head, side="right").to_numpy().astype(np.int64)) - 1
    pending = np.flatnonzero(index >= 0)
    while pending.size:
        candidates = keys.gather(pl.Series(index[pending]))
        ok = head.gather(pl.Series(pending)).str.starts_with(candidates).to_numpy()
        failed = pending[~ok]
        index[failed] = chains.parent[index[failed]]
        pending = failed[index[failed] >= 0]
    return index
