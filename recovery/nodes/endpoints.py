"""Route: the operators' view of each served network's RPC endpoints."""

from __future__ import annotations

import os
import socket

from fastapi import APIRouter

from recovery.access.keys import Role
from recovery.api.context import ContextDep, CurrentPrincipal
from recovery.api.errors import AUTHENTICATED, error_responses
from recovery.errors import Forbidden
from recovery.nodes.schemas import NetworkNodes, NetworkNodesList

router = APIRouter(prefix="/v1/admin", tags=["operators"])


@router.get(
    "/networks",
    response_model=NetworkNodesList,
    responses=error_responses(*AUTHENTICATED, Forbidden),
    summary="RPC endpoint states per network (admin)",
)
def list_network_nodes(context: ContextDep, principal: CurrentPrincipal) -> NetworkNodesList:
    """Each served network's highest head and its endpoints' state, head and failures,
    as seen by the process that answers (every process keeps its own)."""
    principal.require(Role.ADMIN)
    return NetworkNodesList(
        process=f"{socket.gethostname()}:{os.getpid()}",
        items=[
            NetworkNodes.of(context.adapters[network].endpoint_report())
            for network in sorted(context.adapters)
        ],
    )
