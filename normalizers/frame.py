"""Normalize whole records: the frame path used by batch jobs and the scalar path used by the service.

``normalize_frame`` adds every normalized column of :mod:`normalizers.schema`
next to the raw ones and decides, per row, whether the record can be linked at
all (``record_reason``).  ``normalize_record`` gives the same answer for one
record by composing the scalar normalizers; a property test holds the two equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl

from normalizers import schema as s
from normalizers.addresses import address_columns, check_id_region, normalize_address
from normalizers.dates import MIN_YEAR, check_min_year, date_columns, normalize_date
from normalizers.ethnicity import ethnicity_columns, normalize_ethnicity
from normalizers.ids import id_columns, normalize_id
from normalizers.names import name_columns, normalize_name
from normalizers.phones import normalize_phone, phone_columns
from normalizers.reasons import Reason
from normalizers.romanized import latin_name_columns, normalize_latin_name
from normalizers.sex import normalize_sex, sex_columns

Progress = Callable[[str], None]
"""Called with a field name when that field's normalization starts."""

_CHECKED_FORM = r"^[0-9]{17}[0-9X]$"
_CHECKED_FORM_RE = re.compile(_CHECKED_FORM)
_TRUNCATED_TAIL = "000"
_CHECKED = "__checked"

GUARDIAN_YEAR_GAP = 10
"""Years between a record's own birth date and its ID's from which the ID is taken for a
parent's or guardian's (school and hospital forms of minors carry them); typos stay below."""

FIELDS: tuple[str, ...] = (
    s.BIRTH_DATE, s.ID_NUMBER, s.NAME, s.NAME_LATIN, s.SEX, s.PHONE, s.ETHNICITY, s.ADDRESS,
)


def conform_raw(frame: pl.DataFrame) -> pl.DataFrame:
    """Add missing raw columns as nulls and cast raw columns to strings; other columns untouched."""
    exprs = []
    for c in s.RAW_COLUMNS:
        if c not in frame.columns:
            exprs.append(pl.lit(None, dtype=pl.String).alias(c))
        elif frame.schema[c] != pl.String:
            exprs.append(pl.col(c).cast(pl.String))
    return frame.with_columns(exprs) if exprs else frame


def normalize_frame(
    frame: pl.DataFrame,
    *,
    progress: Progress | None = None,
    min_birth_year: int = MIN_YEAR,
) -> pl.DataFrame:
    """Return ``frame`` with a dense ``row_id`` and every normalized column added.

    Raw columns are kept unchanged.  Never raises on dirty values: each field's
    problems are reported in its ``<field>_reason`` column and unlinkable rows
    get a rejecting ``record_reason``.  Birth dates before ``min_birth_year``
    are out of range (historical data sets lower it).
    """
    check_min_year(min_birth_year)
    note = progress or (lambda _field: None)
    out = conform_raw(frame)
    # one chunk per raw column: every field gathers from them (multi-chunk gathers are slow)
    out = out.with_columns(out.get_column(c).rechunk() for c in s.RAW_COLUMNS)
    if s.ROW_ID in out.columns:
        out = out.drop(s.ROW_ID)
    out = out.with_row_index(s.ROW_ID).with_columns(pl.col(s.ROW_ID).cast(pl.UInt32))

    # Fields run on two threads, in chains where one needs another's output.  Much of
    # polars' string work runs on one core and releases the GIL, so the threads overlap
    # each other's expressions, scalar residues and first-use table building.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="normalize") as pool:
        # Longest first: the dates and IDs, the addresses, then the names on whichever
        # thread is free first, then the short fields behind them.
        dates_ids = pool.submit(_dates_and_ids, out, min_birth_year)
        address = pool.submit(address_columns, out.select(s.ADDRESS))
        names = pool.submit(_names_and_latin, out)
        others = {
            field: pool.submit(columns, out)
            for field, columns in ((s.PHONE, phone_columns), (s.SEX, sex_columns),
                                   (s.ETHNICITY, ethnicity_columns))
        }
        duplicate = pool.submit(_duplicate_key, out)
        # Submitted last, so that a thread reaches them only once everything they wait
        # for has started: the address check against the ID regions and the best values
        # run beside the names instead of after them.
        checked_address = pool.submit(_checked_address, address, dates_ids)
        best = pool.submit(_best_values, dates_ids, others[s.SEX])
        # progress names each field when its results are gathered, in FIELDS order
        note(s.BIRTH_DATE)
        note(s.ID_NUMBER)
        dates, ids = dates_ids.result()
        note(s.NAME)
        note(s.NAME_LATIN)
        name, latin, name_keys = names.result()
        parts = [dates, ids, name, latin]
        for field in (s.SEX, s.PHONE, s.ETHNICITY):
            note(field)
            parts.append(others[field].result())
        note(s.ADDRESS)
        parts.append(checked_address.result())
        parts.append(best.result().with_columns(name_keys))
        out = out.hstack([column for part in parts for column in part.get_columns()])
        out = out.with_columns(_record_reason(duplicate.result()))
    return out


