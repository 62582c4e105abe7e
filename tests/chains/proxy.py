"""A tiny HTTP proxy in front of a real anvil node that can be told to misbehave.

The fake is only the misbehaviour (answering 503 on purpose, a head its node does not
have, like a load balancer mixing backends, or another client's name); every other
answer it passes on is the node's own.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx


class NodeProxy:
    """Forwards JSON-RPC to `target`; `failing` answers 503 instead, `head_offset` adds
        to every `eth_blockNumber` answer, `client_version` answers `web3_clientVersion`
        itself (a node of another make), `max_log_range` refuses an `eth_getLogs` over more
    blocks than that, as public providers do. `hits` counts the requests that reached it and
        `methods` lists the methods asked, in order."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.failing = False
        self.head_offset = 0
        self.client_version: str | None = None
        self.max_log_range: int | None = None
        self.hits = 0
        self.methods: list[str] = []
        self.url = ""
        self._lock = threading.Lock()

    def answer(self, body: bytes) -> tuple[int, bytes]:
        """Status and body for one request."""
        request = json.loads(body)
        items = request if isinstance(request, list) else [request]
        with self._lock:
            self.hits += 1
            self.methods.extend(str(item.get("method")) for item in items)
            failing, offset, client = self.failing, self.head_offset, self.client_version
        if failing:
            return 503, b"upstream unavailable"
        own = {
            item["id"]: {"jsonrpc": "2.0", "id": item["id"], "result": client}
            for item in items
            if client is not None and item.get("method") == "web3_clientVersion"
        }
        own |= {
            item["id"]: {
                "jsonrpc": "2.0",
                "id": item["id"],
                "error": {"code": -32005, "message": "query exceeds max block range"},
            }
            for item in items
            if item.get("method") == "eth_getLogs" and self._too_wide(item["params"][0])
        }
        forward = [item for item in items if item.get("id") not in own]
        replies = dict(own)
        if forward:
            response = httpx.post(self.target, json=forward, timeout=10.0)
            if response.status_code != 200:
                return response.status_code, response.content
            replies.update({item["id"]: item for item in response.json()})
        head_ids = {item["id"] for item in items if item.get("method") == "eth_blockNumber"}
        out = [replies[item["id"]] for item in items]
        for item in out:
            if offset and item.get("id") in head_ids and "result" in item:
                item["result"] = hex(int(item["result"], 16) + offset)
        return 200, json.dumps(out if isinstance(request, list) else out[0]).encode()

    def _too_wide(self, query: dict[str, Any]) -> bool:
        if self.max_log_range is None:
            return False
        span = int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
        return span > self.max_log_range


@contextmanager
def serve_proxy(target: str) -> Iterator[NodeProxy]:
    """A running `NodeProxy` on a free loopback port."""
    proxy = NodeProxy(target)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, body = proxy.answer(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
