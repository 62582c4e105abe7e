"""A served app on the devnets and Debian's chromium, for the console's browser tests."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from chains.devnet import DevnetCluster
from chains.signers.hd import HdSigner
from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.payouts.engine import PayoutEngine
from tests.conftest import Clock
from tests.recovery.payouts.conftest import open_desk
from tests.recovery.review.conftest import DEV_MNEMONIC, Desk
from tests.recovery.review.conftest import desk as desk  # the case-action tests' desk

ROOT = Path(__file__).resolve().parents[3]
# Where the browser tests leave their screenshots for a person to look at (README).
SCREENSHOTS = ROOT / "test-screenshots" / "console"
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Served:
    """The desk (API client, users, checker), its payout engine, and the console's URL."""

    desk: Desk
    engine: PayoutEngine
    url: str


@pytest.fixture
def served(context: AppContext, auth: Any, clock: Clock, devnet: DevnetCluster) -> Iterator[Served]:
    """The app served by uvicorn on a free port, in a thread, over the test's context."""
    signer = HdSigner(DEV_MNEMONIC, devnet_chain_ids=frozenset({1, 56}))
    adapters = {n: devnet.adapter(n) for n in ("ethereum", "bsc")}
    with open_desk(context, auth, clock, devnet, signer, adapters) as (desk, engine):
        config = uvicorn.Config(
            create_app(context), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the console's server did not start"
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield Served(desk, engine, f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            thread.join(10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright. Missing: a failure in CI, a skip elsewhere
    (`make test` installs it)."""
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        message = f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
