"""`recovery demo` tells the whole story and ends with the refund on chain."""

from __future__ import annotations

import re

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
    # The refund address held nothing before: its balance is exactly what was delivered.
    assert lines[-1].endswith(f"delivered_amount {balance}")
    # The preview asked the chain for the token's decimals: its fee is the quote's fee.
    previewed = re.search(r"3\. preview: .* fee (\d+) units", story)
    quoted = re.search(r"quote q_\w+ ready: fee (\d+),", story)
    assert previewed is not None
    assert quoted is not None
    assert previewed.group(1) == quoted.group(1)
