"""What the statistics routes return."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class OutcomeGroup(BaseModel):
    """One network and case type in one window."""

    network: str
    case_type: str
    filed: int = Field(description="Appeals filed in the window.")
    paid: int = Field(description="Cases whose refund the chain showed arriving in the window.")
    rejected: dict[str, int] = Field(description="Rejections in the window, by reason code.")
    median_seconds_to_paid: float | None
    p90_seconds_to_paid: float | None


class OutcomeWindow(BaseModel):
    """The last `days` days."""

    days: int
    since: datetime
    groups: list[OutcomeGroup]


class OutcomeStats(BaseModel):
    """The service's public outcomes, per network and case type."""

    generated_at: datetime
    windows: list[OutcomeWindow]


class TopicCount(BaseModel):
    """How often one thing came up."""

    value: str
    count: int


class TopicWeek(BaseModel):
    """What users wrote about in one ISO week and language."""

    week: str = Field(description="ISO week, e.g. 2026-W49.")
    language: str
    descriptions: int
    networks: list[TopicCount] = Field(description="Networks the transfers went over.")
    opened_for: list[TopicCount]
    pairs: list[TopicCount] = Field(description="went over -> opened for.")
    tokens: list[TopicCount]
    outcomes: list[TopicCount] = Field(description="The drafts' case types (unclear: none).")


class TopicStats(BaseModel):
    """What users write about, per week and language, most frequent first."""

    items: list[TopicWeek]
