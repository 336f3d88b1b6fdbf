"""Column names of the canonical person record and of each stage's output.

This module is the input contract of the whole project: every other module
refers to columns through these constants, never through string literals.

Raw (input) columns are all strings and may be null; any other input column
passes through every stage untouched.  Normalized columns are added next to the
raw ones by :func:`normalizers.normalize_frame`; their names are ``<field>_norm``
(the canonical value, null when unusable), ``<field>_reason`` (a
:class:`normalizers.Reason` value) and derived keys.
"""

from __future__ import annotations

from typing import Final

# ---------------------------------------------------------------- raw record
SOURCE: Final = "source"            # the department that sent the record
RECORD_ID: Final = "record_id"      # unique within its source
NAME: Final = "name"                # name as written, Han or otherwise
NAME_LATIN: Final = "name_latin"    # romanized name (passport, bank, HK/Macau/Taiwan spellings)
ID_TYPE: Final = "id_type"          # declared document type (a hint only)
ID_NUMBER: Final = "id_number"
BIRTH_DATE: Final = "birth_date"
SEX: Final = "sex"
PHONE: Final = "phone"
ADDRESS: Final = "address"
ETHNICITY: Final = "ethnicity"

RAW_COLUMNS: Final[tuple[str, ...]] = (
    SOURCE, RECORD_ID, NAME, NAME_LATIN, ID_TYPE, ID_NUMBER,
    BIRTH_DATE, SEX, PHONE, ADDRESS, ETHNICITY,
)
KEY_COLUMNS: Final[tuple[str, ...]] = (SOURCE, RECORD_ID)

# ---------------------------------------------------------- normalized record
ROW_ID: Final = "row_id"            # dense 0..n-1 integer; stages pass these, not strings

# identity document
ID_KIND: Final = "id_kind"          # an IdKind value, inferred from the number (id_type is a hint)
ID_CLEAN: Final = "id_clean"        # the number after character cleaning, valid or not
ID_NORM: Final = "id_norm"          # canonical number (15->18 upgraded); null unless valid
ID_KEY: Final = "id_key"            # stable person key: "<kind>:<value>"; survives document reissue
ID_REASON: Final = "id_reason"
ID_BIRTH_DATE: Final = "id_birth_date"  # date embedded in a resident ID
ID_SEX: Final = "id_sex"            # "M"/"F" from the 17th digit; separate from the record's sex
ID_REGION: Final = "id_region"      # the 6-digit region code as issued
ID_REGION_CURRENT: Final = "id_region_current"  # mapped forward to today's code
ID_MASK_PATTERN: Final = "id_mask_pattern"  # masked IDs: visible chars kept, '*' elsewhere (18 long)
ID_REPAIRS: Final = "id_repairs"    # list[str]: valid single-edit/transposition repairs of a failed ID

# name
NAME_NORM: Final = "name_norm"      # simplified, variant-folded, separators unified, no spaces
NAME_REASON: Final = "name_reason"
NAME_SURNAME: Final = "name_surname"
NAME_GIVEN: Final = "name_given"
NAME_SURNAME_ALT: Final = "name_surname_alt"  # other reading when the split is ambiguous (double surnames)
NAME_PINYIN: Final = "name_pinyin"  # surname-aware toneless syllables, space separated: "shan xiong xin"
NAME_PINYIN_INITIALS: Final = "name_pinyin_initials"  # "sxx"
NAME_SURNAME_PINYIN: Final = "name_surname_pinyin"
NAME_SCRIPT: Final = "name_script"  # "han", "latin", "mixed" or null
NAME_LATIN_NORM: Final = "name_latin_norm"  # upper-case tokens, single spaces, order as given
NAME_LATIN_REASON: Final = "name_latin_reason"
NAME_LATIN_KEYS: Final = "name_latin_keys"  # list[str]: candidate pinyin keys, both name orders

