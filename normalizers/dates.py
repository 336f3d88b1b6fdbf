"""Birth dates: every format department exports use, folded to a ``datetime.date``.

Formats read (after NFKC, so full-width digits and separators count too):

* ISO ``1990-01-02`` (reason ``OK``) and compact ``19900102``; dotted, slashed
  or dashed year-first forms ``1990.1.2``, ``1990/01/02``.  Chinese departments
  write year, month, day; year-first forms are never ambiguous.
* Year-last forms ``02/01/1990``, ``1/2/1990``: read month/day/year (US
  English), because in mainland exports these come from software left in its
  en-US default (Excel, SQL Server style 101, JavaScript, .NET) - zh-CN
  software writes year first.  Day/month/year is used when the first part
  exceeds 12, and always for dotted forms (``02.01.1990`` is the European
  day.month.year).  When both parts are <= 12 and differ the result carries
  ``DATE_AMBIGUOUS_DAY_MONTH``.  Hong Kong and Macau sources write day first:
  check that reason's count before trusting such a source.
* Chinese ``1990年1月2日``/``2号``, in Chinese numerals too: ``一九九〇年元月二日``,
  ``二〇〇〇年十二月三十一日`` (〇, ○, 零, 廿, 卅, 元月 and capital numerals).
* English month names: ``16 APR 1951``, ``April 16, 1951``, ``16-Apr-51``
  (Oracle's DD-MON-RR default), ``Tue Jan 02 00:00:00 CST 1990`` (Java's
  ``Date.toString``).
* Two-digit years take the latest century that does not put the birth in the
  future: in 2025 ``51`` is 1951 and ``20`` is 2020.
* Timestamps: the time is dropped (``1990-01-02 00:00:00``, ``19900102000000``).
  A UTC or offset timestamp is first converted to China time (UTC+8), so a
  date-only value stored as local midnight in UTC (``1990-01-01T16:00:00Z``)
  reads back as 1990-01-02; local midnight in China's 1986-1991 summer time
  (15:00Z) is recognized too.
* Excel serial numbers of five digits (``32874`` -> 1990-01-01): days since
  1899-12-30, which absorbs Excel's fictitious 1900-02-29 for every serial
  above 60; four-digit numbers are years, not serials.
* Year only (``1990``, ``1990年``): ``DATE_YEAR_ONLY``; year and month only
  (``1990-01``, ``199001``, ``1990年1月``): ``DATE_YEAR_MONTH_ONLY``.  The date is
  null, ``year`` is kept.
* System defaults (``1900-01-01``, ``1899-12-30``, ``1899-12-31``, all zeros):
  ``DATE_PLACEHOLDER``.
* A date before 1880 (``min_year``: historical records set an earlier floor)
  or after today is ``DATE_OUT_OF_RANGE``; 不详, 未知, 无 and similar words are
  ``MISSING``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from dataclasses import dataclass

import polars as pl

from normalizers import schema
from normalizers._vector import apply_rows, gather_distinct, scatter_rows
from normalizers.errors import (
    ConfigError,
    NormalizationError,
    OnError,
    SchemaError,
    check_on_error,
)
from normalizers.reasons import Reason

logger = logging.getLogger(__name__)

MIN_YEAR = 1880
_MAX_LEN = 64
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_PLACEHOLDERS = frozenset({dt.date(1900, 1, 1), dt.date(1899, 12, 30), dt.date(1899, 12, 31)})
_CHINA = dt.timedelta(hours=8)
_UNKNOWN = frozenset({"不详", "未知", "不明", "无", "暂无", "null", "none", "n/a", "unknown"})


@dataclass(frozen=True, slots=True)
class DateResult:
    """The canonical date (or None), what was done, and the year whenever it is known."""

    value: dt.date | None
    reason: Reason
    year: int | None


def normalize_date(
    value: str | None,
    *,
    on_error: OnError = "reject",
    field: str = schema.BIRTH_DATE,
    min_year: int = MIN_YEAR,
) -> DateResult:
    """Parse a raw date in any of the module's formats; years before ``min_year`` are out of range.

    >>> normalize_date("一九九〇年元月二日")
    DateResult(value=datetime.date(1990, 1, 2), reason=<Reason.CLEANED: 'CLEANED'>, year=1990)
    >>> normalize_date("02/01/1990").reason
    <Reason.DATE_AMBIGUOUS_DAY_MONTH: 'DATE_AMBIGUOUS_DAY_MONTH'>
    """
    check_on_error(on_error)
    check_min_year(min_year)
    result = _normalize(value, dt.date.today(), min_year)
    if on_error == "raise" and result.reason.rejects:
        shown = None if value is None else value[:_MAX_LEN]
        raise NormalizationError(
            field, shown, f"a calendar date between {min_year} and today", result.reason
        )
    return result


# ------------------------------------------------------------------ parsing

_MONTHS = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}
_WEEKDAY = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s*"
_TIME = re.compile(
    r"[t\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(am|pm)?\s*"
    r"(z|utc|gmt|cst|[+-]\d{2}:?\d{2})?$"
)
_JAVA = re.compile(
    _WEEKDAY + r"([a-z]{3,9})\s+(\d{1,2})\s+\d{1,2}:\d{2}:\d{2}\s+[a-z]{2,5}\s+(\d{4})$"
)
_NUMERIC = re.compile(r"(\d{1,4})([-/.\s])(\d{1,2})\2(\d{1,4})$")
_YEAR_MONTH = re.compile(r"(\d{4})[-/.\s](\d{1,2})$")
_DAY_MON_YEAR = re.compile(
    r"(\d{1,2})(?:st|nd|rd|th)?[\s\-/.]*([a-z]{3,9})\.?[\s\-/.,]*(\d{4}|\d{2})$"
)
_MON_DAY_YEAR = re.compile(
    r"([a-z]{3,9})\.?[\s\-/.]*(\d{1,2})(?:st|nd|rd|th)?[\s,\-/.]+(\d{4}|\d{2})$"
)
_YEAR_MON_DAY = re.compile(r"(\d{4})[\s\-/.]*([a-z]{3,9})\.?[\s\-/.]*(\d{1,2})$")
_MON_YEAR = re.compile(r"([a-z]{3,9})\.?[\s\-/.,]*(\d{4})$")
_CHINESE = re.compile(r"(.+?)年(?:(.+?)月(?:(.+?)[日号])?)?$")
_EXCEL = re.compile(r"(\d{5})(?:\.\d+)?$")

_CN_DIGITS = {
    "〇": 0,
    "○": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "壹": 1,
    "贰": 2,
    "貳": 2,
    "叁": 3,
    "參": 3,
    "肆": 4,
    "伍": 5,
    "陆": 6,
    "陸": 6,
    "柒": 7,
    "捌": 8,
    "玖": 9,
    "两": 2,
    "兩": 2,
}
_CN_TENS = {"十": 10, "拾": 10, "廿": 20, "卅": 30}


class _Unparseable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Parts:
    year: int
    month: int | None = None
    day: int | None = None
    ambiguous: bool = False
    utc_offset: dt.timedelta | None = None  # set when a timestamp's instant must move to China time
    time: tuple[int, int, int] = (0, 0, 0)


def check_min_year(min_year: object) -> None:
    """Raise ConfigError unless ``min_year`` is a year from 1 to the current one."""
    if (
        isinstance(min_year, bool)
        or not isinstance(min_year, int)
        or not 1 <= min_year <= dt.date.today().year
    ):
        raise ConfigError(f"min_year: expected a year from 1 to this year (got {min_year!r})")


def _normalize(value: str | None, today: dt.date, min_year: int = MIN_YEAR) -> DateResult:
    if value is None:
        return DateResult(None, Reason.MISSING, None)
    if len(value) > _MAX_LEN:
        return DateResult(None, Reason.DATE_UNPARSEABLE if value.strip() else Reason.MISSING, None)
    text = unicodedata.normalize("NFKC", value).strip().lower()
    if not text or text in _UNKNOWN:
        return DateResult(None, Reason.MISSING, None)
    if not text.strip("0-/.: "):
        # "0000-00-00", "00000000": a system default; bare punctuation ("-", "/") means nothing was entered
        return DateResult(None, Reason.DATE_PLACEHOLDER if "0" in text else Reason.MISSING, None)
    try:
        parts = _parse(text, today)
    except (_Unparseable, ValueError, OverflowError):
        return DateResult(None, Reason.DATE_UNPARSEABLE, None)
    return _validate(parts, value, today, min_year)


def _validate(parts: _Parts, raw: str, today: dt.date, min_year: int) -> DateResult:
    year_ok = min_year <= parts.year <= today.year
    if parts.month is None:
        return DateResult(
            None,
            Reason.DATE_YEAR_ONLY if year_ok else Reason.DATE_OUT_OF_RANGE,
            parts.year if year_ok else None,
        )
    if not 1 <= parts.month <= 12:
        return DateResult(None, Reason.DATE_IMPOSSIBLE, parts.year if year_ok else None)
    if parts.day is None:
        if not year_ok or (parts.year, parts.month) > (today.year, today.month):
            return DateResult(None, Reason.DATE_OUT_OF_RANGE, None)
        return DateResult(None, Reason.DATE_YEAR_MONTH_ONLY, parts.year)
    try:
        date = dt.date(parts.year, parts.month, parts.day)
    except ValueError:
        return DateResult(None, Reason.DATE_IMPOSSIBLE, parts.year if year_ok else None)
    if parts.utc_offset is not None:
        date = _china_date(date, parts.time, parts.utc_offset)
    if date in _PLACEHOLDERS:
        return DateResult(None, Reason.DATE_PLACEHOLDER, None)
    if date.year < min_year or date > today:
        return DateResult(None, Reason.DATE_OUT_OF_RANGE, None)
    if parts.ambiguous:
        reason = Reason.DATE_AMBIGUOUS_DAY_MONTH
    else:
        reason = Reason.OK if raw == date.isoformat() else Reason.CLEANED
    return DateResult(date, reason, date.year)


def _china_date(date: dt.date, time: tuple[int, int, int], offset: dt.timedelta) -> dt.date:
    local = dt.datetime(date.year, date.month, date.day, *time) - offset + _CHINA
    # China kept summer time 1986-1991: local midnight was 15:00 UTC, i.e. 23:00 UTC+8.
    if 1986 <= local.year <= 1991 and local.time() == dt.time(23, 0):
        local += dt.timedelta(hours=1)
    return local.date()


def _parse(text: str, today: dt.date) -> _Parts:
    if not text.isascii():
        return _parse_chinese(text)
    if text[0].isalpha():
        match = _JAVA.match(text)
        if match:
            return _Parts(
                _year(match.group(3), today), _month_name(match.group(1)), int(match.group(2))
            )
    offset: dt.timedelta | None = None
    time = (0, 0, 0)
    match = _TIME.search(text) if ":" in text else None
    if match and match.start() > 0:
        hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
        if match.group(4) == "pm" and hour < 12:
            hour += 12
        elif match.group(4) == "am" and hour == 12:
            hour = 0
        if hour > 23 or minute > 59 or second > 59:
            raise _Unparseable
        time = (hour, minute, second)
        offset = _offset(match.group(5))
        text = text[: match.start()].rstrip()
    parts = _parse_date(re.sub(r"^" + _WEEKDAY, "", text), today)
    if offset is not None and parts.day is not None:
        return _Parts(parts.year, parts.month, parts.day, parts.ambiguous, offset, time)
    return parts


def _offset(zone: str | None) -> dt.timedelta | None:
    """The UTC offset to undo, or None when the time is already China time (or unstated)."""
    if zone is None or zone == "cst":
        return None
    if zone in ("z", "utc", "gmt"):
        return dt.timedelta(0)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return None if sign * delta == _CHINA else sign * delta


def _parse_date(text: str, today: dt.date) -> _Parts:
    if text.isdigit():
        return _parse_digits(text)
    match = _EXCEL.fullmatch(text)
    if match:
        return _excel(int(match.group(1)))
    match = _NUMERIC.fullmatch(text)
    if match:
        return _parse_separated(
            match.group(1), match.group(2), match.group(3), match.group(4), today
        )
    match = _YEAR_MONTH.fullmatch(text)
    if match:
        return _Parts(int(match.group(1)), int(match.group(2)))
    match = _DAY_MON_YEAR.fullmatch(text)
    if match:
        return _Parts(
            _year(match.group(3), today), _month_name(match.group(2)), int(match.group(1))
        )
    match = _MON_DAY_YEAR.fullmatch(text)
    if match:
        return _Parts(
            _year(match.group(3), today), _month_name(match.group(1)), int(match.group(2))
        )
    match = _YEAR_MON_DAY.fullmatch(text)
    if match:
        return _Parts(int(match.group(1)), _month_name(match.group(2)), int(match.group(3)))
    match = _MON_YEAR.fullmatch(text)
    if match:
        return _Parts(int(match.group(2)), _month_name(match.group(1)))
    raise _Unparseable


def _parse_digits(text: str) -> _Parts:
    if len(text) == 4:
        return _Parts(int(text))
    if len(text) == 5:
        return _excel(int(text))
    if len(text) == 6:
        return _Parts(int(text[:4]), int(text[4:]))
    if len(text) in (8, 12, 14):  # YYYYMMDD, optionally followed by hhmm or hhmmss
        return _Parts(int(text[:4]), int(text[4:6]), int(text[6:8]))
    raise _Unparseable


def _excel(serial: int) -> _Parts:
    date = _EXCEL_EPOCH + dt.timedelta(days=serial)
    return _Parts(date.year, date.month, date.day)


def _parse_separated(first: str, sep: str, second: str, third: str, today: dt.date) -> _Parts:
    if len(first) == 4:
        if len(third) > 2:
            raise _Unparseable
        return _Parts(int(first), int(second), int(third))
    if len(first) > 2 or len(third) == 3 or len(third) == 1:
        raise _Unparseable
    if len(third) == 2 and sep in "-.":
        # 90-01-02: a year-first form with a two-digit year, as in legacy 15-digit IDs.
        return _Parts(_year(first, today), int(second), int(third))
    year = _year(third, today)
    a, b = int(first), int(second)
    if sep == "." or a > 12:
        return _Parts(year, b, a)
    return _Parts(year, a, b, ambiguous=b <= 12 and a != b)


def _year(text: str, today: dt.date) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if 2000 + year <= today.year else 1900
    return year


def _month_name(name: str) -> int:
    month = _MONTHS.get(name.rstrip("."))
    if month is None:
        raise _Unparseable
    return month


def _cn_number(text: str, *, positional: bool) -> int:
    """Chinese numerals to int: digit by digit for years (一九九〇), with tens for months and days."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not positional:
        if not text or any(ch not in _CN_DIGITS for ch in text):
            raise _Unparseable
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    if text == "元":
        return 1
    total, pending = 0, None
    for ch in text:
        if ch in _CN_TENS:
            total += _CN_TENS[ch] * (1 if pending is None or _CN_TENS[ch] > 10 else pending)
            pending = None
        elif ch in _CN_DIGITS:
            if pending is not None:
                raise _Unparseable
            pending = _CN_DIGITS[ch]
        else:
            raise _Unparseable
    return total + (pending or 0)


