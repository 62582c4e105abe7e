"""Public routes to verify a case: a JSON answer and a page."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from recovery.api.context import ContextDep
from recovery.i18n.catalogue import negotiate
from recovery.i18n.endpoints import AcceptLanguage
from recovery.verify.service import Verified, verify

router = APIRouter(tags=["verify"])
templates = Jinja2Templates(directory=FilePath(__file__).parent / "templates")

Code = Annotated[
    str,
    Query(
        min_length=1,
        max_length=24,
        description="The case's verification code, as its owner sees it.",
    ),
]


class Verification(BaseModel):
    """Whether a case with this reference and code exists, and its state; nothing else."""

    reference: str
    genuine: bool = Field(description="False for an unknown reference or a wrong code alike.")
    state: str | None
    words: str | None = Field(description="The state in plain words, in your language.")


@router.get(
    "/v1/verify/{reference}",
    response_model=Verification,
    summary="Check that a case is real (public)",
)
async def verify_case(
    reference: Annotated[
        str,
        Path(pattern=r"^RC-[0-9]{6,9}$", description="The case reference, e.g. RC-000123."),
    ],
    code: Code,
    context: ContextDep,
    accept_language: AcceptLanguage = None,
) -> Verification:
    """Anyone who was given a case reference and its code can check it: the answer is
    whether such a case exists and its state, the same for an unknown reference and a
    wrong code. Rate limited per client."""
    language = negotiate(accept_language)
    found = await context.database.read(lambda session: verify(session, reference, code, language))
    return Verification.model_validate(found, from_attributes=True)


@router.get("/verify", include_in_schema=False, response_class=HTMLResponse)
async def verify_page(
    request: Request,
    context: ContextDep,
    reference: Annotated[str, Query(max_length=32)] = "",
    code: Annotated[str, Query(max_length=24)] = "",
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """The public page: a form, the answer, and how the service contacts users."""
    language = negotiate(accept_language)
    result: Verified | None = None
    if reference and code:
        result = await context.database.read(
            lambda session: verify(session, reference, code, language)
        )
    return templates.TemplateResponse(
        request,
        "verify.html",
        {"reference": reference, "result": result, "language": language},
        headers={"Cache-Control": "no-store"},
    )
