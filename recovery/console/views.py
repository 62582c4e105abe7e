"""What the console's pages show, worked out from cases, verdicts and events: token
amounts, explorer links, the overview's figures and its charts."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from policies import Policy
from recovery.db.tables import CaseEventRow, CaseRow


def token_units(amount: int | str | None, decimals: int | None) -> str | None:
    """A base-unit amount in whole tokens (exact, no rounding), e.g. 1500000 at 6 -> 1.5."""
    if amount is None or decimals is None:
        return None
    with localcontext() as context:
        context.prec = 200
        text = format(Decimal(int(amount)).scaleb(-decimals), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def plain_decimal(text: str | None) -> str | None:
    """A decimal string without trailing zeros: 12000.000000 -> 12000, 5.50 -> 5.5."""
    if text is None or "." not in text:
        return text
    return text.rstrip("0").rstrip(".")


def explorer_link(policy: Policy, network: str, tx_hash: str | None) -> str | None:
    """The policy's explorer page of a transaction, if the network is known."""
    known = policy.networks.get(network)
    if known is None or not tx_hash:
        return None
    return known.explorer_url(tx_hash)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label, value and drawn height (0-100)."""

    label: str
    value: int
    height: float


def bars(values: list[tuple[str, int]]) -> list[Bar]:
    """Bars scaled to the largest value (an empty or all-zero series draws flat)."""
    top = max((v for _, v in values), default=0) or 1
    return [Bar(label, value, 100.0 * value / top) for label, value in values]


@dataclass(frozen=True)
class Overview:
    """The desk's figures: states, daily flow, outcomes per network, time to paid."""

    states: list[tuple[str, int, datetime | None]]
    filed_per_day: list[Bar]
    paid_per_day: list[Bar]
    per_network: list[dict[str, Any]]
    median_hours_to_paid: float | None


def overview(session: Session, now: datetime, days: int = 30) -> Overview:
    """The overview page's figures over the last `days` days (states: all cases)."""
    states: list[tuple[str, int, datetime | None]] = [
        (str(status), int(count), oldest)
        for status, count, oldest in session.execute(
            select(col(CaseRow.status), func.count(), func.min(col(CaseRow.updated_at)))
            .group_by(col(CaseRow.status))
            .order_by(col(CaseRow.status))
        )
    ]
    since = now - timedelta(days=days)
    day_keys = [(since + timedelta(days=i + 1)).date() for i in range(days)]
    filed: Counter[Any] = Counter(
        created.date()
        for created in session.scalars(
            select(col(CaseRow.created_at)).where(col(CaseRow.created_at) >= since)
        )
    )
    paid_rows = session.execute(
        select(col(CaseEventRow.created_at), col(CaseRow.created_at), col(CaseRow.network))
        .join(CaseRow, col(CaseRow.id) == col(CaseEventRow.case_id))
        .where(col(CaseEventRow.to_status) == "paid", col(CaseEventRow.created_at) >= since)
    ).all()
    paid: Counter[Any] = Counter(at.date() for at, _, _ in paid_rows)
    hours = [(at - filed_at).total_seconds() / 3600 for at, filed_at, _ in paid_rows]
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for network, status, count in session.execute(
        select(col(CaseRow.network), col(CaseRow.status), func.count())
        .where(col(CaseRow.created_at) >= since)
        .group_by(col(CaseRow.network), col(CaseRow.status))
    ):
        outcomes[str(network)][str(status)] += int(count)
        outcomes[str(network)]["all"] += int(count)
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for network, reason, count in session.execute(
        select(col(CaseRow.network), col(CaseEventRow.reason_code), func.count())
        .join(CaseRow, col(CaseRow.id) == col(CaseEventRow.case_id))
        .where(col(CaseEventRow.to_status) == "rejected", col(CaseEventRow.created_at) >= since)
        .group_by(col(CaseRow.network), col(CaseEventRow.reason_code))
    ):
        reasons[str(network)][str(reason or "none")] += int(count)
    per_network = []
    for network, counts in sorted(outcomes.items()):
        total = counts["all"]
        per_network.append(
            {
                "network": network,
                "filed": total,
                "paid": counts["paid"],
                "rejected": counts["rejected"],
                "paid_share": round(100 * counts["paid"] / total) if total else 0,
                "rejected_share": round(100 * counts["rejected"] / total) if total else 0,
                "reasons": sorted(reasons[network].items(), key=lambda kv: (-kv[1], kv[0])),
            }
        )
    return Overview(
        states=states,
        filed_per_day=bars([(d.isoformat(), filed[d]) for d in day_keys]),
        paid_per_day=bars([(d.isoformat(), paid[d]) for d in day_keys]),
        per_network=per_network,
        median_hours_to_paid=round(median(hours), 1) if hours else None,
    )


def tx_state(payout: Any, tx: Any) -> str:
    """What one of a payout's transactions amounts to, in words: a gas top-up's own state;
    for the transfer, the one the chain shows delivered, or a candidate (the same nonce
    signed again with higher fees: at most one of them can land)."""
    if tx.kind == "gas_topup":
        return str(tx.state)
    if payout.delivered_tx and tx.tx_hash.lower() == str(payout.delivered_tx).lower():
        return "delivered, final" if payout.final else "delivered"
    return "candidate"
