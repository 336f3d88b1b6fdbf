"""Stable person IDs: reconciling this run's clusters with the previous run's persons.

Cluster ids are numbers of one run; person IDs outlive runs.  A new person's ID
is derived from its cluster's smallest ``(source, record_id)`` key, so the same
input always yields the same IDs::

    "P" + base32(blake2b(key, digest_size=10, person=b"chengxin-person"))   # 17 chars

(hashlib, once per new cluster: polars' hash functions are not stable across
versions, and IDs must be).  An ID that is already taken (by a previous person,
a reserved retired or merged-away ID, or an earlier cluster of this run) is
derived again with a counter appended to the key.

Against a previous crosswalk, the overlap table (new cluster x old person ->
shared records) decides, all in polars:

- each old person's *home* is the new cluster holding most of its records;
- a cluster that is home to old persons keeps the ID of the one sharing most
  records with it; the others are MERGEd into it;
- a cluster home to nobody gets a new ID: SPLIT if it holds records of old
  persons (their larger parts keep their IDs elsewhere), else CREATE;
- records of an old person that land in a cluster keeping another ID are a MOVE;
- an old person none of whose records is in this run is RETIREd.

Ties are broken by the larger share, then the larger old person, then the
smaller ID or cluster key, so the result never depends on row order or cluster
numbering.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from enum import StrEnum
from typing import Final

import numpy as np
import polars as pl

from normalizers import schema as s
from normalizers.errors import SchemaError

log = logging.getLogger(__name__)


class EventKind(StrEnum):
    """What happened to a person ID in a run; ``person_id`` and ``related_ids`` per kind."""

    CREATE = "CREATE"  # person_id: a new person whose records no known person held
    SPLIT = "SPLIT"  # person_id: a new person made of records split from related_ids
    MERGE = "MERGE"  # person_id: an old ID absorbed into related_ids[0]; no longer issued
    MOVE = "MOVE"  # person_id: a kept person that received records of related_ids[0]
    RETIRE = "RETIRE"  # person_id: an old ID none of whose records is in this run


EVENT_KIND: Final = "kind"
RELATED_IDS: Final = "related_ids"  # list[str]
EVENT_RECORDS: Final = "records"  # how many records the event concerns
EVENT_REASON: Final = "reason"  # what happened and why, in words (no personal data)

EVENT_SCHEMA: Final[dict[str, pl.DataType]] = {
    EVENT_KIND: pl.String(),
    s.PERSON_ID: pl.String(),
    RELATED_IDS: pl.List(pl.String()),
    EVENT_RECORDS: pl.Int64(),
    EVENT_REASON: pl.String(),
}

PERSON_ID_PREFIX: Final = "P"
_PERSONALIZATION: Final = b"chengxin-person"  # blake2b domain separation (<= 16 bytes)
_KEY: Final = [s.SOURCE, s.RECORD_ID]

# internal column names
_OLD, _SHARED, _SIZE, _OLD_SIZE = "_old", "_shared", "_size", "_old_size"
_ROW, _HOME, _KEPT = "_row", "_home", "_kept"
_KEY_SOURCE, _KEY_RECORD = "_key_source", "_key_record"


_HASH: Final = hashlib.blake2b(digest_size=10, person=_PERSONALIZATION)
_BASE32: Final = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", dtype=np.uint8)


def _key(source: str, record_id: str, counter: int = 0) -> bytes:
    # length prefixes make the encoding unambiguous, so different keys never share a hash input
    key = f"{len(source)}:{source}{len(record_id)}:{record_id}"
    return (key if not counter else f"{key}#{counter}").encode("utf-8")


def _digest(key: bytes) -> bytes:
    h = _HASH.copy()
    h.update(key)
    return h.digest()


def derive_person_id(source: str, record_id: str, counter: int = 0) -> str:
    """The person ID derived from a record key; ``counter`` > 0 re-derives after a collision."""
    return PERSON_ID_PREFIX + base64.b32encode(_digest(_key(source, record_id, counter))).decode(
        "ascii"
    )


def _encode(digests: Sequence[bytes]) -> list[str]:
    """Vectorized ``"P" + base32(digest)`` of 10-byte digests (80 bits = 16 base32 characters)."""
    if not digests:
        return []
    raw = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 2, 5).astype(np.uint64)
    # each 5-byte half is a 40-bit big-endian number holding 8 base32 digits
    halves = (raw << np.array([32, 24, 16, 8, 0], dtype=np.uint64)).sum(axis=2, dtype=np.uint64)
    shifts = np.array([35, 30, 25, 20, 15, 10, 5, 0], dtype=np.uint64)
    digits = (halves[:, :, None] >> shifts) & np.uint64(31)
    text = np.empty((len(digests), 17), dtype=np.uint8)
    text[:, 0] = ord(PERSON_ID_PREFIX)
    text[:, 1:] = _BASE32[digits.reshape(-1, 16)]
    joined = text.tobytes().decode("ascii")
    return [joined[i : i + 17] for i in range(0, len(joined), 17)]


def assign_person_ids(
    clusters: pl.DataFrame,
    previous: pl.DataFrame | None = None,
    *,
    reserved: Collection[str] = (),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Person IDs for ``clusters`` (SOURCE, RECORD_ID, CLUSTER_ID) and the events that explain them.

    ``previous`` is the last run's crosswalk (SOURCE, RECORD_ID, PERSON_ID);
    ``reserved`` are IDs never to issue again (merged-away and retired IDs of the
    store).  Returns (SOURCE, RECORD_ID, PERSON_ID) in ``clusters``' row order,
    and the events frame (:data:`EVENT_SCHEMA`), sorted by kind and person ID.
    """
    clusters = _checked(clusters, s.CLUSTER_ID, "clusters")
    if previous is None:
        previous = pl.DataFrame(
            schema={s.SOURCE: pl.String, s.RECORD_ID: pl.String, s.PERSON_ID: pl.String}
        )
    previous = _checked(previous, s.PERSON_ID, "previous").rename({s.PERSON_ID: _OLD})
    sizes = clusters.group_by(s.CLUSTER_ID).len(_SIZE)
    old_sizes = previous.group_by(_OLD).len(_OLD_SIZE)

    overlap = (
        clusters.join(previous, on=_KEY, how="inner")
        .group_by(s.CLUSTER_ID, _OLD)
        .len(_SHARED)
        .with_row_index(_ROW)
    )
    # an old person's home: the cluster sharing most of its records (ties: the smaller cluster key)
    homes = _first_per_group(
        overlap,
        _OLD,
        [_SHARED, _KEY_SOURCE, _KEY_RECORD],
        [True, False, False],
        extend=lambda several: several.join(
            _cluster_keys(clusters, several[s.CLUSTER_ID]), on=s.CLUSTER_ID
        ),
    )
    # a cluster keeps the ID of the old person homed there sharing most
    # (ties: the bigger old person, then the smaller ID)
    kept = _first_per_group(
        homes,
        s.CLUSTER_ID,
        [_SHARED, _OLD_SIZE, _OLD],
        [True, True, False],
        extend=lambda several: several.join(old_sizes, on=_OLD),
    ).select(s.CLUSTER_ID, pl.col(_OLD).alias(s.PERSON_ID))

    fresh = sizes.join(kept, on=s.CLUSTER_ID, how="anti")
    fresh = fresh.join(_cluster_keys(clusters, fresh[s.CLUSTER_ID]), on=s.CLUSTER_ID)
    new_ids = _new_ids(fresh, previous[_OLD], set(reserved))
    fresh = fresh.with_columns(pl.Series(s.PERSON_ID, new_ids, dtype=pl.String))
    persons = pl.concat(
        [
            kept.with_columns(pl.lit(True).alias(_KEPT)),
            fresh.select(s.CLUSTER_ID, s.PERSON_ID, pl.lit(False).alias(_KEPT)),
        ]
    )
    assigned = clusters.join(persons, on=s.CLUSTER_ID, how="left", maintain_order="left").select(
        s.SOURCE, s.RECORD_ID, s.PERSON_ID
    )
    overlap = overlap.join(persons, on=s.CLUSTER_ID).with_columns(
        pl.col(_ROW).is_in(homes[_ROW].implode()).alias(_HOME)
    )
    retired = (
        old_sizes.join(homes.select(_OLD), on=_OLD, how="anti")
        if homes.height < old_sizes.height
        else old_sizes.clear()
    )
    events = _events(fresh, overlap, retired, old_sizes)
    if events.height:
        counts = events[EVENT_KIND].value_counts(sort=True).iter_rows()
        log.info("person ids: %s", ", ".join(f"{kind} {n}" for kind, n in counts))
    return assigned, events


