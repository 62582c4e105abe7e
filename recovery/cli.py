"""The `recovery` command: serve, migrate, openapi, keys, deposit addresses, policy."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Annotated

import typer
import yaml
from pydantic import SecretStr, ValidationError
from sqlalchemy.engine import make_url

from policies.cli import policy_app
from recovery.access.keys import Role, create_key, revoke_key
from recovery.logs import configure_logging
from recovery.settings import DEVELOPMENT_MNEMONIC, Settings, get_settings

app = typer.Typer(help="Recovers mis-sent crypto deposits.", no_args_is_help=True)
keys_app = typer.Typer(help="Create and revoke API keys.", no_args_is_help=True)
addresses_app = typer.Typer(help="Register deposit addresses.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(addresses_app, name="deposit-addresses")
app.add_typer(policy_app, name="policy")


def _single_sqlite_process(settings: Settings) -> IO[str] | None:
    """Take the SQLite file's process lock (held until exit), or exit 2 naming the holder."""
    from recovery.scheduler import SecondProcess, hold_sqlite_lock

    try:
        return hold_sqlite_lock(settings.database_url)
    except SecondProcess as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from exc


def _settings() -> Settings:
    """The settings, or exit 2 with one short line per problem: field and rule, never a value."""
    try:
        return get_settings()
    except ValidationError as exc:
        for problem in exc.errors(include_url=False, include_context=False, include_input=False):
            field = "_".join(str(part) for part in problem["loc"]).upper()
            where = f"RECOVERY_{field}: " if field else ""
            rule = problem["msg"].removeprefix("Value error, ")
            typer.echo(f"error: bad settings: {where}{rule}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:  # pydantic-settings' own parsing errors name the field only
        typer.echo(f"error: bad settings: {exc}", err=True)
        raise typer.Exit(2) from None


@contextmanager
def _refusals_at_start() -> Iterator[None]:
    """A refusal while wiring the service (signer, chains, policy) exits 2 with its message."""
    from chains.errors import ChainError
    from policies.errors import PolicyError
    from recovery.errors import RecoveryError

    try:
        yield
    except RecoveryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    except (ChainError, PolicyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _shown(database_url: str) -> str:
    """The database URL as printed: its password, if any, hidden."""
    return make_url(database_url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    devnet: Annotated[
        bool, typer.Option(help="Start two local anvil devnets (ethereum=1, bsc=56) first.")
    ] = False,
    devnet_port: Annotated[
        int, typer.Option(help="RPC port of the ethereum devnet; bsc gets the next one.")
    ] = 8545,
    scheduler: Annotated[
        bool, typer.Option(help="Run the verification and confirmation jobs in-process.")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes; the jobs still run once, in this main process (PostgreSQL "
            "only: SQLite is single-process).",
        ),
    ] = 1,
) -> None:
    """Run the API (in `--workers` processes), and the periodic jobs once, here."""
    import uvicorn
    from prometheus_client import start_http_server

    from recovery.api.app import create_app
    from recovery.api.metrics import metrics_address, metrics_refusal
    from recovery.bootstrap import build_context
    from recovery.catalogue.tokens import TokenDecimals
    from recovery.metrics import registry_for
    from recovery.scheduler import (
        background,
        build_adapters,
        build_checker,
        build_discoverer,
        build_payouts,
    )

    settings = _settings()
    refusal = metrics_refusal(settings)
    if refusal is not None:
        typer.echo(f"error: {refusal}", err=True)
        raise typer.Exit(2)
    if workers > 1 and settings.is_sqlite:
        typer.echo(
            "error: --workers needs PostgreSQL (set RECOVERY_DATABASE_URL): a SQLite file "
            "serves one process",
            err=True,
        )
        raise typer.Exit(2)
    configure_logging(settings.logs_as)
    sqlite_lock = _single_sqlite_process(settings)
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so that
    # the `finally` below stops the scheduler and the devnet nodes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    cluster = None
    if devnet and settings.environment != "development":
        # The devnets sign with the public development wallet and a devnet overlay.
        typer.echo("error: --devnet is for RECOVERY_ENVIRONMENT=development only", err=True)
        raise typer.Exit(2)
    if devnet:
        from chains.devnet.cluster import DevnetCluster
        from chains.devnet.node import AnvilNode

        cluster = DevnetCluster({})
        cluster.nodes = {
            "ethereum": AnvilNode("ethereum", 1, port=devnet_port, block_time=1),
            "bsc": AnvilNode("bsc", 56, port=devnet_port + 1, block_time=1),
        }
        cluster.start()
        overlays = [*settings.policy_overlays, "devnet"]
        settings = settings.model_copy(
            update={
                "rpc": {**settings.rpc, **{n: [u] for n, u in cluster.endpoints().items()}},
                "policy_overlays": list(dict.fromkeys(overlays)),
                # The devnets pay out with the public development wallet unless told otherwise.
                "mnemonic": settings.mnemonic or SecretStr(DEVELOPMENT_MNEMONIC),
            }
        )
        for network, url in cluster.endpoints().items():
            typer.echo(f"devnet {network}: {url}")
            # API worker processes read their settings afresh: they learn the devnets here.
            os.environ[f"RECOVERY_RPC__{network.upper()}"] = url
        os.environ["RECOVERY_POLICY_OVERLAYS"] = ",".join(settings.policy_overlays)
        os.environ.setdefault("RECOVERY_MNEMONIC", DEVELOPMENT_MNEMONIC)
    jobs = None
    metrics_server = None
    try:
        with _refusals_at_start():
            context = build_context(settings)
            adapters = build_adapters(settings, context.policy)
            context.token_decimals = TokenDecimals(adapters)
            context.adapters = adapters
            payouts = build_payouts(settings, context, adapters)
        if payouts is not None:
            context.gas_wallet = payouts.signer.gas_wallet_address
        if payouts is not None and cluster is not None:
            for network in cluster.nodes:
                cluster.chain(network).fund(payouts.signer.gas_wallet_address, 1000 * 10**18)
            typer.echo(f"gas wallet {payouts.signer.gas_wallet_address} funded on the devnets")
        if scheduler and settings.scheduler_enabled:
            checker = build_checker(settings, context, adapters)
            discoverer = build_discoverer(settings, context, adapters)
            jobs = background(checker, payouts=payouts, discoverer=discoverer)
        if settings.metrics_port is not None:
            metrics_server, _ = start_http_server(
                settings.metrics_port,
                addr=settings.metrics_host,
                registry=registry_for(
                    context.database,
                    context.clock,
                    refresh_seconds=settings.metrics_refresh_seconds,
                ),
            )
            typer.echo(f"metrics at {metrics_address(settings)}")
        typer.echo(
            f"database {_shown(settings.database_url)}; policy {context.policy.version}; "
            f"chains: {', '.join(sorted(adapters)) or 'none (set RECOVERY_RPC__<NETWORK>)'}"
        )
        # log_config=None: uvicorn's own loggers go through the handler configured above.
        if workers == 1:
            app_or_factory: object = create_app(context, freeze_at_start=True)
        else:
            # Each API process builds its own app from the same settings; this one keeps
            # the jobs, so the scheduler runs once whatever the number of API processes.
            app_or_factory = "recovery.api.factory:app_from_environment"
            typer.echo(f"{workers} API processes; jobs in this process ({os.getpid()})")
        uvicorn.run(
            app_or_factory,  # type: ignore[arg-type]
            factory=workers > 1,
            workers=workers if workers > 1 else None,
            host=host,
            port=port,
            log_level="info",
            log_config=None,
        )
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
        if jobs is not None:
            jobs.shutdown(wait=False)
        if cluster is not None:
            cluster.stop()
        if sqlite_lock is not None:
            sqlite_lock.close()


@app.command()
def worker() -> None:
    """Run only the periodic jobs (any number of workers may share one PostgreSQL)."""
    from prometheus_client import start_http_server

    from recovery.bootstrap import build_context
    from recovery.metrics import registry_for
    from recovery.scheduler import (
        blocking,
        build_adapters,
        build_checker,
        build_discoverer,
        build_payouts,
    )

    settings = _settings()
    configure_logging(settings.logs_as)
    sqlite_lock = _single_sqlite_process(settings)
    with _refusals_at_start():
        context = build_context(settings)
        adapters = build_adapters(settings, context.policy)
        checker = build_checker(settings, context, adapters)
        payouts = build_payouts(settings, context, adapters)
        discoverer = build_discoverer(settings, context, adapters)
    if settings.worker_metrics_port is not None:
        start_http_server(
            settings.worker_metrics_port,
            addr="127.0.0.1",
            registry=registry_for(
                context.database,
                context.clock,
                refresh_seconds=settings.metrics_refresh_seconds,
            ),
        )
    # SIGTERM ends the worker like Ctrl-C: the scheduler stops between cycles.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    typer.echo(f"worker {checker.owner}: chains {', '.join(sorted(adapters)) or 'none'}")
    try:
        blocking(checker, payouts=payouts, discoverer=discoverer).start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if sqlite_lock is not None:
            sqlite_lock.close()


@app.command()
def migrate() -> None:
    """Apply the database migrations (SQLite migrates by itself on `serve`)."""
    from recovery.db.engine import make_engine
    from recovery.db.migrate import upgrade

    settings = _settings()
    upgrade(make_engine(settings.database_url))
    typer.echo(f"migrated {_shown(settings.database_url)}")


def openapi_yaml() -> str:
    """The OpenAPI document of the app, as YAML."""
    from recovery.api.app import create_app
    from recovery.api.context import AppContext
    from recovery.bootstrap import build_policy
    from recovery.db.engine import Database, make_engine

    settings = Settings(database_url="sqlite://")
    context = AppContext(
        settings=settings,
        database=Database(make_engine("sqlite://")),
        policy=build_policy(settings),
    )
    spec = create_app(context).openapi()
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)


@app.command()
def openapi() -> None:
    """Print the OpenAPI document (YAML); `openapi.yaml` is this output."""
    sys.stdout.write(openapi_yaml())


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="user, reviewer or admin.")],
    subject: Annotated[str, typer.Option(help="Who the key belongs to (user id, email).")],
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    from recovery.bootstrap import build_context

    context = build_context(_settings())
    with context.database.unit_of_work() as session:
        key = create_key(session, role=role, subject=subject, now=datetime.now(UTC))
    typer.echo(key)


