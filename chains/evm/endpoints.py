"""What one process knows about a network's RPC endpoints: state, heads, failures, rests.

The chain is the truth and a node can be wrong. Each network keeps the highest head any
of its endpoints has shown; an endpoint that answers with a lower head is `lagging` and is
not used for heads (and so for confirmations) until it shows the highest head again. An
endpoint whose requests fail `rest.failures` times in a row rests: it is not tried until
its rest is over, and each rest that ends in another failure doubles the next one, up to
`rest.longest`. Before an endpoint is used it must say who it is (`EndpointIdentity`:
the network's chain id, and an anvil client where the policy marks the network devnet);
one that says otherwise is `refused`, never used, and asked again only after a longest
rest. Only a devnet (`rewinds`), whose chain may be reset, lets its heads go
back, and only when every endpoint answered below the highest head. Everything is in
memory and per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import httpx

log = logging.getLogger(__name__)


class EndpointState(StrEnum):
    """What an operator sees of one endpoint."""

    # Not asked anything yet by this process.
    UNTRIED = "untried"
    # Its last answer was usable.
    ALIVE = "alive"
    # Its last head was below the network's highest head: not used for heads.
    LAGGING = "lagging"
    # Its last request failed, or its answer contradicted itself.
    UNREACHABLE = "unreachable"
    # It serves another chain id, or a devnet-marked network's node is no anvil: never used.
    REFUSED = "refused"


# What local development nodes call themselves in `web3_clientVersion` ("anvil/v1.7.1").
DEVNET_CLIENTS = ("anvil",)


@dataclass(frozen=True, slots=True)
class EndpointIdentity:
    """What each endpoint of a network must report before anything is sent through it.

    `chain_id`: the chain id the policy gives the network (`eth_chainId` must match).
    `devnet`: the policy marks the network devnet, so its node must be a local anvil
    (`web3_clientVersion`): a chain id alone never says "devnet".
    """

    chain_id: int | None
    devnet: bool = False

    def problem(self, client: str | None, chain_id: int | None) -> str | None:
        """Why an endpoint reporting `client` and `chain_id` may not be used; None if it may."""
        if self.chain_id is not None and chain_id != self.chain_id:
            said = "no chain id" if chain_id is None else f"chain id {chain_id}"
            return f"it serves {said}, not the policy's {self.chain_id}"
        if self.devnet and not (client or "").lower().startswith(DEVNET_CLIENTS):
            shown = repr(client[:80]) if client else "no client version"
            return f"the network is marked devnet, but its node reports {shown}, not anvil"
        return None


@dataclass(frozen=True, slots=True)
class RestPolicy:
    """When a failing endpoint rests, and for how long (seconds, doubling per rest)."""

    failures: int = 3
    first: float = 5.0
    longest: float = 300.0

    def __post_init__(self) -> None:
        if self.failures < 1 or self.first <= 0 or self.longest < self.first:
            raise ValueError(f"a rest needs failures >= 1 and 0 < first <= longest: {self}")

    def length(self, rests: int) -> float:
        """Seconds of the `rests`-th rest in a row (0-based), bounded by `longest`."""
        return min(self.longest, self.first * 2.0 ** min(rests, 32))


@dataclass(frozen=True, slots=True)
class EndpointStatus:
    """One endpoint as an operator sees it; `name` never shows the URL's path or query."""

    index: int
    name: str
    state: EndpointState
    last_head: int | None
    requests: int
    errors: int
    failures_in_row: int
    lagged: int
    contradictions: int
    resting_seconds: float
    last_error: str | None


@dataclass(frozen=True, slots=True)
class NetworkEndpoints:
    """A network's highest head seen and the state of each of its endpoints."""

    network: str
    highest_head: int | None
    failovers: int
    endpoints: tuple[EndpointStatus, ...]


