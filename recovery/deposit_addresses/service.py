"""Registering deposit addresses and checking that an appeal names one of the claimant's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from policies import Policy
from recovery.appeals import formats
from recovery.db.tables import DepositAddressRow
from recovery.deposit_addresses.repository import DepositAddressRepository
from recovery.errors import Conflict, InvalidInput


class AddressAlreadyRegistered(Conflict):
    """Raised when an address is registered a second time."""


def known_network(policy: Policy, network: str, field: str) -> str:
    """The network id if the policy knows it, else a 422 that lists the known ids.

    Exactly an id, as the contract's enum says: `ETHEREUM` or ` bsc` is refused, not
    guessed at, so that what a client sends is what it is stored and judged as.
    """
    if network not in policy.networks:
        known = ", ".join(sorted(policy.networks))
        raise InvalidInput(
            f"{field}: unknown network {network!r}; send one of the network ids exactly "
            f"(lowercase, as GET /v1/networks lists them): {known}"
        )
    return network


def register(
    session: Session,
    policy: Policy,
    *,
    address: str,
    owner: str,
    networks: list[str],
    actor: str,
    now: datetime,
    hd_index: int | None = None,
) -> DepositAddressRow:
    """Register `address` for `owner` on `networks` (all of one chain family)."""
    ids = sorted({known_network(policy, n, "networks") for n in networks})
    families = {policy.networks[n].family for n in ids}
    if len(families) != 1:
        raise InvalidInput(
            f"networks: {', '.join(ids)} belong to different families "
            f"({', '.join(sorted(families))}); one address cannot be opened on all of them"
        )
    normalised = formats.address(families.pop(), address, "address")
    repository = DepositAddressRepository(session)
    if repository.get(normalised) is not None:
        raise AddressAlreadyRegistered(f"deposit address {normalised} is already registered")
    row = DepositAddressRow(
        address=normalised,
        owner=owner,
        networks=ids,
        hd_index=hd_index,
        created_by=actor,
        created_at=now,
    )
    repository.add(row)
    return row
