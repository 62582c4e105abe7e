"""HTTP routes of languages: a user's choice, and the reason codes in words."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from recovery.access.keys import Principal
from recovery.api.context import AppContext, ContextDep, CurrentPrincipal
from recovery.api.errors import AUTHENTICATED, PayloadTooLarge, error_responses
from recovery.db.tables import UserLanguageRow
from recovery.i18n.catalogue import negotiate, translate
from recovery.i18n.texts import REASON_TEXTS

router = APIRouter(tags=["languages"])

LanguageId = Literal["en", "zh", "tr", "cs", "vi", "es", "pt", "ru", "fr", "ko"]
AcceptLanguage = Annotated[
    str | None,
    Header(
        alias="Accept-Language",
        max_length=512,
        description="The languages you read, as browsers send them (e.g. `tr-TR,tr;q=0.9`).",
    ),
]


class LanguageChoice(BaseModel):
    """The language a user reads the service in."""

    model_config = ConfigDict(extra="forbid")

    language: LanguageId | None = Field(
        description="One of the ten; null: follow Accept-Language again."
    )


class ReasonText(BaseModel):
    """A reason code and what it means."""

    code: str = Field(description="Stable and English: what clients match on.")
    text: str = Field(description="What it means, in the chosen language.")


class ReasonTexts(BaseModel):
    """Every reason code in words."""

    language: str
    items: list[ReasonText]


def stored_language(session: Session, subject: str) -> str | None:
    """The language a user chose, if they chose one."""
    row = session.get(UserLanguageRow, subject)
    return None if row is None else row.language


async def language_for(
    context: AppContext, principal: Principal | None, accept_language: str | None
) -> str:
    """The language to answer `principal` in (their choice, else Accept-Language)."""
    preferred = None
    if principal is not None:
        subject = principal.subject
        preferred = await context.database.read(lambda s: stored_language(s, subject))
    return negotiate(accept_language, preferred)


@router.get("/v1/reason-codes", response_model=ReasonTexts, summary="Reason codes in words")
def reason_codes(accept_language: AcceptLanguage = None) -> ReasonTexts:
    """What every reason code means, in the language of `Accept-Language`."""
    language = negotiate(accept_language)
    return ReasonTexts(
        language=language,
        items=[
            ReasonText(code=code, text=translate(text, language))
            for code, text in REASON_TEXTS.items()
        ],
    )


@router.get(
    "/v1/me/language",
    response_model=LanguageChoice,
    responses=error_responses(*AUTHENTICATED),
    summary="Your language",
)
async def get_language(context: ContextDep, principal: CurrentPrincipal) -> LanguageChoice:
    """The language you chose (null: the service follows your Accept-Language)."""
    subject = principal.subject
    chosen = await context.database.read(lambda s: stored_language(s, subject))
    return LanguageChoice.model_validate({"language": chosen})


@router.put(
    "/v1/me/language",
    response_model=LanguageChoice,
    responses=error_responses(*AUTHENTICATED, PayloadTooLarge),
    summary="Choose your language",
)
async def put_language(
    body: LanguageChoice, context: ContextDep, principal: CurrentPrincipal
) -> LanguageChoice:
    """Read the service in this language whatever your Accept-Language says."""
    subject, now = principal.subject, context.clock()

    def store(session: Session) -> None:
        row = session.get(UserLanguageRow, subject)
        if body.language is None:
            if row is not None:
                session.delete(row)
            return
        if row is None:
            session.add(UserLanguageRow(subject=subject, language=body.language, updated_at=now))
        else:
            row.language, row.updated_at = body.language, now

    await context.database.run(store)
    return body
