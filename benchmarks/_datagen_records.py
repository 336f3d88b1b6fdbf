"""Writing the records: one generic builder applies a department's conventions and errors to its persons.

Field by field (name, romanized name, document, date/sex/ethnicity, phone,
address), the builder picks the person's value the department would hold
(maybe an outdated phone or address, a guardian's ID), writes it in the
department's formats and applies its errors, recording each error per record.
The truth columns (person, hard case, errors) are produced alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from benchmarks import _datagen_errors as E
from benchmarks import _datagen_names as N
from benchmarks import _datagen_persons as P
from benchmarks import _datagen_tables as T
from benchmarks._datagen_departments import (
    DEPARTMENTS,
    DOC_LABELS,
    FIELDS,
    PERMIT_LABELS,
    RESIDENT_FORM_DOCS,
    TRUTH_ERRORS,
    TRUTH_HARD_CASE,
    TRUTH_HARD_GROUP,
    TRUTH_PERSON_ID,
    Dept,
    assign,
)
from normalizers import schema as S

_TMP = "_"  # prefix of working columns
_DOC = _TMP + "doc"  # person column the document number was taken from
_PHONE = _TMP + "phone"  # the number chosen before formatting and errors
_NULL = pl.lit(None, dtype=pl.String)
_PROVINCE_PREFIX = r"^(北京市|天津市|上海市|重庆市|.+?省|.+?自治区)"
_UP_TO_COUNTY = r"^(.+?(?:区|县|市|旗))(?:.+?(?:区|县|市|旗))?"


@dataclass
class _Build:
    """What the field writers share while one department's records are built."""

    rng: np.random.Generator
    dept: Dept
    rec: E.Recorder
    frame: pl.DataFrame  # the persons' rows as gathered (untouched)
    n: int
    kind: np.ndarray
    missing: dict[str, np.ndarray]

    @property
    def hmt(self) -> np.ndarray:
        return (self.kind >= P.HONG_KONG) & (self.kind <= P.TAIWAN)

    @property
    def foreign(self) -> np.ndarray:
        return self.kind == P.FOREIGN

    def rate(self, error: str) -> float:
        return self.dept.errors.get(error, 0.0)

    def chance(self, p: float) -> np.ndarray:
        return self.rng.random(self.n) < p

    def has(self, column: str) -> np.ndarray:
        return self.frame[column].is_not_null().to_numpy()


def _names(b: _Build) -> None:
    rec, rng = b.rec, b.rng
    g1, g2 = b.frame[P.G1].to_numpy(), b.frame[P.G2].to_numpy()
    indexed = b.frame[P.SUR].to_numpy() >= 0
    g1, g2, homophone = E.variant_chars(rng, g1, g2, rec.draw(b.rate("homophone"), indexed))
    rec.frame = rec.frame.with_columns(pl.Series(P.G1, g1), pl.Series(P.G2, g2))
    rec.mark("homophone", homophone)
    simplified_hmt = b.chance(b.dept.hmt_simplified) & b.hmt
    rec.frame = rec.frame.with_columns(
        pl.when(pl.col(P.SUR) >= 0)
        .then(N.han_name_expr(P.SUR, P.G1, P.G2))
        .when(E.lit(simplified_hmt))
        .then(pl.col(P.NAME_SIMPLIFIED))
        .otherwise(pl.col(P.NAME_SPECIAL))
        .alias(S.NAME)
    )
    no_han = ~b.chance(b.dept.han_name) & ~b.hmt
    no_han |= b.foreign & ~b.chance(b.dept.foreign_han_name)
    rec.apply(None, S.NAME, b.missing[S.NAME] | no_han, _NULL)
    rec.apply(
        "traditional",
        S.NAME,
        rec.draw(b.rate("traditional"), ~b.hmt & ~b.foreign),
        E.traditional(S.NAME),
    )
    rec.apply("spaced_name", S.NAME, rec.draw(b.rate("spaced_name")), E.spaced_name(S.NAME))
    dotted = b.frame[P.NAME_SPECIAL].str.contains("·", literal=True).fill_null(False).to_numpy() & (
        b.kind == P.MAINLAND
    )
    choices = np.array(T.DOT_SEPARATORS[1:])
    sep = rec.add(_TMP + "sep", choices[rng.integers(0, len(choices), b.n)])
    # systems without the middle dot are everywhere: some separator variety in every department
    rec.apply(
        "dot_separator",
        S.NAME,
        rec.draw(b.rate("dot_separator") + 0.1, dotted),
        E.dot_separator(S.NAME, sep),
    )
    rec.apply(
        "transliteration",
        S.NAME,
        rec.draw(b.rate("transliteration"), dotted),
        E.transliteration_variant(S.NAME),
    )


