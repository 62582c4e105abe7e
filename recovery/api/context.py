"""What every request needs: the database, the policy, the settings and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Request

from chains.evm.adapter import EvmAdapter
from policies import Policy
from recovery.access.keys import KeyCache, Principal, parse_authorization, principal_of, stored_key
from recovery.db.engine import Database
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


async def get_principal(
    context: ContextDep,
    authorization: Annotated[
        str | None, Header(description="`Bearer <api key>`", max_length=512)
    ] = None,
) -> Principal:
    """The caller behind the request's API key: from the process's key cache, or one read."""
    prefix, key = parse_authorization(authorization)
    stored = context.keys.get(prefix)
    if stored is None:
        stored = await context.database.rows(lambda connection: stored_key(connection, prefix))
        if stored is not None:
            context.keys.put(prefix, stored)
    return principal_of(stored, key)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
