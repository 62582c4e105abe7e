"""API keys: created once, stored hashed, checked on every request."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal behind an `Authorization: Bearer <key>` header, or Unauthorized."""
    if not authorization:
        raise Unauthorized("missing Authorization header: send `Authorization: Bearer <api key>`")
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("Authorization header must be `Bearer <api key>`")
    parts = key.split("_")
    if len(parts) < 3 or not key.startswith(KEY_PREFIX):
        raise Unauthorized("malformed API key: keys look like rk_<id>_<secret>")
    row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == parts[1])).one_or_none()
    if row is None or not hmac.compare_digest(row.key_hash, _digest(key)):
        raise Unauthorized("unknown API key")
    if row.revoked_at is not None:
        raise Unauthorized("this API key has been revoked")
    return Principal(subject=row.subject, role=Role(row.role))


def revoke_key(session: Session, prefix: str, now: datetime) -> bool:
    """Revoke the key with `prefix`; False if there is none."""
    row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)).one_or_none()
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = now
    return True


def key_row(session: Session, prefix: str) -> ApiKeyRow:
    """The stored key with id `prefix` (hash only), or NotFound."""
    row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)).one_or_none()
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
        query = query.where(ApiKeyRow.role == role.value)
    if subject is not None:
        query = query.where(ApiKeyRow.subject == subject)
    if after is not None:
        query = query.where(ApiKeyRow.id < _decode_cursor(after))
    rows = list(session.scalars(query.order_by(ApiKeyRow.id.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _encode_cursor(rows[-1].id)


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
