"""HTTP routes of statistics: public outcomes, and topics for the desk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from recovery.access.keys import Role
from recovery.api.context import ContextDep, CurrentPrincipal
from recovery.api.errors import AUTHENTICATED, error_responses
from recovery.errors import Forbidden
from recovery.stats import topics
from recovery.stats.outcomes import CachedOutcomes
from recovery.stats.schemas import OutcomeStats, TopicStats

router = APIRouter(prefix="/v1/stats", tags=["statistics"])

# One cache per database this process serves.
_CACHES: dict[int, CachedOutcomes] = {}


@router.get("", response_model=OutcomeStats, summary="Public outcomes (public)")
async def public_outcomes(context: ContextDep) -> OutcomeStats:
    """Per network and case type, over the last 30 and 365 days: appeals filed, paid
    (delivered), rejected by reason code, and the median and 90th-percentile time from
    filing to paid. Refreshed at most once a minute."""
    cache = _CACHES.setdefault(
        id(context.database), CachedOutcomes(context.database, context.clock)
    )
    return OutcomeStats.model_validate(await run_in_threadpool(cache.read))


@router.get(
    "/topics",
    response_model=TopicStats,
    responses=error_responses(*AUTHENTICATED, Forbidden),
    summary="What users write about (reviewer)",
)
async def topic_stats(
    context: ContextDep,
    principal: CurrentPrincipal,
    weeks: Annotated[int, Query(ge=1, le=52)] = 8,
    top: Annotated[int, Query(ge=1, le=50)] = 5,
) -> TopicStats:
    """Per ISO week and language, the most frequent networks, tokens, network pairs and
    draft outcomes in what users gave to triage: where users go wrong."""
    principal.require(Role.REVIEWER, Role.ADMIN)
    now = context.clock()
    rows = await context.database.read(
        lambda session: topics.weekly(session, now=now, weeks=weeks, top=top)
    )
    return TopicStats.model_validate({"items": rows})
