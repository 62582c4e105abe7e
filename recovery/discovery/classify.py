"""Is a transfer into a registered deposit address a mis-sent deposit, and of which kind?

Pure: the policy, the address's registration and the transfer's network and token in,
a kind (with the network the address was opened for) or None out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from policies import Policy


class FoundKind(StrEnum):
    """What kind of mistake a found deposit is; the same words as the case types."""

    WRONG_NETWORK = "wrong_network"
    UNLISTED_TOKEN = "unlisted_token"


class FoundStatus(StrEnum):
    """Where a found deposit stands (see `FoundDepositRow`)."""

    OPEN = "open"
    DUST = "dust"
    REFUSED = "refused"
    CLAIMED = "claimed"
    WITHDRAWN = "withdrawn"


# A found deposit in these states is offered to its owner.
OFFERED = (FoundStatus.OPEN, FoundStatus.CLAIMED)
# Reason codes that make a deposit too small to offer (recorded, not offered).
DUST_CODES = frozenset({"below_minimum_value", "fee_exceeds_value"})


@dataclass(frozen=True)
class Registration:
    """A registered deposit address as discovery sees it."""

    address: str
    owner: str
    networks: tuple[str, ...]


@dataclass(frozen=True)
class Mistake:
    """The kind of a found deposit, and for a wrong-network one, the networks the address
    was opened for (any of them may be the one the user meant)."""

    kind: FoundKind
    opened_for: tuple[str, ...] = ()


def classify(
    policy: Policy, network: str, registration: Registration, token: str | None
) -> Mistake | None:
    """The mistake a transfer of `token` (None: native) over `network` to the address is.

    None for an ordinary deposit (a listed asset on a network the address was opened
    for) and for a network of another family than the address's (its key does not hold
    there).
    """
    served = policy.networks[network]
    if network in registration.networks:
        if token is None or served.listed(token) is not None:
            return None
        return Mistake(FoundKind.UNLISTED_TOKEN)
    families = {policy.networks[n].family for n in registration.networks if n in policy.networks}
    if families != {served.family}:
        return None
    return Mistake(FoundKind.WRONG_NETWORK, registration.networks)