def _dates_and_ids(raw: pl.DataFrame, min_year: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    dates = date_columns(raw, min_year=min_year)
    # after the dates: repairs must agree with the record's birth date
    ids = id_columns(raw.select(s.ID_NUMBER, s.ID_TYPE).hstack(dates.select(s.BIRTH_DATE_NORM)))
    return dates, ids


def _names_and_latin(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series]:
    """The name and Latin name columns, and NAME_KEYS from both."""
    names = name_columns(raw)
    # a romanized name written in the Han name field stands in for a missing Latin one
    latin_source = (
        pl.when(pl.lit(names.get_column(s.NAME_REASON)) == Reason.NAME_LATIN_IN_HAN_FIELD.value)
        .then(pl.coalesce(s.NAME_LATIN, s.NAME))
        .otherwise(pl.col(s.NAME_LATIN))
    )
    latin = latin_name_columns(raw.select(latin_source.alias(s.NAME_LATIN)))
    keys = _name_keys(
        pl.DataFrame([names.get_column(s.NAME_PINYIN), latin.get_column(s.NAME_LATIN_KEYS)])
    )
    return names, latin, keys


def _checked_address(
    address: Future[pl.DataFrame], dates_ids: Future[tuple[pl.DataFrame, pl.DataFrame]]
) -> pl.DataFrame:
    return check_id_region(address.result(), dates_ids.result()[1].get_column(s.ID_REGION))


def _best_values(
    dates_ids: Future[tuple[pl.DataFrame, pl.DataFrame]], sex: Future[pl.DataFrame]
) -> pl.DataFrame:
    """DOB, SEX_BEST, ID_OWN and ID_CHECKED: the record's own values, else its ID's."""
    dates, ids = dates_ids.result()
    frame = pl.DataFrame([*dates.get_columns(), *ids.get_columns(), *sex.result().get_columns()])
    return frame.select(
        pl.coalesce(s.BIRTH_DATE_NORM, s.ID_BIRTH_DATE).alias(s.DOB),
        pl.coalesce(s.SEX_NORM, s.ID_SEX).alias(s.SEX_BEST),
        own_id_expr(),
        checked_id_expr().alias(_CHECKED),
    ).select(
        s.DOB,
        s.SEX_BEST,
        s.ID_OWN,
        pl.when(_CHECKED).then(pl.col(s.ID_OWN)).alias(s.ID_CHECKED),  # own_id_exprs, ID_OWN once
    )


def own_id_exprs() -> list[pl.Expr]:
    """ID_OWN and ID_CHECKED from the ID and date columns (also for frames built by hand)."""
    return [own_id_expr(), pl.when(checked_id_expr()).then(own_id_expr()).alias(s.ID_CHECKED)]


def checked_id_expr() -> pl.Expr:
    """Whether ID_NORM's own check character verified it, so "one person, one number" may trust it.

    Only the 18-character GB 11643 forms carry a check character (resident IDs,
    residence permits, 2023 permanent-residence IDs); a 15->18 upgrade computed
    its check and cannot catch a typo; and a number ending in ``000`` may be a
    spreadsheet's truncation whose remaining digits happen to pass the check
    (one in eleven do).
    """
    number = pl.col(s.ID_NORM)
    return (
        number.str.contains(_CHECKED_FORM)
        & ~number.str.ends_with(_TRUNCATED_TAIL)
        & (pl.col(s.ID_REASON) != Reason.ID_LEGACY_15_UPGRADED.value)
    ).fill_null(False)


def is_checked_id(norm: str | None, reason: Reason) -> bool:
    """Scalar :func:`checked_id_expr`."""
    return (
        norm is not None
        and _CHECKED_FORM_RE.fullmatch(norm) is not None
        and not norm.endswith(_TRUNCATED_TAIL)
        and reason is not Reason.ID_LEGACY_15_UPGRADED
    )


def own_id_expr() -> pl.Expr:
    """ID_OWN: the ID key, unless the record's own birth date is a generation from the ID's."""
    gap = (pl.col(s.BIRTH_DATE_NORM).dt.year() - pl.col(s.ID_BIRTH_DATE).dt.year()).abs()
    return pl.when(gap >= GUARDIAN_YEAR_GAP).then(None).otherwise(pl.col(s.ID_KEY)).alias(s.ID_OWN)


def _name_keys(frame: pl.DataFrame) -> pl.Series:
    """Pinyin key, then Latin keys, without repeats.

    Built by one gather from a few short sources rather than list expressions
    over every row (polars concatenates lists row by row): ``[pinyin]`` (or
    ``[]``) for rows without Latin keys; the Latin keys alone where there is no
    pinyin or it is already their first key (most names written both ways); the
    concatenation for the few other rows.
    """
    pinyin = frame.get_column(s.NAME_PINYIN)
    latin = frame.get_column(s.NAME_LATIN_KEYS)
    present = pinyin.is_not_null().to_numpy()
    singles = pinyin.drop_nulls()
    sources = [
        singles.reshape((-1, 1)).cast(pl.List(pl.String)),
        pl.Series([[]], dtype=pl.List(pl.String)),
    ]
    at = np.full(frame.height, len(singles), dtype=np.int64)  # the empty list
    at[present] = np.arange(len(singles))
    rows = (latin.list.len() > 0).arg_true()
    if rows.len():
        py, keys = pl.col(s.NAME_PINYIN), pl.col(s.NAME_LATIN_KEYS)
        part = pl.DataFrame([pinyin.gather(rows), latin.gather(rows)]).with_columns(
            (py.is_null() | (keys.list.first() == py)).fill_null(False).alias("alone")
        )
        alone = part.get_column("alone").to_numpy()
        both = pl.concat_list(pl.concat_list(s.NAME_PINYIN), s.NAME_LATIN_KEYS)
        sources += [
            part.get_column(s.NAME_LATIN_KEYS).filter(pl.Series(alone)),
            part.filter(~pl.col("alone")).select(both.list.unique(maintain_order=True)).to_series(),
        ]
        where = rows.to_numpy()
        start = len(singles) + 1
        at[where[alone]] = start + np.arange(alone.sum())
        at[where[~alone]] = start + alone.sum() + np.arange((~alone).sum())
    return pl.concat(sources, rechunk=True).gather(pl.Series(at)).alias(s.NAME_KEYS)


def _record_reason(duplicate: pl.Series) -> pl.Expr:
    """Null for linkable rows, else why the row goes to rejects (``duplicate``: _duplicate_key)."""
    missing_key = pl.col(s.SOURCE).is_null() | pl.col(s.RECORD_ID).is_null()
    usable = (
        pl.col(s.ID_KEY).is_not_null()
        | pl.col(s.ID_MASK_PATTERN).is_not_null()
        | (pl.col(s.ID_REPAIRS).list.len() > 0)
        | pl.col(s.NAME_NORM).is_not_null()
        # a Western name has no pinyin keys, but blocks and compares as Latin script
        | pl.col(s.NAME_LATIN_NORM).is_not_null()
        | (pl.col(s.NAME_LATIN_KEYS).list.len() > 0)
    )
    return (
        pl.when(missing_key).then(pl.lit(Reason.RECORD_MISSING_KEY.value))
        .when(pl.lit(duplicate)).then(pl.lit(Reason.RECORD_DUPLICATE_KEY.value))
        .when(~usable.fill_null(False)).then(pl.lit(Reason.RECORD_NO_USABLE_FIELD.value))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias(s.RECORD_REASON)
    )


def _duplicate_key(frame: pl.DataFrame) -> pl.Series:
    """True for every (source, record_id) seen in an earlier row."""
    key = pl.struct(s.SOURCE, s.RECORD_ID)
    # distinct hashes prove distinct keys, for a fraction of the cost of a table of the strings
    if frame.select(key.hash().n_unique()).item() == frame.height:
        return pl.repeat(False, frame.height, eager=True)
    return frame.select(~key.is_first_distinct()).to_series()


def normalize_record(
    record: Mapping[str, Any], *, min_birth_year: int = MIN_YEAR
) -> dict[str, Any]:
    """Normalize one record with the scalar normalizers; same values as one row of ``normalize_frame``.

    ``record_reason`` here can only say ``RECORD_MISSING_KEY`` or
    ``RECORD_NO_USABLE_FIELD``: duplicates are a property of a batch.
    """
    raw = {c: (None if record.get(c) is None else str(record.get(c))) for c in s.RAW_COLUMNS}
    out: dict[str, Any] = dict(record)
    out.update(raw)
    d = normalize_date(raw[s.BIRTH_DATE], min_year=min_birth_year)
    out.update({s.BIRTH_DATE_NORM: d.value, s.BIRTH_DATE_REASON: d.reason.value, s.BIRTH_YEAR: d.year})
    i = normalize_id(raw[s.ID_NUMBER], id_type=raw[s.ID_TYPE], birth_date=d.value)
    out.update({
        s.ID_KIND: i.kind.value, s.ID_CLEAN: i.clean, s.ID_NORM: i.norm, s.ID_KEY: i.key,
        s.ID_REASON: i.reason.value, s.ID_BIRTH_DATE: i.birth_date, s.ID_SEX: i.sex,
        s.ID_REGION: i.region, s.ID_REGION_CURRENT: i.region_current,
        s.ID_MASK_PATTERN: i.mask_pattern, s.ID_REPAIRS: list(i.repairs),
    })
    n = normalize_name(raw[s.NAME])
    out.update({
        s.NAME_NORM: n.norm, s.NAME_REASON: n.reason.value, s.NAME_SURNAME: n.surname,
        s.NAME_GIVEN: n.given, s.NAME_SURNAME_ALT: n.surname_alt, s.NAME_PINYIN: n.pinyin,
        s.NAME_PINYIN_INITIALS: n.pinyin_initials, s.NAME_SURNAME_PINYIN: n.surname_pinyin,
        s.NAME_SCRIPT: n.script,
    })
    latin_raw = raw[s.NAME_LATIN]
    if n.reason is Reason.NAME_LATIN_IN_HAN_FIELD and latin_raw is None:
        latin_raw = raw[s.NAME]
    ln = normalize_latin_name(latin_raw)
    out.update({s.NAME_LATIN_NORM: ln.norm, s.NAME_LATIN_REASON: ln.reason.value,
                s.NAME_LATIN_KEYS: list(ln.keys)})
    x = normalize_sex(raw[s.SEX])
    out.update({s.SEX_NORM: x.value, s.SEX_REASON: x.reason.value})
    p = normalize_phone(raw[s.PHONE])
    out.update({s.PHONE_NORM: p.value, s.PHONE_EXT: p.ext, s.PHONE_KIND: p.kind,
                s.PHONE_REASON: p.reason.value})
    e = normalize_ethnicity(raw[s.ETHNICITY])
    out.update({s.ETHNICITY_NORM: e.value, s.ETHNICITY_REASON: e.reason.value})
    a = normalize_address(raw[s.ADDRESS], id_region=i.region)
    out.update({s.ADDRESS_NORM: a.norm, s.ADDRESS_PROVINCE: a.province, s.ADDRESS_CITY: a.city,
                s.ADDRESS_COUNTY: a.county, s.ADDRESS_REASON: a.reason.value})
    out[s.DOB] = d.value if d.value is not None else i.birth_date
    out[s.SEX_BEST] = x.value if x.value is not None else i.sex
    guardian = (
        d.value is not None and i.birth_date is not None
        and abs(d.value.year - i.birth_date.year) >= GUARDIAN_YEAR_GAP
    )
    out[s.ID_OWN] = None if guardian else i.key
    out[s.ID_CHECKED] = out[s.ID_OWN] if is_checked_id(i.norm, i.reason) else None
    out[s.NAME_KEYS] = list(dict.fromkeys(([n.pinyin] if n.pinyin else []) + list(ln.keys)))
    usable = bool(i.key or i.mask_pattern or i.repairs or n.norm or ln.norm or ln.keys)
    if raw[s.SOURCE] is None or raw[s.RECORD_ID] is None:
        out[s.RECORD_REASON] = Reason.RECORD_MISSING_KEY.value
    elif not usable:
        out[s.RECORD_REASON] = Reason.RECORD_NO_USABLE_FIELD.value
    else:
        out[s.RECORD_REASON] = None
    return out


def reason_counts(normalized: pl.DataFrame) -> pl.DataFrame:
    """Long table (field, reason, count) over every reason column present, most frequent first."""
    parts = [
        normalized.group_by(reason_col).len().select(
            pl.lit(field).alias("field"), pl.col(reason_col).alias("reason"), pl.col("len").alias("count")
        )
        for field, reason_col in (*s.REASON_COLUMNS.items(), ("record", s.RECORD_REASON))
        if reason_col in normalized.columns
    ]
    if not parts:
        return pl.DataFrame(schema={"field": pl.String, "reason": pl.String, "count": pl.UInt32})
    return pl.concat(parts).drop_nulls("reason").sort(["field", "count"], descending=[False, True])