def _latin_names(b: _Build) -> None:
    rec, rng = b.rec, b.rng
    own = ~b.hmt | b.chance(b.dept.hmt_own_spelling)
    rec.frame = rec.frame.with_columns(
        pl.when(E.lit(own)).then(pl.col(P.LAT_SUR)).otherwise(pl.col(P.PIN_SUR)).alias(_TMP + "ls"),
        pl.when(E.lit(own))
        .then(pl.col(P.LAT_GIVEN))
        .otherwise(pl.col(P.PIN_GIVEN))
        .alias(_TMP + "lg"),
    )
    styles = E.choose(rng, b.n, b.dept.latin_styles)
    taiwan = (b.kind == P.TAIWAN) & own
    hk = ((b.kind == P.HONG_KONG) | (b.kind == P.MACAU)) & own
    mainland_style = ~hk & ~taiwan
    # each place's own conventions: Taiwan hyphenates, Hong Kong and Macau keep syllables apart
    styles.set(taiwan & styles.mask("passport", "split"), "hyphen")
    styles.set(taiwan & styles.mask("comma", "comma_split"), "comma_hyphen")
    styles.set(hk & styles.mask("passport", "hyphen"), "split")
    styles.set(hk & styles.mask("comma", "comma_hyphen"), "comma_split")
    styles.set(mainland_style & styles.mask("comma_split"), "comma")
    styles.set(mainland_style & styles.mask("hyphen", "title_hyphen"), "passport")
    # foreigners' documents always carry the romanized name; others' only where the department asks
    write = (b.chance(b.dept.latin) & ~b.missing[S.NAME_LATIN]) | (b.foreign & (b.dept.latin > 0))
    swapped = rec.draw(b.rate("latin_swapped"), write)
    styles.set(swapped & (hk | taiwan), "swapped_split")
    styles.set(swapped & mainland_style, "swapped")
    rec.mark("latin_swapped", swapped)
    rec.add(S.NAME_LATIN, _NULL)
    rec.apply_styles(S.NAME_LATIN, styles, E.latin_exprs(_TMP + "ls", _TMP + "lg"), where=write)
    english = b.chance(0.5) & b.has(P.ENGLISH_NAME) & write
    rec.apply(
        None,
        S.NAME_LATIN,
        english,
        pl.concat_str(pl.col(P.ENGLISH_NAME), pl.lit(" "), pl.col(S.NAME_LATIN)),
    )
    if b.dept.lyu_as_lv:
        # older bank systems had no letter for ü: LYU is written LV
        lv = pl.col(S.NAME_LATIN).str.replace_all(r"\b([LlNn])(YU|yu)\b", "${1}V")
        rec.apply(None, S.NAME_LATIN, b.chance(b.dept.lyu_as_lv), lv)


def _choose_docs(b: _Build) -> pl.Expr:
    """Name of the person column holding the document each record shows, following the department's policy."""
    doc: pl.Expr = _NULL
    for k, options in b.dept.docs.items():
        cols = [c for c, _ in options]
        p = np.array([w for _, w in options])
        pick = b.rng.choice(len(cols), size=b.n, p=p / p.sum())
        chosen: pl.Expr = _NULL
        for i in range(len(cols)):
            # the preferred document if the person has one, else the next they have
            rotated = cols[i:] + cols[:i]
            first = pl.coalesce([pl.when(pl.col(c).is_not_null()).then(pl.lit(c)) for c in rotated])
            chosen = pl.when(E.lit(pick == i)).then(first).otherwise(chosen)
        doc = pl.when(E.lit(b.kind == k)).then(chosen).otherwise(doc)
    return doc


def _doc_label(b: _Build) -> pl.Expr:
    short = E.lit(E.choose(b.rng, b.n, b.dept.doc_labels).mask("short"))
    doc = pl.col(_DOC)

    def pick(full: str, brief: str) -> pl.Expr:
        return pl.when(short).then(pl.lit(brief)).otherwise(pl.lit(full))

    label = _NULL
    for c, (full, brief) in DOC_LABELS.items():
        label = pl.when(doc == c).then(pick(full, brief)).otherwise(label)
    foreign_passport = (doc == P.PASSPORT) & (pl.col(P.KIND) == P.FOREIGN)
    label = pl.when(foreign_passport).then(pick("外国护照", "护照")).otherwise(label)
    for k, (full, brief) in PERMIT_LABELS.items():
        label = (
            pl.when((doc == P.PERMIT) & (pl.col(P.KIND) == k))
            .then(pick(full, brief))
            .otherwise(label)
        )
    return label


