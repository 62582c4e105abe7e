"""The facts of a case as the engine sees them: plain values, checked for consistency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from policies.errors import InvalidFactsError
from policies.model import CaseType


@dataclass(frozen=True, kw_only=True)
class Facts:
    """What is known about a mis-sent deposit; `now` is an input, the engine has no clock.

    `None` in a boolean-ish fact means "not known yet": conditions that need it stay pending.
    `payout_network_cost` is in base units of the native asset of `network`.
    """

    case_type: str
    network: str
    amount: int
    refund_address: str
    now: datetime
    opened_for: str | None = None
    token: str | None = None
    token_decimals: int | None = None
    deposit_address_is_contract: bool | None = None
    # The EIP-7702 delegate when the deposit address's code is a delegation designator.
    deposit_address_delegate: str | None = None
    sender: str | None = None
    # Whether the refund address holds code on the payout's network (None: not read).
    refund_address_is_contract: bool | None = None
    ownership_proven: bool = False
    token_transferable: bool | None = None
    transfer_time: datetime | None = None
    payout_network_cost: int | None = None
    at_approval: bool = False

    def __post_init__(self) -> None:
        try:
            case_type = CaseType(self.case_type)
        except ValueError:
            known = ", ".join(CaseType)
            raise InvalidFactsError(
                f"unknown case_type {self.case_type!r}; known: {known}"
            ) from None
        object.__setattr__(self, "case_type", case_type)
        if case_type is CaseType.WRONG_NETWORK and not self.opened_for:
            raise InvalidFactsError("a wrong_network case needs opened_for (the deposit's network)")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise InvalidFactsError(
                f"amount must be a non-negative integer of base units: {self.amount!r}"
            )
        if self.token_decimals is not None and not 0 <= self.token_decimals <= 77:
            raise InvalidFactsError(f"token_decimals out of range: {self.token_decimals}")
        if self.payout_network_cost is not None and self.payout_network_cost < 0:
            raise InvalidFactsError(f"payout_network_cost is negative: {self.payout_network_cost}")
        for name in ("now", "transfer_time"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise InvalidFactsError(f"{name} must be timezone-aware: {moment.isoformat()}")
