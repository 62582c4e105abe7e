"""Local anvil devnets for the demo and the tests, with committed test-contract artifacts."""

from chains.devnet.artifacts import Artifact, ArtifactMissing
from chains.devnet.chain import DEV_MNEMONIC, DevnetChain
from chains.devnet.cluster import DEFAULT_NETWORKS, Devnet, DevnetCluster
from chains.devnet.node import AnvilNode, AnvilNotFound, AnvilStartFailed, anvil_binary

__all__ = [
    "DEFAULT_NETWORKS",
    "DEV_MNEMONIC",
    "AnvilNode",
    "AnvilNotFound",
    "AnvilStartFailed",
    "Artifact",
    "ArtifactMissing",
    "Devnet",
    "DevnetChain",
    "DevnetCluster",
    "anvil_binary",
]
