"""Identity-document numbers: resident IDs, HK/Macau/Taiwan permits, PR IDs, passports, USCCs.

:func:`normalize_id` is the scalar reference: it cleans the characters, infers
the document kind from the number (a declared ``id_type`` is only a hint),
validates what can be validated (check characters, embedded birth date, region
code) and derives a stable matching key that survives document reissue.
:func:`id_columns` gives the same answers for a whole frame: polars expressions
settle the common forms (valid, formatted, legacy, masked and truncated resident
IDs, checksum failures with their repairs) and only the rest calls the scalar
function, once per distinct value.

Numbers are never logged and never appear unmasked in messages.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import polars as pl

from normalizers import schema
from normalizers._id_forms import (
    FIXED_LENGTH_KINDS,
    MAX_LENGTH,
    PLACEHOLDERS,
    IdKind,
    clean_text,
    is_masked,
    kind_of_18,
    mask_pattern,
    parse_hint,
)
from normalizers._id_repair import birth_date_of, checksum_ok, region_of, repairs_of, sex_of
from normalizers.checksums import resident_check_char, uscc_checksum_ok
from normalizers.errors import NormalizationError, OnError, check_on_error
from normalizers.masking import mask_id
from normalizers.reasons import Reason
from normalizers.regions import region_table

__all__ = ["IdKind", "IdResult", "id_columns", "normalize_id", "upgrade_15_to_18"]

_DIGITS18 = re.compile(r"[0-9]{17}[0-9X]")
_DIGITS15 = re.compile(r"[0-9]{15}")
_USCC_FORM = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_ONE_BAD_BODY_CHAR = re.compile(r"[0-9]*[A-Z][0-9]*[0-9X]")
_HK_MO = re.compile(r"([HM][0-9]{8})([0-9]{2})?")
_TW = re.compile(r"([0-9]{8})([0-9]{2})?(?:\(([0-9A-Z]{1,2})\)|([A-Z]))?")
_FOREIGN_PR_2017 = re.compile(r"[A-Z]{3}[0-9]{12}")
_PASSPORT_CLEAR = re.compile(r"[A-Z]{1,2}[0-9]{7,8}")
_PASSPORT_ANY = re.compile(r"[A-Z0-9]{5,20}")
_DIGITS_ONLY = re.compile(r"[0-9]+X?")
_DOCUMENT_CHARS = re.compile(r"[0-9A-Z()]+")

_EXPECTED: dict[Reason, str] = {
    Reason.MISSING: "an identity document number",
    Reason.ID_BAD_LENGTH: "an 18-digit resident ID number (GB 11643) or another document's length",
    Reason.ID_BAD_CHARACTERS: "only the digits and letters of an identity document",
    Reason.ID_CHECKSUM_FAILED: "a correct check character (GB 11643 MOD 11-2 or GB 32100)",
    Reason.ID_MASKED: "an unmasked number",
    Reason.ID_EXCEL_TRUNCATED: "all 18 digits (a spreadsheet kept only the first 15)",
    Reason.ID_BAD_BIRTH_DATE: "a real birth date between 1880 and today in positions 7-14",
    Reason.ID_UNKNOWN_REGION: "a GB/T 2260 region code (1981-2024) in positions 1-6",
    Reason.ID_UNRECOGNIZED: "a resident ID, HK/Macau/Taiwan permit, PR ID, passport or USCC",
}


@dataclass(frozen=True, slots=True)
class IdResult:
    """One normalized identity-document number.

    ``norm`` and ``key`` are set only when the number is usable.  ``birth_date``,
    ``sex`` and the region fields come from the number itself: for valid numbers,
    and for masked or spreadsheet-truncated ones as far as their visible digits go.
    """

    kind: IdKind
    clean: str | None
    norm: str | None
    key: str | None
    reason: Reason
    birth_date: dt.date | None = None
    sex: str | None = None
    region: str | None = None
    region_current: str | None = None
    mask_pattern: str | None = None
    repairs: tuple[str, ...] = ()

    @property
    def individual_business(self) -> bool:
        """True for the valid USCC of an individual business (个体工商户, 92...): a person."""
        return self.kind is IdKind.USCC and self.norm is not None and self.norm.startswith("92")


def normalize_id(
    value: str | None,
    *,
    id_type: str | None = None,
    birth_date: dt.date | None = None,
    on_error: OnError = "reject",
) -> IdResult:
    """Normalize one identity-document number.

    ``id_type`` is the declared document type (身份证, 护照, 511 ...): a hint used
    only where the number's form is ambiguous; when the number clearly is
    another document it wins and the reason is ``ID_TYPE_MISMATCH``.
    ``birth_date`` is the record's own birth date: repairs of a failed resident
    ID must agree with it.

    >>> normalize_id("110101199003071233").key
    'RESIDENT:110101199003071233'
    >>> normalize_id("4403**********123X").mask_pattern
    '4403**********123X'
    """
    mode = check_on_error(on_error)
    if isinstance(birth_date, dt.datetime):
        birth_date = birth_date.date()
    elif not isinstance(birth_date, dt.date):
        birth_date = None
    hint = parse_hint(None if id_type is None else str(id_type))
    result = _normalize(value, hint, birth_date)
    if mode == "raise" and result.reason.rejects:
        shown = mask_id(result.clean if result.clean is not None else value)
        expected = _EXPECTED.get(result.reason, "a valid identity document number")
        raise NormalizationError(schema.ID_NUMBER, shown, expected, result.reason)
    return result


def upgrade_15_to_18(id15: str) -> str:
    """Upgrade a legacy 15-digit resident ID: century 19 after the region, then the check character.

    >>> upgrade_15_to_18("110105491231002")
    '11010519491231002X'
    """
    if not isinstance(id15, str) or not _DIGITS15.fullmatch(id15):
        text = None if id15 is None else str(id15)
        reason = Reason.ID_BAD_LENGTH if text and text.isdigit() else Reason.ID_BAD_CHARACTERS
        raise NormalizationError(schema.ID_NUMBER, mask_id(text), "15 ASCII digits", reason)
    body = id15[:6] + "19" + id15[6:]
    return body + resident_check_char(body)


def id_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The ID output columns of :mod:`normalizers.schema` for every row of ``frame``, in row order.

    Reads ``id_number``, and ``id_type`` and ``birth_date_norm`` when present.
    """
    from normalizers._id_frame import frame_columns  # the frame path calls back into this module

    return frame_columns(frame)


