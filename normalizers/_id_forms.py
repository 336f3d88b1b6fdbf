"""Surface forms of identity-document numbers: character cleaning, the id_type hint, masks.

Everything here looks only at the characters of one value; what the digits
mean (check characters, birth dates, region codes) lives in
:mod:`normalizers._id_repair` and :mod:`normalizers.ids`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class IdKind(StrEnum):
    """The kind of identity document a number belongs to, inferred from the number itself.

    RESIDENT: mainland citizen identity number (GB 11643-1999, 18 digits).
    HMT_PERMIT: HK/Macau/Taiwan residents' residence permit (810000/820000/830000 + GB 11643).
    HK_MO_PERMIT: 港澳居民来往内地通行证, H/M + 8 digits (+ a 2-digit reissue count).
    TW_PERMIT: 台湾居民来往大陆通行证, an 8-digit lifetime number (+ older suffixes).
    FOREIGN_PR: foreigners' PR ID: 3 letters + 12 digits (2017), or 9 + GB 11643 (2023).
    PASSPORT: any passport; matched exactly, as numbers change on renewal.
    USCC: unified social credit code (GB 32100-2015); prefix 92 is an individual business.
    """

    RESIDENT = "RESIDENT"
    HMT_PERMIT = "HMT_PERMIT"
    HK_MO_PERMIT = "HK_MO_PERMIT"
    TW_PERMIT = "TW_PERMIT"
    FOREIGN_PR = "FOREIGN_PR"
    PASSPORT = "PASSPORT"
    USCC = "USCC"
    UNKNOWN = "UNKNOWN"


FIXED_LENGTH_KINDS = frozenset({IdKind.RESIDENT, IdKind.HMT_PERMIT, IdKind.USCC, IdKind.FOREIGN_PR})
"""Kinds whose numbers have one length: a hint naming one rules out the Taiwan permit reading."""

# Characters that stand for X (in check characters and masks) or for *.  NFKC already folds
# full-width Ｘ and the Roman numeral Ⅹ; these survive it.
_X_LOOKALIKES = "\u00d7\u0425\u0445\u03a7\u03c7\u2715\u2716\u2573"  # × Х х Χ χ ✕ ✖ ╳
_MASK_CHARS = "\u25cf\u25cb\u25a0\u25a1\u2605\u2606\u2731\u2217\u203b"  # ● ○ ■ □ ★ ☆ ✱ ∗ ※
_LOOKALIKES = str.maketrans(
    {**dict.fromkeys(_X_LOOKALIKES, "X"), **dict.fromkeys(_MASK_CHARS, "*")}
)
# Formatting that carries no information: whitespace (incl. zero-width), hyphens,
# underscores, and the quotes and apostrophes spreadsheet users type to force text.
_REMOVABLE = re.compile(
    r"[\s\u200b-\u200d\u2060\ufeff\-\u2010-\u2015\u2212_'\"`\u2018-\u201f「」『』]+"
)
_DOTS = re.compile(r"[.·・。]+")
_SCIENTIFIC = re.compile(r"([0-9])(?:\.([0-9]+))?E\+?([0-9]{1,2})")
_FLOAT_SUFFIX = re.compile(r"([0-9]+)\.0+")

MAX_LENGTH = 40  # no document number is longer; longer values skip the pattern matching
PLACEHOLDERS = frozenset(
    {"NULL", "NONE", "NAN", "NA", "N/A", "无", "不详", "空", "/", "\\", "?", "？"}
)


@dataclass(frozen=True, slots=True)
class Cleaned:
    """A value after character cleaning.

    ``spreadsheet`` tells how a spreadsheet mangled the number: ``"scientific"``
    (``1.10101199003071E+17``; ``known`` significant digits survive), ``"float"``
    (``...1234.0``: an 18-digit float lost its last digits) or ``None``.
    """

    text: str
    spreadsheet: str | None = None
    known: int = 0


def clean_text(value: str) -> Cleaned:
    """Fold width and look-alikes, drop formatting, upper-case; undo spreadsheet notation."""
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value).translate(_LOOKALIKES)
    text = _REMOVABLE.sub("", value).upper()
    if "E" in text:
        m = _SCIENTIFIC.fullmatch(text)
        if m:
            digits = m[1] + (m[2] or "")
            width = int(m[3]) + 1
            if len(digits) <= width:
                return Cleaned(digits.ljust(width, "0"), "scientific", len(digits))
    if "." in text:
        m = _FLOAT_SUFFIX.fullmatch(text)
        if m:
            return Cleaned(m[1], "float" if len(m[1]) > 15 else None)
    if not text.isascii() or "." in text:
        text = _DOTS.sub("", text)
    return Cleaned(text)


# ------------------------------------------------------------------ id_type hint

_HINT_CODES: dict[str, IdKind] = {
    # GA/T 517 / GB/T codes for document types, and the short codes of bank systems
    "01": IdKind.RESIDENT,
    "111": IdKind.RESIDENT,
    "112": IdKind.RESIDENT,
    "411": IdKind.PASSPORT,
    "412": IdKind.PASSPORT,
    "413": IdKind.PASSPORT,
    "414": IdKind.PASSPORT,
    "511": IdKind.TW_PERMIT,
    "516": IdKind.HK_MO_PERMIT,
    "553": IdKind.FOREIGN_PR,
    "RESIDENT": IdKind.RESIDENT,
    "IDCARD": IdKind.RESIDENT,
    "ID": IdKind.RESIDENT,
    "PASSPORT": IdKind.PASSPORT,
    "USCC": IdKind.USCC,
}
# Order matters: 外国人永久居留身份证 contains 身份证, 港澳台居民居住证 contains 港澳.
_HINT_WORDS: tuple[tuple[tuple[str, ...], IdKind], ...] = (
    (("护照", "PASSPORT"), IdKind.PASSPORT),
    (("信用代码", "营业执照", "个体工商户", "CREDITCODE"), IdKind.USCC),
    (("永久居留", "永居", "绿卡"), IdKind.FOREIGN_PR),
    (("居民居住证", "港澳台居住证", "港澳居住证", "台湾居住证"), IdKind.HMT_PERMIT),
    (("台胞", "台湾居民来往", "台湾通行证", "台湾居民往来"), IdKind.TW_PERMIT),
    (("回乡证", "港澳居民来往", "港澳居民往来", "港澳通行证", "港澳同胞"), IdKind.HK_MO_PERMIT),
    (("身份证", "身份号码"), IdKind.RESIDENT),
)


@lru_cache(maxsize=4096)
def parse_hint(id_type: str | None) -> IdKind | None:
    """The document kind a declared id_type names, or None when it names none we know."""
    if id_type is None:
        return None
    text = _REMOVABLE.sub("", unicodedata.normalize("NFKC", str(id_type))).upper()
    if not text:
        return None
    if text in _HINT_CODES:
        return _HINT_CODES[text]
    for words, kind in _HINT_WORDS:
        if any(w in text for w in words):
            return kind
    return None


# ------------------------------------------------------------------------ masks

_DIGITS_AND_X = re.compile(r"[0-9X]+")
_SINGLE_RUN = re.compile(r"([0-9]*)(\*+)([0-9]*X?)")
_HMT_PREFIXES = ("810000", "820000", "830000")


def is_masked(clean: str) -> bool:
    """True when the value hides characters behind * (or a run of X, where X cannot be real)."""
    return "*" in clean or ("XXX" in clean and _DIGITS_AND_X.fullmatch(clean) is not None)


def mask_pattern(clean: str) -> str | None:
    """The 18-character pattern of a masked resident-style ID, or None when no pattern is certain.

    Visible characters keep their place and every hidden one becomes ``*``.  A
    15-character mask of a legacy ID is widened to 18: the century ``19`` is
    known and the check character is not.  Masks whose run of stars is shorter
    or longer than what it hides (``110101****1234``) are read as 18-digit IDs
    with the visible prefix and suffix in place.
    """
    text = clean
    if len(text) > MAX_LENGTH:
        return None
    if "*" not in text:
        # X-run masks: only a final X directly after a digit can be a check character
        last = text[-1]
        if last == "X" and not (len(text) > 1 and text[-2].isdigit()):
            last = "*"
        text = text[:-1].replace("X", "*") + last
    if not re.fullmatch(r"[0-9*]*[0-9X*]", text):
        return None
    if len(text) == 18:
        return text
    if len(text) == 15 and not text.endswith("X"):
        return text[:6] + "19" + text[6:15] + "*"
    m = _SINGLE_RUN.fullmatch(text)
    if m is None:
        return None
    head, tail = m[1], m[3]
    if not 1 <= len(head) + len(tail) <= 17:
        return None
    return head + "*" * (18 - len(head) - len(tail)) + tail


def kind_of_18(text: str, hint: IdKind | None = None) -> IdKind:
    """Which 18-digit family a (possibly masked) number belongs to, by its prefix."""
    if text.startswith(_HMT_PREFIXES):
        return IdKind.HMT_PERMIT
    if text.startswith("9"):
        return IdKind.FOREIGN_PR
    if text.startswith("*") and hint in (IdKind.HMT_PERMIT, IdKind.FOREIGN_PR):
        return hint
    return IdKind.RESIDENT
