"""Routes: admins create, list and revoke API keys (the `recovery keys` CLI does the same)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, status

from recovery.access import keys
from recovery.access.keys import Role
from recovery.access.schemas import KeyCreate, KeyCreated, KeyPage, KeyPublic
from recovery.api.context import ContextDep, CurrentPrincipal
from recovery.api.errors import AUTHENTICATED, PayloadTooLarge, error_responses
from recovery.errors import Forbidden, NotFound

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/admin/keys", tags=["operators"])
PAGE_LIMIT_MAX = 200


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreated,
    responses=error_responses(*AUTHENTICATED, Forbidden, PayloadTooLarge),
    summary="Create an API key (admin)",
)
def create_key(body: KeyCreate, context: ContextDep, principal: CurrentPrincipal) -> KeyCreated:
    """A new key for `subject` in `role`; the answer is the only time the key is shown."""
    principal.require(Role.ADMIN)
    with context.database.unit_of_work() as session:
        secret = keys.create_key(session, role=body.role, subject=body.subject, now=context.clock())
        row = keys.key_row(session, secret.split("_")[1])
        created = KeyCreated(**KeyPublic.of(row).model_dump(), key=secret)
    log.info(
        "API key %s created for %s %s by %s",
        created.id,
        created.role,
        created.subject,
        principal.actor,
        extra={
            "event": "api_key_created",
            "key_id": created.id,
            "role": created.role.value,
            "subject": created.subject,
            "actor": principal.actor,
        },
    )
    return created


@router.get(
    "",
    response_model=KeyPage,
    responses=error_responses(*AUTHENTICATED, Forbidden),
    summary="List API keys (admin)",
)
def list_keys(
    context: ContextDep,
    principal: CurrentPrincipal,
    role: Role | None = None,
    subject: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=64,
            description="`next_cursor` of the previous page.",
            json_schema_extra={"pattern": keys.CURSOR_PATTERN},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = 50,
) -> KeyPage:
    """Keys newest first, revoked ones included, optionally of one role or subject."""
    principal.require(Role.ADMIN)
    with context.database.unit_of_work() as session:
        rows, next_cursor = keys.key_page(
            session, role=role, subject=subject, after=cursor, limit=limit
        )
        return KeyPage(items=[KeyPublic.of(row) for row in rows], next_cursor=next_cursor)


@router.post(
    "/{key_id}/revoke",
    response_model=KeyPublic,
    responses=error_responses(*AUTHENTICATED, Forbidden, NotFound),
    summary="Revoke an API key (admin)",
)
def revoke_key(key_id: str, context: ContextDep, principal: CurrentPrincipal) -> KeyPublic:
    """Refuse the key from now on; revoking a revoked key changes nothing and says when."""
    principal.require(Role.ADMIN)
    with context.database.unit_of_work() as session:
        row = keys.key_row(session, key_id)
        already = row.revoked_at is not None
        keys.revoke_key(session, key_id, context.clock())
        revoked = KeyPublic.of(row)
    # This process refuses it from the next request; the others once their cache lapses.
    context.keys.forget(key_id)
    if not already:
        log.info(
            "API key %s of %s %s revoked by %s",
            revoked.id,
            revoked.role,
            revoked.subject,
            principal.actor,
            extra={
                "event": "api_key_revoked",
                "key_id": revoked.id,
                "role": revoked.role.value,
                "subject": revoked.subject,
                "actor": principal.actor,
            },
        )
    return revoked