def _documents(b: _Build) -> np.ndarray:
    """Document number and type; returns the rows that carry the guardian's ID instead of the person's."""
    rec, rng, dept, n = b.rec, b.rng, b.dept, b.n
    rec.add(_DOC, _choose_docs(b))
    year = b.frame[P.BIRTH].dt.year().to_numpy()
    legacy = b.chance(dept.legacy_ids) & (year < 1985) & b.has(P.ID15)
    rec.apply(None, _DOC, legacy, pl.lit(P.ID15))
    business = b.chance(dept.business_uscc) & b.has(P.USCC)
    rec.apply(None, _DOC, business, pl.lit(P.USCC))
    guardian = b.chance(dept.guardian_id) & b.has(P.GUARDIAN_ID18) & ~b.missing[S.ID_NUMBER]
    rec.apply(None, _DOC, guardian, pl.lit(P.GUARDIAN_ID18))
    rec.apply(None, _DOC, b.missing[S.ID_NUMBER], _NULL)
    number = _NULL
    for c in (
        P.ID18,
        P.ID15,
        P.PASSPORT,
        P.PERMIT,
        P.RES_PERMIT,
        P.PR2017,
        P.PR2023,
        P.USCC,
        P.GUARDIAN_ID18,
    ):
        number = pl.when(pl.col(_DOC) == c).then(pl.col(c)).otherwise(number)
    rec.add(S.ID_NUMBER, number)
    rec.apply(
        None, _DOC, guardian, pl.lit(P.ID18)
    )  # the form says it is a resident ID, which it is
    docs = rec.frame[_DOC].to_numpy()
    resident_form = np.isin(docs, RESIDENT_FORM_DOCS)
    id_len = rec.frame[S.ID_NUMBER].str.len_chars().fill_null(0).to_numpy()
    has_id = id_len > 0
    # the department names the document it was shown, before any typing error
    rec.add(S.ID_TYPE, _doc_label(b))
    wrong_type = (
        pl.when(pl.col(S.ID_TYPE) == "护照").then(pl.lit("身份证")).otherwise(pl.lit("护照"))
    )
    rec.apply(
        "id_type_mismatch", S.ID_TYPE, rec.draw(b.rate("id_type_mismatch"), has_id), wrong_type
    )
    if dept.masked_ids:
        # published lists mask resident-form numbers, show business codes, and show nothing else
        rec.apply_styles(
            S.ID_NUMBER,
            E.choose(rng, n, dept.masked_ids),
            E.masked_id_exprs(S.ID_NUMBER),
            where=resident_form,
        )
        unpublished = has_id & ~resident_form & (docs != P.USCC)
        rec.apply(None, S.ID_NUMBER, unpublished, _NULL)
        rec.apply(None, S.ID_TYPE, unpublished, _NULL)
        return guardian
    pos = rec.add(_TMP + "pos", (rng.random(n) * np.maximum(id_len, 1)).astype(np.int64))
    delta = rec.add(_TMP + "delta", rng.integers(1, 10, n))
    rec.apply(
        "id_typo",
        S.ID_NUMBER,
        rec.draw(b.rate("id_typo"), has_id),
        E.digit_typo(S.ID_NUMBER, pos, delta),
    )
    pos = rec.add(_TMP + "pos", (rng.random(n) * np.maximum(id_len - 1, 1)).astype(np.int64))
    rec.apply(
        "id_transposition",
        S.ID_NUMBER,
        rec.draw(b.rate("id_transposition"), has_id),
        E.transposition(S.ID_NUMBER, pos),
    )
    eighteen = resident_form & (id_len == 18)
    for error, expr in (
        ("id_excel_truncated", E.excel_truncated),
        ("id_excel_scientific", E.excel_scientific),
    ):
        rec.apply(error, S.ID_NUMBER, rec.draw(b.rate(error), eighteen), expr(S.ID_NUMBER))
    rec.apply(
        "id_fullwidth",
        S.ID_NUMBER,
        rec.draw(b.rate("id_fullwidth"), has_id),
        E.fullwidth(S.ID_NUMBER),
    )
    rec.apply(
        "id_spaces", S.ID_NUMBER, rec.draw(b.rate("id_spaces"), eighteen), E.id_spaced(S.ID_NUMBER)
    )
    ends_x = rec.frame[S.ID_NUMBER].str.ends_with("X").fill_null(False).to_numpy()
    lower = pl.col(S.ID_NUMBER).str.to_lowercase()
    rec.apply("id_lowercase_x", S.ID_NUMBER, rec.draw(b.rate("id_lowercase_x"), ends_x), lower)
    quoted = pl.concat_str(
        pl.lit("'"), pl.col(S.ID_NUMBER)
    )  # Excel's text marker left in an export
    rec.apply("id_quote_prefix", S.ID_NUMBER, rec.draw(b.rate("id_quote_prefix"), has_id), quoted)
    return guardian


