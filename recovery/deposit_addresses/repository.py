"""Queries on the deposit address registry."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.db.tables import DepositAddressRow


class DepositAddressRepository:
    """Loads and stores registered deposit addresses."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, address: str) -> DepositAddressRow | None:
        """The registered address, or None."""
        return self.session.get(DepositAddressRow, address)

    def registered(self, addresses: Collection[str]) -> dict[str, DepositAddressRow]:
        """The registered ones among `addresses`, by address, in one query."""
        query = select(DepositAddressRow).where(col(DepositAddressRow.address).in_(addresses))
        return {row.address: row for row in self.session.scalars(query)}

    def add(self, row: DepositAddressRow) -> None:
        """Register an address."""
        self.session.add(row)
        self.session.flush()

    def of_owner(self, owner: str) -> list[DepositAddressRow]:
        """Every address registered to `owner`."""
        query = select(DepositAddressRow).where(col(DepositAddressRow.owner) == owner)
        return list(self.session.scalars(query.order_by(col(DepositAddressRow.created_at))))
