"""Input cleaning that a competent user of a general-purpose linker would write for this data.

Self-contained on purpose: it does not import our ``normalizers``.  Using them would
make a peer's score measure our normalizers inside another engine; a peer should be
run the way a capable analyst would run it, with an afternoon's worth of cleaning:

* NFKC everywhere (full-width digits and letters), whitespace and name separators
  removed, traditional characters folded to simplified with OpenCC ``t2s``;
* a toneless pinyin key for every name, from the Han name (pypinyin, surname =
  first character) or else from the romanized name, with its tokens sorted so that
  ``ZHANG XIAOMING``, ``Xiaoming Zhang`` and 张晓明 agree;
* identity numbers cleaned to ``[0-9A-Z]``, 15-digit resident IDs upgraded to 18
  digits with their check digit, masked and Excel-mangled numbers dropped;
* birth dates parsed from the common formats (ISO, compact, slashes, dots, 年月日,
  ``23 JAN 1970``, Excel serials), else taken from an 18-digit resident ID;
* phones as digits only, without a leading 86/0086 before a mobile number;
* sex from the usual codes (男/女, M/F, 1/2, male/female), else from the ID.

What a general user would not write, and this does not: region-code history,
surname-aware readings of polyphonic characters, ID repair, address parsing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, timedelta
from functools import cache, lru_cache
from typing import Final

import polars as pl

from normalizers import schema as S

# Columns of the prepared frame (peer-internal, not part of our schema).
UID: Final = "unique_id"  # 0-based row number of the input record
NAME_CLEAN: Final = "name_clean"  # simplified Han name without separators, or lower-case Latin
NAME_PY: Final = "name_py"  # sorted toneless pinyin tokens: "xiaoming zhang"
SURNAME_PY: Final = "surname_py"  # pinyin of the surname: "zhang"
ID: Final = "id"  # cleaned document number, 15->18 upgraded; null when masked or mangled
DOB: Final = "dob"  # pl.Date
DOB_TEXT: Final = "dob_text"  # ISO text of DOB, for engines that block on strings
PHONE: Final = "phone"  # digits only
SEX: Final = "sex"  # "M" / "F"
ADDRESS: Final = "address"  # NFKC, simplified, no whitespace, lower-case

PREPARED_COLUMNS: Final[tuple[str, ...]] = (
    UID,
    S.SOURCE,
    S.RECORD_ID,
    NAME_CLEAN,
    NAME_PY,
    SURNAME_PY,
    ID,
    DOB,
    DOB_TEXT,
    PHONE,
    SEX,
    ADDRESS,
)

_HAN = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ffff]")
_NAME_SEPARATORS = re.compile(r"[\s·•・．.\-‧_]+")
_DOT_SEPARATORS = re.compile(r"[·•・．.\-‧_]+")
_LATIN_TOKEN = re.compile(r"[a-z]+")
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
_MONTHS: Final = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_EXCEL_EPOCH: Final = date(1899, 12, 30)
_LATEST_YEAR: Final = 2100
_DATE_PATTERNS: Final = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)
_DAY_MONTH_YEAR: Final = re.compile(r"^(\d{1,2})\s+([a-z]{3})[a-z]*\.?\s+(\d{4})$")
_SEX: Final = {
    "男": "M",
    "男性": "M",
    "m": "M",
    "male": "M",
    "1": "M",
    "女": "F",
    "女性": "F",
    "f": "F",
    "female": "F",
    "2": "F",
}


@lru_cache(maxsize=1)
def _t2s() -> Callable[[str], str]:
    import opencc

    return opencc.OpenCC("t2s").convert


@cache
def _char_pinyin(char: str) -> str:
    """Toneless default reading of one character (memoized: names share few characters)."""
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(char)).lower()


def _pinyin_of(text: str) -> str:
    return "".join(s for s in map(_char_pinyin, text) if s.isalpha())


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def _fold_latin(value: str) -> str:
    """Lower case without accents: Müller -> muller."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


