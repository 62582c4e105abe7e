"""What users write about: the fields triage read, per ISO week and language.

Triage keeps no text: each draft leaves one row of what it read (language, case type,
networks, token), which is all the desk needs to see where users go wrong.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.db.tables import TriageRecordRow


def record(session: Session, draft: dict[str, Any], now: datetime) -> None:
    """Keep what one draft read (no text)."""
    fields = draft.get("fields") or {}

    def value(name: str) -> str | None:
        found = fields.get(name)
        return None if found is None else str(found["value"])

    session.add(
        TriageRecordRow(
            created_at=now,
            language=str(draft.get("language") or "en"),
            case_type=value("case_type"),
            network=value("network"),
            opened_for=value("opened_for"),
            token=value("token"),
        )
    )


def weekly(session: Session, *, now: datetime, weeks: int, top: int) -> list[dict[str, Any]]:
    """Per ISO week and language, the `top` most frequent values of each field."""
    since = now - timedelta(weeks=weeks)
    groups: dict[tuple[str, str], dict[str, Counter[str]]] = {}
    sizes: Counter[tuple[str, str]] = Counter()
    for at, language, case_type, network, opened_for, token in session.execute(
        select(
            col(TriageRecordRow.created_at),
            col(TriageRecordRow.language),
            col(TriageRecordRow.case_type),
            col(TriageRecordRow.network),
            col(TriageRecordRow.opened_for),
            col(TriageRecordRow.token),
        ).where(col(TriageRecordRow.created_at) >= since)
    ):
        year, number, _ = at.isocalendar()
        key = (f"{year}-W{number:02d}", language)
        sizes[key] += 1
        counters = groups.setdefault(
            key, {k: Counter() for k in ("networks", "opened_for", "pairs", "tokens", "outcomes")}
        )
        if network:
            counters["networks"][network] += 1
        if opened_for:
            counters["opened_for"][opened_for] += 1
        if network and opened_for:
            counters["pairs"][f"{network} -> {opened_for}"] += 1
        if token:
            counters["tokens"][token] += 1
        counters["outcomes"][case_type or "unclear"] += 1
    rows = []
    for key in sorted(groups, reverse=True):
        week, language = key
        rows.append(
            {
                "week": week,
                "language": language,
                "descriptions": sizes[key],
                **{
                    name: [{"value": v, "count": c} for v, c in counter.most_common(top)]
                    for name, counter in groups[key].items()
                },
            }
        )
    return rows
