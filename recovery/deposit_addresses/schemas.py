"""What the deposit address API accepts and returns."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from recovery.db.tables import DepositAddressRow


class DepositAddressCreate(BaseModel):
    """Register an address the exchange controls for one user."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    address: str = Field(min_length=1, max_length=128)
    owner: str = Field(min_length=1, max_length=128, description="The user's subject.")
    networks: list[str] = Field(
        min_length=1, max_length=64, description="Networks the address was opened for."
    )


class DepositAddressPublic(BaseModel):
    """A registered deposit address."""

    address: str
    owner: str
    networks: list[str]
    created_at: datetime

    @classmethod
    def of(cls, row: DepositAddressRow) -> DepositAddressPublic:
        """The public view of a registry row."""
        return cls(
            address=row.address, owner=row.owner, networks=row.networks, created_at=row.created_at
        )


class DepositAddressList(BaseModel):
    """Addresses of one owner."""

    items: list[DepositAddressPublic]
