"""What the deposit address API accepts and returns.

The fields an address is registered with are declared once, on `DepositAddressBase`
(recovery/db/tables.py): its table and its public view both derive from it. The request
derives from it too but sets its own limits on each field, since only the request is
validated; the public view shows stored values as they are. The request's OpenAPI schema
is the policy's (per-family formats and networks, see `contract.py`), not this model's.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Field

from recovery.appeals.schemas import JsonInt
from recovery.db.tables import DepositAddressBase, DepositAddressRow


class DepositAddressCreate(DepositAddressBase):
    """Register an address the exchange controls for one user."""

    # A dict literal, which mypy checks against SQLModel's own config TypedDict (a
    # ConfigDict is not one). Not a class argument: SQLModel 0.0.50 drops `extra="forbid"`
    # given that way without a word.
    model_config = {"extra": "forbid"}  # noqa: RUF012

    address: str = Field(min_length=1, max_length=128)
    owner: str = Field(min_length=1, max_length=128, description="The user's subject.")
    networks: list[str] = Field(
        min_length=1, max_length=64, description="Networks the address was opened for."
    )
    hd_index: JsonInt | None = Field(
        default=None,
        ge=0,
        lt=2**31,
        description="Index of its key in the service's HD wallet (m/44'/60'/0'/0/<index>); "
        "needed to pay a refund out of it.",
    )


class DepositAddressPublic(DepositAddressBase):
    """A registered deposit address."""

    created_at: datetime

    @classmethod
    def of(cls, row: DepositAddressRow) -> DepositAddressPublic:
        """The public view of a registry row."""
        return cls.model_validate(row)


class DepositAddressList(BaseModel):
    """Addresses of one owner."""

    items: list[DepositAddressPublic]
