"""Addresses: a cleaned string plus the province, prefecture and county codes it starts with.

``ADDRESS_NORM`` is the address after NFKC (full-width digits and letters, the
ideographic space), traditional-to-simplified conversion and whitespace
collapsing.  Conversion is character by character with OpenCC's t2s table
(shipped as ``data/t2s_chars.tsv``), so the batch path can run it inside polars; characters that occur in division
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
which the remaining readings disagree are left empty.  The dictionary is built
by ``normalizers/data/build_address_chains.py`` and shipped as
``data/address_chains.tsv`` (building it costs half a second of Python).  The
longest chain that
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

import bisect
import logging
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import polars as pl

from normalizers import schema
from normalizers._vector import choose, map_distinct
from normalizers.errors import NormalizationError, OnError, SchemaError, check_on_error
from normalizers.names import opencc_t2s
from normalizers.reasons import Reason
from normalizers.regions import region_table

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
    region_chars = set("".join(region_table().names))
    t2s = opencc_t2s()
    mapping = {}
    for lo, hi in _FAST_RANGES:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            nfkc = unicodedata.normalize("NFKC", ch)
            out = nfkc if nfkc in region_chars or len(nfkc) != 1 else t2s.get(nfkc, nfkc)
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


_Codes = tuple[str | None, str | None, str | None]
_NOTHING: _Codes = (None, None, None)


@dataclass(frozen=True, slots=True)
class _Chains:
    sorted_keys: pl.Series
    parent: np.ndarray  # index of the longest chain that is a proper prefix, -1 if none
    province: pl.Series
    city: pl.Series
    county: pl.Series
    max_len: int


def _read_table(name: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A TSV of ``normalizers/data`` written by ``build_address_chains.py`` (no quoting, ``#`` comments)."""
    data = resources.files("normalizers.data").joinpath(name).read_bytes()
    return pl.read_csv(data, separator="\t", comment_prefix="#", quote_char=None, schema=schema)


@cache
def _chains() -> _Chains:
    """The chain dictionary shipped in ``data/address_chains.tsv`` (see ``build_address_chains.py``).

    The chains are front-coded there; they are decoded here with a few array
    operations per character position instead of a Python loop per chain.
    """
    divisions = _read_table(
        "address_divisions.tsv", {"province": pl.String(), "city": pl.String(), "county": pl.String()}
    )
    rows = _read_table(
        "address_chains.tsv", {"shared": pl.Int64(), "rest": pl.String(), "division": pl.UInt32()}
    )
    shared = rows.get_column("shared").to_numpy()
    rests = rows.get_column("rest")
    lengths = rests.str.len_chars().cast(pl.Int64).to_numpy()
    ends = shared + lengths
    width = int(ends.max())
    if width > HEAD:
        raise RuntimeError(f"a division chain of {width} characters exceeds HEAD={HEAD}")
    # every chain as a row of code points; each row first holds only the characters it adds
    text: str = rests.str.join("").item()
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    grid = np.zeros((len(rests), width), dtype=np.uint32)
    row_of = np.repeat(np.arange(len(rests)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    grid[row_of, np.repeat(shared, lengths) + np.arange(len(points)) - starts] = points
    # position p of a chain comes from the last chain at or before it that wrote position p
    order = np.arange(len(rests))
    for p in range(width):
        writes = shared <= p
        source = np.maximum.accumulate(np.where(writes, order, 0))
        grid[~writes, p] = grid[source[~writes], p]
    division = rows.get_column("division")
    return _Chains(
        sorted_keys=pl.Series(grid.view(f"<U{width}").ravel().tolist(), dtype=pl.String),
        parent=_parents(shared, ends, width),
        province=divisions.get_column("province").gather(division),
        city=divisions.get_column("city").gather(division),
        county=divisions.get_column("county").gather(division),
        max_len=width,
    )


def _parents(shared: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """Index of the longest chain that is a proper prefix of each (sorted, front-coded) chain, -1 if none.

    Chain j < i is a prefix of chain i when no chain in (j, i] shares fewer than
    len(j) characters with its predecessor; of the chains of one length, only the
    last one before i can be.  Lengths are tried shortest first, so the longest wins.
    """
    n = len(shared)
    order = np.arange(n)
    parent = np.full(n, -1, dtype=np.int64)
    for length in range(1, width):
        last = np.maximum.accumulate(np.where(ends == length, order, -1))
        cut = np.maximum.accumulate(np.where(shared < length, order, -1))
        candidate = np.concatenate(([-1], last[:-1]))  # the last chain of this length before i
        ok = (candidate >= 0) & (cut <= candidate) & (ends > length)
        parent[ok] = candidate[ok]
    return parent


@cache
def _lookup() -> dict[str, _Codes]:
    """Chain -> codes, for the scalar path."""
    chains = _chains()
    return dict(
        zip(
            chains.sorted_keys.to_list(),
            zip(chains.province.to_list(), chains.city.to_list(), chains.county.to_list(), strict=True),
            strict=True,
        )
    )


def _find(key: str) -> tuple[str | None, str | None, str | None]:
    lookup = _lookup()
    for length in range(min(len(key), _chains().max_len), 0, -1):
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
    for code, current in table.current.items():
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


def _class_pattern(ranges: Iterable[tuple[int, int]]) -> str:
    """``^[...]*$`` over the given (first, last) code point ranges."""
    return "^[" + "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in ranges) + "]*$"


@cache
def _patterns() -> tuple[str, str]:
    """(fast, clean): strings of ``_FAST_RANGES`` characters, and those that need no mapping at all."""
    mapped = sorted(ord(ch) for ch in _char_map())  # all inside _FAST_RANGES
    clean: list[tuple[int, int]] = []
    for lo, hi in _FAST_RANGES:
        start = lo
        for cp in mapped[bisect.bisect_left(mapped, lo) : bisect.bisect_right(mapped, hi)]:
            if cp > start:
                clean.append((start, cp - 1))
            start = cp + 1
        if start <= hi:
            clean.append((start, hi))
    return _class_pattern(_FAST_RANGES), _class_pattern(clean)


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