def _date_sex_ethnicity(b: _Build) -> None:
    rec, rng, dept, n = b.rec, b.rng, b.dept, b.n
    day = b.frame[P.BIRTH].dt.day().to_numpy()
    month = b.frame[P.BIRTH].dt.month().to_numpy()
    birth = rec.add(_TMP + "birth", pl.col(P.BIRTH))
    swappable = (day <= 12) & (day != month)
    rec.apply(
        "date_swapped", birth, rec.draw(b.rate("date_swapped"), swappable), E.swap_day_month(birth)
    )
    for column in (S.BIRTH_DATE, S.SEX, S.ETHNICITY):
        rec.add(column, _NULL)
    rec.apply_styles(S.BIRTH_DATE, E.choose(rng, n, dept.date_styles), E.date_exprs(birth))
    rec.apply_styles(S.SEX, E.choose(rng, n, dept.sex_styles), E.sex_exprs(P.MALE))
    eth = pl.col(P.ETHNICITY)
    codes = eth.replace_strict(
        list(T.ETHNICITY_CODES), list(T.ETHNICITY_CODES.values()), default=None
    )
    styles = {"full": eth, "short": eth.str.strip_suffix("族"), "code": codes}
    rec.apply_styles(S.ETHNICITY, E.choose(rng, n, dept.ethnicity_styles), styles)


def _phones(b: _Build) -> None:
    rec, rng, dept, n = b.rec, b.rng, b.dept, b.n
    has_old = b.has(P.PHONE_OLD)
    use_old = has_old & b.chance(dept.old_phone)
    # the recycled number must show up on the side of its former holder
    recycled = b.frame[P.HARD_CASE].eq(P.RECYCLED_PHONE).fill_null(False).to_numpy() & has_old
    use_old |= recycled & b.chance(0.5)
    rec.mark("phone_outdated", use_old)
    landline = b.has(P.LANDLINE) & b.chance(dept.landline)
    rec.add(
        _PHONE,
        pl.when(E.lit(landline))
        .then(pl.col(P.LANDLINE))
        .when(E.lit(use_old))
        .then(pl.col(P.PHONE_OLD))
        .otherwise(pl.col(P.PHONE)),
    )
    rec.add(S.PHONE, pl.col(_PHONE))
    rec.apply(None, S.PHONE, b.missing[S.PHONE], _NULL)
    mobile = rec.frame[S.PHONE].str.len_chars().fill_null(0).to_numpy() == 11
    pos = rec.add(_TMP + "pos", 3 + (rng.random(n) * 8).astype(np.int64))
    delta = rec.add(_TMP + "delta", rng.integers(1, 10, n))
    rec.apply(
        "phone_typo",
        S.PHONE,
        rec.draw(b.rate("phone_typo"), mobile),
        E.digit_typo(S.PHONE, pos, delta),
    )
    rec.apply_styles(
        S.PHONE, E.choose(rng, n, dept.phone_styles), E.phone_exprs(S.PHONE), where=mobile
    )


def _addresses(b: _Build) -> None:
    rec, rng, dept, n = b.rec, b.rng, b.dept, b.n
    moved = b.has(P.ADDRESS_OLD) & b.chance(dept.old_address)
    rec.mark("address_outdated", moved)
    abroad = b.hmt & b.chance(dept.hmt_home_address)
    rec.add(
        S.ADDRESS,
        pl.when(E.lit(abroad))
        .then(pl.col(P.HMT_ADDRESS))
        .when(E.lit(moved))
        .then(pl.col(P.ADDRESS_OLD))
        .otherwise(pl.col(P.ADDRESS)),
    )
    styles = E.choose(rng, n, dept.address_styles)
    rec.apply(
        None,
        S.ADDRESS,
        styles.mask("no_province") & ~abroad,
        pl.col(S.ADDRESS).str.replace(_PROVINCE_PREFIX, ""),
    )
    rec.apply(
        None,
        S.ADDRESS,
        styles.mask("county_only") & ~abroad,
        pl.col(S.ADDRESS).str.extract(_UP_TO_COUNTY, 0),
    )
    if dept.traditional_script:
        rec.apply(None, S.ADDRESS, np.ones(n, dtype=bool), E.traditional(S.ADDRESS))
    rec.apply(
        "traditional", S.ADDRESS, rec.draw(b.rate("traditional") / 2), E.traditional(S.ADDRESS)
    )


