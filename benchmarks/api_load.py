"""The service's API under load, side by side with a ceiling app on the same PostgreSQL.

    .venv/bin/python -m benchmarks.api_load [--cases 100000] [--owners 1000] [--duration 10]
        [--workers 1] [--queue-cases 1000000] [--rounds 3] [--quick] [--profile]

1. Creates a database of its own (`--database`, default recovery_bench, on the local
   server; dropped at the end), migrates it with the service's migrations, and seeds
   owners (a user key and a deposit address each) and a reviewer.
2. Starts the service (`recovery serve`, one process, no scheduler, no chains) and the
   ceiling app (benchmarks/api_ceiling.py: Starlette + raw asyncpg under uvicorn), each
   in a process group of its own. With `--workers N` it also starts `recovery serve
   --workers N` when the service has that option (and says "not supported" otherwise).
3. Seeds cases in bulk, in stages: 10,000 (the review queue and a user's list are timed),
   `--cases` (the load runs), `--queue-cases` (the queue and the list are timed again, to
   show whether they stay flat).
4. Load: wrk (Debian's package) when on PATH, else benchmarks/api_loadgen.py; the same
   requests for both apps (benchmarks/api_load.lua), at 64 and 8 connections, runs
   interleaved (ceiling, service, ceiling, service, ...) so that noise hits both. Prints
   req/s, p50 and p99 per endpoint and app, the ratio service / ceiling, the CPU time per
   request of the app, of PostgreSQL and of the load generator, and the issue's targets.
5. `--profile`: one more run per endpoint with py-spy sampling the service; prints where
   its time goes, by package.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from benchmarks.api_drive import ENDPOINTS, LoadGenerator, Run, pick_generator
from benchmarks.api_processes import (
    Server,
    child_env,
    free_port,
    recovery_command,
    serve_supports_workers,
)
from benchmarks.api_profile import profile
from benchmarks.api_report import (
    Timing,
    print_load,
    print_timings,
    print_workers,
    say,
)
from benchmarks.api_seed import (
    CEILING_TABLE,
    NETWORKS,
    SERVER,
    BenchDatabase,
    CaseSeeder,
    Owner,
    appeal_body,
    run_nonce,
    seed_people,
    write_helpers,
)

# The small stage: the queue and the list are timed here and again at --queue-cases.
SMALL = 10_000


# ---------------------------------------------------------------- the benchmark's data


def verdict_templates(service: Server, owner: Owner) -> dict[str, dict[str, Any]]:
    """The service's own verdict (preview) of a 1-coin appeal on each seeded network."""
    found = {}
    with httpx.Client(base_url=service.url, timeout=30) as client:
        for network, _, _ in NETWORKS:
            answer = client.post(
                "/v1/eligibility",
                json=appeal_body(owner, network, "0x" + "ee" * 32),
                headers={"Authorization": f"Bearer {owner.key}"},
            )
            if answer.status_code != 200:
                raise SystemExit(f"eligibility preview on {network}: {answer.text}")
            found[network] = answer.json()
    return found


def write_datafile(engine: Engine, owners: Sequence[Owner], path: Path, per_owner: int) -> None:
    """One line per owner: key, deposit address, refund address, a network, case ids."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT claimant, array_agg(id) FROM (SELECT claimant, id, row_number() OVER "
                "(PARTITION BY claimant ORDER BY md5(id)) AS n FROM cases) AS c "
                "WHERE n <= :k GROUP BY claimant"
            ),
            {"k": per_owner},
        )
        cases = dict(rows.all())
    networks = [n for n, _, _ in NETWORKS]
    lines = [
        " ".join(
            [o.key, o.deposit_address, o.refund_address, networks[i % len(networks)]]
            + cases[o.subject]
        )
        for i, o in enumerate(owners)
        if o.subject in cases
    ]
    path.write_text("\n".join(lines) + "\n")


def check_app(server: Server, owner: Owner, case_id: str, page_size: int) -> None:
    """Each endpoint answers as it should before any load (a wrong seed shows here)."""
    auth = {"Authorization": f"Bearer {owner.key}"}
    with httpx.Client(base_url=server.url, timeout=30, headers=auth) as client:
        one = client.get(f"/v1/appeals/{case_id}")
        page = client.get("/v1/appeals", params={"limit": 50})
        filed = client.post(
            "/v1/appeals",
            json=appeal_body(owner, "bsc", f"0x{int(run_nonce(), 16):064x}"),
        )
    problems = []
    if one.status_code != 200 or one.json().get("id") != case_id:
        problems.append(f"GET one case: {one.status_code} {one.text[:300]}")
    if page.status_code != 200 or len(page.json().get("items", [])) < page_size:
        problems.append(f"GET a page: {page.status_code} {page.text[:300]}")
    if filed.status_code != 201:
        problems.append(f"POST: {filed.status_code} {filed.text[:300]}")
    if problems:
        raise SystemExit(f"{server.name} does not answer as expected:\n" + "\n".join(problems))


# ---------------------------------------------------------------- review queue timing


def time_queries(
    service: Server, reviewer: str, owner: Owner, *, samples: int, budget: float
) -> list[Timing]:
    """The review queue (default, network filter) and `owner`'s list, pages 1 and 2."""
    user = {"Authorization": f"Bearer {owner.key}"}
    desk = {"Authorization": f"Bearer {reviewer}"}
    with httpx.Client(base_url=service.url, timeout=300) as client:
        first = client.get("/v1/appeals", params={"limit": 50}, headers=user).json()
        queries: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
            ("GET /v1/review/queue", "/v1/review/queue", {}, desk),
            (
                "GET /v1/review/queue?network=polygon",
                "/v1/review/queue",
                {"network": "polygon"},
                desk,
            ),
            ("GET /v1/appeals?limit=50 (busy user)", "/v1/appeals", {"limit": 50}, user),
        ]
        if first.get("next_cursor"):
            queries.append(
                (
                    "GET /v1/appeals?limit=50&cursor= (page 2)",
                    "/v1/appeals",
                    {"limit": 50, "cursor": first["next_cursor"]},
                    user,
                )
            )
        found = []
        for name, path, params, headers in queries:
            items = 0
            for _ in range(3):
                answer = client.get(path, params=params, headers=headers)
                if answer.status_code != 200:
                    raise SystemExit(f"{name}: {answer.status_code} {answer.text[:300]}")
                items = len(answer.json()["items"])
            latencies: list[float] = []
            deadline = time.perf_counter() + budget
            while len(latencies) < samples and (
                len(latencies) < 5 or time.perf_counter() < deadline
            ):
                started = time.perf_counter()
                client.get(path, params=params, headers=headers).raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)
            latencies.sort()
            found.append(
                Timing(
                    name,
                    statistics.median(latencies),
                    latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
                    len(latencies),
                    items,
                )
            )
    return found


