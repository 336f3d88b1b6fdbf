"""Blocking keys derived from the normalized columns.

Two ID keys need more than one normalized column, so they are built here once,
with polars expressions, before blocking (the keys for Western names are in
:mod:`blocking.latin_keys`):

* ``key_id_candidates`` — every stable ID key a record may carry: its own
  ``id_key`` and, for a checksum-failed 18-character ID, the key of each valid
  single-edit repair.  A typo in one ID therefore still meets the correct ID.
* ``key_id_mask`` — ``"1101..1234"``: the first and last 4 characters of an
  18-character resident-style ID.  Published lists mask the middle of the ID
  (``110101********1234``); this is what a masked ID still shares with the full
  one.  Excel-truncated IDs lost their last digits and get no key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

import polars as pl

from blocking.latin_keys import LATIN_KEYS, latin_key_columns
from normalizers import schema as s
from normalizers.errors import SchemaError
from normalizers.ids import IdKind

RESIDENT = IdKind.RESIDENT.value
HMT_PERMIT = IdKind.HMT_PERMIT.value
FOREIGN_PR = IdKind.FOREIGN_PR.value

_EMPTY = pl.lit([], dtype=pl.List(pl.String))
# 18-character GB 11643-style numbers: what a masked resident-style ID can stand for
_MASKABLE_KINDS = (RESIDENT, HMT_PERMIT, FOREIGN_PR)
_HMT_PREFIXES = ("810000", "820000", "830000")
_ID_LENGTH = 18
_HEAD = _TAIL = 4
_INPUTS = (s.ID_KIND, s.ID_NORM, s.ID_KEY, s.ID_MASK_PATTERN, s.ID_REPAIRS)
_ID_KEYS: Final = (s.KEY_ID_CANDIDATES, s.KEY_ID_MASK)
_FEW_ROWS: Final = 1_000
DERIVED_KEYS: Final[tuple[str, ...]] = (*_ID_KEYS, *LATIN_KEYS)
"""Every key column :func:`add_blocking_keys` can add."""


def add_blocking_keys(
    records: pl.DataFrame, *, columns: Collection[str] | None = None
) -> pl.DataFrame:
    """Return ``records`` with the derived key columns added (existing ones are replaced).

    ``key_id_candidates`` (list[str]) and ``key_id_mask`` (str) need
    ``id_kind``, ``id_norm``, ``id_key``, ``id_mask_pattern`` and
    ``id_repairs``; the Latin-script keys of :mod:`blocking.latin_keys` need
    ``name_latin_norm`` and ``address``.  ``columns`` limits the work to the
    keys named (those the rules use); by default every derived key is added.
    """
    wanted = set(DERIVED_KEYS if columns is None else columns)
    added: list[pl.Expr | pl.Series] = []
    if wanted & set(_ID_KEYS):
        added += _id_keys(records)
    if wanted & set(LATIN_KEYS):
        added += latin_key_columns(records, columns=wanted)
    return records.with_columns(added) if added else records


def _id_keys(records: pl.DataFrame) -> list[pl.Expr]:
    missing = [c for c in _INPUTS if c not in records.columns]
    if missing:
        raise SchemaError(f"add_blocking_keys: column {missing[0]!r} missing from the records")
    # The ID normalizer offers repairs only for IDs without a key, so the two
    # sources never need concatenating (list concatenation is slow in polars);
    # frames built otherwise take the general path, and so do a few rows (a
    # service call's), where checking costs a query and concatenating nothing.
    both = (
        records.height <= _FEW_ROWS
        or records.select(
            (_text(s.ID_KEY).is_not_null() & (_repairs().list.len() > 0)).any()
        ).item()
    )
    return [
        _id_candidates(general=bool(both)).alias(s.KEY_ID_CANDIDATES),
        _id_mask_key().alias(s.KEY_ID_MASK),
    ]


def _id_candidates(*, general: bool) -> pl.Expr:
    """``[id_key] + [<kind>:<repair> ...]``, distinct, never null (empty when the record has no ID key).

    A repair is keyed with the kind its prefix implies, exactly as a valid
    number of that form would be, so that it meets the valid ID: resident IDs
    mostly, but also 81/82/83 residence permits and 9-prefixed permanent
    residence IDs, which share the GB 11643 check.
    """
    key = _text(s.ID_KEY)
    own = pl.concat_list(key)
    repaired = _repairs().list.eval(_kind_of_18(pl.element()) + ":" + pl.element())
    if general:
        own = pl.when(key.is_not_null()).then(own).otherwise(_EMPTY)
        return pl.concat_list(own, repaired).list.unique(maintain_order=True)
    return (
        pl.when(key.is_not_null())
        .then(own)
        .when(_repairs().list.len() > 0)
        .then(repaired.list.unique(maintain_order=True))
        .otherwise(_EMPTY)
    )


def _repairs() -> pl.Expr:
    return pl.col(s.ID_REPAIRS).cast(pl.List(pl.String)).fill_null(_EMPTY)


def _kind_of_18(number: pl.Expr) -> pl.Expr:
    return (
        pl.when(pl.any_horizontal(number.str.starts_with(p) for p in _HMT_PREFIXES))
        .then(pl.lit(HMT_PERMIT))
        .when(number.str.starts_with("9"))
        .then(pl.lit(FOREIGN_PR))
        .otherwise(pl.lit(RESIDENT))
    )


def _id_mask_key() -> pl.Expr:
    """``"<first 4>..<last 4>"`` of a valid 18-character resident-style ID, else of a mask with both ends visible."""
    norm = _text(s.ID_NORM)
    pattern = _text(s.ID_MASK_PATTERN)
    from_norm = pl.when(
        _text(s.ID_KIND).is_in(_MASKABLE_KINDS) & (norm.str.len_chars() == _ID_LENGTH)
    ).then(_ends(norm))
    ends_visible = (pattern.str.len_chars() == _ID_LENGTH) & ~_ends(pattern).str.contains(
        "*", literal=True
    )
    from_pattern = pl.when(ends_visible).then(_ends(pattern))
    return pl.coalesce(from_norm, from_pattern)


def _text(column: str) -> pl.Expr:
    # an all-null column read from a file may come typed Null (or Categorical for id_kind)
    return pl.col(column).cast(pl.String)


def _ends(number: pl.Expr) -> pl.Expr:
    return number.str.head(_HEAD) + ".." + number.str.tail(_TAIL)


# ------------------------------------------------ the same on one record


def id_keys_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """``key_id_candidates`` and ``key_id_mask`` of one normalized record: the scalar twin of
    :func:`add_blocking_keys`' ID keys, for a service call's few records (a polars query
    costs a fixed fraction of a millisecond however small the frame).  Tests hold the two
    together on generated records."""
    key = record[s.ID_KEY]
    repaired = [
        None if r is None else f"{_kind_of_18_1(r)}:{r}" for r in record[s.ID_REPAIRS] or ()
    ]
    candidates = ([key] if key is not None else []) + repaired
    return {
        s.KEY_ID_CANDIDATES: list(dict.fromkeys(candidates)),
        s.KEY_ID_MASK: _id_mask_key_1(record),
    }


def _kind_of_18_1(number: str) -> str:
    if number.startswith(_HMT_PREFIXES):
        return HMT_PERMIT
    return FOREIGN_PR if number.startswith("9") else RESIDENT


def _id_mask_key_1(record: Mapping[str, Any]) -> str | None:
    norm, pattern = record[s.ID_NORM], record[s.ID_MASK_PATTERN]
    if record[s.ID_KIND] in _MASKABLE_KINDS and norm is not None and len(norm) == _ID_LENGTH:
        return _ends_1(norm)
    if pattern is not None and len(pattern) == _ID_LENGTH and "*" not in _ends_1(pattern):
        return _ends_1(pattern)
    return None


def _ends_1(number: str) -> str:
    return number[:_HEAD] + ".." + number[-_TAIL:]
