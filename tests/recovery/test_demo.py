"""`recovery demo` tells the whole story and ends with the refund on chain."""

from __future__ import annotations

from recovery.demo import AMOUNT, run


def test_demo_ends_with_the_refund_address_holding_the_net_payout() -> None:
    lines: list[str] = []
    balance = run(say=lines.append, timeout=60)
    assert 0 < balance < AMOUNT
    story = "\n".join(lines)
    assert "rita approved -> in_review" in story
    assert "rob approved -> approved" in story
    assert "payout_sent -> paid" in story
    assert lines[-1].startswith("8. refund address")
    assert f"the approved net payout was {balance}" in lines[-1]
