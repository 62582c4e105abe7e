"""Per-key and per-client rate limits: in-process token buckets in front of every route.

Each process keeps its own buckets, in memory: N processes behind a balancer allow N
times the configured rates. That is the stated choice: it costs nothing per request and
needs no shared store; a global limit belongs to the proxy in front.

Every request but the health probes takes a token from its client's bucket; one carrying
an API key also from the key's (told by the key's public id, `rk_<id>_...`, with no
database lookup); one with no Authorization header from the client's stricter
unauthenticated bucket; a filing (`POST /v1/appeals`) also from its filer's filing bucket.
A request that finds any of its buckets empty takes no token and gets a 429 `RateLimited`
with `Retry-After` in whole seconds.
"""

from __future__ import annotations

import ipaddress
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from recovery.api.errors import RateLimited, render_error
from recovery.settings import Settings

# Probes answer whatever the load: a balancer must see a busy service as alive.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})
FILING_PATHS = frozenset({"/v1/appeals", "/v1/appeals/"})
# A bucket is kept per key and per client; past this many in one limit, the full ones
# (nothing to remember) are dropped, then the oldest.
MAX_BUCKETS = 100_000
_KEY_ID = re.compile(rb"^\s*bearer\s+rk_([^_\s]{1,64})_", re.IGNORECASE)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class _Bucket:
    tokens: float
    at: float


class Limit:
    """One kind of bucket: `per_minute` requests a minute each, bursts up to a minute's worth."""

    def __init__(self, per_minute: int, setting: str) -> None:
        self.per_minute = per_minute
        self.setting = setting
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        """False when the setting is 0."""
        return self.per_minute > 0

    def wait(self, who: str, now: float) -> float:
        """Seconds until `who`'s bucket holds a token (0: it holds one now)."""
        bucket = self._refilled(who, now)
        # A client that waited exactly Retry-After must not be refused by a rounding error.
        return 0.0 if bucket.tokens >= 1 - 1e-9 else (1 - bucket.tokens) / self.rate

    def take(self, who: str, now: float) -> None:
        """Take one token from `who`'s bucket."""
        self._refilled(who, now).tokens -= 1

    def _refilled(self, who: str, now: float) -> _Bucket:
        bucket = self.buckets.get(who)
        if bucket is None:
            if len(self.buckets) >= MAX_BUCKETS:
                self._forget(now)
            bucket = self.buckets[who] = _Bucket(self.capacity, now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket

    def _forget(self, now: float) -> None:
        full = [
            who
            for who, b in self.buckets.items()
            if b.tokens + (now - b.at) * self.rate >= self.capacity
        ]
        for who in full:
            del self.buckets[who]
        # Still crowded (a flood of distinct clients): forget the oldest tenth.
        for who in list(self.buckets)[: max(0, len(self.buckets) - MAX_BUCKETS * 9 // 10)]:
            del self.buckets[who]


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused and how long to wait."""

    detail: str
    retry_after: int


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[IpNetwork]
) -> str:
    """The client a request comes from: the peer, or behind trusted proxies the nearest
    address in X-Forwarded-For that is not one of them."""
    if peer is None:
        return "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def _is_trusted(address: str, trusted: Sequence[IpNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class RateLimiter:
    """The buckets of one process, and the rule of which a request draws from."""

    def __init__(self, settings: Settings, monotonic: Callable[[], float]) -> None:
        self.per_key = Limit(settings.rate_limit_per_key, "RECOVERY_RATE_LIMIT_PER_KEY")
        self.per_client = Limit(settings.rate_limit_per_client, "RECOVERY_RATE_LIMIT_PER_CLIENT")
        self.unauthenticated = Limit(
            settings.rate_limit_unauthenticated, "RECOVERY_RATE_LIMIT_UNAUTHENTICATED"
        )
        self.filing = Limit(settings.rate_limit_filing, "RECOVERY_RATE_LIMIT_FILING")
        self.trusted: list[IpNetwork] = list(settings.trusted_proxies)
        self.monotonic = monotonic
        # The event loop runs one request's check at a time, but a test client or a
        # threaded server may call from several threads.
        self._lock = threading.Lock()

    def admit(self, scope: Scope) -> Refusal | None:
        """Take a token from each of the request's buckets, or refuse it taking none."""
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for" and name in headers:
                headers[name] += b"," + value
            else:
                headers.setdefault(name, value)
        peer = scope.get("client")
        forwarded = headers.get(b"x-forwarded-for")
        client = client_address(
            peer[0] if peer else None,
            forwarded.decode("latin-1") if forwarded is not None else None,
            self.trusted,
        )
        authorization = headers.get(b"authorization")
        match = _KEY_ID.match(authorization) if authorization is not None else None
        key = f"rk_{match.group(1).decode('latin-1')}" if match else None
        filer = key or client
        draws: list[tuple[Limit, str, str]] = [(self.per_client, client, f"client {client}")]
        if key is not None:
            draws.append((self.per_key, key, f"API key {key}"))
        if authorization is None and not _console_session(scope, headers):
            draws.append((self.unauthenticated, client, f"unauthenticated requests from {client}"))
        if scope.get("method") == "POST" and scope.get("path") in FILING_PATHS:
            draws.append((self.filing, filer, f"filings by {filer}"))
        draws = [draw for draw in draws if draw[0].enabled]
        if not draws:
            return None
        with self._lock:
            now = self.monotonic()
            waits = [(limit.wait(who, now), limit, what) for limit, who, what in draws]
            refused = [(wait, limit, what) for wait, limit, what in waits if wait > 0]
            if not refused:
                for limit, who, _ in draws:
                    limit.take(who, now)
                return None
        retry_after = max(1, math.ceil(max(wait for wait, _, _ in refused)))
        reasons = "; ".join(
            f"{what} may make {limit.per_minute} a minute ({limit.setting})"
            for _, limit, what in refused
        )
        return Refusal(
            detail=f"too many requests: {reasons}; retry after {retry_after} s",
            retry_after=retry_after,
        )


def _console_session(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """A console page or form of a signed-in session (its cookie, checked by the page), or
    the console's static files: the per-client bucket is theirs, not the stricter one of
    requests without a key. Signing in stays in the stricter bucket (it guesses keys)."""
    path = str(scope.get("path", ""))
    if not path.startswith("/console/") or path == "/console/sign-in":
        return False
    return path.startswith("/console/static/") or b"recovery_console=" in headers.get(
        b"cookie", b""
    )


class RateLimits:
    """ASGI middleware: a request over a limit gets a 429 and never reaches a handler."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        refusal = self.limiter.admit(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        response = render_error(
            RateLimited(refusal.detail), headers={"Retry-After": str(refusal.retry_after)}
        )
        await response(scope, receive, send)
