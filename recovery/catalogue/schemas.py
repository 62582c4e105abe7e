"""What the catalogue and the preview return."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from policies import Network, Policy
from policies.model import FeeSchedule


class ConditionPublic(BaseModel):
    """One condition of a verdict, with its result."""

    id: str
    status: Literal["pass", "fail", "pending"]
    detail: str
    reason_code: str | None = None


class QuoteComponentPublic(BaseModel):
    """One part of a fee, in the quote currency and in base units of the asset."""

    name: str
    value: str | None
    amount: str = Field(description="Base units of the recovered asset.")
    detail: str


class QuotePublic(BaseModel):
    """What the service charges and what the user gets, valid until a time."""

    id: str | None = Field(default=None, description="Pass to /accept; set once issued.")
    schedule: str
    currency: str
    gross_amount: str = Field(description="What arrived, in base units.")
    gross_value: str | None = Field(description="Its value in the quote currency.")
    fee_amount: str
    net_amount: str = Field(description="What the refund address receives, in base units.")
    components: list[QuoteComponentPublic]
    valid_until: datetime
    notes: list[str] = []
    received_amount: str | None = Field(
        default=None,
        description="What the refund address would really receive, in base units, as the "
        "payout's simulation measured it (less than net_amount for a token that keeps part "
        "of every transfer).",
    )
    token_keeps_amount: str | None = Field(
        default=None, description="Base units the token itself keeps of the payout."
    )


class VerdictPublic(BaseModel):
    """The policy's verdict: class, eligibility, every condition, reason codes and quote."""

    policy_version: str
    policy_hash: str
    case_type: str
    network: str
    network_class: str
    eligible: bool
    conditions: list[ConditionPublic]
    reason_codes: list[str]
    quote: QuotePublic | None
    summary: str
    value: str | None = None
    needs_second_approval: bool = False
    review_flags: list[str] = Field(
        default=[],
        description="Conditions a reviewer must name in `acknowledge` when approving, e.g. "
        "deposit_address_has_code (the deposit address holds code) or "
        "refund_address_is_contract (the refund address holds code on the payout's network).",
    )


class CaseTypePublic(BaseModel):
    """A network's class for one case type, its conditions and fee schedule."""

    recovery_class: str = Field(serialization_alias="class")
    conditions: list[dict[str, str | int | None]]
    reason: str | None
    fee_schedule: FeeSchedule | None


class AssetPublic(BaseModel):
    """An asset the exchange credits on a network (address null: the native coin)."""

    symbol: str
    address: str | None
    decimals: int


class NetworkPublic(BaseModel):
    """One network of the catalogue."""

    id: str
    name: str
    family: str
    chain_id: int | None
    devnet: bool
    traces: bool = Field(
        description="Its nodes give call traces: native coin sent by a contract is verified."
    )
    native: AssetPublic
    confirmations: int
    block_time_seconds: float
    explorer_tx_url: str
    listed_assets: list[AssetPublic]
    wrong_network: CaseTypePublic
    unlisted_token: CaseTypePublic

    @classmethod
    def of(cls, network: Network, policy: Policy) -> NetworkPublic:
        """The public view of a catalogue entry, with its fee schedules."""

        def side(case_type: str) -> CaseTypePublic:
            rule = network.case_policy(case_type)
            klass = rule.recovery_class
            schedule = policy.fee_schedules.get(case_type, {}).get(klass)  # type: ignore[call-overload]
            return CaseTypePublic(
                recovery_class=klass.value,
                conditions=[c.model_dump(exclude_none=True, mode="json") for c in rule.conditions],
                reason=rule.reason,
                fee_schedule=schedule,
            )

        return cls(
            id=network.id,
            name=network.name,
            family=network.family.value,
            chain_id=network.chain_id,
            devnet=network.devnet,
            traces=network.traces,
            native=AssetPublic(
                symbol=network.native.symbol, address=None, decimals=network.native.decimals
            ),
            confirmations=network.confirmations,
            block_time_seconds=network.block_time_seconds,
            explorer_tx_url=network.explorer_tx_url,
            listed_assets=[
                AssetPublic(symbol=a.symbol, address=a.address, decimals=a.decimals)
                for a in network.listed_assets
            ],
            wrong_network=side("wrong_network"),
            unlisted_token=side("unlisted_token"),
        )


class Catalogue(BaseModel):
    """Every network the service knows, under one policy version."""

    policy_version: str
    policy_hash: str
    counts: dict[str, dict[str, int]] = Field(description="Networks per class, per case type.")
    items: list[NetworkPublic]
