"""JSON-RPC over HTTP with failover across a network's endpoints, retries and counters."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from chains.errors import RpcError, RpcUnavailable, UnexpectedResponse
from chains.evm.endpoints import EndpointIdentity, EndpointPool, RestPolicy

_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


@dataclass(frozen=True, slots=True)
class RpcReply:
    """One answer of a batch: a result, or the node's error object for that item."""

    result: Any
    error: dict[str, Any] | None = None


class EndpointFailed(Exception):
    """Raised when one endpoint gave no usable HTTP answer (the caller tries another)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"{endpoint}: {reason}")


class JsonRpcClient:
    """Sends JSON-RPC requests to the first endpoint that answers.

    A request goes to the endpoint that last answered, then to the others in order
    (lagging ones last, resting ones not at all: see `EndpointPool`); a connection error,
    timeout, non-200 status or unreadable body moves on to the next one. After every
    endpoint failed, the whole round is retried `retries` times with exponential backoff,
    then `RpcUnavailable` names each endpoint's last error. JSON-RPC error objects are
    answers, not endpoint failures, and never trigger failover.

    With an `identity`, no request goes to an endpoint before it reported the network's
    chain id (and, for a devnet, an anvil client) in one batch of `web3_clientVersion` and
    `eth_chainId`: checked on first use, again after it failed, and again when requests
    fail over to it (the endpoint in use failed). The answer is kept until then, so the
    check costs one request per endpoint per (re)connection. One that reports otherwise
    is refused (see `EndpointPool`).
    """

    def __init__(
        self,
        network: str,
        endpoints: Sequence[str],
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        rest: RestPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        rewinds: bool = False,
        identity: EndpointIdentity | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError(f"network {network} needs at least one RPC endpoint")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.network = network
        self.endpoints: tuple[str, ...] = tuple(endpoints)
        self.retries = retries
        self.backoff = backoff
        self.identity = identity
        self.pool = EndpointPool(network, self.endpoints, rest=rest, clock=clock, rewinds=rewinds)
        self._sleep = sleep
        self._http = httpx.Client(timeout=timeout, headers=_HEADERS)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._calls = 0
        self._errors = 0

    @property
    def calls(self) -> int:
        """HTTP requests sent, a batch counting once; failed attempts included."""
        return self._calls

    @property
    def errors(self) -> int:
        """HTTP requests that failed (connection, timeout, bad status, unreadable body)."""
        return self._errors

    def close(self) -> None:
        """Close pooled HTTP connections."""
        self._http.close()

    def call(self, method: str, params: Sequence[Any]) -> Any:
        """Send one request and return its result; a JSON-RPC error raises `RpcError`."""
        request_id = next(self._ids)
        payload = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}
        body = self._post(json.dumps(payload).encode(), method)
        if not isinstance(body, dict) or body.get("id") != request_id:
            raise UnexpectedResponse(self.network, method, f"no answer for id {request_id}")
        reply = _reply(body)
        if reply.error is not None:
            raise rpc_error(self.network, method, reply.error)
        return reply.result

    def batch(
        self,
        requests: Sequence[tuple[str, Sequence[Any]]],
        *,
        chunk_size: int = 500,
        parallel: int = 4,
    ) -> list[RpcReply]:
        """Send requests as JSON-RPC batches of at most `chunk_size`; replies keep the order.

        Up to `parallel` chunks are in flight at once: a node answers the items of one
        batch one after another, so a large read finishes sooner spread over connections.
        """
        chunks = [requests[i : i + chunk_size] for i in range(0, len(requests), chunk_size)]
        if len(chunks) <= 1 or parallel <= 1:
            return [reply for chunk in chunks for reply in self._batch_chunk(chunk)]
        with ThreadPoolExecutor(max_workers=min(parallel, len(chunks))) as pool:
            answered = list(pool.map(self._batch_chunk, chunks))
        return [reply for chunk_replies in answered for reply in chunk_replies]

    def batch_at(
        self,
        index: int,
        requests: Sequence[tuple[str, Sequence[Any]]],
        *,
        chunk_size: int = 500,
        parallel: int = 4,
        use: bool = True,
    ) -> list[RpcReply]:
        """Like `batch`, every chunk sent to endpoint `index` only, once, with no failover.

        For reads that must agree with each other (a head and the block hashes counted
        against it). Raises `EndpointFailed` when the endpoint gave no usable answer (it is
        counted against the endpoint); `use=False` keeps the endpoint's answer from
        making it the preferred one (the caller decides whether the answer is usable).
        """
        chunks = [requests[i : i + chunk_size] for i in range(0, len(requests), chunk_size)]

        def send(chunk: Sequence[tuple[str, Sequence[Any]]]) -> list[RpcReply]:
            return self._batch_chunk(chunk, lambda content, label: self._post_to(index, content))

        self.check_identity(index)

        if len(chunks) <= 1 or parallel <= 1:
            replies = [reply for chunk in chunks for reply in send(chunk)]
        else:
            with ThreadPoolExecutor(max_workers=min(parallel, len(chunks))) as pool:
                replies = [reply for answered in pool.map(send, chunks) for reply in answered]
        self.pool.answered(index, use=use)
        return replies

    def _batch_chunk(
        self,
        requests: Sequence[tuple[str, Sequence[Any]]],
        post: Callable[[bytes, str], Any] | None = None,
    ) -> list[RpcReply]:
        ids = [next(self._ids) for _ in requests]
        payload = [
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}
            for request_id, (method, params) in zip(ids, requests, strict=True)
        ]
        label = f"batch of {len(requests)} ({requests[0][0]}, ...)"
        body = (post or self._post)(json.dumps(payload).encode(), label)
        if isinstance(body, dict):
            # A node that refuses the whole batch answers with a single error object.
            raise rpc_error(self.network, label, body.get("error") or {"message": str(body)})
        if not isinstance(body, list):
            raise UnexpectedResponse(self.network, label, f"expected a list, got {body!r:.200}")
        by_id = {item.get("id"): item for item in body if isinstance(item, dict)}
        missing = [request_id for request_id in ids if request_id not in by_id]
        if missing:
            raise UnexpectedResponse(self.network, label, f"no answer for ids {missing[:5]}")
        return [_reply(by_id[request_id]) for request_id in ids]

    def _post(self, content: bytes, label: str) -> Any:
        # The order is fixed for the whole call: an endpoint that starts resting during
        # this call's retries still gets them; the next call leaves it out.
        order = self.pool.order()
        failures: dict[str, str] = self.pool.resting()
        for attempt in range(self.retries + 1 if order else 0):
            if attempt:
                self.pause(attempt)
            for index in order:
                try:
                    self.check_identity(index)
                    body = self._post_to(index, content)
                except EndpointFailed as exc:
                    failures[exc.endpoint] = exc.reason
                    continue
                self.pool.answered(index)
                return body
        raise RpcUnavailable(self.network, label, failures)

    def check_identity(self, index: int) -> None:
        """Make sure endpoint `index` is what its network needs before using it.

        Asks it (one batch) when the pool says it must show its identity again (see
        `EndpointPool.needs_identity`). Raises `EndpointFailed` when it cannot be asked, or when it
        reports another chain id or (devnet) a client that is not anvil: then it is refused.
        """
        if self.identity is None or not self.pool.needs_identity(index):
            return
        refusal = self.pool.refusal(index)
        if refusal is not None:
            raise EndpointFailed(self.endpoints[index], refusal)
        ids = next(self._ids), next(self._ids)
        payload = [
            {"jsonrpc": "2.0", "id": ids[0], "method": "web3_clientVersion", "params": []},
            {"jsonrpc": "2.0", "id": ids[1], "method": "eth_chainId", "params": []},
        ]
        body = self._post_to(index, json.dumps(payload).encode())
        answers = (
            {item.get("id"): item for item in body if isinstance(item, dict)}
            if isinstance(body, list)
            else {}
        )
        client = answers.get(ids[0], {}).get("result")
        chain_id = _chain_id(answers.get(ids[1], {}).get("result"))
        problem = self.identity.problem(client if isinstance(client, str) else None, chain_id)
        if problem is not None:
            self.pool.refuse(index, problem)
            raise EndpointFailed(self.endpoints[index], f"refused: {problem}")
        self.pool.identity_shown(index)

    def _post_to(self, index: int, content: bytes) -> Any:
        """One HTTP attempt at endpoint `index`, counted; raises `EndpointFailed`."""
        endpoint = self.endpoints[index]
        self._count(error=False)
        self.pool.sent(index)
        try:
            response = self._http.post(endpoint, content=content)
            if response.status_code != 200:
                raise EndpointFailed(
                    endpoint, f"HTTP {response.status_code}: {response.text[:200]}"
                )
            try:
                return response.json()
            except ValueError as exc:
                raise EndpointFailed(endpoint, f"unreadable body: {exc}") from exc
        except httpx.HTTPError as exc:
            failure = EndpointFailed(endpoint, f"{type(exc).__name__}: {exc}")
            self._failed(index, failure)
            raise failure from exc
        except EndpointFailed as failure:
            self._failed(index, failure)
            raise

    def _failed(self, index: int, failure: EndpointFailed) -> None:
        self._count(error=True)
        self.pool.failed(index, failure.reason)

    def pause(self, attempt: int) -> None:
        """Wait before retry round `attempt` (1-based): exponential backoff."""
        self._sleep(self.backoff * 2 ** (attempt - 1))

    def post_once(self, endpoint: str, content: bytes) -> httpx.Response:
        """One HTTP attempt at one endpoint, counted, with no retry (used for broadcasts)."""
        self._count(error=False)
        try:
            return self._http.post(endpoint, content=content)
        except httpx.HTTPError:
            self._count(error=True)
            raise

    def count_error(self) -> None:
        """Record a failure noticed by the caller after `post_once` returned."""
        self._count(error=True)

    def next_id(self) -> int:
        """A fresh JSON-RPC request id."""
        return next(self._ids)

    def _count(self, *, error: bool) -> None:
        with self._lock:
            if error:
                self._errors += 1
            else:
                self._calls += 1


def _chain_id(value: Any) -> int | None:
    """An `eth_chainId` answer as a number; None when it is not a hex quantity."""
    if not isinstance(value, str) or not value.startswith("0x"):
        return None
    try:
        return int(value, 16)
    except ValueError:
        return None


def _reply(item: dict[str, Any]) -> RpcReply:
    error = item.get("error")
    if error is not None:
        return RpcReply(result=None, error=error if isinstance(error, dict) else {"message": error})
    return RpcReply(result=item.get("result"))


def rpc_error(network: str, method: str, error: dict[str, Any]) -> RpcError:
    code = error.get("code")
    return RpcError(
        network,
        method,
        code if isinstance(code, int) else None,
        str(error.get("message", error)),
    )