# ------------------------------------------------------------------ names
def clean_name(value: str | None) -> str | None:
    """Han names: simplified, without separators; Latin names: lower-case, single spaces."""
    if not value:
        return None
    text = _nfkc(value)
    if _HAN.search(text):
        text = _NAME_SEPARATORS.sub("", _t2s()(text))
    else:
        text = " ".join(_LATIN_TOKEN.findall(_fold_latin(text)))
    return text or None


def name_tokens(name: str | None, latin: str | None) -> list[str]:
    """Pinyin tokens [surname, given] of a Han name, else the romanized name's tokens.

    A romanized name with a comma ("ZHANG, MEI") puts the surname first.
    """
    han = clean_name(name)
    if han and _HAN.search(han):
        # Transliterated minority and foreign names keep their parts: 阿力木·努尔买买提.
        unspaced = _t2s()(re.sub(r"\s+", "", _nfkc(name or "")))
        parts = [p for p in map(_pinyin_of, _DOT_SEPARATORS.split(unspaced)) if p]
        if len(parts) > 1:
            return parts
        syllables = [s for s in map(_char_pinyin, han) if s.isalpha()]
        if not syllables:
            return []
        return [syllables[0], "".join(syllables[1:])] if len(syllables) > 1 else syllables
    if latin:
        text = _fold_latin(latin)
        if "," in text:
            surname, _, given = text.partition(",")
            return [*_LATIN_TOKEN.findall(surname), "".join(_LATIN_TOKEN.findall(given))]
        return _LATIN_TOKEN.findall(text)
    if han:  # a Latin name written in the Han-name field
        return han.split()
    return []


def name_key(name: str | None, latin: str | None) -> tuple[str | None, str | None]:
    """(sorted pinyin tokens joined by spaces, surname pinyin) of a record's name."""
    tokens = [t for t in name_tokens(name, latin) if t]
    if not tokens:
        return None, None
    return " ".join(sorted(tokens)), tokens[0]


