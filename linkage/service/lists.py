"""Named red and black lists held in the store, for ``POST /v1/screen``.

``linkage lists load NAME FILE`` replaces a list's entries in one transaction
(readers see the old list or the new one, never a mix) and stamps its
``loaded_at``; the service rebuilds its resolver over a list when that stamp
changes.  Entries keep the raw canonical fields, like the ``records`` table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal, get_args

import polars as pl
import sqlalchemy as sa

from linkage.store import IdentityStore, raw_rows, watchlist_entries, watchlists
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError

ListKind = Literal["red", "black", "other"]
LIST_KINDS: Final[tuple[ListKind, ...]] = get_args(ListKind)
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CHUNK: Final = 10_000


@dataclass(frozen=True, slots=True)
class ListInfo:
    name: str
    kind: str
    loaded_at: datetime
    entries: int
    origin: str | None


def check_list_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"list name: expected 1-64 letters, digits or _.- starting with a letter or digit "
            f"(got {name!r})"
        )
    return name


def load_list(
    store: IdentityStore,
    name: str,
    frame: pl.DataFrame,
    kind: ListKind = "black",
    *,
    origin: str | None = None,
) -> ListInfo:
    """Replace list ``name``'s entries by ``frame``'s rows (canonical raw columns) atomically."""
    check_list_name(name)
    if kind not in LIST_KINDS:
        raise ConfigError(f"list kind: expected one of {', '.join(LIST_KINDS)} (got {kind!r})")
    entries = raw_rows(frame, f"list {name}")
    duplicated = int(entries.select(*s.KEY_COLUMNS).is_duplicated().sum())
    if duplicated:
        raise SchemaError(f"list {name}: {duplicated} rows share a ({s.SOURCE}, {s.RECORD_ID}) key")
    loaded_at = datetime.now(UTC)
    with store.writing() as conn:
        conn.execute(watchlist_entries.delete().where(watchlist_entries.c.list_name == name))
        conn.execute(watchlists.delete().where(watchlists.c.list_name == name))
        conn.execute(
            watchlists.insert().values(
                list_name=name,
                kind=kind,
                loaded_at=loaded_at,
                entries=entries.height,
                origin=origin,
            )
        )
        for chunk in entries.with_columns(pl.lit(name).alias("list_name")).iter_slices(_CHUNK):
            conn.execute(watchlist_entries.insert(), chunk.to_dicts())
    return ListInfo(name, kind, loaded_at, entries.height, origin)


def list_info(store: IdentityStore, name: str) -> ListInfo | None:
    """The list's header row, or None when no list has that name."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(watchlists).where(watchlists.c.list_name == name)).first()
    if row is None:
        return None
    loaded_at = row.loaded_at
    if loaded_at.tzinfo is None:  # SQLite returns naive datetimes
        loaded_at = loaded_at.replace(tzinfo=UTC)
    return ListInfo(row.list_name, row.kind, loaded_at, row.entries, row.origin)


def list_entries(store: IdentityStore, name: str) -> pl.DataFrame:
    """The list's entries: the canonical raw columns, all strings, in key order."""
    columns = [watchlist_entries.c[c] for c in s.RAW_COLUMNS]
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(*columns)
            .where(watchlist_entries.c.list_name == name)
            .order_by(watchlist_entries.c[s.SOURCE], watchlist_entries.c[s.RECORD_ID])
        ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows], schema={c: pl.String for c in s.RAW_COLUMNS}, orient="row"
    )
