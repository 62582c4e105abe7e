"""Checking a case reference and its verification code.

The answer says whether such a case exists and its state, and nothing else. An unknown
reference and a wrong code give the same answer, in the same time: the code is compared
in constant time with a stored one, or with a stand-in when there is no case, so neither
the answer nor its timing tells a reference that exists from one that does not.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.db.tables import CaseRow
from recovery.domain.messages import STATE_WORDS
from recovery.domain.states import CaseStatus
from recovery.i18n.catalogue import translate

REFERENCE = re.compile(r"^RC-([0-9]{6,9})$")
CODE = re.compile(r"^[23456789A-HJ-NP-Z]{10}$")
_STAND_IN = "ZZZZZZZZZZ"


@dataclass(frozen=True)
class Verified:
    """What a check of a reference and code says."""

    reference: str
    genuine: bool
    state: str | None = None
    words: str | None = None


def verify(session: Session, reference: str, code: str, language: str = "en") -> Verified:
    """Whether `reference` is a case of this service with this verification code."""
    reference = reference.strip().upper()
    code = code.strip().upper().replace("-", "").replace(" ", "")
    match = REFERENCE.match(reference)
    stored, status = _STAND_IN, None
    if match and int(match.group(1)) <= 2**31 - 1:
        row = session.execute(
            select(col(CaseRow.verification_code), col(CaseRow.status)).where(
                col(CaseRow.number) == int(match.group(1))
            )
        ).first()
        if row is not None and row[0]:
            stored, status = str(row[0]), str(row[1])
    same = hmac.compare_digest(stored.encode(), code.encode()) and bool(CODE.match(code))
    if not same or status is None:
        return Verified(reference=reference, genuine=False)
    words = translate(STATE_WORDS[CaseStatus(status)], language)
    return Verified(reference=reference, genuine=True, state=status, words=words)
