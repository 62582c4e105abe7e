"""Proof of ownership: the transfer's sender signs a challenge naming the case (EIP-191)."""

from __future__ import annotations

import secrets
from datetime import datetime

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy.orm import Session

from recovery.access.case_rules import CaseAction
from recovery.access.keys import Principal
from recovery.appeals.repository import CaseRepository
from recovery.appeals.service import get_case
from recovery.domain.case import Case
from recovery.domain.states import CaseStatus
from recovery.errors import Conflict
from recovery.review.errors import BadSignature

PROVABLE = frozenset(
    {
        CaseStatus.CONFIRMING,
        CaseStatus.QUOTED,
        CaseStatus.IN_REVIEW,
        CaseStatus.NEEDS_INFO,
        CaseStatus.VERIFYING,
        CaseStatus.EXPIRED,
    }
)


def challenge_text(case: Case) -> str:
    """The message the sender signs; it names the case, the refund address and a nonce."""
    return (
        f"Deposit recovery: case {case.reference} ({case.id}).\n"
        f"I sent transaction {case.tx_hash} on {case.network} and ask that it be refunded "
        f"to {case.refund_address}.\n"
        f"Nonce: {case.proof_nonce}"
    )


def _sender(case: Case) -> str:
    sender = (case.facts or {}).get("sender")
    if not sender:
        raise Conflict(
            f"case {case.reference} is {case.status}: the transfer's sender is known only "
            "once the transaction is verified; ask for the challenge then"
        )
    return str(sender)


def challenge(session: Session, principal: Principal, case_id: str) -> tuple[Case, str, str]:
    """The challenge for a verified case (same nonce until it is proven): case, message, signer."""
    case = get_case(session, principal, case_id, CaseAction.CHALLENGE)
    sender = _sender(case)
    if case.proof_nonce is None:
        case.proof_nonce = secrets.token_hex(16)
        CaseRepository(session).save(case)
    return case, challenge_text(case), sender


def recover_signer(message: str, signature: str) -> str:
    """The address that signed `message` (EIP-191 personal_sign), or BadSignature."""
    try:
        return str(Account.recover_message(encode_defunct(text=message), signature=signature))
    except Exception as exc:  # eth-account raises several types for malformed input
        raise BadSignature(
            "signature: not a valid 65-byte EIP-191 signature (0x + 130 hex digits) of the "
            "challenge from GET /challenge"
        ) from exc


def prove(
    session: Session, principal: Principal, case_id: str, signature: str, *, now: datetime
) -> Case:
    """Accept the signature if the transfer's sender made it over this case's challenge."""
    case = get_case(session, principal, case_id, CaseAction.PROVE)
    if case.status not in PROVABLE:
        raise Conflict(
            f"case {case.reference} is {case.status}; proof is taken only before approval"
        )
    sender = _sender(case)
    if case.proof_nonce is None:
        raise Conflict("ask for the challenge first: GET /v1/appeals/{id}/challenge")
    signer = recover_signer(challenge_text(case), signature)
    if signer.lower() != sender.lower():
        raise BadSignature(
            f"signature: signed by {signer}, but the transfer was sent by {sender}; "
            "sign the challenge with the sending wallet",
            reason_code="ownership_not_proven",
        )
    case.proven_by = sender
    case.updated_at = now
    CaseRepository(session).save(case)
    return case
