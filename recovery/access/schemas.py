"""What the API key administration accepts and returns."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from recovery.access.keys import Role
from recovery.db.tables import ApiKeyRow


class KeyCreate(BaseModel):
    """A new key for one subject in one role."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: Role = Field(description="user, reviewer or admin.")
    subject: str = Field(
        min_length=1,
        max_length=128,
        # Not blank (surrounding spaces are stripped) and no NUL.
        pattern=r"^[^\u0000]*[^\s\u0000][^\u0000]*$",
        description="Who the key belongs to (user id, email).",
    )


class KeyPublic(BaseModel):
    """A stored key: who and what it is for; the key itself is never stored or shown again."""

    id: str = Field(description="The part after `rk_` in the key; names it for revocation.")
    role: Role
    subject: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKeyRow) -> KeyPublic:
        """The public view of a key row."""
        return cls(
            id=row.prefix,
            role=Role(row.role),
            subject=row.subject,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )


class KeyCreated(KeyPublic):
    """A key just created: `key` is shown this once; only its hash is kept."""

    key: str = Field(description="Send as `Authorization: Bearer <key>`. Shown only now.")


class KeyPage(BaseModel):
    """One page of keys, newest first."""

    items: list[KeyPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")
