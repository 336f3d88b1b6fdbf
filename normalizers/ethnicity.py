"""Ethnicity (民族): codes, names and spellings folded to the GB/T 3304-1991 two-digit code.

Records carry the code (``01`` or ``1``), the name with or without 族 (汉族, 汉),
traditional characters (漢族), the standard's romanization and two-letter code
(Han, HA), English and Pinyin spellings (Uyghur, Weiwuer), code and name
together (``01汉族``), and former or colloquial names (僮族, 崩龙族, 维族, 蒙族).
The table lives in ``data/ethnicities.tsv``; see its header for the columns.

Former names map to today's group with reason ``ETHNICITY_OLD_NAME``: 僮族 was
renamed 壮族 in 1965, 佧佤族 佤族 in 1962, 崩龙族 德昂族 in 1985, 毛难族 毛南族 in
1986; Taiwan's recognized peoples (阿美, 泰雅 ...) are 高山族 in the mainland
classification; groups still awaiting identification (穿青人, 僜人, 夏尔巴人) are 97.
"""

from __future__ import annotations

import csv
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import polars as pl

from normalizers import schema
from normalizers._vector import map_values
from normalizers.errors import NormalizationError, OnError, SchemaError, check_on_error
from normalizers.reasons import Reason

logger = logging.getLogger(__name__)

_MAX_LEN = 40
# "01汉族", "01-汉族", "1 汉", "汉族(01)": code and name exported together.
_CODE_AND_NAME = re.compile(
    r"^(\d{1,2})\s*[-_:|.、,，/]?\s*(\D+?)$|^(\D+?)\s*[(\[]?\s*(\d{1,2})\s*[)\]]?$"
)
_LATIN_NOISE = re.compile(r"[\s'’`\-_.·]+")
_LATIN_SUFFIXES = ("nationality", "ethnicgroup", "ethnicity", "people", "zu")


@dataclass(frozen=True, slots=True)
class EthnicityResult:
    """GB/T 3304 code (``"01"`` .. ``"56"``, ``"97"``, ``"98"``) and official name, or None."""

    value: str | None
    name: str | None
    reason: Reason


@dataclass(frozen=True, slots=True)
class _Table:
    names: dict[str, str]  # code -> official name
    exact: dict[str, str]  # official name -> code (reason OK)
    aliases: dict[str, str]  # other Chinese forms -> code (CLEANED)
    old: dict[str, str]  # former / colloquial names -> code (ETHNICITY_OLD_NAME)
    latin: dict[str, str]  # folded Latin spellings -> code (CLEANED)


def _fold_latin(text: str) -> str:
    return _LATIN_NOISE.sub("", text).casefold()


@cache
def _table() -> _Table:
    text = (
        resources.files("normalizers.data").joinpath("ethnicities.tsv").read_text(encoding="utf-8")
    )
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    names: dict[str, str] = {}
    exact: dict[str, str] = {}
    aliases: dict[str, str] = {}
    old: dict[str, str] = {}
    latin: dict[str, str] = {}
    for row in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
        code = row["code"]
        names[code] = row["name"]
        exact[row["name"]] = code
        forms = [row["short"], row["roman"], row["letters"], *row["aliases"].split("|")]
        for form in filter(None, forms):
            if form.isascii():
                latin[_fold_latin(form)] = code
            else:
                aliases[form] = code
                if not form.endswith("族"):
                    aliases.setdefault(form + "族", code)
        for form in filter(None, row["old_names"].split("|")):
            old[form] = code
    # Spellings are listed per group; a clash would silently mis-map one of them.
    clash = {k for k in aliases if k in old or k in exact and exact[k] != aliases[k]}
    if clash:
        raise RuntimeError(f"ethnicities.tsv: forms listed twice: {sorted(clash)}")
    return _Table(names, exact, aliases, old, latin)


def ethnic_group_names() -> tuple[str, ...]:
    """Official names of the 56 groups (汉族 ... 基诺族), as they appear in autonomous-area names."""
    return tuple(name for code, name in _table().names.items() if code <= "56")


@cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def normalize_ethnicity(value: str | None, *, on_error: OnError = "reject") -> EthnicityResult:
    """Fold a raw ethnicity value to its GB/T 3304 code.

    ``OK`` for a two-digit code or the official name as written; ``CLEANED`` for
    any other accepted spelling; ``ETHNICITY_OLD_NAME`` for former and colloquial
    names.

    >>> normalize_ethnicity("漢族")
    EthnicityResult(value='01', name='汉族', reason=<Reason.CLEANED: 'CLEANED'>)
    >>> normalize_ethnicity("僮族").reason
    <Reason.ETHNICITY_OLD_NAME: 'ETHNICITY_OLD_NAME'>
    """
    check_on_error(on_error)
    result = _normalize(value)
    if on_error == "raise" and result.reason.rejects:
        shown = None if value is None else value[:_MAX_LEN]
        raise NormalizationError(
            schema.ETHNICITY,
            shown,
            "a GB/T 3304 code (01-56, 97, 98) or ethnicity name",
            result.reason,
        )
    return result


def _normalize(value: str | None) -> EthnicityResult:
    if value is None:
        return EthnicityResult(None, None, Reason.MISSING)
    if len(value) > _MAX_LEN:
        return _result(None, Reason.ETHNICITY_UNRECOGNIZED if value.strip() else Reason.MISSING)
    folded = unicodedata.normalize("NFKC", value).strip()
    if not folded:
        return _result(None, Reason.MISSING)
    code, reason = _lookup(folded)
    if code is None:
        code, reason = _lookup_code_and_name(folded)
    if code is not None and reason is Reason.OK and folded != value:
        reason = Reason.CLEANED
    return _result(code, reason)


def _result(code: str | None, reason: Reason) -> EthnicityResult:
    return EthnicityResult(code, _table().names.get(code) if code else None, reason)


def _code(digits: str) -> str | None:
    number = int(digits)
    if 1 <= number <= 56 or number in (97, 98):
        return f"{number:02d}"
    return None


def _lookup(text: str) -> tuple[str | None, Reason]:
    table = _table()
    if text.isdigit() or re.fullmatch(r"\d{1,2}\.0", text):
        digits = text.removesuffix(".0")
        if len(digits) > 2:
            return None, Reason.ETHNICITY_UNRECOGNIZED
        code = _code(digits)
        if code is None:
            return None, Reason.ETHNICITY_UNRECOGNIZED
        return code, Reason.OK if digits == code else Reason.CLEANED
    if text.isascii():
        key = _fold_latin(text)
        code = table.latin.get(key)
        if code is None:
            for suffix in _LATIN_SUFFIXES:
                if key.endswith(suffix) and key != suffix:
                    code = table.latin.get(key.removesuffix(suffix))
                    if code is not None:
                        break
        return code, Reason.CLEANED if code else Reason.ETHNICITY_UNRECOGNIZED
    simplified = _t2s().convert(text) if not text.isascii() else text
    simplified = re.sub(r"\s+", "", simplified)
    if simplified in table.exact:
        code = table.exact[simplified]
        return code, Reason.OK if simplified == text else Reason.CLEANED
    if simplified in table.aliases:
        return table.aliases[simplified], Reason.CLEANED
    if simplified in table.old:
        return table.old[simplified], Reason.ETHNICITY_OLD_NAME
    return None, Reason.ETHNICITY_UNRECOGNIZED


def _lookup_code_and_name(text: str) -> tuple[str | None, Reason]:
    match = _CODE_AND_NAME.match(text)
    if match is None:
        return None, Reason.ETHNICITY_UNRECOGNIZED
    digits = match.group(1) or match.group(4)
    name = (match.group(2) or match.group(3)).strip()
    by_code = _code(digits)
    by_name, reason = _lookup(name)
    if by_code is None or by_code != by_name:
        return None, Reason.ETHNICITY_UNRECOGNIZED
    return by_code, reason if reason is Reason.ETHNICITY_OLD_NAME else Reason.CLEANED


def ethnicity_columns(frame: pl.DataFrame, column: str = schema.ETHNICITY) -> pl.DataFrame:
    """``ETHNICITY_NORM`` and ``ETHNICITY_REASON`` for every row of ``frame`` (same height and order).

    Ethnicity columns hold a few dozen distinct values, so each is normalized once.
    """
    if column not in frame.columns:
        raise SchemaError(f"{column}: column missing (have {sorted(frame.columns)})")

    def one(value: str | None) -> tuple[str | None, str]:
        result = _normalize(value)
        return result.value, result.reason.value

    return map_values(
        frame.get_column(column).cast(pl.Utf8),
        one,
        {schema.ETHNICITY_NORM: pl.Utf8, schema.ETHNICITY_REASON: pl.Utf8},
    )
