"""Sex: GB/T 2261.1 codes and the words departments write, folded to ``"M"`` / ``"F"``.

GB/T 2261.1-2003 codes sex as 0 (not known), 1 (male), 2 (female) and 9 (not
stated).  Records also carry 男/女, 男性/女性, forms of address (先生/女士),
English words and letters, in any case and in full-width forms.  Codes 0 and 9
are kept apart (``SEX_UNKNOWN`` / ``SEX_UNSPECIFIED``) because "nobody asked"
and "declined to say" are different facts, though neither gives a value.

The sex encoded in a resident ID (``id_sex``) is a separate column produced by
the ID normalizer; this module never overwrites one with the other.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from typing import Literal

import polars as pl

from normalizers import schema
from normalizers._vector import map_values
from normalizers.errors import NormalizationError, OnError, SchemaError, check_on_error
from normalizers.reasons import Reason

logger = logging.getLogger(__name__)

Sex = Literal["M", "F"]

_MAX_LEN = 32  # longer than any word below: no need to fold a pasted paragraph

# Keys are NFKC-folded, stripped and case-folded.
_WORDS: dict[str, tuple[Sex | None, Reason]] = {}
for _word in ("1", "男", "男性", "男士", "先生", "m", "male", "man", "boy", "男的"):
    _WORDS[_word] = ("M", Reason.OK)
for _word in (
    "2",
    "女",
    "女性",
    "女士",
    "小姐",
    "太太",
    "夫人",
    "f",
    "female",
    "woman",
    "girl",
    "女的",
):
    _WORDS[_word] = ("F", Reason.OK)
for _word in ("0", "未知", "未知的性别", "不详", "不明", "u", "unknown", "unk"):
    _WORDS[_word] = (None, Reason.SEX_UNKNOWN)
for _word in (
    "9",
    "未说明",
    "未说明的性别",
    "未说明性别",
    "其他",
    "其它",
    "x",
    "unspecified",
    "not stated",
    "other",
):
    _WORDS[_word] = (None, Reason.SEX_UNSPECIFIED)
del _word
# Excel turns the numeric codes into floats on export.
for _code in ("0", "1", "2", "9"):
    _sex, _reason = _WORDS[_code]
    _WORDS[_code + ".0"] = (_sex, Reason.CLEANED if _reason is Reason.OK else _reason)
del _code, _sex, _reason


@dataclass(frozen=True, slots=True)
class SexResult:
    """Canonical sex (``"M"``, ``"F"`` or None) and what was done to the raw value."""

    value: Sex | None
    reason: Reason


def normalize_sex(value: str | None, *, on_error: OnError = "reject") -> SexResult:
    """Fold a raw sex value to ``"M"`` / ``"F"``.

    ``OK`` when the value is a known code or word as written (case does not
    matter: ``m`` and ``Male`` are as good as ``M``); ``CLEANED`` when spaces or
    full-width forms had to be removed first.

    >>> normalize_sex("男")
    SexResult(value='M', reason=<Reason.OK: 'OK'>)
    >>> normalize_sex("９").reason
    <Reason.SEX_UNSPECIFIED: 'SEX_UNSPECIFIED'>
    """
    check_on_error(on_error)
    result = _normalize(value)
    if on_error == "raise" and result.reason.rejects:
        raise NormalizationError(
            schema.SEX,
            _shown(value),
            "a GB/T 2261.1 code (1, 2) or a sex word (男, 女, M, F)",
            result.reason,
        )
    return result


def _require_column(frame: pl.DataFrame, column: str) -> None:
    """Raise SchemaError naming ``column`` when ``frame`` lacks it."""
    if column not in frame.columns:
        raise SchemaError(f"{column}: column missing (have {sorted(frame.columns)})")


def _shown(value: str | None) -> str | None:
    return None if value is None else value[:_MAX_LEN]


def _normalize(value: str | None) -> SexResult:
    if value is None:
        return SexResult(None, Reason.MISSING)
    if len(value) > _MAX_LEN:
        return SexResult(None, Reason.SEX_UNRECOGNIZED if value.strip() else Reason.MISSING)
    folded = unicodedata.normalize("NFKC", value).strip()
    if not folded:
        return SexResult(None, Reason.MISSING)
    hit = _WORDS.get(folded.casefold())
    if hit is None:
        return SexResult(None, Reason.SEX_UNRECOGNIZED)
    sex, reason = hit
    if reason is Reason.OK and folded != value:
        reason = Reason.CLEANED
    return SexResult(sex, reason)


def sex_columns(frame: pl.DataFrame, column: str = schema.SEX) -> pl.DataFrame:
    """``SEX_NORM`` and ``SEX_REASON`` for every row of ``frame`` (same height and order).

    Sex columns hold a handful of distinct values, so each is normalized once.
    """
    _require_column(frame, column)

    def one(value: str | None) -> tuple[str | None, str]:
        result = _normalize(value)
        return result.value, result.reason.value

    return map_values(
        frame.get_column(column).cast(pl.Utf8),
        one,
        {schema.SEX_NORM: pl.Utf8, schema.SEX_REASON: pl.Utf8},
    )
