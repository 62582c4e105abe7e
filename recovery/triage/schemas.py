"""What the triage API accepts and returns."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from recovery.catalogue.schemas import VerdictPublic


class TriageRequest(BaseModel):
    """A user's own description of their mistake."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=4000,
        description="What happened, in the user's words, in any of the supported languages.",
    )
    language: str | None = Field(
        default=None,
        pattern=r"^(en|zh|tr|cs|vi|es|pt|ru|fr|ko)$",
        description="The description's language; read from the text when left out.",
    )


class DraftFieldPublic(BaseModel):
    """One field of the draft, with the words that gave it and how sure triage is."""

    value: str
    evidence: str = Field(description="The words (or chain fact) the value comes from.")
    confidence: float = Field(ge=0, le=1)


class TriageDraft(BaseModel):
    """A draft appeal read from a description, completed from the chain."""

    language: str
    fields: dict[str, DraftFieldPublic] = Field(
        description="case_type, network, opened_for, token, amount, tx_hash, address: "
        "those triage could read."
    )
    missing: list[str] = Field(description="Fields an appeal needs that it could not find.")
    notes: list[str]
    chain: dict[str, Any] | None = Field(
        description="What the networks showed for the transaction hash (null: none given)."
    )
    preview: VerdictPublic | None = Field(
        description="The verdict and fee the draft would get now, when it says enough."
    )
    appeal: dict[str, Any] = Field(
        description="The fields of POST /v1/appeals the draft fills; add the rest."
    )
