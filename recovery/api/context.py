"""What every request needs: the database, the policy, the settings and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from chains.evm.adapter import EvmAdapter
from policies import Policy
from recovery.access.keys import (
    KeyCache,
    Principal,
    parse_authorization,
    principal_of,
    read_stored_key,
)
from recovery.db.engine import Database
from recovery.errors import Unauthorized
from recovery.settings import Settings


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


@dataclass
class AppContext:
    """Process-wide dependencies, wired once at start-up."""

    settings: Settings
    database: Database
    policy: Policy
    clock: Callable[[], datetime] = field(default=utc_now)
    # Seconds that only go forward: rate limit buckets and the metrics snapshot's age.
    monotonic: Callable[[], float] = field(default=time.monotonic)
    # Decimals of an unlisted token, asked of its chain (None: unknown, or no chain here).
    token_decimals: Callable[[str, str], int | None] = field(default=lambda _n, _t: None)
    # The process's chain adapters: operators' decisions are checked against the chain.
    adapters: Mapping[str, EvmAdapter] = field(default_factory=dict)
    # The gas wallet's address when this process pays out (None: no signer here).
    gas_wallet: str | None = None
    # The API keys this process has checked lately (see Settings.auth_cache_seconds).
    keys: KeyCache = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyCache(self.settings.auth_cache_seconds, self.monotonic)


async def get_context(request: Request) -> AppContext:
    """The context the app was built with."""
    context = request.app.state.context
    assert isinstance(context, AppContext)
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


# Longer than any key the service makes (`rk_` + 12 + 1 + 43 characters), with room.
AUTHORIZATION_MAX = 512


class ApiKeyBearer(SecurityBase):
    """The caller behind the request's `Authorization: Bearer <api key>`: from the
    process's key cache, or one read (`read_stored_key`); a 401 without a valid key.

    A security scheme of the OpenAPI contract (HTTP bearer), so the docs page can
    authorize and a generated client sends the key as authentication. Its one parameter
    is the request: FastAPI has no header to parse and validate on each call.
    """

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="rk_<id>_<secret>",
            description="An API key: `Authorization: Bearer rk_<id>_<secret>`.",
        )
        self.scheme_name = "ApiKey"

    async def __call__(self, request: Request) -> Principal:
        authorization = request.headers.get("authorization")
        if authorization is not None and len(authorization) > AUTHORIZATION_MAX:
            raise Unauthorized(
                f"Authorization header is longer than {AUTHORIZATION_MAX} characters; send "
                "`Authorization: Bearer <api key>`"
            )
        prefix, key = parse_authorization(authorization)
        context = request.app.state.context
        stored = context.keys.get(prefix)
        if stored is None:
            stored = await read_stored_key(context.database, prefix)
            if stored is not None:
                context.keys.put(prefix, stored)
        return principal_of(stored, key)


get_principal = ApiKeyBearer()
CurrentPrincipal = Annotated[Principal, Security(get_principal)]
