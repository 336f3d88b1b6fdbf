"""Reason codes: the one documented vocabulary for what a normalizer did to a value.

Every normalizer returns a canonical value (or null) together with exactly one
``Reason``.  ``OK`` means the value was already canonical or was cleaned without
loss; every other code says what was found.  Codes whose :attr:`Reason.rejects`
is true mean the canonical value is null: the raw value could not be used.

The documentation of each code lives in :data:`REASON_DOCS`; a test checks that
every member is documented, so a new code cannot be added silently.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """What happened to one raw value on its way to canonical form."""

    # generic
    OK = "OK"
    MISSING = "MISSING"
    CLEANED = "CLEANED"

    # identity documents
    ID_LEGACY_15_UPGRADED = "ID_LEGACY_15_UPGRADED"
    ID_CHECKSUM_FAILED = "ID_CHECKSUM_FAILED"
    ID_MASKED = "ID_MASKED"
    ID_EXCEL_TRUNCATED = "ID_EXCEL_TRUNCATED"
    ID_BAD_LENGTH = "ID_BAD_LENGTH"
    ID_BAD_CHARACTERS = "ID_BAD_CHARACTERS"
    ID_BAD_BIRTH_DATE = "ID_BAD_BIRTH_DATE"
    ID_UNKNOWN_REGION = "ID_UNKNOWN_REGION"
    ID_TYPE_MISMATCH = "ID_TYPE_MISMATCH"
    ID_UNRECOGNIZED = "ID_UNRECOGNIZED"

    # names
    NAME_TRADITIONAL_CONVERTED = "NAME_TRADITIONAL_CONVERTED"
    NAME_VARIANT_FOLDED = "NAME_VARIANT_FOLDED"
    NAME_SEPARATOR_UNIFIED = "NAME_SEPARATOR_UNIFIED"
    NAME_LATIN_IN_HAN_FIELD = "NAME_LATIN_IN_HAN_FIELD"
    NAME_MIXED_SCRIPT = "NAME_MIXED_SCRIPT"
    NAME_PLACEHOLDER = "NAME_PLACEHOLDER"
    NAME_NO_LETTERS = "NAME_NO_LETTERS"
    NAME_TOO_LONG = "NAME_TOO_LONG"
    NAME_MASKED = "NAME_MASKED"
    NAME_OTHER_SCRIPT = "NAME_OTHER_SCRIPT"
    NAME_HAN_IN_LATIN_FIELD = "NAME_HAN_IN_LATIN_FIELD"

    # dates
    DATE_AMBIGUOUS_DAY_MONTH = "DATE_AMBIGUOUS_DAY_MONTH"
    DATE_YEAR_ONLY = "DATE_YEAR_ONLY"
    DATE_YEAR_MONTH_ONLY = "DATE_YEAR_MONTH_ONLY"
    DATE_IMPOSSIBLE = "DATE_IMPOSSIBLE"
    DATE_OUT_OF_RANGE = "DATE_OUT_OF_RANGE"
    DATE_UNPARSEABLE = "DATE_UNPARSEABLE"
    DATE_PLACEHOLDER = "DATE_PLACEHOLDER"

    # sex
    SEX_UNKNOWN = "SEX_UNKNOWN"
    SEX_UNSPECIFIED = "SEX_UNSPECIFIED"
    SEX_UNRECOGNIZED = "SEX_UNRECOGNIZED"

    # phones
    PHONE_LANDLINE = "PHONE_LANDLINE"
    PHONE_FOREIGN = "PHONE_FOREIGN"
    PHONE_EXTENSION_SPLIT = "PHONE_EXTENSION_SPLIT"
    PHONE_MASKED = "PHONE_MASKED"
    PHONE_INVALID = "PHONE_INVALID"

    # ethnicity
    ETHNICITY_OLD_NAME = "ETHNICITY_OLD_NAME"
    ETHNICITY_UNRECOGNIZED = "ETHNICITY_UNRECOGNIZED"

    # addresses
    ADDRESS_REGION_FOUND = "ADDRESS_REGION_FOUND"
    ADDRESS_NO_REGION = "ADDRESS_NO_REGION"
    ADDRESS_REGION_CONFLICTS_ID = "ADDRESS_REGION_CONFLICTS_ID"

    # whole record (batch rejects)
    RECORD_NO_USABLE_FIELD = "RECORD_NO_USABLE_FIELD"
    RECORD_MISSING_KEY = "RECORD_MISSING_KEY"
    RECORD_DUPLICATE_KEY = "RECORD_DUPLICATE_KEY"

    @property
    def rejects(self) -> bool:
        """True when the canonical value is null because the raw value was unusable."""
        return self in _REJECTING

    @property
    def doc(self) -> str:
        return REASON_DOCS[self]


REASON_DOCS: dict[Reason, str] = {
    Reason.OK: "The value was already canonical, or was cleaned without any loss of information.",
    Reason.MISSING: "The raw value was null, empty or whitespace only.",
    Reason.CLEANED: "Formatting was removed (full-width characters, spaces, hyphens, case); the value itself is unchanged.",
    Reason.ID_LEGACY_15_UPGRADED: "A legacy 15-digit resident ID was upgraded to 18 digits (century 19 inserted, check character computed).",
    Reason.ID_CHECKSUM_FAILED: "An 18-character ID fails its ISO 7064 MOD 11-2 (or GB 32100) check character; single-edit repairs are offered.",
    Reason.ID_MASKED: "Part of the ID is masked with * (as in published judgment-debtor lists); the visible prefix and suffix are kept as a pattern.",
    Reason.ID_EXCEL_TRUNCATED: "The last digits were lost to a spreadsheet's 15-significant-digit limit (ends in 000 and fails the check).",
    Reason.ID_BAD_LENGTH: "The cleaned ID has a length no known document uses.",
    Reason.ID_BAD_CHARACTERS: "The ID contains characters no known document uses.",
    Reason.ID_BAD_BIRTH_DATE: "The birth date embedded in a resident ID is not a real calendar date in a plausible range.",
    Reason.ID_UNKNOWN_REGION: "The 6-digit region code of a resident ID was never issued under GB/T 2260 (1981-2024).",
    Reason.ID_TYPE_MISMATCH: "The declared id_type disagrees with the document kind inferred from the number; the number wins.",
    Reason.ID_UNRECOGNIZED: "The value does not match any known identity document format.",
    Reason.NAME_TRADITIONAL_CONVERTED: "Traditional characters were converted to simplified (OpenCC t2s).",
    Reason.NAME_VARIANT_FOLDED: "A variant character was folded to its common form (e.g. 喆 to 哲).",
    Reason.NAME_SEPARATOR_UNIFIED: "A look-alike of the minority-name separator was unified to U+00B7 (·).",
    Reason.NAME_LATIN_IN_HAN_FIELD: "The name field holds a romanized name; it is treated as name_latin.",
    Reason.NAME_MIXED_SCRIPT: "The name mixes Han and Latin letters; the Han part is kept.",
    Reason.NAME_PLACEHOLDER: "The name is a placeholder (无, 不详, 某某, test, N/A ...), not a name.",
    Reason.NAME_NO_LETTERS: "The name contains no letters at all.",
    Reason.NAME_TOO_LONG: "The name is longer than any personal name (over 40 characters).",
    Reason.NAME_MASKED: "The given name (or the whole name) is masked or lost (张某, 张某某, 张*, 李XX, 王?); only a visible surname is kept.",
    Reason.NAME_OTHER_SCRIPT: "The name is written only in a script other than Han or Latin (Cyrillic, kana, Hangul, Arabic ...); it cannot be matched as a Han name.",
    Reason.NAME_HAN_IN_LATIN_FIELD: "The romanized-name field holds a Han name; it is treated as name.",
    Reason.DATE_AMBIGUOUS_DAY_MONTH: "Day and month could be swapped (both <= 12 in a slashed or dotted form); the reading given is the most likely one.",
    Reason.DATE_YEAR_ONLY: "Only the year is known; the canonical date is null and the year is kept.",
    Reason.DATE_YEAR_MONTH_ONLY: "Only year and month are known; the canonical date is null and the year is kept.",
    Reason.DATE_IMPOSSIBLE: "The parts form no calendar date (month 13, 30 February ...).",
    Reason.DATE_OUT_OF_RANGE: "The date is before 1880 or in the future.",
    Reason.DATE_UNPARSEABLE: "No known date format matches.",
    Reason.DATE_PLACEHOLDER: "A system default, not a birth date: 1900-01-01, 1899-12-30/31 (Excel and SQL zero dates) or all zeros.",
    Reason.SEX_UNKNOWN: "GB/T 2261.1 code 0: sex not known.",
    Reason.SEX_UNSPECIFIED: "GB/T 2261.1 code 9: sex not stated.",
    Reason.SEX_UNRECOGNIZED: "The value is not a sex code or word we know.",
    Reason.PHONE_LANDLINE: "A mainland landline with its area code.",
    Reason.PHONE_FOREIGN: "A Hong Kong, Macau, Taiwan or foreign number, kept with its country code.",
    Reason.PHONE_EXTENSION_SPLIT: "An extension (转, ext, -123) was split off into phone_ext.",
    Reason.PHONE_MASKED: "Digits of the phone number are masked; it cannot be used for matching.",
    Reason.PHONE_INVALID: "Not a valid mobile or landline number.",
    Reason.ETHNICITY_OLD_NAME: "A historical or colloquial ethnicity name was mapped to its GB 3304 code.",
    Reason.ETHNICITY_UNRECOGNIZED: "Not a GB 3304 code or ethnicity name.",
    Reason.ADDRESS_REGION_FOUND: "Province, city and/or county were recognized in the address.",
    Reason.ADDRESS_NO_REGION: "No administrative division was recognized in the address.",
    Reason.ADDRESS_REGION_CONFLICTS_ID: "The address's region disagrees with the region code of the record's resident ID (common: people move).",
    Reason.RECORD_NO_USABLE_FIELD: "The record has no usable identifying field (no name, no ID, no phone): it cannot be linked.",
    Reason.RECORD_MISSING_KEY: "The record has no source or no record_id, so it cannot be traced back.",
    Reason.RECORD_DUPLICATE_KEY: "Another row has the same (source, record_id); only the first is linked.",
}

_REJECTING = frozenset(
    {
        Reason.MISSING,
        Reason.ID_MASKED,
        Reason.ID_EXCEL_TRUNCATED,
        Reason.ID_CHECKSUM_FAILED,
        Reason.ID_BAD_LENGTH,
        Reason.ID_BAD_CHARACTERS,
        Reason.ID_BAD_BIRTH_DATE,
        Reason.ID_UNKNOWN_REGION,
        Reason.ID_UNRECOGNIZED,
        Reason.NAME_PLACEHOLDER,
        Reason.NAME_NO_LETTERS,
        Reason.NAME_TOO_LONG,
        Reason.NAME_MASKED,
        Reason.NAME_OTHER_SCRIPT,
        Reason.DATE_YEAR_ONLY,
        Reason.DATE_YEAR_MONTH_ONLY,
        Reason.DATE_IMPOSSIBLE,
        Reason.DATE_OUT_OF_RANGE,
        Reason.DATE_UNPARSEABLE,
        Reason.DATE_PLACEHOLDER,
        Reason.SEX_UNKNOWN,
        Reason.SEX_UNSPECIFIED,
        Reason.SEX_UNRECOGNIZED,
        Reason.PHONE_MASKED,
        Reason.PHONE_INVALID,
        Reason.ETHNICITY_UNRECOGNIZED,
        Reason.RECORD_NO_USABLE_FIELD,
        Reason.RECORD_MISSING_KEY,
        Reason.RECORD_DUPLICATE_KEY,
    }
)
