"""What the review and proof routes accept and return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from policies.routing import load_routing
from recovery.domain.reasons import REJECTABLE

_REJECTABLE: list[JsonValue] = [*sorted(REJECTABLE)]

_STRICT = ConfigDict(extra="forbid")


class Acceptance(BaseModel):
    """Accept a quote by its id."""

    model_config = _STRICT
    quote_id: str = Field(min_length=1, max_length=40, description="The `verdict.quote.id`.")


class Approval(BaseModel):
    """A reviewer's approval, naming the review flags of the verdict they looked at."""

    model_config = _STRICT
    acknowledge: list[str] = Field(
        default=[],
        max_length=20,
        description="Every id in the verdict's `review_flags` (e.g. deposit_address_has_code): "
        "the reviewer says they saw it. A case with a flag left out is not approved.",
    )


class Challenge(BaseModel):
    """The message the transfer's sender signs to prove ownership."""

    message: str
    signer: str = Field(description="The address that must sign: the transfer's sender.")
    method: str = Field(description="How to sign it.")
    instructions: str = Field(
        default="", description="How to sign it and what we never ask for, in your language."
    )


class Proof(BaseModel):
    """An EIP-191 signature of the challenge."""

    model_config = _STRICT
    signature: str = Field(min_length=132, max_length=132, pattern=r"^0x[0-9a-fA-F]{130}$")


class InfoAnswer(BaseModel):
    """The user's answer to the appeals team's question."""

    model_config = _STRICT
    answer: str = Field(min_length=1, max_length=4000)


class Rejection(BaseModel):
    """A reviewer's rejection: a reason code and a note the user reads."""

    model_config = _STRICT
    reason_code: str = Field(
        default="reviewer_rejected",
        max_length=64,
        json_schema_extra={"enum": _REJECTABLE},
        description="One of the rejection reason codes.",
    )
    note: str = Field(min_length=1, max_length=4000)


class InfoRequest(BaseModel):
    """A question for the user."""

    model_config = _STRICT
    question: str = Field(min_length=1, max_length=4000)


class PayoutResolution(BaseModel):
    """An operator's settlement of a quarantined or failed payout."""

    model_config = _STRICT
    resolution: Literal["paid", "payout_failed", "retry"] = Field(
        description="paid: found on chain; payout_failed: known not to have happened; "
        "retry: send again as a new transaction."
    )
    note: str = Field(min_length=1, max_length=4000, description="What the operator saw.")


class DeskQueue(BaseModel):
    """One of the appeals desk's queues and what waits in it now."""

    id: str
    name: str
    target_minutes: int = Field(description="Time from entering review to a first decision.")
    escalate_to: str | None = Field(description="Where a case past the target goes.")
    senior: bool
    waiting: int
    oldest_since: datetime | None = Field(description="When the longest-waiting case came.")
    breaches: int = Field(description="Cases waiting past the target.")


class DeskQueueList(BaseModel):
    """Every desk queue."""

    items: list[DeskQueue]


class ReviewerQueuesSet(BaseModel):
    """The desk queues a reviewer is to belong to."""

    model_config = ConfigDict(extra="forbid")

    queues: list[
        Annotated[str, Field(json_schema_extra={"enum": sorted(load_routing().queues)})]
    ] = Field(max_length=32, description="Queue ids (GET /v1/review/queues); empty: every queue.")


class ReviewerQueues(BaseModel):
    """A reviewer's desk queues."""

    subject: str
    queues: list[str]