def _parse_chinese(text: str) -> _Parts:
    text = text.replace(" ", "")
    match = _CHINESE.fullmatch(text)
    if match is None:
        raise _Unparseable
    year = _cn_number(match.group(1), positional=False)
    if match.group(2) is None:
        return _Parts(year)
    month = _cn_number(match.group(2), positional=True)
    if match.group(3) is None:
        return _Parts(year, month)
    return _Parts(year, month, _cn_number(match.group(3), positional=True))


# ------------------------------------------------------------------ frames

# Forms polars reads the way the scalar path does, each with ASCII digits only:
# year-first dates (compact, separated by one repeated -, / or ., Chinese
# 年月日), optionally followed by a plain time of day (dropped; no zone, so
# no shift to China time), five-digit Excel serials and "16 APR 1951".
_FAST = (
    r"^(?:([0-9]{4})(?:([0-9]{2})([0-9]{2})(?:[0-9]{4}|[0-9]{6})?"
    r"|([-/.])([0-9]{1,2})([-/.])([0-9]{1,2})"
    r"(?: (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?"
    r"|年([0-9]{1,2})月([0-9]{1,2})[日号])"
    r"|([0-9]{5})"
    r"|([0-9]{1,2}) ([A-Za-z]{3}) ([0-9]{4}))$"
)
_ISO = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_EXCEL_DAYS = (_EXCEL_EPOCH - dt.date(1970, 1, 1)).days
_MONTH_ABBREVIATIONS = {name: month for name, month in _MONTHS.items() if len(name) == 3}


