"""API keys and roles of the resolve-identity service.

A key is ``lk_`` plus 32 random bytes (URL-safe base64), shown once when it is
created; the store keeps only its SHA-256.  A slow password hash (bcrypt,
scrypt, argon2) exists to make guessing *low-entropy* secrets expensive; a
256-bit random key cannot be guessed, so a plain SHA-256 is as safe here and
costs microseconds instead of the ~100 ms a KDF would add to every cache miss.

Roles and what they open (see :data:`ENDPOINT_ROLES`): ``query`` resolves,
screens and reads persons; ``ingest`` writes records; ``steward`` reads
everything including metrics; ``admin`` does everything.  A valid key of any
role may call ``/healthz`` and fetch the OpenAPI schema.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal, get_args

import polars as pl
import sqlalchemy as sa

from linkage.store import IdentityStore, api_keys
from normalizers.errors import ConfigError

Role = Literal["query", "ingest", "steward", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
KEY_PREFIX: Final = "lk_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")

ANY_ROLE: Final[frozenset[Role]] = frozenset(ROLES)
QUERY_ROLES: Final[frozenset[Role]] = frozenset({"query", "steward", "admin"})
INGEST_ROLES: Final[frozenset[Role]] = frozenset({"ingest", "admin"})
STEWARD_ROLES: Final[frozenset[Role]] = frozenset({"steward", "admin"})
ENDPOINT_ROLES: Final[Mapping[str, frozenset[Role]]] = {
    "/v1/resolve": QUERY_ROLES,
    "/v1/screen": QUERY_ROLES,
    "/v1/persons/{person_id}": QUERY_ROLES,
    "/v1/records": INGEST_ROLES,
    "/metrics": STEWARD_ROLES,
    "/healthz": ANY_ROLE,
    "/openapi.json": ANY_ROLE,
}
"""Route template -> the roles allowed to call it; a route missing here is refused to everyone."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a valid key."""

    name: str
    roles: frozenset[str]

    def may(self, allowed: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(allowed)


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256, hex (see the module docstring for why no KDF)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"key name: expected 1-64 letters, digits or _.@- starting with a letter or digit "
            f"(got {name!r})"
        )
    return name


def _check_roles(roles: Iterable[str]) -> list[str]:
    chosen = sorted(set(roles))
    if not chosen:
        raise ConfigError(f"roles: give at least one of {', '.join(ROLES)}")
    unknown = [r for r in chosen if r not in ROLES]
    if unknown:
        raise ConfigError(f"roles: unknown {unknown} (expected any of {', '.join(ROLES)})")
    return chosen


def create_key(store: IdentityStore, name: str, roles: Iterable[str]) -> str:
    """Create a key named ``name`` with ``roles``; returns the plaintext key (never stored)."""
    _check_name(name)
    chosen = _check_roles(roles)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with store.writing() as conn:
        exists = conn.execute(sa.select(api_keys.c.key_id).where(api_keys.c.name == name)).first()
        if exists is not None:
            raise ConfigError(
                f"key name: {name!r} exists (revoked keys keep their name for the audit trail)"
            )
        conn.execute(
            api_keys.insert().values(
                name=name,
                key_hash=hash_key(key),
                roles=json.dumps(chosen),
                created_at=datetime.now(UTC),
            )
        )
    return key


def list_keys(store: IdentityStore) -> pl.DataFrame:
    """Every key: name, roles (comma separated), created_at, revoked_at; never the hash."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                api_keys.c.name, api_keys.c.roles, api_keys.c.created_at, api_keys.c.revoked_at
            ).order_by(api_keys.c.key_id)
        ).all()
    return pl.DataFrame(
        [
            (name, ",".join(json.loads(roles)), _utc(created), _utc(revoked))
            for name, roles, created, revoked in rows
        ],
        schema={
            "name": pl.String,
            "roles": pl.String,
            "created_at": pl.Datetime("us", "UTC"),
            "revoked_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )


def revoke_key(store: IdentityStore, name: str) -> bool:
    """Revoke the key named ``name``; False if there is no such unrevoked key."""
    with store.writing() as conn:
        result = conn.execute(
            api_keys.update()
            .where(api_keys.c.name == name)
            .where(api_keys.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    return result.rowcount > 0


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class KeyVerifier:
    """Checks bearer keys against the store, remembering each answer for ``ttl`` seconds.

    Without the cache every request would cost a database round trip; with it a
    revoked key stops working within ``ttl`` seconds.  Unknown keys are cached
    too (a client retrying a bad key must not hammer the store).  Thread safe.
    """

    def __init__(
        self, store: IdentityStore, *, ttl: float = 5.0, max_entries: int = 10_000
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._max_entries = max_entries
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, Principal | None]:
        """(known, principal) from the cache alone: no I/O, safe on the event loop."""
        return self._cached(hash_key(key))

    def _cached(self, digest: str) -> tuple[bool, Principal | None]:
        entry = self._cache.get(digest)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def verify(self, key: str) -> Principal | None:
        """The principal of a valid, unrevoked key, else None (may query the store)."""
        digest = hash_key(key)
        known, principal = self._cached(digest)
        if known:
            return principal
        with self._store.engine.connect() as conn:
            row = conn.execute(
                sa.select(api_keys.c.name, api_keys.c.roles)
                .where(api_keys.c.key_hash == digest)
                .where(api_keys.c.revoked_at.is_(None))
            ).first()
        principal = None if row is None else Principal(row.name, frozenset(json.loads(row.roles)))
        with self._lock:
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
            self._cache[digest] = (time.monotonic() + self._ttl, principal)
        return principal