def _checked(frame: pl.DataFrame, value: str, name: str) -> pl.DataFrame:
    missing = [c for c in (*_KEY, value) if c not in frame.columns]
    if missing:
        raise SchemaError(f"{name}: missing column(s) {missing}")
    frame = frame.select(
        pl.col(s.SOURCE).cast(pl.String), pl.col(s.RECORD_ID).cast(pl.String), value
    )
    nulls = [c for c in frame.columns if frame[c].null_count()]
    if nulls:
        raise SchemaError(f"{name}: null values in {nulls}")
    duplicated = int(frame.select(_KEY).is_duplicated().sum())
    if duplicated:
        raise SchemaError(f"{name}: {duplicated} rows share a ({s.SOURCE}, {s.RECORD_ID}) key")
    return frame


def _cluster_keys(clusters: pl.DataFrame, cluster_ids: pl.Series) -> pl.DataFrame:
    """CLUSTER_ID and the smallest (source, record_id) key of each cluster in ``cluster_ids``."""
    if cluster_ids.len() < clusters.height:
        clusters = clusters.filter(pl.col(s.CLUSTER_ID).is_in(cluster_ids.implode()))
    return clusters.group_by(s.CLUSTER_ID).agg(
        pl.col(s.SOURCE).sort_by(*_KEY).first().alias(_KEY_SOURCE),
        pl.col(s.RECORD_ID).sort_by(*_KEY).first().alias(_KEY_RECORD),
    )


