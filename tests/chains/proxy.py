"""A tiny HTTP proxy in front of a real anvil node that can be told to misbehave.

The fake is only the misbehaviour (answering 503 on purpose, or a head its node does not
have, like a load balancer mixing backends); every answer it passes on is the node's own.
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
    to every `eth_blockNumber` answer. `hits` counts the requests that reached it."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.failing = False
        self.head_offset = 0
        self.hits = 0
        self.url = ""
        self._lock = threading.Lock()

    def answer(self, body: bytes) -> tuple[int, bytes]:
        """Status and body for one request."""
        with self._lock:
            self.hits += 1
            failing, offset = self.failing, self.head_offset
        if failing:
            return 503, b"upstream unavailable"
        response = httpx.post(
            self.target, content=body, headers={"Content-Type": "application/json"}, timeout=10.0
        )
        if not offset:
            return response.status_code, response.content
        request, reply = json.loads(body), response.json()
        head_ids = {
            item["id"]
            for item in (request if isinstance(request, list) else [request])
            if item.get("method") == "eth_blockNumber"
        }
        for item in reply if isinstance(reply, list) else [reply]:
            if item.get("id") in head_ids and "result" in item:
                item["result"] = hex(int(item["result"], 16) + offset)
        return response.status_code, json.dumps(reply).encode()


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
