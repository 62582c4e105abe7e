"""What the found-deposit API accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from policies.engine import format_amount
from recovery.catalogue.schemas import VerdictPublic
from recovery.db.tables import FoundDepositRow


class FoundDepositPublic(BaseModel):
    """A mis-sent deposit the service found at one of your deposit addresses."""

    id: str
    kind: Literal["wrong_network", "unlisted_token"] = Field(
        description="The case type it would be: sent over a network the address was not "
        "opened for, or a token the exchange does not list."
    )
    status: Literal["open", "dust", "refused", "claimed", "withdrawn"] = Field(
        description="open: offered, claim it; claimed: a case holds it (case_id); dust: "
        "below the policy's minimum, not offered; refused: the policy cannot recover it; "
        "withdrawn: its block was reorged out."
    )
    network: str = Field(description="The network the transfer went over.")
    opened_for: str | None = Field(description="For wrong_network: the address's network.")
    tx_hash: str
    log_index: int = Field(description="The Transfer log's index; -1 for native value.")
    deposit_address: str
    owner: str
    token: str = Field(description='Token contract address, or "native".')
    symbol: str | None
    decimals: int | None
    sender: str
    amount: str = Field(description="Base units, as an integer string.")
    amount_decimal: str = Field(description="The amount with the token's decimals.")
    block_number: int
    block_hash: str
    explorer_url: str | None
    verdict: VerdictPublic = Field(description="The policy's verdict and quote, as a case.")
    case_id: str | None = Field(description="The case that holds it, once claimed.")
    found_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: FoundDepositRow, explorer_url: str | None = None) -> FoundDepositPublic:
        """The public view of a stored find."""
        facts: dict[str, Any] = row.facts or {}
        decimals = facts.get("decimals")
        return cls(
            id=row.id,
            kind=row.kind,
            status=row.status,
            network=row.network,
            opened_for=row.opened_for,
            tx_hash=row.tx_hash,
            log_index=row.log_index,
            deposit_address=row.deposit_address,
            owner=row.owner,
            token=row.token,
            symbol=facts.get("symbol"),
            decimals=decimals,
            sender=row.sender,
            amount=str(row.amount),
            amount_decimal=format_amount(row.amount, decimals),
            block_number=row.block_number,
            block_hash=row.block_hash,
            explorer_url=explorer_url,
            verdict=VerdictPublic.model_validate(row.verdict),
            case_id=row.case_id,
            found_at=row.found_at,
            updated_at=row.updated_at,
        )


class FoundDepositPage(BaseModel):
    """One page of found deposits, newest first."""

    items: list[FoundDepositPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class FoundDepositClaim(BaseModel):
    """Turn a found deposit into a case."""

    model_config = ConfigDict(extra="forbid")

    refund_address: str = Field(
        min_length=1, max_length=128, description="Where the refund goes (usually the sender)."
    )
    signature: str | None = Field(
        default=None,
        max_length=200,
        description="Optional proof of ownership: the sender's EIP-191 signature of the "
        "challenge (GET /v1/found-deposits/{id}/challenge?refund_address=...).",
    )


class FoundDepositChallenge(BaseModel):
    """The message the transfer's sender signs to prove the deposit is theirs."""

    message: str
    signer: str = Field(description="The address that must sign: the transfer's sender.")
