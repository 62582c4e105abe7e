"""Several anvil nodes started and stopped together, one per network."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from chains.devnet.chain import DevnetChain
from chains.devnet.node import AnvilNode
from chains.errors import ChainError
from chains.evm.adapter import EvmAdapter

DEFAULT_NETWORKS: Mapping[str, int] = {"ethereum": 1, "bsc": 56}


class DevnetCluster:
    """One anvil node per network, e.g. `{"ethereum": 1, "bsc": 56}` (the default).

    Nodes start in parallel. If one fails to start, the ones already started are stopped;
    `stop()` (or leaving the `with` block, even on an exception) stops every node.
    """

    def __init__(self, networks: Mapping[str, int] = DEFAULT_NETWORKS, **node_options: Any):
        self.nodes: dict[str, AnvilNode] = {
            network: AnvilNode(network, chain_id, **node_options)
            for network, chain_id in networks.items()
        }
        self._chains: dict[str, DevnetChain] = {}

    def start(self) -> DevnetCluster:
        """Start every node and wait until all of them answer."""
        try:
            for node in self.nodes.values():
                node.spawn()
            for node in self.nodes.values():
                node.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every node this cluster started."""
        for chain in self._chains.values():
            chain.close()
        self._chains.clear()
        for node in self.nodes.values():
            node.stop()

    def __enter__(self) -> DevnetCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def node(self, network: str) -> AnvilNode:
        """The node serving `network`."""
        try:
            return self.nodes[network]
        except KeyError:
            raise ChainError(
                f"devnet has no network {network}; it runs {sorted(self.nodes)}"
            ) from None

    def endpoints(self) -> dict[str, str]:
        """RPC URL per network."""
        return {network: node.url for network, node in self.nodes.items()}

    def chain(self, network: str) -> DevnetChain:
        """Scenario helpers (deploy, fund, transfer, mine, reorg) for `network`'s node."""
        if network not in self._chains:
            self._chains[network] = DevnetChain(network, self.node(network).url)
        return self._chains[network]

    def adapter(self, network: str, **options: Any) -> EvmAdapter:
        """A fresh `EvmAdapter` reading `network`'s node; the caller closes it.

        A devnet may be reset or rewound (tests revert snapshots), so by default its
        heads may go back when its node says so (`rewinds`).
        """
        options.setdefault("rewinds", True)
        return EvmAdapter(network, [self.node(network).url], **options)


Devnet = DevnetCluster
