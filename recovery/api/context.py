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
from recovery.access.keys import Principal, authenticate
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


def get_context(request: Request) -> AppContext:
    """The context the app was built with."""
    context = request.app.state.context
    assert isinstance(context, AppContext)
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_principal(
    context: ContextDep,
    authorization: Annotated[
        str | None, Header(description="`Bearer <api key>`", max_length=512)
    ] = None,
) -> Principal:
    """The caller behind the request's API key (a short read-only transaction)."""
    with context.database.unit_of_work() as session:
        return authenticate(session, authorization)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
