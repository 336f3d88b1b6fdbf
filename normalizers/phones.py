"""Phone numbers: mainland mobiles and landlines, and foreign numbers, folded to E.164.

Canonical forms:

* mobile ``+8613812345678``: 11 digits in a block allocated to mobile service
  (MIIT numbering plan, 2024): 13x, 145-149, 150-153, 155-159, 162, 165-167,
  170-173, 1740 (satellite), 175-178, 18x, 190-193, 195-199.  phonenumbers
  9.0 does not list the data-card blocks 146/148/149 yet; we accept them.
* landline ``+861062345678``: +86, the long-distance code without its trunk 0
  (``data/phone_area_codes.tsv``, derived from phonenumbers' metadata), and a
  7- or 8-digit local number.  A local number given without its area code is
  ``PHONE_INVALID``: the same 8 digits exist in every city, so it cannot be
  matched across records, and guessing the city from the address would make a
  linkage key out of a guess.
* Hong Kong (+852), Macau (+853), Taiwan (+886) and other countries: kept with
  their country code (validated by phonenumbers), reason ``PHONE_FOREIGN``.

Accepted decorations: +86 / 0086 / 86 prefixes, ``+86 (0)``, a trunk 0 before a
mobile, IP-dialling prefixes (17951 ...), spaces, dashes, dots, parentheses,
full-width characters, and extensions (转, 轉, 分机, ext, x, #, or ``-123``
after a complete landline), which go to ``ext``.  When a field holds several
numbers (``13812345678/13987654321``, ``；``, ``、``, ``或``, or whitespace between
complete numbers) the first is taken: it is the one forms ask for first, and
the others stay in the raw column.  Masked numbers (``138****5678``) are
``PHONE_MASKED``.  Messages never show more than :func:`mask_phone` does.
"""

from __future__ import annotations

import csv
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import phonenumbers
import polars as pl

from normalizers import schema
from normalizers._vector import choose, collect, fill_unsettled, scatter_rows
from normalizers.errors import NormalizationError, OnError, SchemaError, check_on_error
from normalizers.masking import mask_phone
from normalizers.reasons import Reason

logger = logging.getLogger(__name__)

PhoneKind = Literal["mobile", "landline", "foreign"]

MOBILE_PATTERN = (
    r"1(?:3[0-9]|4[5-9]|5[0-35-9]|6[2567]|7[0-35-8]|8[0-9]|9[0-35-9])[0-9]{8}|1740[0-9]{7}"
)
"""Mainland mobile numbers (11 digits, no prefix)."""

_MOBILE = re.compile(MOBILE_PATTERN)
_MAX_LEN = 100
_PLACEHOLDERS = frozenset(
    {"无", "暂无", "没有", "不详", "未知", "空", "null", "none", "n/a", "na", "-", "--", "/", "0"}
)
_MASK = re.compile(r"[*●•○◯×?]|[xX]{2,}")
_EXT_TEXT = re.compile(
    r"[\s(\[]*(?:转|轉|分机号?|分機號?|ext(?:ension)?\.?|x|#)\s*:?\s*([0-9]{1,6})\s*[)\]]?$",
    re.IGNORECASE,
)
_EXT_DASH = re.compile(r"-([0-9]{1,6})$")
_DECORATION = re.compile(r"[\s\-.()\[\]]")
_SEPARATORS = re.compile(r"\s*(?:[/;,|\\、]|或|and)\s*", re.IGNORECASE)
_IP_PREFIXES = frozenset({"17951", "12593", "17911", "17909", "10193", "17901", "17908"})
_FOREIGN_LENGTHS = {"852": (11,), "853": (11,), "886": (11, 12)}


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """E.164 number (or None), extension, kind and what was done to the raw value."""

    value: str | None
    ext: str | None
    kind: PhoneKind | None
    reason: Reason


_INVALID = PhoneResult(None, None, None, Reason.PHONE_INVALID)


@cache
def area_codes() -> frozenset[str]:
    """Mainland long-distance codes without the trunk 0 (``"10"``, ``"755"`` ...)."""
    text = (
        resources.files("normalizers.data")
        .joinpath("phone_area_codes.tsv")
        .read_text(encoding="utf-8")
    )
    return frozenset(row["code"] for row in csv.DictReader(text.splitlines(), delimiter="\t"))


