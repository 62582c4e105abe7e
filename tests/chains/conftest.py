"""Real anvil nodes for the chain tests: one session-wide pair, chain ids 1 and 56.

A missing anvil binary is an error, never a skip: these tests are the proof that the
adapter reads real nodes.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from chains.devnet import DevnetChain, DevnetCluster
from chains.devnet.node import free_port
from chains.evm import EvmAdapter


@pytest.fixture(scope="session")
def bsc(devnet: DevnetCluster) -> DevnetChain:
    return devnet.chain("bsc")


@pytest.fixture(scope="session")
def ethereum(devnet: DevnetCluster) -> DevnetChain:
    return devnet.chain("ethereum")


@pytest.fixture
def bsc_adapter(devnet: DevnetCluster) -> Iterator[EvmAdapter]:
    with devnet.adapter("bsc") as adapter:
        yield adapter


@pytest.fixture
def ethereum_adapter(devnet: DevnetCluster) -> Iterator[EvmAdapter]:
    with devnet.adapter("ethereum") as adapter:
        yield adapter


@pytest.fixture
def devnet_bsc_small_batches(devnet: DevnetCluster) -> Iterator[EvmAdapter]:
    """An adapter that splits batches into HTTP requests of 2 calls."""
    with devnet.adapter("bsc", batch_size=2) as adapter:
        yield adapter


@pytest.fixture(scope="session")
def bsc_usdt(bsc: DevnetChain) -> str:
    """A USDT-like token (6 decimals) on the BSC devnet."""
    return bsc.deploy_token(symbol="USDT", name="Tether USD", decimals=6)


@pytest.fixture
def quirky(ethereum: DevnetChain) -> str:
    """A fresh QuirkyToken (6 decimals) on the ethereum devnet; its owner is accounts[0]."""
    return ethereum.deploy_quirky_token(symbol="QRK", name="Quirky", decimals=6)


class _Broken(http.server.BaseHTTPRequestHandler):
    """Answers 503 to everything, like an overloaded provider behind a proxy."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(503)
        self.end_headers()
        self.wfile.write(b"upstream unavailable")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Silent(http.server.BaseHTTPRequestHandler):
    """Reads the request and never answers in time, like a hung node."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(1.0)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def broken_endpoint() -> Iterator[str]:
    """An HTTP endpoint answering 503 to every request."""
    yield from _serve(_Broken)


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An HTTP endpoint that reads requests and answers none within a second."""
    yield from _serve(_Silent)


@pytest.fixture
def closed_endpoint() -> str:
    """A loopback URL where nothing listens: connections are refused."""
    return f"http://127.0.0.1:{free_port()}"


# Answers a JSON-RPC request itself (a dict with "result" or "error"), or None to forward it.
Refuse = Callable[[dict[str, Any]], dict[str, Any] | None]


def _proxy(upstream: str, refuse: Refuse) -> Iterator[str]:
    """Forwards JSON-RPC to `upstream`, answering some requests itself (`refuse`)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            items = body if isinstance(body, list) else [body]
            answers: dict[Any, dict[str, Any]] = {}
            forward = []
            for item in items:
                refusal = refuse(item)
                if refusal is None:
                    forward.append(item)
                else:
                    answers[item["id"]] = {"jsonrpc": "2.0", "id": item["id"], **refusal}
            if forward:
                upstream_answer = httpx.post(upstream, json=forward, timeout=30).json()
                answers.update({a["id"]: a for a in upstream_answer})
            out = [answers[item["id"]] for item in items]
            payload = json.dumps(out if isinstance(body, list) else out[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def rpc_proxy(devnet: DevnetCluster) -> Iterator[Callable[[str, Refuse], str]]:
    """Starts proxies in front of a devnet node that answer some requests themselves.

    `rpc_proxy("ethereum", refuse)` returns the proxy's URL; `refuse(request)` gives the
    answer (`{"error": ...}` or `{"result": ...}`) for a request, or None to forward it.
    """
    with contextlib.ExitStack() as stack:

        def start(network: str, refuse: Refuse) -> str:
            return stack.enter_context(
                contextlib.contextmanager(_proxy)(devnet.node(network).url, refuse)
            )

        yield start