def _parse_fast(values: pl.Series) -> pl.Series:
    """Dates of the ``_FAST`` forms (null for anything else or no such day)."""
    parts = values.str.extract_groups(_FAST).struct.unnest()
    same_separator = pl.col("4") == pl.col("6")
    month_name = pl.col("12").str.to_lowercase().replace_strict(
        _MONTH_ABBREVIATIONS, default=None, return_dtype=pl.String
    )
    year = pl.coalesce("1", "13")
    month = pl.coalesce("2", pl.when(same_separator).then(pl.col("5")), "8", month_name)
    day = pl.coalesce("3", pl.when(same_separator).then(pl.col("7")), "9", "11")
    calendar = pl.concat_str(
        year, pl.lit("-"), month.str.zfill(2), pl.lit("-"), day.str.zfill(2)
    ).str.to_date("%Y-%m-%d", strict=False)
    excel = (pl.col("10").cast(pl.Int32) + _EXCEL_DAYS).cast(pl.Date)
    return parts.select(pl.coalesce(calendar, excel)).to_series()


def _distinct_dates(values: pl.Series, today: dt.date, min_year: int) -> pl.DataFrame:
    """Output columns for distinct non-null raw values: polars for ``_FAST`` forms, else scalar."""
    parsed = _parse_fast(values)
    settled = (
        (parsed.dt.year() >= min_year)
        & (parsed <= today)
        & ~parsed.is_in(pl.Series(sorted(_PLACEHOLDERS), dtype=pl.Date).implode())
    )
    iso = values.str.contains(_ISO)
    out = pl.DataFrame(
        {
            schema.BIRTH_DATE_NORM: parsed,
            schema.BIRTH_DATE_REASON: pl.select(
                pl.when(pl.lit(iso)).then(pl.lit(Reason.OK.value)).otherwise(
                    pl.lit(Reason.CLEANED.value)
                )
            ).to_series(),
            schema.BIRTH_YEAR: parsed.dt.year().cast(pl.Int32),
        }
    )

    def one(text: str) -> tuple[dt.date | None, str, int | None]:
        result = _normalize(text, today, min_year)
        return result.value, result.reason.value, result.year

    # every value here is distinct: no need for map_distinct's deduplication
    unsettled = (~settled.fill_null(False)).arg_true()
    if unsettled.len() == 0:
        return out
    slow = apply_rows(values.gather(unsettled).to_frame(), one, out.schema)
    return scatter_rows(out, unsettled, slow)


def date_columns(
    frame: pl.DataFrame, column: str = schema.BIRTH_DATE, *, min_year: int = MIN_YEAR
) -> pl.DataFrame:
    """``BIRTH_DATE_NORM`` (pl.Date), ``BIRTH_DATE_REASON`` and ``BIRTH_YEAR`` (pl.Int32) per row.

    Birth dates repeat heavily, so each distinct value is read once: ISO,
    compact, other year-first forms, Excel serials and ``16 APR 1951`` by
    polars, everything else by the scalar path.
    """
    if column not in frame.columns:
        raise SchemaError(f"{column}: column missing (have {sorted(frame.columns)})")
    check_min_year(min_year)
    today = dt.date.today()
    return gather_distinct(
        frame.get_column(column).cast(pl.Utf8),
        lambda values: _distinct_dates(values, today, min_year),
        {
            schema.BIRTH_DATE_NORM: None,
            schema.BIRTH_DATE_REASON: Reason.MISSING.value,
            schema.BIRTH_YEAR: None,
        },
    )