def normalize_phone(value: str | None, *, on_error: OnError = "reject") -> PhoneResult:
    """Fold a raw phone field to one E.164 number, its extension and kind.

    >>> normalize_phone("138-1234-5678")
    PhoneResult(value='+8613812345678', ext=None, kind='mobile', reason=<Reason.CLEANED: 'CLEANED'>)
    >>> normalize_phone("(010) 6234 5678 转 123").ext
    '123'
    """
    check_on_error(on_error)
    result = _normalize(value)
    if on_error == "raise" and result.reason.rejects:
        shown = None if value is None else mask_phone(value[:_MAX_LEN])
        raise NormalizationError(
            schema.PHONE,
            shown,
            "a mainland mobile, a landline with area code, or +country number",
            result.reason,
        )
    return result


def _normalize(value: str | None) -> PhoneResult:
    if value is None:
        return PhoneResult(None, None, None, Reason.MISSING)
    if len(value) > _MAX_LEN:
        return _INVALID if value.strip() else PhoneResult(None, None, None, Reason.MISSING)
    text = unicodedata.normalize("NFKC", value).strip()
    if not text or text.casefold() in _PLACEHOLDERS:
        return PhoneResult(None, None, None, Reason.MISSING)
    if _MASK.search(text):
        return PhoneResult(None, None, None, Reason.PHONE_MASKED)
    result = _parse_one(text)
    if result is _INVALID:
        first = _first_of_several(text)
        if first is not None:
            result = _parse_one(first)
    if result.kind == "mobile" and result.ext is None:
        national = result.value[3:]  # type: ignore[index]
        reason = Reason.OK if value in (national, result.value) else Reason.CLEANED
        return PhoneResult(result.value, None, "mobile", reason)
    return result


def _first_of_several(text: str) -> str | None:
    pieces = [p for p in _SEPARATORS.split(text) if p]
    if len(pieces) < 2:
        tokens = text.split()
        if len(tokens) >= 2 and all(_digit_count(tok) >= 7 for tok in tokens):
            pieces = tokens
    if len(pieces) < 2:
        return None
    # "010/62345678": an area code split off by the separator, not a second number
    if _digit_count(pieces[0]) < 7:
        pieces = [pieces[0] + pieces[1], *pieces[2:]]
    return pieces[0]


def _digit_count(text: str) -> int:
    return sum(ch in "0123456789" for ch in text)


def _parse_one(text: str) -> PhoneResult:
    ext = None
    match = _EXT_TEXT.search(text)
    if match and match.start() > 0:
        ext = match.group(1)
        text = text[: match.start()]
    found = _classify(_DECORATION.sub("", text))
    if found is None and ext is None:
        match = _EXT_DASH.search(text)
        if match:
            found = _classify(_DECORATION.sub("", text[: match.start()]))
            if found is not None and found[1] == "landline":
                ext = match.group(1)
            else:
                found = None
    if found is None:
        return _INVALID
    number, kind = found
    if ext is not None:
        reason = Reason.PHONE_EXTENSION_SPLIT
    else:
        reason = {
            "mobile": Reason.OK,
            "landline": Reason.PHONE_LANDLINE,
            "foreign": Reason.PHONE_FOREIGN,
        }[kind]
    return PhoneResult(number, ext, kind, reason)


def _classify(digits: str) -> tuple[str, PhoneKind] | None:
    """E.164 and kind of a decoration-free number, or None."""
    if digits.startswith("+"):
        return _international(digits[1:])
    if not digits.isascii() or not digits.isdigit():
        return None
    if digits.startswith("00"):
        return _international(digits[2:])
    if digits.startswith("86") and len(digits) >= 12:
        return _after_country_code(digits[2:])
    if len(digits) in _FOREIGN_LENGTHS.get(digits[:3], ()):
        return _international(digits)
    if len(digits) == 16 and digits[:5] in _IP_PREFIXES:
        digits = digits[5:]
    if _MOBILE.fullmatch(digits):
        return "+86" + digits, "mobile"
    if digits.startswith("0"):
        if _MOBILE.fullmatch(digits[1:]):
            return "+86" + digits[1:], "mobile"
        return _landline(digits[1:])
    return None


def _international(digits: str) -> tuple[str, PhoneKind] | None:
    if not digits.isascii() or not digits.isdigit():
        return None
    if digits.startswith("86"):
        return _after_country_code(digits[2:])
    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), "foreign"


def _after_country_code(national: str) -> tuple[str, PhoneKind] | None:
    national = national.removeprefix(
        "0"
    )  # "+86 (0)755 ...": the trunk 0 is written but not dialled
    if _MOBILE.fullmatch(national):
        return "+86" + national, "mobile"
    return _landline(national)


