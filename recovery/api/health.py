"""Liveness and readiness probes (public)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from recovery.api.context import ContextDep
from recovery.api.errors import error_responses
from recovery.errors import RecoveryError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """A probe's answer."""

    status: str


class NotReady(RecoveryError):
    """Raised when the database cannot be reached."""

    status_code = 503


@router.get("/healthz", response_model=Health, summary="Process is up")
def healthz() -> Health:
    """Answers as long as the process serves requests."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses=error_responses(NotReady),
    summary="Database reachable",
)
def readyz(context: ContextDep) -> Health:
    """Answers 200 when the database answers, 503 otherwise."""
    try:
        context.database.ping()
    except Exception as exc:
        raise NotReady(f"database unreachable: {type(exc).__name__}") from exc
    return Health(status="ready")