# -------------------------------------------------------------------- ids
def id_check_digit(first17: str) -> str:
    """GB 11643 check character of the first 17 digits of a resident ID."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def upgrade_15_to_18(id15: str) -> str:
    """18-digit form of a 15-digit resident ID: century 19 inserted, check digit added."""
    first17 = id15[:6] + "19" + id15[6:]
    return first17 + id_check_digit(first17)


def clean_id(value: str | None) -> str | None:
    """Upper-case alphanumerics of a document number; 15-digit IDs upgraded; null if masked."""
    if not value:
        return None
    text = _nfkc(value).upper()
    if "*" in text or "E+" in text:  # masked, or Excel's scientific notation: unrecoverable
        return None
    text = re.sub(r"[^0-9A-Z]", "", text)
    if len(text) == 15 and text.isdigit():
        text = upgrade_15_to_18(text)
    return text or None


def _id_date(cleaned: str | None) -> date | None:
    if not cleaned or len(cleaned) != 18 or not cleaned[:17].isdigit():
        return None
    return _make_date(cleaned[6:10], cleaned[10:12], cleaned[12:14])


def _id_sex(cleaned: str | None) -> str | None:
    if not cleaned or len(cleaned) != 18 or not cleaned[:17].isdigit():
        return None
    return "M" if int(cleaned[16]) % 2 else "F"


# ------------------------------------------------------------------ dates
def _make_date(year: str, month: str, day: str) -> date | None:
    try:
        parsed = date(int(year), int(month), int(day))
    except ValueError:
        return None
    return parsed if parsed.year <= _LATEST_YEAR else None  # e.g. 7981 from a mistyped ID


def parse_date(value: str | None) -> date | None:
    """A birth date in one of the common formats, or None (month-only dates too)."""
    if not value:
        return None
    text = _nfkc(value).lower()
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            return _make_date(*match.groups())
    match = _DAY_MONTH_YEAR.match(text)
    if match and match.group(2) in _MONTHS:
        return _make_date(match.group(3), str(_MONTHS[match.group(2)]), match.group(1))
    if text.isdigit() and len(text) == 5:  # an Excel date serial
        return _EXCEL_EPOCH + timedelta(days=int(text))
    return None


# ------------------------------------------------------------ other fields
def clean_phone(value: str | None) -> str | None:
    """Digits only, without a country code 86/0086 in front of a mobile number."""
    if not value:
        return None
    digits = re.sub(r"\D", "", _nfkc(value))
    for prefix in ("0086", "86"):
        rest = digits[len(prefix) :]
        if digits.startswith(prefix) and len(rest) == 11 and rest.startswith("1"):
            return rest
    return digits or None


def clean_sex(value: str | None) -> str | None:
    if not value:
        return None
    return _SEX.get(_nfkc(value).lower())


def clean_address(value: str | None) -> str | None:
    if not value:
        return None
    text = _nfkc(value)
    if _HAN.search(text):
        text = re.sub(r"\s+", "", _t2s()(text))
    else:
        text = " ".join(_fold_latin(text).split())
    return text or None


# ------------------------------------------------------------------ frame
def _map_distinct(
    series: pl.Series, func: Callable[[str], object], dtype: pl.DataType
) -> pl.Series:
    """``func`` applied once per distinct non-null value of a string series."""
    distinct = series.drop_nulls().unique()
    values = [func(v) for v in distinct.to_list()]
    mapped = pl.Series(values, dtype=dtype)
    return series.replace_strict(distinct, mapped, default=None, return_dtype=dtype)


def prepare(records: pl.DataFrame) -> pl.DataFrame:
    """The peer-side cleaned columns (:data:`PREPARED_COLUMNS`) of canonical raw records."""
    names = records.select(
        pl.concat_str(
            pl.col(S.NAME).fill_null(""), pl.lit("\x1f"), pl.col(S.NAME_LATIN).fill_null("")
        )
    ).to_series()

    def both_keys(joined: str) -> tuple[str | None, str | None]:
        name, _, latin = joined.partition("\x1f")
        return name_key(name or None, latin or None)

    key_struct = pl.Struct({NAME_PY: pl.String, SURNAME_PY: pl.String})
    keys = _map_distinct(
        names, lambda v: dict(zip((NAME_PY, SURNAME_PY), both_keys(v))), key_struct
    )
    ids = _map_distinct(records.get_column(S.ID_NUMBER), clean_id, pl.String)
    id_dates = _map_distinct(ids, _id_date, pl.Date)
    id_sexes = _map_distinct(ids, _id_sex, pl.String)
    dob = _map_distinct(records.get_column(S.BIRTH_DATE), parse_date, pl.Date).fill_null(id_dates)
    sex = _map_distinct(records.get_column(S.SEX), clean_sex, pl.String).fill_null(id_sexes)
    name_clean = _map_distinct(records.get_column(S.NAME), clean_name, pl.String)
    latin_clean = _map_distinct(records.get_column(S.NAME_LATIN), clean_name, pl.String)
    return pl.DataFrame(
        {
            UID: pl.int_range(records.height, dtype=pl.Int64, eager=True),
            S.SOURCE: records.get_column(S.SOURCE),
            S.RECORD_ID: records.get_column(S.RECORD_ID),
            NAME_CLEAN: name_clean.fill_null(latin_clean),
            NAME_PY: keys.struct.field(NAME_PY),
            SURNAME_PY: keys.struct.field(SURNAME_PY),
            ID: ids,
            DOB: dob,
            DOB_TEXT: dob.dt.to_string("%Y-%m-%d"),
            PHONE: _map_distinct(records.get_column(S.PHONE), clean_phone, pl.String),
            SEX: sex,
            ADDRESS: _map_distinct(records.get_column(S.ADDRESS), clean_address, pl.String),
        }
    )
