"""The API of one process, built from its `RECOVERY_*` settings, for any ASGI server.

`recovery serve --workers N` runs N of these under uvicorn and the periodic jobs once, in
its own main process. Any ASGI server loads it the same way, e.g.
`uvicorn --factory recovery.api.factory:app_from_environment --workers 4`; the jobs then
run in `recovery worker` processes. No scheduler starts here.
"""

from __future__ import annotations

from fastapi import FastAPI

from recovery.api.app import create_app
from recovery.bootstrap import build_context
from recovery.catalogue.tokens import TokenDecimals
from recovery.logs import configure_logging
from recovery.scheduler import build_adapters
from recovery.settings import get_settings
from recovery.signing import build_signer


def app_from_environment() -> FastAPI:
    """A fresh API process: settings, database (migrations are `recovery migrate`'s), chains.

    With a mnemonic configured the process knows the gas wallet's address, so that filing
    refuses it as a refund address; it never signs (payouts run in one of the job processes).
    """
    settings = get_settings()
    configure_logging(settings.logs_as)
    context = build_context(settings, migrate=False)
    adapters = build_adapters(settings, context.policy)
    context.adapters = adapters
    context.token_decimals = TokenDecimals(adapters)
    signer = build_signer(settings, context.policy, adapters)
    if signer is not None:
        context.gas_wallet = signer.gas_wallet_address
    return create_app(context, freeze_at_start=True)