def _first_per_group(
    frame: pl.DataFrame,
    group: str,
    by: list[str],
    descending: list[bool],
    *,
    extend: Callable[[pl.DataFrame], pl.DataFrame],
) -> pl.DataFrame:
    """The first row of each ``group`` in ``by`` order.

    Nearly every group has one row; only the others are sorted, after ``extend``
    adds the tie-breaking columns they need.
    """
    counted = frame.with_columns(pl.len().over(group).alias("_rows"))
    single = counted.filter(pl.col("_rows") == 1).select(frame.columns)
    several = counted.filter(pl.col("_rows") > 1)
    if several.height == 0:
        return single
    chosen = extend(several).sort(by, descending=descending).unique(group, keep="first")
    return pl.concat([single, chosen.select(frame.columns)])


def _new_ids(fresh: pl.DataFrame, previous_ids: pl.Series, reserved: set[str]) -> list[str]:
    """One new ID per row of ``fresh`` (cluster keys in _KEY_SOURCE, _KEY_RECORD), all unused."""
    keys = (
        fresh.select(
            pl.format(
                "{}:{}{}:{}",
                pl.col(_KEY_SOURCE).str.len_chars(),
                _KEY_SOURCE,
                pl.col(_KEY_RECORD).str.len_chars(),
                _KEY_RECORD,
            ).cast(pl.Binary)  # UTF-8 bytes
        )
        .to_series()
        .to_list()
    )
    ids = _encode(list(map(_digest, keys)))
    candidates = pl.Series(ids, dtype=pl.String)
    clash = (
        candidates.n_unique() < len(ids)
        or bool(candidates.is_in(previous_ids.implode()).any())
        or not reserved.isdisjoint(ids)
    )
    if not clash:
        return ids
    # rare: an ID already taken (e.g. a split part whose smallest record founded the old person);
    # resolve in key order so that the outcome never depends on row order
    taken = set(previous_ids.to_list()) | reserved
    sources, record_ids = fresh[_KEY_SOURCE].to_list(), fresh[_KEY_RECORD].to_list()
    for i in fresh.with_row_index("_i").sort(_KEY_SOURCE, _KEY_RECORD)["_i"].to_list():
        candidate, counter = ids[i], 0
        while candidate in taken:
            counter += 1
            candidate = derive_person_id(sources[i], record_ids[i], counter)
        taken.add(candidate)
        ids[i] = candidate
    return ids


