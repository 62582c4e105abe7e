"""Public catalogue routes and the authenticated eligibility preview."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter

from recovery.api.context import ContextDep, CurrentPrincipal
from recovery.api.errors import AUTHENTICATED, PayloadTooLarge, error_responses
from recovery.appeals.schemas import AppealCreate
from recovery.appeals.service import normalise
from recovery.appeals.verdicts import judge, verdict_dict
from recovery.catalogue.schemas import Catalogue, NetworkPublic, VerdictPublic
from recovery.errors import NotFound

router = APIRouter(tags=["networks"])


class UnknownNetworkId(NotFound):
    """Raised when the catalogue has no network with the requested id."""


@router.get("/v1/networks", response_model=Catalogue, summary="The network catalogue (public)")
def list_networks(context: ContextDep) -> Catalogue:
    """Every network, its class per case type, conditions, fees, confirmations and assets."""
    policy = context.policy
    counts: dict[str, Counter[str]] = {"wrong_network": Counter(), "unlisted_token": Counter()}
    for network in policy.networks.values():
        for case_type, counter in counts.items():
            counter[network.case_policy(case_type).recovery_class.value] += 1
    return Catalogue(
        policy_version=policy.version,
        policy_hash=policy.content_hash,
        counts={case_type: dict(counter) for case_type, counter in counts.items()},
        items=[NetworkPublic.of(n, policy) for n in sorted(policy.networks.values(), key=_key)],
    )


def _key(network: object) -> str:
    return str(getattr(network, "id", ""))


@router.get(
    "/v1/networks/{network_id}",
    response_model=NetworkPublic,
    responses=error_responses(UnknownNetworkId),
    summary="One network (public)",
)
def get_network(network_id: str, context: ContextDep) -> NetworkPublic:
    """One network of the catalogue."""
    network = context.policy.networks.get(network_id.lower())
    if network is None:
        known = ", ".join(sorted(context.policy.networks))
        raise UnknownNetworkId(f"no network {network_id!r}; known networks: {known}")
    return NetworkPublic.of(network, context.policy)


@router.post(
    "/v1/eligibility",
    response_model=VerdictPublic,
    responses=error_responses(*AUTHENTICATED, PayloadTooLarge),
    summary="Preview the verdict and fee of a would-be appeal",
)
def preview(body: AppealCreate, context: ContextDep, _: CurrentPrincipal) -> VerdictPublic:
    """The verdict the policy would give this appeal now; nothing is filed."""
    appeal = normalise(context.policy, body)
    verdict = judge(
        context.policy, appeal, now=context.clock(), token_decimals=context.token_decimals
    )
    return VerdictPublic.model_validate(verdict_dict(verdict))