@keys_app.command("revoke")
def keys_revoke(prefix: Annotated[str, typer.Argument(help="The id part of rk_<id>_...")]) -> None:
    """Revoke a key by its id part."""
    from recovery.bootstrap import build_context

    context = build_context(_settings())
    with context.database.unit_of_work() as session:
        found = revoke_key(session, prefix, datetime.now(UTC))
    if not found:
        typer.echo(f"no key with id {prefix}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {prefix}")


@addresses_app.command("register")
def addresses_register(
    address: Annotated[str, typer.Argument(help="The deposit address.")],
    owner: Annotated[str, typer.Option(help="Subject of the user who owns it.")],
    network: Annotated[
        list[str], typer.Option(help="A network it was opened for; repeat for several.")
    ],
    hd_index: Annotated[
        int | None, typer.Option(help="Index of its key in the HD wallet (m/44'/60'/0'/0/i).")
    ] = None,
) -> None:
    """Register a deposit address for a user (same as POST /v1/deposit-addresses)."""
    from recovery.bootstrap import build_context
    from recovery.deposit_addresses.service import register
    from recovery.errors import RecoveryError

    context = build_context(_settings())
    try:
        with context.database.unit_of_work() as session:
            row = register(
                session,
                context.policy,
                address=address,
                owner=owner,
                networks=network,
                hd_index=hd_index,
                actor="admin:cli",
                now=datetime.now(UTC),
            )
    except RecoveryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"registered {row.address} for {row.owner} on {', '.join(row.networks)}")


@app.command()
def demo() -> None:
    """Run the whole story on two local devnets through the REST API and show the refund."""
    from recovery.demo import DemoFailed, run

    try:
        run(say=typer.echo)
    except DemoFailed as exc:
        typer.echo(f"demo failed: {exc}", err=True)
        raise typer.Exit(1) from exc
