"""Asking the policy engine for a verdict, and storing that verdict as plain JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from policies import Facts, Policy, StaticPriceSource, Verdict, evaluate
from recovery.appeals.errors import AppealRefused
from recovery.appeals.schemas import AppealCreate
from recovery.domain.case import NATIVE, Case

# Refusals the policy makes from the appeal alone, before any chain lookup:
# such an appeal is refused at filing and no case is written.
STATIC_REFUSALS = frozenset(AppealRefused.reason_codes)


def facts_of_appeal(
    policy: Policy, appeal: AppealCreate, *, now: datetime, token_decimals: int | None = None
) -> Facts:
    """The facts a would-be appeal states, before the chain has confirmed any of them."""
    token = None if appeal.token == NATIVE else appeal.token
    return Facts(
        case_type=appeal.case_type,
        network=appeal.network,
        opened_for=appeal.opened_for,
        token=token,
        token_decimals=token_decimals,
        amount=int(appeal.claimed_amount) if appeal.claimed_amount is not None else 0,
        deposit_address_is_contract=None,
        sender=None,
        refund_address=appeal.refund_address,
        ownership_proven=False,
        token_transferable=None,
        transfer_time=None,
        now=now,
    )


def asks_chain_for_decimals(policy: Policy, appeal: AppealCreate) -> bool:
    """Whether judging the (normalised) appeal needs its token's decimals from the chain."""
    return appeal.token != NATIVE and policy.networks[appeal.network].listed(appeal.token) is None


def judge(
    policy: Policy,
    appeal: AppealCreate,
    *,
    now: datetime,
    token_decimals: Callable[[str, str], int | None] | None = None,
) -> Verdict:
    """The policy's verdict on the appeal as stated.

    An unlisted token's decimals are not in the policy; where the chain can be asked
    (`token_decimals`), a priced token is valued as it will be once verified.
    """
    decimals = None
    if token_decimals is not None and asks_chain_for_decimals(policy, appeal):
        decimals = token_decimals(appeal.network, appeal.token)
    facts = facts_of_appeal(policy, appeal, now=now, token_decimals=decimals)
    return evaluate(facts, policy, StaticPriceSource(policy))


def facts_of_case(case: Case, *, now: datetime, at_approval: bool = False) -> Facts:
    """The facts the chain confirmed for `case`, plus what the user proved since."""
    facts = case.facts or {}
    token = facts.get("token")
    return Facts(
        case_type=case.case_type.value,
        network=case.network,
        opened_for=case.opened_for,
        token=None if token in (None, NATIVE) else token,
        token_decimals=facts.get("decimals"),
        amount=int(facts.get("amount", 0)),
        deposit_address_is_contract=facts.get("deposit_address_is_contract"),
        deposit_address_delegate=facts.get("deposit_address_delegate"),
        sender=facts.get("sender"),
        refund_address=case.refund_address,
        refund_address_is_contract=facts.get("refund_address_is_contract"),
        ownership_proven=case.proven_by is not None,
        now=now,
        at_approval=at_approval,
    )


def judge_case(policy: Policy, case: Case, *, now: datetime, at_approval: bool = False) -> Verdict:
    """The policy's verdict on a verified case."""
    facts = facts_of_case(case, now=now, at_approval=at_approval)
    return evaluate(facts, policy, StaticPriceSource(policy))


def _plain(value: Any, name: str = "") -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, name) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, int) and not isinstance(value, bool) and name.endswith("amount"):
        # Base-unit amounts overflow JSON numbers in many readers: always send them as text.
        return str(value)
    return value


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    """The verdict as JSON-ready data (amounts as strings where they could overflow)."""
    data = _plain(verdict)
    assert isinstance(data, dict)
    return data
