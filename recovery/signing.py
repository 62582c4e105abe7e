"""Wiring the HD signer: development keys only where the chain really is a devnet."""

from __future__ import annotations

from collections.abc import Mapping

from chains.base import ChainAdapter
from chains.errors import ChainError
from chains.evm.endpoints import DEVNET_CLIENTS
from chains.signers.hd import HdSigner
from policies import Policy
from recovery.errors import RecoveryError
from recovery.settings import Settings


class UnsafeSigningSetup(RecoveryError):
    """Raised at start when keys could sign on a chain that is not what the policy says."""

    status_code = 500


def devnet_chain_ids(policy: Policy, adapters: Mapping[str, ChainAdapter]) -> frozenset[int]:
    """Chain ids of the served networks that are devnets by both marks.

    A chain id alone never says "devnet" (the local nodes reuse 1 and 56): the policy's
    `devnet: true` mark AND the node's own client version must both say so. A network
    marked devnet whose node is a real client is refused outright. This is the check at
    start; the adapters that `build_adapters` makes check every endpoint again when it is
    first used and after a failover (`chains.evm.endpoints.EndpointIdentity`).
    """
    ids: set[int] = set()
    for network, adapter in adapters.items():
        entry = policy.networks[network]
        if not entry.devnet:
            continue
        try:
            client = adapter.client_version()
        except ChainError as error:
            raise UnsafeSigningSetup(
                f"{network} is marked devnet in the policy, but no endpoint of it showed a "
                f"local anvil node: {error}"
            ) from None
        if not client.lower().startswith(DEVNET_CLIENTS):
            raise UnsafeSigningSetup(
                f"{network} is marked devnet in the policy, but its node reports {client[:80]!r}; "
                "point it at a local anvil node or drop the devnet overlay"
            )
        if entry.chain_id is not None:
            ids.add(entry.chain_id)
    return frozenset(ids)


def build_signer(
    settings: Settings, policy: Policy, adapters: Mapping[str, ChainAdapter]
) -> HdSigner | None:
    """The HD signer of the configured mnemonic, or None when no mnemonic is set."""
    if settings.mnemonic is None or not settings.mnemonic.get_secret_value():
        return None
    devnets = devnet_chain_ids(policy, adapters)
    signer = HdSigner(settings.mnemonic.get_secret_value(), devnet_chain_ids=devnets or None)
    if signer.is_development:
        real = sorted(n for n in adapters if not policy.networks[n].devnet)
        if real:
            raise UnsafeSigningSetup(
                f"RECOVERY_MNEMONIC is a public development mnemonic, but "
                f"{', '.join(real)} {'is' if len(real) == 1 else 'are'} not devnets; "
                "set a mnemonic of your own"
            )
    return signer
