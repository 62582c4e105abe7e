"""HTTP route of triage."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from recovery.api.context import ContextDep, CurrentPrincipal
from recovery.api.errors import AUTHENTICATED, PayloadTooLarge, error_responses
from recovery.stats import topics
from recovery.triage import service
from recovery.triage.schemas import TriageDraft, TriageRequest

router = APIRouter(tags=["triage"])


@router.post(
    "/v1/triage",
    response_model=TriageDraft,
    responses=error_responses(*AUTHENTICATED, PayloadTooLarge),
    summary="Read a description into a draft appeal",
)
async def triage(body: TriageRequest, context: ContextDep, _: CurrentPrincipal) -> TriageDraft:
    """What the user wrote, read into a draft appeal (each field with its evidence and
    confidence), completed from every served network when it names a transaction hash,
    with the verdict it would get. Nothing is filed."""
    now = context.clock()
    result = await run_in_threadpool(
        service.triage,
        body.text,
        policy=context.policy,
        adapters=context.adapters,
        now=now,
        language=body.language,
    )
    # What it read (no text) feeds the desk's topic statistics.
    await context.database.run(lambda session: topics.record(session, result, now))
    return TriageDraft.model_validate(result)
