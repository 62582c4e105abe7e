"""Who may do what to a case: one table of action x role x relation, and its check.

A case has one claimant. Its own actions (accept the fee, renew a quote, cancel, answer
the desk, prove ownership) are the claimant's alone, through a user key: a reviewer or
an admin never speaks for the user. The desk's actions (claim, approve, reject, ask,
recheck) are reviewers' and admins', never on a case filed under their own subject;
settling a payout is an admin's. Everything not in the table is refused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from recovery.access.keys import Principal, Role
from recovery.appeals.errors import CaseNotFound
from recovery.errors import Forbidden


class CaseAction(StrEnum):
    """Something a caller does to one case."""

    READ = "read"  # the case and its events
    ACCEPT = "accept"
    REQUOTE = "requote"
    CANCEL = "cancel"
    ANSWER = "answer"
    CHALLENGE = "challenge"
    PROVE = "prove"
    CLAIM = "claim"
    APPROVE = "approve"
    REJECT = "reject"
    ASK = "ask"
    RECHECK = "recheck"
    RESOLVE_PAYOUT = "resolve_payout"
    VERIFICATION_CODE = "verification_code"  # what the owner gives to check the case


class Relation(StrEnum):
    """How the caller stands to the case: its claimant (same subject), or anyone else."""

    CLAIMANT = "claimant"
    OTHER = "other"


CLAIMANT_ACTIONS = frozenset(
    {
        CaseAction.ACCEPT,
        CaseAction.REQUOTE,
        CaseAction.CANCEL,
        CaseAction.ANSWER,
        CaseAction.CHALLENGE,
        CaseAction.PROVE,
        CaseAction.VERIFICATION_CODE,
    }
)
DESK_ACTIONS = frozenset(
    {CaseAction.CLAIM, CaseAction.APPROVE, CaseAction.REJECT, CaseAction.ASK, CaseAction.RECHECK}
)

_STAFF = (Role.REVIEWER, Role.ADMIN)

ALLOWED: dict[CaseAction, frozenset[tuple[Role, Relation]]] = {
    CaseAction.READ: frozenset(
        {(Role.USER, Relation.CLAIMANT)} | {(r, rel) for r in _STAFF for rel in Relation}
    ),
    **{a: frozenset({(Role.USER, Relation.CLAIMANT)}) for a in CLAIMANT_ACTIONS},
    **{a: frozenset({(r, Relation.OTHER) for r in _STAFF}) for a in DESK_ACTIONS},
    CaseAction.RESOLVE_PAYOUT: frozenset({(Role.ADMIN, Relation.OTHER)}),
}


class ClaimantOnly(Forbidden):
    """Raised when anyone but the case's claimant, with a user key, tries a claimant action."""


class DeskOnly(Forbidden):
    """Raised when a user key tries an action of the appeals team."""


class OwnCase(Forbidden):
    """Raised when a reviewer or admin tries to decide a case filed under their own subject."""


class AdminOnly(Forbidden):
    """Raised when anyone but an admin tries to settle a payout."""


def relation(principal: Principal, claimant: str) -> Relation:
    """The caller's relation to a case filed by `claimant`."""
    return Relation.CLAIMANT if principal.subject == claimant else Relation.OTHER


def allowed(action: CaseAction, role: Role, rel: Relation) -> bool:
    """True when the table lets `role` in `rel` to the case do `action`."""
    return (role, rel) in ALLOWED[action]


_CLAIMANT_WORDS = {
    CaseAction.ACCEPT: "accept its quote",
    CaseAction.REQUOTE: "ask for a new quote",
    CaseAction.CANCEL: "withdraw it",
    CaseAction.ANSWER: "answer the desk's question",
    CaseAction.CHALLENGE: "read its ownership challenge",
    CaseAction.PROVE: "prove ownership",
    CaseAction.VERIFICATION_CODE: "read its verification code",
}


class CaseIdentity(Protocol):
    """What access rules read of a case: a `Case`, or a row read for its public view."""

    @property
    def id(self) -> str: ...
    @property
    def claimant(self) -> str: ...
    @property
    def reference(self) -> str: ...


def authorize(principal: Principal, action: CaseAction, case: CaseIdentity) -> None:
    """Refuse `action` on `case` unless the table allows it.

    A user never learns that someone else's case exists: any action on it is a 404.
    """
    rel = relation(principal, case.claimant)
    if allowed(action, principal.role, rel):
        return
    reference = case.reference
    if principal.role == Role.USER and rel is Relation.OTHER:
        raise CaseNotFound(f"no case {case.id} among yours")
    if action in CLAIMANT_ACTIONS:
        raise ClaimantOnly(
            f"only the claimant of case {reference} may {_CLAIMANT_WORDS[action]}, with their "
            f"user key; a {principal.role} key never acts for the user (the desk's own "
            "actions are under /v1/review)"
        )
    if action is CaseAction.RESOLVE_PAYOUT and principal.role != Role.ADMIN:
        raise AdminOnly(f"settling a payout needs the admin role; your key has {principal.role}")
    if principal.role == Role.USER:
        raise DeskOnly(
            f"{action} is an action of the appeals team (a reviewer or admin key); your key "
            "has the user role"
        )
    who = "admin" if action is CaseAction.RESOLVE_PAYOUT else "reviewer"
    raise OwnCase(
        f"case {reference} was filed by you (under your subject); another {who} must decide"
    )