def public_name(url: str) -> str:
    """`scheme://host:port`, with `/…` for a path or query, which often carry an API key."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "(unreadable URL)"
    port = f":{parsed.port}" if parsed.port else ""
    hidden = "/…" if parsed.path not in ("", "/") or parsed.query else ""
    return f"{parsed.scheme}://{parsed.host}{port}{hidden}"


class _Endpoint:
    """Mutable record of one endpoint; only `EndpointPool` touches it, under its lock."""

    __slots__ = (
        "contradictions",
        "errors",
        "failures_in_row",
        "identified_at",
        "index",
        "lagged",
        "last_error",
        "last_head",
        "name",
        "requests",
        "rest_until",
        "rests",
        "state",
        "url",
    )

    def __init__(self, index: int, url: str, name: str) -> None:
        self.index = index
        self.url = url
        self.name = name
        self.state = EndpointState.UNTRIED
        self.last_head: int | None = None
        self.requests = 0
        self.errors = 0
        self.failures_in_row = 0
        self.lagged = 0
        self.contradictions = 0
        self.rests = 0
        self.rest_until: float | None = None
        self.last_error: str | None = None
        # The pool's count of failures of its preferred endpoint when this one last showed
        # its identity; None: not since it last failed (a new connection is checked again).
        self.identified_at: int | None = None


class EndpointPool:
    """The endpoints of one network, the order to try them in, and the highest head seen.

    Thread-safe: the jobs of one process share it.
    """

    def __init__(
        self,
        network: str,
        urls: Sequence[str],
        *,
        rest: RestPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        rewinds: bool = False,
    ) -> None:
        names = [public_name(url) for url in urls]
        # Two endpoints of one provider differ only in their hidden path: number them.
        self._endpoints = [
            _Endpoint(i, url, name if names.count(name) == 1 else f"{name}#{i}")
            for i, (url, name) in enumerate(zip(urls, names, strict=True))
        ]
        self.network = network
        # A devnet may be reset or rewound: when all its endpoints agree, heads go back.
        self.rewinds = rewinds
        self.rest = rest or RestPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._preferred = 0
        self._highest: int | None = None
        self._failovers = 0
        self._preferred_failures = 0

    @property
    def highest_head(self) -> int | None:
        """The highest head any endpoint of this network has shown this process."""
        return self._highest

    def refusal(self, index: int) -> str | None:
        """Why endpoint `index` is refused, while it rests after a refusal; else None."""
        with self._lock:
            endpoint = self._endpoints[index]
            resting = endpoint.rest_until is not None and endpoint.rest_until > self._clock()
            return (
                endpoint.last_error if endpoint.state == EndpointState.REFUSED and resting else None
            )

    def needs_identity(self, index: int) -> bool:
        """Whether endpoint `index` must show its identity before its next request: it
        never did, it failed since, or requests fail over to it (the preferred endpoint
        failed since it last did)."""
        with self._lock:
            endpoint = self._endpoints[index]
            if endpoint.identified_at is None:
                return True
            return index != self._preferred and endpoint.identified_at < self._preferred_failures

    def identity_shown(self, index: int) -> None:
        """Endpoint `index` reported the identity its network needs."""
        with self._lock:
            endpoint = self._endpoints[index]
            endpoint.identified_at = self._preferred_failures
            if endpoint.state == EndpointState.REFUSED:
                endpoint.state = EndpointState.UNTRIED

    def refuse(self, index: int, why: str) -> None:
        """Endpoint `index` is not what its network needs: never used, asked again only
        after the longest rest."""
        with self._lock:
            endpoint = self._endpoints[index]
            endpoint.identified_at = None
            endpoint.errors += 1
            endpoint.state = EndpointState.REFUSED
            endpoint.last_error = f"refused: {why}"
            endpoint.rest_until = self._clock() + self.rest.longest
        log.error(
            "%s: endpoint %s refused: %s",
            self.network,
            self.name(index),
            why,
            extra={
                "event": "rpc_endpoint_refused",
                "network": self.network,
                "endpoint": self.name(index),
                "error": why,
            },
        )

    def url(self, index: int) -> str:
        """The full URL of endpoint `index` (for requests and error messages)."""
        return self._endpoints[index].url

    def name(self, index: int) -> str:
        """The endpoint's name for logs, metrics and operators (no path or query)."""
        return self._endpoints[index].name

    def order(self) -> list[int]:
        """Endpoints to try, best first: the one that answered last, then the others in
        their configured order, lagging ones last; resting ones left out."""
        with self._lock:
            now = self._clock()
            awake = [e for e in self._endpoints if e.rest_until is None or e.rest_until <= now]
            first = [e for e in awake if e.index == self._preferred]
            rest = [e for e in awake if e.index != self._preferred]
            ordered = first + rest
            ordered.sort(key=lambda e: e.state == EndpointState.LAGGING)  # stable
            return [e.index for e in ordered]

    def resting(self) -> dict[str, str]:
        """Why each resting endpoint is not tried, by URL (for `RpcUnavailable`)."""
        with self._lock:
            now = self._clock()
            return {
                e.url: (
                    f"{e.last_error}; asked again in {e.rest_until - now:.1f}s"
                    if e.state == EndpointState.REFUSED
                    else f"resting {e.rest_until - now:.1f}s more after {e.failures_in_row} "
                    f"failures in a row; last: {e.last_error}"
                )
                for e in self._endpoints
                if e.rest_until is not None and e.rest_until > now
            }

    def sent(self, index: int) -> None:
        """Count a request sent to endpoint `index`."""
        with self._lock:
            self._endpoints[index].requests += 1

    def answered(self, index: int, *, use: bool = True) -> None:
        """Endpoint `index` answered: it is reachable again and, when its answer is `use`d,
        preferred from now on (a lagging head is an answer, but not one to prefer)."""
        with self._lock:
            endpoint = self._endpoints[index]
            was = endpoint.state
            endpoint.failures_in_row = 0
            endpoint.rests = 0
            endpoint.rest_until = None
            if was in (EndpointState.UNTRIED, EndpointState.UNREACHABLE):
                endpoint.state = EndpointState.ALIVE
            previous = self._preferred
            if use:
                self._preferred = index
            switched = use and previous != index
            self._failovers += switched
            came_back = was == EndpointState.UNREACHABLE
        if switched:
            log.warning(
                "%s: failed over from %s to %s",
                self.network,
                self.name(previous),
                self.name(index),
                extra={
                    "event": "rpc_failover",
                    "network": self.network,
                    "from_endpoint": self.name(previous),
                    "to_endpoint": self.name(index),
                },
            )
        elif came_back:
            log.info(
                "%s: endpoint %s answers again",
                self.network,
                self.name(index),
                extra={"event": "rpc_endpoint_back", "network": self.network},
            )

    def failed(self, index: int, error: str, *, contradiction: bool = False) -> None:
        """Endpoint `index` failed a request (or contradicted itself): maybe it rests now."""
        with self._lock:
            endpoint = self._endpoints[index]
            endpoint.errors += 1
            endpoint.failures_in_row += 1
            endpoint.contradictions += contradiction
            endpoint.last_error = error
            endpoint.state = EndpointState.UNREACHABLE
            endpoint.identified_at = None
            self._preferred_failures += index == self._preferred
            rest = 0.0
            if endpoint.failures_in_row >= self.rest.failures:
                rest = self.rest.length(endpoint.rests)
                endpoint.rests += 1
                endpoint.rest_until = self._clock() + rest
            failures = endpoint.failures_in_row
        fields = {"network": self.network, "endpoint": self.name(index), "error": error}
        if rest:
            log.warning(
                "%s: endpoint %s rests %.0fs after %d failures in a row: %s",
                self.network,
                self.name(index),
                rest,
                failures,
                error,
                extra={"event": "rpc_endpoint_rests", "rest_seconds": rest, **fields},
            )
        else:
            event = "rpc_endpoint_contradiction" if contradiction else "rpc_endpoint_failed"
            log.warning(
                "%s: endpoint %s failed: %s",
                self.network,
                self.name(index),
                error,
                extra={"event": event, **fields},
            )

    def behind(self, index: int, head: int) -> int | None:
        """If `head`, answered by endpoint `index`, is below the highest head seen, mark
        the endpoint lagging and return that highest head; else None."""
        with self._lock:
            endpoint = self._endpoints[index]
            highest = self._highest
            if highest is None or head >= highest:
                return None
            endpoint.last_head = head
            endpoint.lagged += 1
            endpoint.state = EndpointState.LAGGING
        log.warning(
            "%s: endpoint %s is lagging: head %d, below %d seen before",
            self.network,
            self.name(index),
            head,
            highest,
            extra={
                "event": "rpc_endpoint_lagging",
                "network": self.network,
                "endpoint": self.name(index),
                "head": head,
                "highest_head": highest,
            },
        )
        return highest

    def saw_head(self, index: int, head: int) -> None:
        """Endpoint `index` gave a usable head: it is alive, and the highest head rises."""
        with self._lock:
            endpoint = self._endpoints[index]
            was = endpoint.state
            endpoint.last_head = head
            endpoint.state = EndpointState.ALIVE
            self._highest = head if self._highest is None else max(self._highest, head)
        if was == EndpointState.LAGGING:
            log.info(
                "%s: endpoint %s caught up at head %d",
                self.network,
                self.name(index),
                head,
                extra={
                    "event": "rpc_endpoint_caught_up",
                    "network": self.network,
                    "endpoint": self.name(index),
                    "head": head,
                },
            )

    def rewound(self, index: int, head: int) -> None:
        """Every endpoint answered below the highest head of a network that may be reset:
        the chain went back, and endpoint `index`'s `head` is the highest from now on."""
        with self._lock:
            endpoint = self._endpoints[index]
            highest, self._highest = self._highest, head
            endpoint.last_head = head
            endpoint.state = EndpointState.ALIVE
        log.warning(
            "%s: the chain went back from head %s to %d (a devnet reset or rewind)",
            self.network,
            highest,
            head,
            extra={
                "event": "rpc_chain_rewound",
                "network": self.network,
                "endpoint": self.name(index),
                "head": head,
                "highest_head": highest,
            },
        )

    def report(self) -> NetworkEndpoints:
        """A snapshot for metrics and operators."""
        with self._lock:
            now = self._clock()
            return NetworkEndpoints(
                network=self.network,
                highest_head=self._highest,
                failovers=self._failovers,
                endpoints=tuple(
                    EndpointStatus(
                        index=e.index,
                        name=e.name,
                        state=e.state,
                        last_head=e.last_head,
                        requests=e.requests,
                        errors=e.errors,
                        failures_in_row=e.failures_in_row,
                        lagged=e.lagged,
                        contradictions=e.contradictions,
                        resting_seconds=(
                            max(0.0, e.rest_until - now) if e.rest_until is not None else 0.0
                        ),
                        last_error=e.last_error,
                    )
                    for e in self._endpoints
                ),
            )