def counts(engine: Engine) -> tuple[int, int]:
    """Cases, and cases in review, now in the database."""
    with engine.connect() as connection:
        total = connection.execute(text("SELECT count(*) FROM cases")).scalar_one()
        review = connection.execute(
            text("SELECT count(*) FROM cases WHERE status = 'in_review'")
        ).scalar_one()
    return int(total), int(review)


# ---------------------------------------------------------------- main


def interleaved(
    generator: LoadGenerator,
    apps: Sequence[tuple[str, Server]],
    connections: Sequence[int],
    *,
    rounds: int,
    seconds: float,
    warmup: float,
) -> list[Run]:
    """Every endpoint, warm first, then round after round of each app in turn."""
    runs: list[Run] = []
    for title, mode in ENDPOINTS:
        for name, server in apps:
            generator.run(server, name, mode, max(connections), warmup)
        for n in connections:
            for round_number in range(1, rounds + 1):
                for name, server in apps:
                    run = generator.run(server, name, mode, n, seconds)
                    runs.append(run)
                    say(
                        f"  {title:<26} {n:>3} conns round {round_number}: {name:<12} "
                        f"{run.rps:>8,.0f} req/s  p50 {run.p50_ms:6.1f} ms  "
                        f"p99 {run.p99_ms:6.1f} ms"
                        + (f"  errors {run.errors}" if run.errors else "")
                    )
    return runs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="cases during the load runs")
    parser.add_argument("--owners", type=int, default=1_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per app")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per app and endpoint")
    parser.add_argument("--workers", type=int, default=1, help="also run the service with N")
    parser.add_argument("--queue-cases", type=int, default=1_000_000)
    parser.add_argument("--connections", default="64,8", help="comma-separated")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--database", default="recovery_bench")
    parser.add_argument("--server", default=SERVER, help="PostgreSQL server (trust auth)")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy the service at the end")
    parser.add_argument(
        "--profile-out", type=Path, help="keep py-spy's raw stacks (profile-MODE.txt) here"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 10,000 cases, 100 owners, 3 s, 1 round"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.cases, args.owners, args.duration, args.rounds, args.warmup = 10_000, 100, 3, 1, 1
        args.queue_cases = min(args.queue_cases, 50_000)
    if importlib.util.find_spec("asyncpg") is None:
        raise SystemExit("the ceiling app needs asyncpg: pip install asyncpg (in the dev extra)")
    connections = [int(n) for n in args.connections.split(",")]
    # SIGTERM (and the shell's SIGHUP) end the run like Ctrl-C: every `finally` runs.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))

    say(f"command: python -m benchmarks.api_load {' '.join(sys.argv[1:])}")
    say(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    database = BenchDatabase(args.database, args.server)
    with tempfile.TemporaryDirectory(prefix="api_load-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        started = time.perf_counter()
        engine = database.create()
        if not args.keep_database:
            stack.callback(database.drop)
        owners, reviewer = seed_people(engine, args.owners)
        with engine.begin() as connection:
            connection.execute(text(CEILING_TABLE))
        keys = work / "keys.json"
        keys.write_text(json.dumps({f"Bearer {o.key}": o.subject for o in owners}))
        say(
            f"database {database.url}: migrated, {len(owners):,} owners with keys and deposit "
            f"addresses, in {time.perf_counter() - started:.1f}s"
        )

        service_env = child_env(
            RECOVERY_DATABASE_URL=database.url,
            RECOVERY_SCHEDULER_ENABLED="false",
            RECOVERY_ENVIRONMENT="development",
        )
        service_port = free_port()
        service = Server(
            "service",
            [*recovery_command(), "serve", "--host", "127.0.0.1", "--port", str(service_port)],
            service_env,
            work / "service.log",
            service_port,
            "/healthz",
        )
        ceiling_port = free_port()
        ceiling = Server(
            "ceiling",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "benchmarks.api_ceiling:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(ceiling_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            child_env(BENCH_DATABASE_URL=database.url, BENCH_KEYS_FILE=str(keys)),
            work / "ceiling.log",
            ceiling_port,
            "/ping",
        )
        for server in (service, ceiling):
            stack.callback(server.stop)
            server.start(work)
        apps: list[tuple[str, Server]] = [("ceiling", ceiling), ("service", service)]
        workers_note = None
        if args.workers > 1:
            if serve_supports_workers():
                port = free_port()
                many = Server(
                    f"service x{args.workers}",
                    [
                        *recovery_command(),
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--workers",
                        str(args.workers),
                    ],
                    service_env,
                    work / "service-workers.log",
                    port,
                    "/healthz",
                )
                stack.callback(many.stop)
                many.start(work)
                apps.append((f"service x{args.workers}", many))
            else:
                workers_note = (
                    f"--workers {args.workers}: not supported (`recovery serve --help` has no "
                    "--workers); measured one process only"
                )
                say(workers_note)
        say(
            f"service {service.url} (recovery serve, 1 process, no scheduler); "
            f"ceiling {ceiling.url} (Starlette + asyncpg, uvicorn, 1 process)"
        )

        write_helpers(engine, owners, verdict_templates(service, owners[0]))
        stages = sorted({SMALL, args.cases, args.queue_cases})
        seeder = CaseSeeder(engine, len(owners), horizon=stages[-1])
        datafile = work / "owners.txt"
        generator = pick_generator(args.generator, datafile, database.name)
        generator.servers = [server for _, server in apps]
        timings: dict[int, tuple[int, int, list[Timing]]] = {}
        runs: list[Run] = []
        ping: Run | None = None
        for size in stages:
            seeder.grow(size, say)
            if size in (SMALL, args.queue_cases):
                total, review = counts(engine)
                say(f"timing the review queue and a user's list at {total:,} cases")
                timings[size] = (
                    total,
                    review,
                    time_queries(service, reviewer, owners[0], samples=100, budget=20.0),
                )
            if size == args.cases:
                write_datafile(engine, owners, datafile, per_owner=4)
                first = datafile.read_text().split("\n", 1)[0].split()
                page_size = min(50, size // len(owners))
                for _, server in apps:
                    check_app(server, owners[0], first[4], page_size)
                say(f"\nload at {counts(engine)[0]:,} cases, generator: {generator.label}")
                ping = generator.run(ceiling, "ceiling", "ping", max(connections), args.duration)
                say(
                    f"  generator check, ceiling /ping (no database): {ping.rps:,.0f} req/s, "
                    f"generator CPU {ping.generator_cpu_us:.0f} us per request "
                    f"(~{1e6 / max(ping.generator_cpu_us, 1e-9):,.0f} req/s per core)"
                )
                runs = interleaved(
                    generator,
                    apps,
                    connections,
                    rounds=args.rounds,
                    seconds=args.duration,
                    warmup=args.warmup,
                )
                if args.profile:
                    out = args.profile_out or work
                    out.mkdir(parents=True, exist_ok=True)
                    profile(service, generator, args.duration, out, engine)
                    profiles = Path.cwd() / ".benchmarks"
                    profiles.mkdir(exist_ok=True)
                    for f in work.glob("profile-*.txt"):
                        shutil.copy(f, profiles / f.name)
                    say(f"collapsed stacks copied to {profiles}")

        say("\n" + "=" * 100)
        say(
            f"API load: {args.cases:,} cases over {len(owners):,} owners, PostgreSQL, one process "
            f"each, {args.rounds} interleaved round(s) of {args.duration:g} s"
        )
        assert ping is not None
        say(
            f"load generator: {generator.label}; through it the ceiling's /ping (no database) "
            f"{ping.rps:,.0f} req/s, the generator at {ping.generator_cpu_us:.0f} us CPU per "
            "request"
        )
        figures: dict[str, Any] = {
            "command": sys.argv,
            "generator": generator.label,
            "generator_ping_rps": ping.rps,
            "generator_cpu_us_per_request": ping.generator_cpu_us,
        }
        figures["load"] = print_load(runs, [a for a, _ in apps], connections)
        if len(apps) > 2:
            figures["workers"] = print_workers(runs, apps[2][0], args.workers, max(connections))
        elif workers_note:
            say(f"\n{workers_note}")
            figures["workers"] = workers_note
        figures["queue"] = print_timings(timings)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