# other fields
BIRTH_DATE_NORM: Final = "birth_date_norm"  # pl.Date
BIRTH_DATE_REASON: Final = "birth_date_reason"
BIRTH_YEAR: Final = "birth_year"    # kept even when only the year is known
SEX_NORM: Final = "sex_norm"        # "M" or "F"
SEX_REASON: Final = "sex_reason"
PHONE_NORM: Final = "phone_norm"    # E.164: +8613812345678, +861012345678, +85291234567
PHONE_EXT: Final = "phone_ext"
PHONE_KIND: Final = "phone_kind"    # "mobile", "landline", "foreign"
PHONE_REASON: Final = "phone_reason"
ADDRESS_NORM: Final = "address_norm"
ADDRESS_PROVINCE: Final = "address_province"  # 6-digit codes of the recognized divisions
ADDRESS_CITY: Final = "address_city"
ADDRESS_COUNTY: Final = "address_county"
ADDRESS_REASON: Final = "address_reason"
ETHNICITY_NORM: Final = "ethnicity_norm"  # GB 3304 two-digit code: "01" Han ...
ETHNICITY_REASON: Final = "ethnicity_reason"

# best available values, combining the record's own field with what its ID says
DOB: Final = "dob"                  # pl.Date: birth_date_norm, else the ID's birth date
SEX_BEST: Final = "sex_best"        # "M"/"F": sex_norm, else the ID's sex
NAME_KEYS: Final = "name_keys"      # list[str]: name_pinyin plus name_latin_keys, for Han-vs-Latin matching
ID_OWN: Final = "id_own"            # id_key, unless the record's own birth date is a generation away from
                                    # the ID's: then the number is a parent's or guardian's, not the holder's
ID_CHECKED: Final = "id_checked"    # id_own, if its own check character verified it (an 18-character
                                    # GB 11643 form, not a 15->18 upgrade, not ending in 000 as a spreadsheet's
                                    # truncation may): the ID clustering constraints trust ("one person, one ID")

# whole record
RECORD_REASON: Final = "record_reason"  # null when linkable, else a rejecting Reason

# ------------------------------------------------------------ blocking keys
KEY_ID_CANDIDATES: Final = "key_id_candidates"  # list[str]: id_key, plus "RESIDENT:<repair>" per repair
KEY_ID_MASK: Final = "key_id_mask"  # "<first 4>..<last 4>" of a resident ID, full or masked

# ---------------------------------------------------- pairs, scores, persons
ROW_L: Final = "row_l"              # UInt32 row_id of the left record (row_l < row_r)
ROW_R: Final = "row_r"
RULE: Final = "rule"                # name of the first blocking rule that produced the pair
GAMMA_PREFIX: Final = "gamma_"      # comparison vector column: gamma_<comparison name>, Int8 level
MATCH_WEIGHT: Final = "match_weight"  # log2 Bayes factor incl. prior
MATCH_PROBABILITY: Final = "match_probability"
CLUSTER_ID: Final = "cluster_id"    # UInt32 cluster of one run (not stable)
PERSON_ID: Final = "person_id"      # stable, opaque person identifier
RUN_ID: Final = "run_id"

# ------------------------------------------------------------- ground truth
HARD_CASE: Final = "hard_case"      # kind of planted trap (twins, same_name_birthday ...) or null
HARD_GROUP: Final = "hard_group"    # the planted group: its records belong to different persons

REASON_COLUMNS: Final[dict[str, str]] = {
    ID_NUMBER: ID_REASON,
    NAME: NAME_REASON,
    NAME_LATIN: NAME_LATIN_REASON,
    BIRTH_DATE: BIRTH_DATE_REASON,
    SEX: SEX_REASON,
    PHONE: PHONE_REASON,
    ADDRESS: ADDRESS_REASON,
    ETHNICITY: ETHNICITY_REASON,
}
"""Raw field -> the column holding its reason code."""
