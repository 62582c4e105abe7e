"""A Python load generator for machines without wrk: the same requests as api_load.lua.

    python -m benchmarks.api_loadgen URL MODE DATAFILE NONCE --connections 64 --duration 10

Keep-alive HTTP/1.1 over raw asyncio streams (uvloop when installed), the connections
split over `--processes` processes. Prints the same JSON line as the wrk script. Run
against the ceiling app's `/ping` (MODE ping) it shows its own ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

_BODY = (
    '{{"case_type":"wrong_network","network":"{network}","opened_for":"ethereum",'
    '"tx_hash":"{tx}","token":"native","deposit_address":"{deposit}",'
    '"refund_address":"{refund}","claimed_amount":"1000000000000000000"}}'
)


def request_maker(
    mode: str, datafile: str, nonce: int, worker: int, host: str
) -> Callable[[], bytes]:
    """A function giving the next request's bytes, as the wrk script builds them."""
    owners = [line.split() for line in Path(datafile).read_text().splitlines() if line.strip()]
    pick = random.Random(nonce + worker)
    counter = 0

    def make() -> bytes:
        nonlocal counter
        key, deposit, refund, network, *cases = owners[pick.randrange(len(owners))]
        head = f"Host: {host}\r\nAuthorization: Bearer {key}\r\n"
        if mode == "get":
            return f"GET /v1/appeals/{pick.choice(cases)} HTTP/1.1\r\n{head}\r\n".encode()
        if mode == "list":
            return f"GET /v1/appeals?limit=50 HTTP/1.1\r\n{head}\r\n".encode()
        if mode == "post":
            counter += 1
            tx = f"0x{nonce:08x}{worker:08x}{counter:048d}"
            body = _BODY.format(network=network, tx=tx, deposit=deposit, refund=refund).encode()
            return (
                f"POST /v1/appeals HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
                f"Idempotency-Key: {tx}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
        return f"GET /ping HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()

    return make


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        await reader.readexactly(length)
        return status
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return status


async def _drive(
    url: str, make: Callable[[], bytes], connections: int, seconds: float
) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    deadline = time.perf_counter() + seconds

    async def one() -> None:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            errors["connect"] += 1
            return
        try:
            while time.perf_counter() < deadline:
                data = make()
                started = time.perf_counter()
                writer.write(data)
                status = await asyncio.wait_for(_read_response(reader), 10)
                latencies.append(time.perf_counter() - started)
                if not 200 <= status < 400:
                    errors["status"] += 1
        except TimeoutError:
            errors["timeout"] += 1
        except (OSError, asyncio.IncompleteReadError):
            errors["read"] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(connections)))
    return {"latencies": latencies, "errors": errors, "seconds": time.perf_counter() - started}


def _worker(
    url: str, mode: str, datafile: str, nonce: int, worker: int, connections: int, seconds: float
) -> dict[str, object]:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    host = urlsplit(url).netloc
    make = request_maker(mode, datafile, nonce, worker, host)
    return asyncio.run(_drive(url, make, connections, seconds))


def _percentile(ordered: Sequence[float], share: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("mode", choices=["get", "list", "post", "ping"])
    parser.add_argument("datafile")
    parser.add_argument("nonce")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args(argv)
    nonce = int(args.nonce, 16)
    shares = [
        args.connections // args.processes + (1 if i < args.connections % args.processes else 0)
        for i in range(args.processes)
    ]
    with ProcessPoolExecutor(args.processes) as pool:
        futures = [
            pool.submit(_worker, args.url, args.mode, args.datafile, nonce, i + 1, n, args.duration)
            for i, n in enumerate(shares)
            if n
        ]
        results = [f.result() for f in futures]
    latencies = sorted(x for r in results for x in r["latencies"])  # type: ignore[attr-defined]
    errors = {k: sum(r["errors"][k] for r in results) for k in results[0]["errors"]}  # type: ignore[index, attr-defined]
    seconds = max(float(r["seconds"]) for r in results)  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "seconds": seconds,
                "p50_ms": _percentile(latencies, 0.50) * 1000,
                "p99_ms": _percentile(latencies, 0.99) * 1000,
                "mean_ms": sum(latencies) / max(len(latencies), 1) * 1000,
                "errors": errors,
            }
        )
    )


if __name__ == "__main__":
    main()
