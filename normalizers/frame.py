"""Normalize whole records: the frame path used by batch jobs and the scalar path used by the service.

``normalize_frame`` adds every normalized column of :mod:`normalizers.schema`
next to the raw ones and decides, per row, whether the record can be linked at
all (``record_reason``).  ``normalize_record`` gives the same answer for one
record by composing the scalar normalizers; a property test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from normalizers import schema as s
from normalizers.addresses import address_columns, normalize_address
from normalizers.dates import date_columns, normalize_date
from normalizers.ethnicity import ethnicity_columns, normalize_ethnicity
from normalizers.ids import id_columns, normalize_id
from normalizers.names import name_columns, normalize_name
from normalizers.phones import normalize_phone, phone_columns
from normalizers.reasons import Reason
from normalizers.romanized import latin_name_columns, normalize_latin_name
from normalizers.sex import normalize_sex, sex_columns

Progress = Callable[[str], None]
"""Called with a field name when that field's normalization starts."""

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


def normalize_frame(frame: pl.DataFrame, *, progress: Progress | None = None) -> pl.DataFrame:
    """Return ``frame`` with a dense ``row_id`` and every normalized column added.

    Raw columns are kept unchanged.  Never raises on dirty values: each field's
    problems are reported in its ``<field>_reason`` column and unlinkable rows
    get a rejecting ``record_reason``.
    """
    note = progress or (lambda _field: None)
    out = conform_raw(frame)
    if s.ROW_ID in out.columns:
        out = out.drop(s.ROW_ID)
    out = out.with_row_index(s.ROW_ID).with_columns(pl.col(s.ROW_ID).cast(pl.UInt32))

    note(s.BIRTH_DATE)
    out = out.hstack(date_columns(out))  # before IDs: repairs must agree with the birth date
    note(s.ID_NUMBER)
    out = out.hstack(id_columns(out))
    note(s.NAME)
    out = out.hstack(name_columns(out))
    note(s.NAME_LATIN)
    latin_source = pl.when(pl.col(s.NAME_REASON) == Reason.NAME_LATIN_IN_HAN_FIELD.value).then(
        pl.coalesce(s.NAME_LATIN, s.NAME)
    ).otherwise(pl.col(s.NAME_LATIN))
    latin = latin_name_columns(out.select(latin_source.alias(s.NAME_LATIN)))
    out = out.hstack(latin)
    note(s.SEX)
    out = out.hstack(sex_columns(out))
    note(s.PHONE)
    out = out.hstack(phone_columns(out))
    note(s.ETHNICITY)
    out = out.hstack(ethnicity_columns(out))
    note(s.ADDRESS)
    out = out.hstack(address_columns(out))
    return out.with_columns(_best_values()).with_columns(_record_reason())


def _best_values() -> list[pl.Expr]:
    return [
        pl.coalesce(s.BIRTH_DATE_NORM, s.ID_BIRTH_DATE).alias(s.DOB),
        pl.coalesce(s.SEX_NORM, s.ID_SEX).alias(s.SEX_BEST),
        pl.concat_list(
            pl.when(pl.col(s.NAME_PINYIN).is_not_null()).then(pl.concat_list(s.NAME_PINYIN))
            .otherwise(pl.lit([], dtype=pl.List(pl.String))),
            pl.col(s.NAME_LATIN_KEYS).fill_null(pl.lit([], dtype=pl.List(pl.String))),
        ).list.unique(maintain_order=True).alias(s.NAME_KEYS),
    ]


def _record_reason() -> pl.Expr:
    """Null for linkable rows; otherwise why the row goes to rejects."""
    missing_key = pl.col(s.SOURCE).is_null() | pl.col(s.RECORD_ID).is_null()
    duplicate = ~pl.struct(s.SOURCE, s.RECORD_ID).is_first_distinct()
    usable = (
        pl.col(s.ID_KEY).is_not_null()
        | pl.col(s.ID_MASK_PATTERN).is_not_null()
        | (pl.col(s.ID_REPAIRS).list.len() > 0)
        | pl.col(s.NAME_NORM).is_not_null()
        | (pl.col(s.NAME_LATIN_KEYS).list.len() > 0)
    )
    return (
        pl.when(missing_key).then(pl.lit(Reason.RECORD_MISSING_KEY.value))
        .when(duplicate).then(pl.lit(Reason.RECORD_DUPLICATE_KEY.value))
        .when(~usable.fill_null(False)).then(pl.lit(Reason.RECORD_NO_USABLE_FIELD.value))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias(s.RECORD_REASON)
    )


def normalize_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Normalize one record with the scalar normalizers; same values as one row of ``normalize_frame``.

    ``record_reason`` here can only say ``RECORD_MISSING_KEY`` or
    ``RECORD_NO_USABLE_FIELD``: duplicates are a property of a batch.
    """
    raw = {c: (None if record.get(c) is None else str(record.get(c))) for c in s.RAW_COLUMNS}
    out: dict[str, Any] = dict(record)
    out.update(raw)
    d = normalize_date(raw[s.BIRTH_DATE])
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
    out[s.NAME_KEYS] = list(dict.fromkeys(([n.pinyin] if n.pinyin else []) + list(ln.keys)))
    usable = bool(i.key or i.mask_pattern or i.repairs or n.norm or ln.keys)
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