# --------------------------------------------------------------- scalar path


def _normalize(value: object, hint: IdKind | None, birth_date: dt.date | None) -> IdResult:
    if value is None:
        return IdResult(IdKind.UNKNOWN, None, None, None, Reason.MISSING)
    raw = value if isinstance(value, str) else str(value)
    cleaned = clean_text(raw)
    clean = cleaned.text
    if not clean or clean in PLACEHOLDERS:
        return IdResult(IdKind.UNKNOWN, clean or None, None, None, Reason.MISSING)
    if len(clean) > MAX_LENGTH:
        result = _unrecognized(clean, hint)
    elif cleaned.spreadsheet == "scientific":
        result = _scientific(clean, cleaned.known, hint)
    elif is_masked(clean):
        result = _masked(clean, hint)
    elif _DIGITS18.fullmatch(clean):
        result = _eighteen(clean, hint, birth_date, float_mangled=cleaned.spreadsheet == "float")
    elif _DIGITS15.fullmatch(clean):
        result = _legacy(clean)
    else:
        result = _other_document(clean, hint, birth_date)
    if result.reason is not Reason.OK:
        return result
    if hint is not None and hint is not result.kind:
        return _amend(result, Reason.ID_TYPE_MISMATCH)
    if result.norm != raw:
        return _amend(result, Reason.CLEANED)
    return result


def _amend(r: IdResult, reason: Reason, clean: str | None = None) -> IdResult:
    """``r`` with another reason (and clean value); dataclasses.replace is slow on the hot path."""
    return IdResult(
        r.kind,
        r.clean if clean is None else clean,
        r.norm,
        r.key,
        reason,
        r.birth_date,
        r.sex,
        r.region,
        r.region_current,
        r.mask_pattern,
        r.repairs,
    )


def _valid_18(number: str, kind: IdKind) -> IdResult:
    """A number whose check character is right: validate the birth date and region."""
    born = birth_date_of(number[6:14])
    if born is None:
        return IdResult(kind, number, None, None, Reason.ID_BAD_BIRTH_DATE)
    bad_region, region, current = region_of(kind, number)
    if bad_region is not None:
        return IdResult(kind, number, None, None, bad_region)
    return IdResult(
        kind,
        number,
        number,
        f"{kind.value}:{number}",
        Reason.OK,
        born,
        sex_of(number[16]),
        region,
        current,
    )


def _uscc(code: str, reason: Reason = Reason.OK) -> IdResult:
    if reason is Reason.OK:
        return IdResult(IdKind.USCC, code, code, f"{IdKind.USCC.value}:{code}", reason)
    return IdResult(IdKind.USCC, code, None, None, reason)


def _eighteen(
    number: str, hint: IdKind | None, born: dt.date | None, *, float_mangled: bool
) -> IdResult:
    if checksum_ok(number):
        valid = _valid_18(number, kind_of_18(number))
        # A USCC hint takes a number that both checks pass only when it is no valid personal
        # ID (birth date, region): in records of persons a mislabelled type field is far
        # likelier than a credit code shaped like a person's ID.  It also keeps a 15-digit
        # legacy ID, upgraded whatever the hint, the same person's ID when normalized again.
        if hint is IdKind.USCC and uscc_checksum_ok(number) and valid.reason is not Reason.OK:
            return _uscc(number)
        return valid
    # an all-digit USCC carries a real region code where an ID has county digits + century
    if uscc_checksum_ok(number) and region_table().is_known(number[2:8]):
        return _uscc(number)
    kind = kind_of_18(number)
    if hint is IdKind.USCC or (kind is IdKind.FOREIGN_PR and birth_date_of(number[6:14]) is None):
        return _uscc(number, Reason.ID_CHECKSUM_FAILED)
    if float_mangled or number.endswith("000"):
        return _truncated(number, number[:15].ljust(18, "*"))
    return IdResult(
        kind, number, None, None, Reason.ID_CHECKSUM_FAILED, repairs=repairs_of(number, born)
    )


