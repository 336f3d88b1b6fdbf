"""The frame path of :func:`normalizers.ids.id_columns`.

Nearly every ID number in a batch is distinct, so calling the scalar
normalizer once per distinct value would cost a Python call per row.  Instead
polars expressions settle the common forms for the whole column at once:

1. valid 18-digit mainland resident IDs as they stand (the bulk: one lazy
   query over every row, with the check, birth date and region looked up in
   precomputed tables instead of digit-by-digit string work);
2. among the rest: the same after character cleaning, legacy 15-digit IDs,
   18-character masks with ``*`` and spreadsheet-truncated IDs (whole sources
   can be masked or legacy, so these must not cost a Python call each).

Each stage accepts a row only when it can prove the scalar path gives the same
answer.  Everything else (checksum failures with their repairs, other
documents, unusual characters, hints that disagree) is the residue, which goes
through :func:`normalize_id` once per distinct input via :func:`map_distinct`.
A property test holds the two paths equal.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from normalizers import schema as s
from normalizers._id_forms import IdKind, parse_hint
from normalizers._id_stages import (
    FLAG,
    HINT,
    HINT_OK,
    OUTPUT_SCHEMA,
    ROW,
    apply_layers,
    checksum_failed_18,
    documents,
    legacy_15,
    masked_18,
    resident_18,
    truncated_18,
)
from normalizers._vector import collect, map_distinct, scatter_rows
from normalizers.errors import SchemaError
from normalizers.ids import normalize_id

_INPUTS = (s.ID_NUMBER, s.ID_TYPE, s.BIRTH_DATE_NORM)

# Characters whose cleaning is the same under NFKC (scalar) and the plain
# replacements below (frame): ASCII digits, x and *, their full-width forms, and
# the spaces, quotes and hyphens that are simply dropped.  A row with any other
# character is left to the scalar path.
_SAFE = r"^[0-9xX*０-９ｘＸ＊ \t\u3000\u00a0'\"‘’“”\-－]+$"
_DROP = r"[ \t\u3000\u00a0'\"‘’“”\-－]"
_PLAIN = "__id_plain"
_SAFE_COLUMN = "__id_safe"
# Other documents as typed: cleaning leaves these unchanged (see _id_stages.documents).
_PLAIN_DOCUMENT = r"^[0-9A-Z]{5,17}$"
_NOT_DOCUMENT = r"^[0-9]{15}$|XXX"
_WIDE = [chr(0xFF10 + i) for i in range(10)] + ["ｘ", "Ｘ", "x", "＊"]
_NARROW = [str(i) for i in range(10)] + ["X", "X", "X", "*"]


def frame_columns(frame: pl.DataFrame) -> pl.DataFrame:
    if s.ID_NUMBER not in frame.columns:
        raise SchemaError(f"{s.ID_NUMBER}: column missing (columns: {frame.columns[:20]})")
    inputs = frame.select(
        pl.col(s.ID_NUMBER).cast(pl.String),
        _column_or_null(frame, s.ID_TYPE, pl.String()),
        _column_or_null(frame, s.BIRTH_DATE_NORM, pl.Date()),
    )
    hints = inputs.get_column(s.ID_TYPE).drop_nulls().unique().to_list()
    kinds = {h: kind.value for h in hints if (kind := parse_hint(h)) is not None}
    raw = pl.col(s.ID_NUMBER)
    *prepare, last = resident_18(pl.col(s.ID_CLEAN), as_is=True)
    first = (
        inputs.lazy()
        .with_row_index(ROW)
        .with_columns(
            pl.col(s.ID_TYPE)
            .replace_strict(kinds, default=None, return_dtype=pl.String)
            .alias(HINT),
            pl.when(raw.str.len_bytes() == 18).then(raw).alias(s.ID_CLEAN),
        )
        .with_columns(
            (pl.col(HINT).is_null() | (pl.col(HINT) == IdKind.RESIDENT.value)).alias(HINT_OK)
        )
        .pipe(apply_layers, [*prepare, last])
        .select(ROW, *_INPUTS, HINT, HINT_OK, FLAG, *OUTPUT_SCHEMA)  # working columns go early
        .pipe(collect)
    )
    fast = first.select(list(OUTPUT_SCHEMA))
    if first.get_column(FLAG).all():
        return fast
    unsettled = first.select(ROW, *_INPUTS, HINT, HINT_OK).filter(~first.get_column(FLAG))
    del first  # its memory serves what follows
    rest = _settle_rest(unsettled)
    # scattering the few unsettled rows into the fast columns beats re-sorting all of them
    return scatter_rows(fast, rest.get_column(ROW), rest)


def _column_or_null(frame: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    if name in frame.columns:
        return pl.col(name).cast(dtype)
    return pl.lit(None, dtype=dtype).alias(name)


def _scalar_row(value: str | None, id_type: str | None, birth: dt.date | None) -> tuple[Any, ...]:
    r = normalize_id(value, id_type=id_type, birth_date=birth)
    return (
        r.kind.value,
        r.clean,
        r.norm,
        r.key,
        r.reason.value,
        r.birth_date,
        r.sex,
        r.region,
        r.region_current,
        r.mask_pattern,
        list(r.repairs),
    )


def _settle_rest(rows: pl.DataFrame) -> pl.DataFrame:
    """Every row the first pass left (none missing), with its ``ROW``, in no particular order.

    Cleaned resident-style forms and plain other documents are settled by
    expressions, the residue by the scalar path.
    """
    raw = pl.col(s.ID_NUMBER)
    done: list[pl.DataFrame] = []
    rows = rows.with_columns(
        (raw.str.contains(_PLAIN_DOCUMENT) & ~raw.str.contains(_NOT_DOCUMENT)).alias(_PLAIN)
    )
    plain = pl.col(_PLAIN)
    rows = rows.with_columns((raw.str.contains(_SAFE) & ~plain).alias(_SAFE_COLUMN))
    safe = pl.col(_SAFE_COLUMN)
    flagged = apply_layers(rows.lazy().filter(plain), documents(raw, pl.col(HINT))).pipe(collect)
    done.append(flagged.filter(pl.col(FLAG)).select(ROW, *OUTPUT_SCHEMA))
    cleaned = rows.filter(safe).with_columns(
        raw.str.replace_all(_DROP, "").str.replace_many(_WIDE, _NARROW).alias(s.ID_CLEAN)
    )
    length = pl.col(s.ID_CLEAN).str.len_bytes()
    leftovers = [
        rows.filter(~safe & ~plain),
        flagged.filter(~pl.col(FLAG)).select(rows.columns),
        cleaned.filter(~length.is_in([15, 18])),
    ]
    for width, stages in ((18, (resident_18, truncated_18, masked_18)), (15, (legacy_15,))):
        part = cleaned.filter(length == width)
        for stage in stages:
            flagged = apply_layers(part.lazy(), stage(pl.col(s.ID_CLEAN))).pipe(collect)
            done.append(flagged.filter(pl.col(FLAG)).select(ROW, *OUTPUT_SCHEMA))
            part = flagged.filter(~pl.col(FLAG)).select(part.columns)
        if width == 18:
            settled, part = checksum_failed_18(part)
            done.append(settled)
        leftovers.append(part)
    slow_in = pl.concat([f.select(ROW, *_INPUTS) for f in leftovers])
    if slow_in.height:
        slow = map_distinct(slow_in, _INPUTS, _scalar_row, OUTPUT_SCHEMA)
        done.append(pl.concat([slow_in.select(ROW), slow], how="horizontal"))
    return pl.concat(done)
