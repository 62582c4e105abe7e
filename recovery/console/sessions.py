"""Console sessions: a reviewer's or admin's API key exchanged for a server-side session.

The cookie carries a 256-bit random token; the database keeps only its SHA-256 (as it
does for API keys), with the key's id, so that a revoked key ends its sessions at the
next request, on every process. A session idle longer than the setting is over.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.access.keys import Principal, Role, parse_authorization, principal_of, stored_key
from recovery.db.tables import ConsoleSessionRow
from recovery.errors import Forbidden, Unauthorized

COOKIE = "recovery_console"
DESK_ROLES = (Role.REVIEWER, Role.ADMIN)


class UserKeyRefused(Forbidden):
    """Raised when a user's API key is used to sign in to the appeals desk's console."""


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in reviewer or admin of one request, and the CSRF token of their forms."""

    principal: Principal
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(session: Session, api_key: str, *, now: datetime) -> str:
    """A new session for a reviewer or admin key; the cookie's token (shown only here)."""
    prefix, key = parse_authorization(f"Bearer {api_key.strip()}")
    principal = principal_of(stored_key(session, prefix), key)
    if principal.role not in DESK_ROLES:
        raise UserKeyRefused(
            "this is a user's API key; the console is for the appeals team: sign in with a "
            "reviewer or admin key (users follow their cases through the API)"
        )
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSessionRow(
            token_hash=_digest(token),
            key_prefix=prefix,
            subject=principal.subject,
            role=principal.role.value,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
        )
    )
    return token


def current(
    session: Session, token: str | None, *, now: datetime, idle: timedelta
) -> ConsoleUser | None:
    """The session's user, or None when there is none, it ended, it sat idle too long, or
    its key was revoked (which ends it for good)."""
    if not token or len(token) > 128:
        return None
    row = session.scalars(
        select(ConsoleSessionRow).where(col(ConsoleSessionRow.token_hash) == _digest(token))
    ).one_or_none()
    if row is None or row.ended_at is not None:
        return None
    stored = stored_key(session, row.key_prefix)
    if stored is None or stored.revoked or now - row.last_seen_at > idle:
        row.ended_at = now
        return None
    row.last_seen_at = now
    return ConsoleUser(Principal(subject=row.subject, role=Role(row.role)), row.csrf_token)


def sign_out(session: Session, token: str | None, *, now: datetime) -> None:
    """End the session of `token`, if any."""
    if token:
        session.execute(
            update(ConsoleSessionRow)
            .where(col(ConsoleSessionRow.token_hash) == _digest(token))
            .values(ended_at=now)
        )


def csrf_matches(user: ConsoleUser, sent: str | None) -> bool:
    """Whether a form's CSRF field is the session's token."""
    return sent is not None and hmac.compare_digest(user.csrf_token, sent)


__all__ = ["COOKIE", "ConsoleUser", "Unauthorized", "UserKeyRefused", "current", "sign_in"]
