"""What the deposit address API accepts and returns."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from recovery.appeals.schemas import JsonInt
from recovery.db.tables import DepositAddressRow


class DepositAddressCreate(BaseModel):
    """Register an address the exchange controls for one user."""

    model_config = ConfigDict(extra="forbid")

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


class DepositAddressPublic(BaseModel):
    """A registered deposit address."""

    address: str
    owner: str
    networks: list[str]
    hd_index: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: DepositAddressRow) -> DepositAddressPublic:
        """The public view of a registry row."""
        return cls(
            address=row.address,
            owner=row.owner,
            networks=row.networks,
            hd_index=row.hd_index,
            created_at=row.created_at,
        )


class DepositAddressList(BaseModel):
    """Addresses of one owner."""

    items: list[DepositAddressPublic]