def _record_ids(b: _Build) -> pl.Expr:
    n, dept = b.n, b.dept
    counter = E.lit(b.rng.permutation(n).astype(np.int64) + int(b.rng.integers(1, 10**5))).cast(
        pl.String
    )
    if dept.source == "court":
        # case numbers like (2021)粤0305执1234号: year, province, court code, running number
        year = E.lit(b.rng.integers(2015, 2025, n).astype(str))
        court = pl.col(P.HOME_CODE).cast(pl.String).str.slice(2, 4)
        return pl.concat_str(
            pl.lit("("),
            year,
            pl.lit(")"),
            pl.col(P.PROVINCE_ABBR),
            court,
            pl.lit("执"),
            counter,
            pl.lit("号"),
        )
    if dept.source == "tax":
        year = E.lit(b.rng.integers(2016, 2025, n).astype(str))
        return pl.concat_str(pl.lit(dept.record_prefix), year, counter.str.zfill(8))
    return pl.concat_str(pl.lit(dept.record_prefix), counter.str.zfill(dept.record_width))


def build_department(
    rng: np.random.Generator, dept: Dept, persons: pl.DataFrame, rows: np.ndarray
) -> pl.DataFrame:
    """Records of one department for the given person rows: raw columns plus truth columns."""
    frame = persons[rows]
    n = frame.height
    b = _Build(
        rng=rng,
        dept=dept,
        rec=E.Recorder(frame, rng),
        frame=frame,
        n=n,
        kind=frame[P.KIND].to_numpy(),
        missing={f: rng.random(n) < dept.missing.get(f, 0.0) for f in FIELDS},
    )
    _names(b)
    _latin_names(b)
    guardian = _documents(b)
    _date_sex_ethnicity(b)
    _phones(b)
    _addresses(b)
    for f in (S.BIRTH_DATE, S.SEX, S.ADDRESS, S.ETHNICITY, S.NAME_LATIN):
        b.rec.apply(None, f, b.missing[f], _NULL)
    b.rec.mark(P.GUARDIAN_ID, guardian)

    hard = pl.col(P.HARD_CASE)
    shows_recycled = E.lit(~b.missing[S.PHONE]) & (pl.col(_PHONE) == pl.col(P.RECYCLED_NUMBER))
    label = (
        pl.when(E.lit(guardian))
        .then(pl.lit(P.GUARDIAN_ID))
        .when(hard.is_in([P.TWINS, P.SAME_NAME_BIRTHDAY, P.PARENT_CHILD]))
        .then(hard)
        .when((hard == P.RECYCLED_PHONE) & shows_recycled)
        .then(hard)
    )
    # A planted pair is one group: named after the smaller person index of the two partners.
    own = pl.col(P.PERSON_ID).str.slice(1).cast(pl.Int64)
    group = pl.min_horizontal(own, pl.col(P.PARTNER))
    out = b.rec.frame.with_columns(
        pl.lit(dept.source).alias(S.SOURCE),
        _record_ids(b).alias(S.RECORD_ID),
        label.alias(TRUTH_HARD_CASE),
        pl.when(label.is_not_null())
        .then(pl.lit("G") + group.cast(pl.String).str.zfill(8))
        .alias(TRUTH_HARD_GROUP),
        b.rec.errors_column(TRUTH_ERRORS),
    )
    return out.select(
        *S.RAW_COLUMNS,
        pl.col(P.PERSON_ID).alias(TRUTH_PERSON_ID),
        TRUTH_HARD_CASE,
        TRUTH_HARD_GROUP,
        TRUTH_ERRORS,
    )


def build_records(rng: np.random.Generator, persons: pl.DataFrame) -> pl.DataFrame:
    """All departments' records with truth columns, in source order, shuffled within each source."""
    person_rows, dept_idx = assign(rng, persons)
    frames = []
    for i, dept in enumerate(DEPARTMENTS):
        rows = person_rows[dept_idx == i]
        rows = rows[rng.permutation(rows.size)]
        frames.append(build_department(rng, dept, persons, rows))
    return pl.concat(frames, how="vertical")
