"""Which refund addresses the service refuses to pay: checked at filing and before signing.

A refund to the zero address burns it (and on many tokens reverts for ever); one to an
address the service controls (a deposit address, the gas wallet, the payout's own source)
pays the service itself while charging the user a fee; one to the token's contract locks
the tokens in it. Each refusal has its own reason code and says what to send instead.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from recovery.deposit_addresses.repository import DepositAddressRepository
from recovery.errors import InvalidInput

ZERO_ADDRESS = "0x" + "0" * 40


class RefundAddressRefused(InvalidInput):
    """Raised when the refund address is one the service never pays (see the module)."""

    reason_code = "refund_address_refused"
    reason_codes = ("refund_address_zero", "refund_address_ours", "refund_address_is_token")


_SEND_INSTEAD = (
    "give the address of a wallet you control on that network (the wallet that sent the "
    "transfer is the simplest choice)"
)


def refusal(
    session: Session | None,
    refund: str,
    *,
    tokens: Collection[str] = (),
    service_addresses: Collection[str] = (),
    is_deposit_address: bool | None = None,
) -> tuple[str, str] | None:
    """(reason code, message) when `refund` must not be paid, else None.

    `tokens` are the contracts the payout calls or whose logs carry it; `service_addresses`
    the addresses this process knows the service controls besides deposit addresses
    (the gas wallet, the payout's source). `is_deposit_address`: whether the caller has
    already found `refund` in the registry (None: look it up here, in `session`).
    """
    folded = refund.lower()
    if folded == ZERO_ADDRESS:
        return (
            "refund_address_zero",
            f"refund_address: {refund} is the zero address; nothing sent there can ever be "
            f"spent; {_SEND_INSTEAD}",
        )
    if folded in {t.lower() for t in tokens}:
        return (
            "refund_address_is_token",
            f"refund_address: {refund} is the token's own contract; tokens sent to it are "
            f"locked there; {_SEND_INSTEAD}",
        )
    ours = {a.lower() for a in service_addresses}
    if is_deposit_address is None:
        assert session is not None, "without a session, say whether it is a deposit address"
        is_deposit_address = DepositAddressRepository(session).get(refund) is not None
    if folded in ours or is_deposit_address:
        return (
            "refund_address_ours",
            f"refund_address: {refund} is an address of this service (a deposit address or "
            f"one of its own wallets), so a refund there would never reach you; "
            f"{_SEND_INSTEAD}",
        )
    return None


def check_refund_address(
    session: Session | None,
    refund: str,
    *,
    tokens: Collection[str] = (),
    service_addresses: Collection[str] = (),
    is_deposit_address: bool | None = None,
) -> None:
    """Refuse a refund address the service never pays, with its reason code (a 422)."""
    refused = refusal(
        session,
        refund,
        tokens=tokens,
        service_addresses=service_addresses,
        is_deposit_address=is_deposit_address,
    )
    if refused is not None:
        code, message = refused
        raise RefundAddressRefused(message, reason_code=code)
