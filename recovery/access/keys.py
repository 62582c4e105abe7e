"""API keys: created once, stored hashed, checked on every request."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.db.engine import Database
from recovery.db.tables import ApiKeyRow
from recovery.errors import Forbidden, InvalidInput, NotFound, Unauthorized

KEY_PREFIX = "rk_"


class Role(StrEnum):
    """What a key may do: users file appeals, reviewers decide, admins operate."""

    USER = "user"
    REVIEWER = "reviewer"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    subject: str
    role: Role

    @property
    def actor(self) -> str:
        """How the caller appears in case events."""
        return f"{self.role}:{self.subject}"

    def require(self, *roles: Role) -> None:
        """Refuse the action unless the caller has one of `roles`."""
        if self.role not in roles:
            needed = " or ".join(roles)
            raise Forbidden(f"this action needs the {needed} role; your key has {self.role}")


def _digest(secret: str) -> str:
    # Keys are 256-bit random strings, so a plain SHA-256 is enough: no dictionary to guess.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, *, role: Role, subject: str, now: datetime) -> str:
    """Store a new key for `subject` and return it; it is never shown again."""
    subject = subject.strip()
    if not subject or len(subject) > 128:
        raise InvalidInput("subject must be 1 to 128 characters")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiKeyRow(
            prefix=prefix, key_hash=_digest(key), role=role.value, subject=subject, created_at=now
        )
    )
    session.flush()
    return key


@dataclass(frozen=True)
class StoredKey:
    """What the database holds about one key: enough to check a presented key against it."""

    key_hash: str
    subject: str
    role: Role
    revoked: bool


def parse_authorization(authorization: str | None) -> tuple[str, str]:
    """The key id (the part after `rk_`) and the whole key of a Bearer header; Unauthorized."""
    if not authorization:
        raise Unauthorized("missing Authorization header: send `Authorization: Bearer <api key>`")
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("Authorization header must be `Bearer <api key>`")
    parts = key.split("_")
    if len(parts) < 3 or not key.startswith(KEY_PREFIX):
        raise Unauthorized("malformed API key: keys look like rk_<id>_<secret>")
    return parts[1], key


_STORED_KEY = select(
    col(ApiKeyRow.key_hash), col(ApiKeyRow.subject), col(ApiKeyRow.role), col(ApiKeyRow.revoked_at)
).where(col(ApiKeyRow.prefix) == bindparam("prefix"))


def _stored(row: Sequence[Any]) -> StoredKey:
    key_hash, subject, role, revoked_at = row
    return StoredKey(
        key_hash=key_hash, subject=subject, role=Role(role), revoked=revoked_at is not None
    )


def stored_key(executor: Session | Connection, prefix: str) -> StoredKey | None:
    """The stored key with id `prefix`, or None."""
    row = executor.execute(_STORED_KEY, {"prefix": prefix}).one_or_none()
    return None if row is None else _stored(row)


async def read_stored_key(database: Database, prefix: str) -> StoredKey | None:
    """`stored_key` on the database's fastest read (`Database.fetch`): one round trip."""
    rows = await database.fetch(_STORED_KEY, {"prefix": prefix})
    return _stored(rows[0]) if rows else None


def principal_of(stored: StoredKey | None, key: str) -> Principal:
    """The principal of `key` if it matches `stored` and is not revoked, else Unauthorized."""
    if stored is None or not hmac.compare_digest(stored.key_hash, _digest(key)):
        raise Unauthorized("unknown API key")
    if stored.revoked:
        raise Unauthorized("this API key has been revoked")
    return Principal(subject=stored.subject, role=stored.role)


class KeyCache:
    """Stored keys an API process has read, each remembered for `seconds`.

    Only keys that exist are remembered (an unknown key is asked of the database each
    time, so a new key works at once); a revoked one is remembered as revoked. `forget`
    drops a key at once: the process that revokes a key calls it.
    """

    def __init__(
        self, seconds: float, monotonic: Callable[[], float], max_entries: int = 100_000
    ) -> None:
        self.seconds = seconds
        self.monotonic = monotonic
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, StoredKey]] = {}

    def get(self, prefix: str) -> StoredKey | None:
        """The remembered key with id `prefix`, if it was read less than `seconds` ago."""
        entry = self._entries.get(prefix)
        if entry is None:
            return None
        if self.monotonic() >= entry[0]:
            del self._entries[prefix]
            return None
        return entry[1]

    def put(self, prefix: str, stored: StoredKey) -> None:
        """Remember a key read from the database just now."""
        if self.seconds <= 0:
            return
        now = self.monotonic()
        if len(self._entries) >= self.max_entries:
            self._entries = {p: e for p, e in self._entries.items() if e[0] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[prefix] = (now + self.seconds, stored)

    def forget(self, prefix: str) -> None:
        """Drop a key (it was revoked): the next request reads it again."""
        self._entries.pop(prefix, None)


def revoke_key(session: Session, prefix: str, now: datetime) -> bool:
    """Revoke the key with `prefix`; False if there is none."""
    row = session.scalars(select(ApiKeyRow).where(col(ApiKeyRow.prefix) == prefix)).one_or_none()
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = now
    return True


def key_row(session: Session, prefix: str) -> ApiKeyRow:
    """The stored key with id `prefix` (hash only), or NotFound."""
    row = session.scalars(select(ApiKeyRow).where(col(ApiKeyRow.prefix) == prefix)).one_or_none()
    if row is None:
        raise NotFound(f"no API key with id {prefix!r}; ids are the part after rk_ in a key")
    return row


def key_page(
    session: Session,
    *,
    role: Role | None,
    subject: str | None,
    after: str | None,
    limit: int,
) -> tuple[list[ApiKeyRow], str | None]:
    """Keys newest first, optionally of one role or subject; `after` is a page cursor."""
    query = select(ApiKeyRow)
    if role is not None:
        query = query.where(col(ApiKeyRow.role) == role.value)
    if subject is not None:
        query = query.where(col(ApiKeyRow.subject) == subject)
    if after is not None:
        query = query.where(col(ApiKeyRow.id) < _decode_cursor(after))
    rows = list(session.scalars(query.order_by(col(ApiKeyRow.id).desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1].id
    assert last is not None  # a row read from the table: the database numbered it
    return rows, _encode_cursor(last)


# A page cursor: "k" and the last key's id, at most nine digits (the id column is 32-bit).
CURSOR_PATTERN = r"^k[0-9]{1,9}$"


def _encode_cursor(row_id: int) -> str:
    return f"k{row_id}"


def _decode_cursor(cursor: str) -> int:
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise InvalidInput(
            f"cursor: {cursor!r} is not a cursor from this API; pass next_cursor from the "
            "previous page"
        )
    return int(cursor[1:])
