"""The departments: who appears in which, and each one's conventions and error rates.

Each department (the ``source`` of a record) has its own population (students
in education, HK/Macau/Taiwan residents in the HMT office, adults in tax and
court), its own conventions (which document, date and sex formats, romanized
names) and its own error rates.  A :class:`Dept` holds all of these as data;
one generic builder (``_datagen_records``) applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from benchmarks import _datagen_persons as P
from normalizers import schema as S

# truth columns besides source and record_id
TRUTH_PERSON_ID = "person_id"
TRUTH_HARD_CASE = "hard_case"
TRUTH_HARD_GROUP = "hard_group"  # the planted pair a hard-case record belongs to
TRUTH_ERRORS = "errors"

# document labels as departments write them: (full, short)
DOC_LABELS: dict[str, tuple[str, str]] = {
    P.ID18: ("居民身份证", "身份证"),
    P.ID15: ("居民身份证", "身份证"),
    P.PASSPORT: ("普通护照", "护照"),
    P.RES_PERMIT: ("港澳台居民居住证", "居住证"),
    P.PR2017: ("外国人永久居留身份证", "永久居留证"),
    P.PR2023: ("外国人永久居留身份证", "永久居留证"),
    P.USCC: ("统一社会信用代码", "信用代码"),
}
PERMIT_LABELS: dict[int, tuple[str, str]] = {
    P.HONG_KONG: ("港澳居民来往内地通行证", "回乡证"),
    P.MACAU: ("港澳居民来往内地通行证", "回乡证"),
    P.TAIWAN: ("台湾居民来往大陆通行证", "台胞证"),
}
RESIDENT_FORM_DOCS = (P.ID18, P.RES_PERMIT, P.PR2023)  # 18 characters, GB 11643 check

Docs = dict[int, tuple[tuple[str, float], ...]]
MAINLAND_ID: Docs = {P.MAINLAND: ((P.ID18, 1.0),)}
OTHERS_DEFAULT: Docs = {
    P.HONG_KONG: ((P.PERMIT, 0.6), (P.RES_PERMIT, 0.4)),
    P.MACAU: ((P.PERMIT, 0.6), (P.RES_PERMIT, 0.4)),
    P.TAIWAN: ((P.PERMIT, 0.6), (P.RES_PERMIT, 0.4)),
    P.FOREIGN: ((P.PR2023, 0.5), (P.PR2017, 0.3), (P.PASSPORT, 0.2)),
}


@dataclass(frozen=True)
class Dept:
    source: str
    record_prefix: str
    record_width: int
    docs: Docs = field(default_factory=lambda: {**MAINLAND_ID, **OTHERS_DEFAULT})
    doc_labels: dict[str, float] = field(default_factory=lambda: {"full": 0.7, "short": 0.3})
    han_name: float = 1.0  # share of records with a Han-script name
    foreign_han_name: float = 1.0  # share of foreigners' records with the Chinese transliteration
    hmt_simplified: float = 0.8  # HK/Macau/Taiwan names written in simplified characters
    latin: float = 0.0  # share with a romanized name (foreigners always have one)
    hmt_own_spelling: float = 0.7  # HK/Macau/Taiwan romanized in their own spelling, not pinyin
    latin_styles: dict[str, float] = field(default_factory=lambda: {"passport": 1.0})
    lyu_as_lv: float = 0.0
    date_styles: dict[str, float] = field(default_factory=lambda: {"iso": 1.0})
    sex_styles: dict[str, float] = field(default_factory=lambda: {"zh": 1.0})
    phone_styles: dict[str, float] = field(default_factory=lambda: {"plain": 1.0})
    ethnicity_styles: dict[str, float] = field(default_factory=lambda: {"full": 1.0})
    address_styles: dict[str, float] = field(
        default_factory=lambda: {"full": 0.8, "no_province": 0.2}
    )
    missing: dict[str, float] = field(default_factory=dict)  # field -> share of null values
    old_phone: float = 0.25  # records holding the person's older number (when there is one)
    old_address: float = 0.25
    landline: float = 0.0  # older people's records with their landline instead of the mobile
    errors: dict[str, float] = field(default_factory=dict)
    duplicates: float = 0.02  # share of persons with a second record in the department
    masked_ids: dict[str, float] | None = None
    business_uscc: float = 0.0  # records of individual businesses carrying the USCC
    guardian_id: float = 0.0  # minors' records carrying the guardian's ID
    traditional_script: bool = (
        False  # addresses written in traditional characters (HK/Macau/Taiwan office)
    )
    hmt_home_address: float = 0.0
    legacy_ids: float = 0.0  # records of people born before 1985 with the 15-digit ID


FIELDS = (S.NAME, S.NAME_LATIN, S.ID_NUMBER, S.BIRTH_DATE, S.SEX, S.PHONE, S.ADDRESS, S.ETHNICITY)


def _missing(*present: str, rate: float = 1.0, **rates: float) -> dict[str, float]:
    """Null shares: fields not named in ``present`` are always missing."""
    out = {f: (0.0 if f in present else rate) for f in FIELDS}
    out.update({getattr(S, k.upper()): v for k, v in rates.items()})
    return out


DEPARTMENTS: tuple[Dept, ...] = (
    Dept(
        "police",
        "GA",
        10,
        missing=_missing(
            S.NAME, S.ID_NUMBER, S.BIRTH_DATE, S.SEX, S.PHONE, S.ADDRESS, S.ETHNICITY, phone=0.1
        ),
        old_phone=0.1,
        old_address=0.05,
        duplicates=0.01,
        errors={"homophone": 0.002},
    ),
    Dept(
        "tax",
        "SW",
        12,
        missing=_missing(
            S.NAME,
            S.ID_NUMBER,
            S.BIRTH_DATE,
            S.PHONE,
            S.ADDRESS,
            birth_date=0.5,
            phone=0.05,
            address=0.1,
        ),
        phone_styles={
            "plain": 0.6,
            "dashed": 0.1,
            "spaced": 0.1,
            "plus86": 0.1,
            "fullwidth": 0.05,
            "cc_0086": 0.05,
        },
        old_phone=0.3,
        old_address=0.3,
        business_uscc=0.5,
        errors={
            "id_typo": 0.01,
            "id_transposition": 0.005,
            "id_fullwidth": 0.01,
            "id_spaces": 0.01,
            "id_lowercase_x": 0.3,
            "id_excel_truncated": 0.005,
            "traditional": 0.003,
            "homophone": 0.01,
            "phone_typo": 0.005,
            "id_type_mismatch": 0.005,
        },
        duplicates=0.06,
    ),
    Dept(
        "court",
        "",
        0,
        missing=_missing(
            S.NAME, S.ID_NUMBER, S.SEX, S.ADDRESS, sex=0.5, address=0.7, id_number=0.05
        ),
        masked_ids={"keep4": 0.5, "keep6": 0.3, "keep10": 0.2},
        business_uscc=0.5,
        address_styles={"full": 0.3, "no_province": 0.3, "county_only": 0.4},
        old_address=0.5,
        errors={"homophone": 0.005, "traditional": 0.002},
        duplicates=0.05,
    ),
    Dept(
        "social_security",
        "SB",
        12,
        missing=_missing(
            S.NAME,
            S.ID_NUMBER,
            S.BIRTH_DATE,
            S.SEX,
            S.PHONE,
            S.ADDRESS,
            S.ETHNICITY,
            phone=0.15,
            address=0.2,
            ethnicity=0.3,
        ),
        date_styles={"compact": 0.9, "iso": 0.1},
        sex_styles={"code": 0.8, "zh": 0.2},
        ethnicity_styles={"code": 0.6, "full": 0.4},
        doc_labels={"full": 0.5, "short": 0.5},
        phone_styles={"plain": 0.8, "dashed": 0.1, "spaced": 0.1},
        legacy_ids=0.3,
        old_phone=0.4,
        old_address=0.4,
        landline=0.3,
        errors={
            "id_typo": 0.008,
            "id_transposition": 0.005,
            "id_excel_truncated": 0.02,
            "id_excel_scientific": 0.003,
            "id_spaces": 0.01,
            "id_quote_prefix": 0.02,
            "homophone": 0.01,
            "traditional": 0.002,
            "phone_typo": 0.005,
        },
        duplicates=0.05,
    ),
    Dept(
        "education",
        "XJ",
        12,
        missing=_missing(
            S.NAME,
            S.ID_NUMBER,
            S.BIRTH_DATE,
            S.SEX,
            S.ADDRESS,
            S.ETHNICITY,
            address=0.6,
            id_number=0.05,
            ethnicity=0.2,
        ),
        date_styles={
            "iso": 0.3,
            "slashed_short": 0.15,
            "dotted": 0.15,
            "chinese": 0.15,
            "compact": 0.1,
            "excel": 0.05,
            "timestamp": 0.05,
            "year_month": 0.05,
        },
        sex_styles={"zh": 0.9, "mf": 0.1},
        ethnicity_styles={"short": 0.7, "full": 0.3},
        old_address=0.2,
        guardian_id=0.6,
        errors={
            "homophone": 0.02,
            "spaced_name": 0.02,
            "traditional": 0.005,
            "id_typo": 0.01,
            "id_transposition": 0.005,
            "id_fullwidth": 0.01,
            "id_lowercase_x": 0.2,
            "date_swapped": 0.01,
            "id_excel_truncated": 0.01,
        },
        duplicates=0.04,
    ),
    Dept(
        "bank",
        "CIF",
        11,
        missing=_missing(
            S.NAME,
            S.NAME_LATIN,
            S.ID_NUMBER,
            S.BIRTH_DATE,
            S.SEX,
            S.PHONE,
            S.ADDRESS,
            address=0.2,
            birth_date=0.2,
            name_latin=0.3,
        ),
        latin=1.0,
        latin_styles={"passport": 0.6, "split": 0.15, "comma": 0.1, "title": 0.15},
        lyu_as_lv=0.6,
        foreign_han_name=0.5,
        hmt_simplified=0.5,
        hmt_own_spelling=0.7,
        date_styles={"slashed": 0.7, "iso": 0.3},
        sex_styles={"mf": 0.8, "zh": 0.2},
        phone_styles={
            "plain": 0.5,
            "plus86": 0.2,
            "plus86_spaced": 0.1,
            "dashed": 0.1,
            "cc_dash": 0.1,
        },
        old_phone=0.3,
        old_address=0.3,
        docs={
            **MAINLAND_ID,
            **OTHERS_DEFAULT,
            P.FOREIGN: ((P.PASSPORT, 0.6), (P.PR2023, 0.3), (P.PR2017, 0.1)),
        },
        errors={
            "latin_swapped": 0.03,
            "id_typo": 0.003,
            "traditional": 0.002,
            "homophone": 0.005,
            "phone_typo": 0.003,
        },
        duplicates=0.06,
    ),
    Dept(
        "exit_entry",
        "CRJ",
        10,
        missing=_missing(
            S.NAME, S.NAME_LATIN, S.ID_NUMBER, S.BIRTH_DATE, S.SEX, S.PHONE, phone=0.5
        ),
        han_name=0.4,
        foreign_han_name=0.5,
        latin=1.0,
        latin_styles={"passport": 0.85, "comma": 0.15},
        hmt_own_spelling=0.95,
        date_styles={"passport": 0.5, "iso": 0.5},
        sex_styles={"mf": 1.0},
        docs={
            P.MAINLAND: ((P.PASSPORT, 1.0),),
            P.HONG_KONG: ((P.PERMIT, 1.0),),
            P.MACAU: ((P.PERMIT, 1.0),),
            P.TAIWAN: ((P.PERMIT, 1.0),),
            P.FOREIGN: ((P.PR2023, 0.4), (P.PR2017, 0.3), (P.PASSPORT, 0.3)),
        },
        errors={"latin_swapped": 0.02, "id_typo": 0.002},
        duplicates=0.03,
    ),
    Dept(
        "hmt_office",
        "GAT",
        9,
        missing=_missing(
            S.NAME,
            S.NAME_LATIN,
            S.ID_NUMBER,
            S.BIRTH_DATE,
            S.SEX,
            S.PHONE,
            S.ADDRESS,
            phone=0.2,
            address=0.2,
        ),
        latin=1.0,
        hmt_simplified=0.0,
        hmt_own_spelling=1.0,
        traditional_script=True,
        hmt_home_address=0.6,
        latin_styles={"split": 0.4, "comma_split": 0.2, "hyphen": 0.2, "title_hyphen": 0.2},
        date_styles={"iso": 0.4, "slashed": 0.3, "chinese": 0.3},
        sex_styles={"zh": 0.6, "mf": 0.4},
        docs={
            P.HONG_KONG: ((P.PERMIT, 0.75), (P.RES_PERMIT, 0.25)),
            P.MACAU: ((P.PERMIT, 0.75), (P.RES_PERMIT, 0.25)),
            P.TAIWAN: ((P.PERMIT, 0.75), (P.RES_PERMIT, 0.25)),
        },
        errors={"id_typo": 0.005, "latin_swapped": 0.03},
        duplicates=0.03,
    ),
    Dept(
        "volunteer",
        "ZYZ",
        8,
        missing=_missing(S.NAME, S.PHONE, S.SEX, sex=0.7, phone=0.02),
        docs={},
        sex_styles={"zh": 1.0},
        phone_styles={
            "plain": 0.5,
            "spaced": 0.15,
            "dashed": 0.15,
            "plus86": 0.05,
            "fullwidth": 0.1,
            "cc_dash": 0.05,
        },
        old_phone=0.35,
        errors={"homophone": 0.03, "spaced_name": 0.05, "traditional": 0.01, "phone_typo": 0.01},
        duplicates=0.02,
    ),
    Dept(
        "hospital",
        "MZ",
        10,
        missing=_missing(
            S.NAME,
            S.ID_NUMBER,
            S.BIRTH_DATE,
            S.SEX,
            S.PHONE,
            S.ADDRESS,
            id_number=0.45,
            phone=0.1,
            address=0.2,
            birth_date=0.05,
        ),
        date_styles={
            "iso": 0.3,
            "timestamp": 0.2,
            "slashed_short": 0.2,
            "chinese": 0.1,
            "dotted": 0.1,
            "excel": 0.1,
        },
        sex_styles={"zh": 0.7, "zh_long": 0.1, "mf": 0.1, "en": 0.1},
        phone_styles={"plain": 0.6, "dashed": 0.15, "spaced": 0.15, "plus86": 0.1},
        address_styles={"full": 0.5, "no_province": 0.5},
        old_phone=0.3,
        old_address=0.3,
        landline=0.4,
        guardian_id=0.6,
        errors={
            "homophone": 0.02,
            "spaced_name": 0.03,
            "traditional": 0.005,
            "id_typo": 0.01,
            "id_transposition": 0.005,
            "id_lowercase_x": 0.3,
            "id_fullwidth": 0.005,
            "date_swapped": 0.01,
            "phone_typo": 0.01,
            "dot_separator": 0.5,
            "transliteration": 0.2,
        },
        duplicates=0.12,
    ),
)
SOURCES: tuple[str, ...] = tuple(d.source for d in DEPARTMENTS)

# how many departments a person appears in: many in one, few in six
DEPARTMENT_COUNT_P = (0.38, 0.24, 0.16, 0.11, 0.07, 0.04)
REFERENCE_YEAR = 2024


# ------------------------------------------------------------- membership


def _weights(persons: pl.DataFrame) -> np.ndarray:
    """Propensity of each person (row) to appear in each department (column)."""
    kind = persons[P.KIND].to_numpy()
    age = REFERENCE_YEAR - persons[P.BIRTH].dt.year().to_numpy()
    mainland = kind == P.MAINLAND
    hmt = (kind >= P.HONG_KONG) & (kind <= P.TAIWAN)
    foreign = kind == P.FOREIGN
    adult = age >= 18
    has_passport = persons[P.PASSPORT].is_not_null().to_numpy()
    has_res_permit = persons[P.RES_PERMIT].is_not_null().to_numpy()
    w = np.zeros((persons.height, len(DEPARTMENTS)))
    col = {d.source: i for i, d in enumerate(DEPARTMENTS)}
    w[:, col["police"]] = np.where(
        mainland, 1.0, np.where(has_res_permit, 0.8, np.where(foreign, 0.4, 0.2))
    )
    w[:, col["tax"]] = np.where(
        (age >= 18) & (age <= 70), 0.8, np.where(age > 70, 0.2, 0.0)
    ) * np.where(mainland, 1, 0.8)
    w[:, col["court"]] = np.where((age >= 20) & (age <= 75), 0.12, 0.0) * np.where(
        mainland, 1.0, 0.2
    )
    w[:, col["social_security"]] = np.where(age >= 16, 0.9, 0.3) * np.where(mainland, 1.0, 0.3)
    w[:, col["education"]] = np.where(age <= 24, 1.3, np.where(age <= 30, 0.3, 0.0)) * np.where(
        foreign, 0.2, 1.0
    )
    w[:, col["bank"]] = np.where(adult, 0.9, 0.05)
    w[:, col["exit_entry"]] = np.where(
        mainland, np.where(has_passport, 0.8, 0.0), np.where(hmt, 1.2, 1.5)
    )
    w[:, col["hmt_office"]] = np.where(hmt, 2.0, 0.0)
    w[:, col["volunteer"]] = np.where((age >= 16) & (age <= 70), 0.2, 0.0)
    w[:, col["hospital"]] = np.where(age >= 60, 1.1, np.where(age < 14, 1.0, 0.6))
    # hard cases: make sure the confusable records exist
    guardian = persons[P.GUARDIAN_ID18].is_not_null().to_numpy()
    w[guardian, col["education"]] *= 30
    w[guardian, col["hospital"]] *= 30
    recycled = persons[P.RECYCLED_NUMBER].is_not_null().to_numpy()
    for source in ("tax", "bank", "hospital", "volunteer", "social_security"):
        w[recycled, col[source]] *= 3
    return w


def assign(rng: np.random.Generator, persons: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(person row, department index) of every record, duplicates within a department included."""
    w = _weights(persons)
    n, m = w.shape
    k = rng.choice(len(DEPARTMENT_COUNT_P), size=n, p=DEPARTMENT_COUNT_P) + 1
    hard = persons[P.HARD_CASE].is_not_null().to_numpy()
    k = np.where(hard, np.maximum(k, 2), k)
    # departments where a person is unlikely to be are not filled in just to reach k
    k = np.minimum(k, np.maximum((w >= 0.1).sum(axis=1), 1))
    # weighted sampling without replacement: top-k of log(weight) + Gumbel noise
    with np.errstate(divide="ignore"):
        keys = np.log(w) + rng.gumbel(size=(n, m))
    order = np.argsort(-keys, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(m)[None, :].repeat(n, axis=0), axis=1)
    chosen = (rank < k[:, None]) & (w > 0)
    # everyone is somewhere: a person whose departments all had weight 0 goes to the police
    nowhere = ~chosen.any(axis=1)
    chosen[nowhere, 0] = True
    rows, depts = np.nonzero(chosen)
    dup_rate = np.array([d.duplicates for d in DEPARTMENTS])
    dup = rng.random(rows.size) < dup_rate[depts]
    return np.concatenate([rows, rows[dup]]), np.concatenate([depts, depts[dup]])