def _landline(national: str) -> tuple[str, PhoneKind] | None:
    """A landline given as area code (no trunk 0) + local number."""
    code_length = 2 if national[:1] in ("1", "2") else 3
    code, local = national[:code_length], national[code_length:]
    if code in area_codes() and 7 <= len(local) <= 8 and local[0] != "0":
        return "+86" + code + local, "landline"
    return None


# ------------------------------------------------------------------ frames

_FAST_MOBILE = rf"^(?:\+86|0086|86)?({MOBILE_PATTERN})$"
_FAST_LANDLINE = r"^(?:0|\+86)(10|2[0-9]|[3-9][0-9]{2})([1-9][0-9]{6,7})$"


def phone_columns(frame: pl.DataFrame, column: str = schema.PHONE) -> pl.DataFrame:
    """``PHONE_NORM``, ``PHONE_EXT``, ``PHONE_KIND`` and ``PHONE_REASON`` per row.

    Phone numbers are nearly all distinct, so the common forms (11-digit
    mobiles with optional +86 and spaces or dashes, landlines with area code)
    are recognized by polars; only the rest is normalized per distinct value.
    """
    if column not in frame.columns:
        raise SchemaError(f"{column}: column missing (have {sorted(frame.columns)})")
    raw = pl.col(column)
    compact = pl.col(_COMPACT_COL)
    mobile = pl.col(_IS_MOBILE)
    as_written = (raw == compact) & compact.str.len_bytes().is_in([11, 14])
    fast = (
        frame.lazy()
        .select(raw.cast(pl.Utf8))
        .with_columns(raw.str.replace_all(r"[ \-]", "").alias(_COMPACT_COL))
        .with_columns(compact.str.contains(_FAST_MOBILE).fill_null(False).alias(_IS_MOBILE))
        .select(
            raw,
            compact,
            mobile,
            pl.when(mobile).then(pl.lit("+86") + compact.str.slice(-11)).alias(schema.PHONE_NORM),
            pl.lit(None, dtype=pl.Utf8).alias(schema.PHONE_EXT),
            choose((mobile, "mobile")).alias(schema.PHONE_KIND),
            choose(
                (raw.is_null(), Reason.MISSING.value),
                (mobile & as_written, Reason.OK.value),
                (mobile, Reason.CLEANED.value),
            ).alias(schema.PHONE_REASON),
        )
        .pipe(collect)
    )
    out = fast.select(schema.PHONE_NORM, schema.PHONE_EXT, schema.PHONE_KIND, schema.PHONE_REASON)
    rows = fast.select(~mobile & raw.is_not_null()).to_series().arg_true()
    if rows.len() == 0:
        return out
    # The few other rows: mobiles typed in full-width digits (NFKC makes them ASCII, so once
    # mapped the same shape applies, with CLEANED as the value was not written that way) and
    # landlines by expressions, the rest by the scalar path.
    rest = fast.select(raw, compact).gather(rows)
    rest = rest.with_columns(compact.str.replace_many(_WIDE_DIGITS, _ASCII_DIGITS))
    wide_mobile = rest.get_column(_COMPACT_COL).str.contains(_FAST_MOBILE).fill_null(False)
    parts = rest.get_column(_COMPACT_COL).str.extract_groups(_FAST_LANDLINE).struct.unnest()
    landline = parts.get_column("1").is_in(pl.Series(sorted(area_codes()), dtype=pl.Utf8).implode())
    landline = landline.fill_null(False)
    is_mobile = pl.lit(wide_mobile)
    values = parts.select(
        pl.when(is_mobile)
        .then(pl.lit("+86") + pl.lit(rest.get_column(_COMPACT_COL)).str.slice(-11))
        .otherwise(pl.lit("+86") + pl.col("1") + pl.col("2"))
        .alias(schema.PHONE_NORM),
        pl.lit(None, dtype=pl.Utf8).alias(schema.PHONE_EXT),
        choose((is_mobile, "mobile"), otherwise="landline").alias(schema.PHONE_KIND),
        choose((is_mobile, Reason.CLEANED.value), otherwise=Reason.PHONE_LANDLINE.value).alias(
            schema.PHONE_REASON
        ),
    )
    settled = wide_mobile | landline

    def one(text: str | None) -> tuple[str | None, str | None, str | None, str]:
        result = _normalize(text)
        return result.value, result.ext, result.kind, result.reason.value

    values = fill_unsettled(values, settled, rest, [column], one)
    return scatter_rows(out, rows, values)


_WIDE_DIGITS = [chr(0xFF10 + i) for i in range(10)]
_ASCII_DIGITS = [str(i) for i in range(10)]
_COMPACT_COL = "__phone_compact"
_IS_MOBILE = "__phone_mobile"
