"""What the appeals API accepts and returns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter
from pydantic_core import from_json

from recovery.catalogue.schemas import VerdictPublic
from recovery.domain.case import Case, CaseEvent, reference_of
from recovery.domain.messages import user_actor, user_message
from recovery.i18n.catalogue import translate
from recovery.i18n.texts import REASON_TEXTS

_STRICT = ConfigDict(extra="forbid")


def _refuse_bool(value: object) -> object:
    # Pydantic reads true as 1; JSON Schema's integer (as the contract says) excludes it.
    if isinstance(value, bool):
        raise ValueError("expected an integer, not a boolean")
    return value


# An integer as JSON Schema means one: 3 or 3.0, never true or false.
JsonInt = Annotated[int, BeforeValidator(_refuse_bool)]


class AppealCreate(BaseModel):
    """A request to recover one mis-sent transfer."""

    model_config = _STRICT

    case_type: Literal["wrong_network", "unlisted_token"] = Field(
        description="wrong_network: sent over another network than the address was opened "
        "for; unlisted_token: a token the exchange does not list, on a network it does."
    )
    network: str = Field(
        min_length=1, max_length=64, description="Network the transfer actually went over."
    )
    opened_for: str | None = Field(
        default=None,
        max_length=64,
        description="Network the deposit address was opened for (wrong_network only).",
    )
    tx_hash: str = Field(min_length=1, max_length=128)
    token: str = Field(
        min_length=1,
        max_length=128,
        description='Token contract address, or "native" for the network\'s own coin.',
    )
    deposit_address: str = Field(min_length=1, max_length=128)
    refund_address: str = Field(min_length=1, max_length=128)
    claimed_amount: str | None = Field(
        default=None,
        max_length=78,
        pattern=r"^[0-9]+$",
        description="Amount that was sent, as an integer in base units (wei, token units).",
    )
    log_indexes: list[Annotated[JsonInt, Field(ge=0, le=2_147_483_647)]] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The transaction's Transfer logs this claim covers, by their log index "
        "(as the receipt shows them). Leave out to claim every transfer of the token to "
        "the deposit address in the transaction (the amount is then their sum). Tokens "
        "only: native value has no log.",
    )


class EventStaffView(BaseModel):
    """What only reviewers and admins read about an event: who acted and their full note."""

    actor: str = Field(description="`role:subject` of whoever acted.")
    detail: str = Field(description="The full detail, internal notes included.")


class EventPublic(BaseModel):
    """One state change of a case."""

    seq: int
    from_status: str | None
    to_status: str
    actor: str = Field(
        description="Who acted: `system:...`, `user:<you>`, or for the appeals team only "
        "the role (`reviewer`, `admin`); staff read the name under `staff`."
    )
    reason_code: str | None
    reason: str | None = Field(
        default=None,
        description="What the reason code means, in the reader's language (Accept-Language "
        "or their chosen language).",
    )
    detail: str = Field(description="What happened, in words written for the claimant.")
    created_at: datetime
    staff: EventStaffView | None = Field(
        default=None, description="Reviewers and admins only: the actor and internal detail."
    )

    @classmethod
    def of(cls, event: CaseEvent, *, staff: bool, language: str = "en") -> EventPublic:
        """The event as the claimant reads it (in `language` where the catalogues have its
        words), plus the staff view when `staff`."""
        reason = REASON_TEXTS.get(event.reason_code or "")
        return cls(
            seq=event.seq,
            from_status=event.from_status.value if event.from_status else None,
            to_status=event.to_status.value,
            actor=user_actor(event.actor),
            reason_code=event.reason_code,
            reason=None if reason is None else translate(reason, language),
            detail=translate(user_message(event), language),
            created_at=event.created_at,
            staff=EventStaffView(actor=event.actor, detail=event.detail) if staff else None,
        )


class AppealPublic(BaseModel):
    """A case as its claimant and the appeals team see it."""

    id: str
    reference: str
    status: str
    case_type: str
    network: str
    opened_for: str | None
    tx_hash: str
    token: str
    deposit_address: str
    refund_address: str
    claimed_amount: str | None = Field(description="Base units, as a decimal string.")
    log_indexes: list[int] | None = Field(
        description="The Transfer logs the appeal names; null: every transfer of the token "
        "to the deposit address in the transaction."
    )
    facts: dict[str, Any] | None = Field(description="What the chain showed, once verified.")
    verdict: VerdictPublic | None = Field(description="The policy's verdict and quote.")
    policy_version: str | None
    check_note: str | None = Field(
        description="Why the last automatic check could not finish, if it could not."
    )
    ownership_proven: bool
    question: str | None = Field(description="The appeals team's open question, if any.")
    answer: str | None
    deadline_at: datetime | None = Field(description="When the open quote or question expires.")
    delivered_amount: str | None = Field(
        default=None,
        description="What the chain shows arrived at the refund address, in base units, "
        "once the payout is mined (may be less than the quote's net amount for a token that "
        "keeps part of every transfer).",
    )
    queue: str | None = Field(
        default=None,
        description="The appeals desk's queue the case is routed to, once it is quoted.",
    )
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, case: Case) -> AppealPublic:
        """The public view of a case."""
        return cls(
            id=case.id,
            reference=case.reference,
            status=case.status.value,
            case_type=case.case_type.value,
            network=case.network,
            opened_for=case.opened_for,
            tx_hash=case.tx_hash,
            token=case.token,
            deposit_address=case.deposit_address,
            refund_address=case.refund_address,
            claimed_amount=None if case.claimed_amount is None else str(case.claimed_amount),
            log_indexes=None if case.named_log_indexes is None else list(case.named_log_indexes),
            facts=case.facts,
            verdict=VerdictPublic.model_validate(case.verdict) if case.verdict else None,
            policy_version=case.policy_version,
            check_note=case.check_note,
            ownership_proven=case.proven_by is not None,
            question=case.question,
            answer=case.answer,
            deadline_at=case.deadline_at,
            delivered_amount=((case.facts or {}).get("payout") or {}).get("delivered_amount"),
            queue=case.queue,
            version=case.version,
            created_at=case.created_at,
            updated_at=case.updated_at,
        )


# A stored verdict's text is JSON `null` when the case has none yet; `of` reads an empty
# one as none too.
_VERDICT: TypeAdapter[VerdictPublic | None] = TypeAdapter(VerdictPublic | None)
_NO_VERDICT = (None, "null", "{}")


def public_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """What `AppealPublic.of` shows, as data ready for `to_json`, from the columns
    `PublicCaseReads` reads (`PUBLIC_KEYS`; the JSON ones as their text).

    The hot reads' way to the same view: no domain case, no model per case, no json.loads,
    and the verdict parsed and validated in one pass; a page of 50 costs half as much.
    tests/recovery/api/test_public_view.py holds the two equal.
    """
    facts = _from_text(row["facts"])
    verdict = row["verdict"]
    amount = row["claimed_amount"]
    return {
        "id": row["id"],
        "reference": reference_of(row["number"]),
        "status": row["status"],
        "case_type": row["case_type"],
        "network": row["network"],
        "opened_for": row["opened_for"],
        "tx_hash": row["tx_hash"],
        "token": row["token"],
        "deposit_address": row["deposit_address"],
        "refund_address": row["refund_address"],
        "claimed_amount": None if amount is None else str(amount),
        "log_indexes": _from_text(row["named_log_indexes"]),
        "facts": facts,
        "verdict": None if verdict in _NO_VERDICT else _VERDICT.validate_json(verdict),
        "policy_version": row["policy_version"],
        "check_note": row["check_note"],
        "ownership_proven": row["proven_by"] is not None,
        "question": row["question"],
        "answer": row["answer"],
        "deadline_at": row["deadline_at"],
        "delivered_amount": ((facts or {}).get("payout") or {}).get("delivered_amount"),
        "queue": row["queue"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _from_text(text: str | None) -> Any:
    # pydantic-core's parser: about half the time of json.loads, the same values (integers
    # of any size stay integers).
    return None if text is None else from_json(text)


class AppealPage(BaseModel):
    """One page of cases, newest first."""

    items: list[AppealPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class EventList(BaseModel):
    """A case's events, oldest first."""

    items: list[EventPublic]
