"""What the operators' view of RPC endpoints returns."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chains.evm.endpoints import EndpointState, EndpointStatus, NetworkEndpoints


class EndpointPublic(BaseModel):
    """One RPC endpoint as this process sees it."""

    index: int = Field(description="Its place in RECOVERY_RPC__<NETWORK>, from 0.")
    endpoint: str = Field(description="Scheme, host and port; a path or query shows as `/…`.")
    state: EndpointState = Field(
        description="untried (not asked yet), alive, lagging (its head was below the "
        "network's highest; not used for heads or confirmations), unreachable (its "
        "last request failed or its answer contradicted itself), or refused (it reported "
        "another chain id than the policy's, or a client that is not anvil on a network "
        "the policy marks devnet: never used; `last_error` says which; asked again after "
        "the longest rest)."
    )
    last_head: int | None = Field(description="The head it last answered.")
    requests: int = Field(description="HTTP requests sent to it (a batch counts once).")
    errors: int = Field(description="Requests that failed, and self-contradicting answers.")
    failures_in_row: int = Field(description="Failures since it last answered.")
    lagged: int = Field(description="Heads it answered below the network's highest.")
    contradictions: int = Field(description="Answers that lacked a block below their head.")
    resting_seconds: float = Field(
        description="Seconds until it is tried again after repeated failures (0: not resting)."
    )
    last_error: str | None = Field(description="Its most recent failure.")

    @classmethod
    def of(cls, status: EndpointStatus) -> EndpointPublic:
        """The public view of an endpoint's status."""
        return cls(
            index=status.index,
            endpoint=status.name,
            state=status.state,
            last_head=status.last_head,
            requests=status.requests,
            errors=status.errors,
            failures_in_row=status.failures_in_row,
            lagged=status.lagged,
            contradictions=status.contradictions,
            resting_seconds=round(status.resting_seconds, 3),
            last_error=status.last_error,
        )


class NetworkNodes(BaseModel):
    """A served network: the highest head seen and its endpoints."""

    network: str
    highest_head: int | None = Field(
        description="The highest head any of its endpoints has shown this process."
    )
    failovers: int = Field(description="Times requests moved from one endpoint to another.")
    endpoints: list[EndpointPublic]

    @classmethod
    def of(cls, report: NetworkEndpoints) -> NetworkNodes:
        """The public view of a network's endpoint report."""
        return cls(
            network=report.network,
            highest_head=report.highest_head,
            failovers=report.failovers,
            endpoints=[EndpointPublic.of(e) for e in report.endpoints],
        )


class NetworkNodesList(BaseModel):
    """Every network this process serves, as this process sees it."""

    process: str = Field(description="host:pid of the answering process; states are per process.")
    items: list[NetworkNodes]
