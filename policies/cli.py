"""`recovery policy ...` commands: check a policy file before it decides cases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from policies.errors import PolicyError
from policies.loader import load_policy
from policies.summary import describe

policy_app = typer.Typer(help="Inspect and validate recovery policy files.", no_args_is_help=True)


@policy_app.callback()
def _group() -> None:
    """Inspect and validate recovery policy files."""


@policy_app.command()
def check(
    path: Annotated[
        Path | None, typer.Argument(help="Policy file; default: the shipped networks.yaml.")
    ] = None,
    overlay: Annotated[
        list[str] | None,
        typer.Option("--overlay", "-o", help="Overlay name (devnet) or file; repeatable."),
    ] = None,
) -> None:
    """Load and validate a policy file, then print its version, hash and classes."""
    try:
        policy = load_policy(path, overlay or ())
    except PolicyError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(code=1) from None
    for line in describe(policy):
        typer.echo(line)