def _legacy(number15: str) -> IdResult:
    result = _valid_18(upgrade_15_to_18(number15), IdKind.RESIDENT)
    reason = Reason.ID_LEGACY_15_UPGRADED if result.reason is Reason.OK else result.reason
    return _amend(result, reason, clean=number15)


def _with_visible_parts(kind: IdKind, clean: str, reason: Reason, pattern: str) -> IdResult:
    """A rejected number whose pattern still shows region, birth date or sex."""
    _, region, current = region_of(kind, pattern)
    return IdResult(
        kind,
        clean,
        None,
        None,
        reason,
        birth_date_of(pattern[6:14]),
        sex_of(pattern[16]),
        region,
        current,
        pattern,
    )


def _truncated(number: str, pattern: str) -> IdResult:
    return _with_visible_parts(kind_of_18(pattern), number, Reason.ID_EXCEL_TRUNCATED, pattern)


def _masked(clean: str, hint: IdKind | None) -> IdResult:
    pattern = mask_pattern(clean)
    if pattern is None:
        return IdResult(hint or IdKind.UNKNOWN, clean, None, None, Reason.ID_MASKED)
    return _with_visible_parts(kind_of_18(pattern, hint), clean, Reason.ID_MASKED, pattern)


def _scientific(digits: str, known: int, hint: IdKind | None) -> IdResult:
    """A number a spreadsheet showed in scientific notation (``1.10101199003071E+17``).

    Spreadsheets keep 15 significant digits; with fewer shown, the last shown
    one may have been rounded, so it is not trusted.
    """
    visible = digits[:15] if known >= 15 else digits[: max(known - 1, 0)]
    if len(digits) == 18:
        return _truncated(digits, visible.ljust(18, "*"))
    if len(digits) == 15:
        if known >= 15:  # a 15-digit legacy ID survives a spreadsheet intact
            return _legacy(digits)
        pattern = mask_pattern(visible.ljust(15, "*"))
        if pattern is not None:
            return _with_visible_parts(IdKind.RESIDENT, digits, Reason.ID_EXCEL_TRUNCATED, pattern)
    return IdResult(hint or IdKind.UNKNOWN, digits, None, None, Reason.ID_BAD_LENGTH)


def _other_document(clean: str, hint: IdKind | None, born: dt.date | None) -> IdResult:
    """Everything that is not an 18- or 15-digit number, masked or spreadsheet-mangled."""
    if len(clean) == 18:
        if uscc_checksum_ok(clean):
            return _uscc(clean)
        if hint is IdKind.USCC:
            return _uscc(clean, Reason.ID_CHECKSUM_FAILED)
        if _ONE_BAD_BODY_CHAR.fullmatch(clean):
            kind = kind_of_18(clean)
            return IdResult(
                kind, clean, None, None, Reason.ID_BAD_CHARACTERS, repairs=repairs_of(clean, born)
            )
        if _USCC_FORM.fullmatch(clean):
            return _uscc(clean, Reason.ID_CHECKSUM_FAILED)
    if hint is not IdKind.PASSPORT:
        m = _HK_MO.fullmatch(clean)
        if m:
            return _document(IdKind.HK_MO_PERMIT, clean, m[1])
    if _FOREIGN_PR_2017.fullmatch(clean):
        return _document(IdKind.FOREIGN_PR, clean, clean)
    m = _TW.fullmatch(clean)
    if m and hint is not IdKind.PASSPORT and hint not in FIXED_LENGTH_KINDS:
        suffix = m[3] or m[4]
        norm = m[1] + (m[2] or "") + (f"({suffix})" if suffix else "")
        return _document(IdKind.TW_PERMIT, norm, m[1], clean)
    if (len(clean) in (8, 9) and _PASSPORT_CLEAR.fullmatch(clean)) or (
        hint is IdKind.PASSPORT and _PASSPORT_ANY.fullmatch(clean) and not clean.isalpha()
    ):
        return _document(IdKind.PASSPORT, clean, clean)
    return _unrecognized(clean, hint)


def _unrecognized(clean: str, hint: IdKind | None) -> IdResult:
    """Why a value is no document: wrong length, characters no document uses, or no known form."""
    kind = hint or IdKind.UNKNOWN
    if _DIGITS_ONLY.fullmatch(clean):
        return IdResult(kind, clean, None, None, Reason.ID_BAD_LENGTH)
    if not _DOCUMENT_CHARS.fullmatch(clean):
        return IdResult(kind, clean, None, None, Reason.ID_BAD_CHARACTERS)
    return IdResult(kind, clean, None, None, Reason.ID_UNRECOGNIZED)


def _document(kind: IdKind, norm: str, key_value: str, clean: str | None = None) -> IdResult:
    return IdResult(kind, clean or norm, norm, f"{kind.value}:{key_value}", Reason.OK)
