"""Builders with keyword defaults for API test bodies."""

from __future__ import annotations

from typing import Any

DEPOSIT = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"
OTHER_DEPOSIT = "0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0"
REFUND = "0x22d491Bde2303f2f43325b2108D26f1eAbA1e32b"
TX = "0x" + "ab" * 32


def appeal_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_type": "wrong_network",
        "network": "bsc",
        "opened_for": "ethereum",
        "tx_hash": TX,
        "token": "native",
        "deposit_address": DEPOSIT,
        "refund_address": REFUND,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}