def _events(
    fresh: pl.DataFrame, overlap: pl.DataFrame, retired: pl.DataFrame, old_sizes: pl.DataFrame
) -> pl.DataFrame:
    """Events from the overlap table, annotated with each cluster's person and whether kept."""

    def frame(
        kind: EventKind,
        data: pl.DataFrame,
        person: str,
        related: pl.Expr,
        records: str,
        reason: pl.Expr,
    ) -> pl.DataFrame:
        return data.select(
            pl.lit(kind.value, pl.String).alias(EVENT_KIND),
            pl.col(person).alias(s.PERSON_ID),
            related.cast(pl.List(pl.String)).alias(RELATED_IDS),
            pl.col(records).cast(pl.Int64).alias(EVENT_RECORDS),
            reason.alias(EVENT_REASON),
        )

    changed = overlap.filter(pl.col(s.PERSON_ID) != pl.col(_OLD))
    merged = changed.filter(pl.col(_HOME)).join(old_sizes, on=_OLD)
    moved = changed.filter(~pl.col(_HOME) & pl.col(_KEPT))
    split_from = (
        changed.filter(~pl.col(_KEPT))
        .group_by(s.CLUSTER_ID)
        .agg(pl.col(_OLD).sort(), pl.col(_SHARED).sum())
    )
    split = fresh.join(split_from, on=s.CLUSTER_ID)
    created = fresh.join(split_from, on=s.CLUSTER_ID, how="anti")

    no_ids = pl.lit([], pl.List(pl.String))
    parts = [
        frame(
            EventKind.CREATE,
            created,
            s.PERSON_ID,
            no_ids,
            _SIZE,
            pl.format("new person: {} record(s), none held by a known person", _SIZE),
        ),
        frame(
            EventKind.SPLIT,
            split,
            s.PERSON_ID,
            pl.col(_OLD),
            _SHARED,
            pl.format(
                "new person split from {}: {} of its {} record(s) were theirs, whose larger "
                "part keeps their ID",
                pl.col(_OLD).list.join(", "),
                _SHARED,
                _SIZE,
            ),
        ),
        frame(
            EventKind.MERGE,
            merged,
            _OLD,
            pl.concat_list(s.PERSON_ID),
            _SHARED,
            pl.format(
                "merged into {}: the cluster holding {} of this person's {} record(s) keeps "
                "that ID, which shares more records with it",
                s.PERSON_ID,
                _SHARED,
                _OLD_SIZE,
            ),
        ),
        frame(
            EventKind.MOVE,
            moved,
            s.PERSON_ID,
            pl.concat_list(_OLD),
            _SHARED,
            pl.format(
                "{} record(s) of {} moved to this person: clustering now links them here",
                _SHARED,
                _OLD,
            ),
        ),
        frame(
            EventKind.RETIRE,
            retired,
            _OLD,
            no_ids,
            _OLD_SIZE,
            pl.format("none of its {} record(s) is in this run", _OLD_SIZE),
        ),
    ]
    order = {kind.value: i for i, kind in enumerate(EventKind)}
    return (
        pl.concat(parts)
        # (kind, person, first related ID) is unique: only MOVE repeats a person, once per source
        .sort(
            pl.col(EVENT_KIND).replace_strict(order, return_dtype=pl.UInt8),
            s.PERSON_ID,
            pl.col(RELATED_IDS).list.first(),
        )
        .cast(EVENT_SCHEMA)  # type: ignore[arg-type]
    )
