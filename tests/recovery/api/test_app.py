"""How the app behaves as a serving process rather than in a test."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from recovery.api.app import create_app
from recovery.api.context import AppContext


def test_a_serving_process_freezes_what_it_built_and_a_test_app_does_not(
    context: AppContext,
) -> None:
    gc.unfreeze()
    try:
        with TestClient(create_app(context)) as plain:
            assert plain.get("/healthz").status_code == 200
            assert gc.get_freeze_count() == 0
        with TestClient(create_app(context, freeze_at_start=True)) as serving:
            assert serving.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 10_000, "the modules and the app are frozen"
    finally:
        gc.unfreeze()
