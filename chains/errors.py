"""Errors raised by chain adapters; every one derives from `ChainError`."""

from __future__ import annotations

from collections.abc import Mapping


class ChainError(Exception):
    """Raised when a chain adapter cannot give a trustworthy answer."""


class RpcUnavailable(ChainError):
    """Raised when every RPC endpoint of a network failed for one call."""

    def __init__(self, network: str, method: str, failures: Mapping[str, str]) -> None:
        self.network = network
        self.method = method
        self.failures = dict(failures)
        detail = "; ".join(f"{endpoint}: {error}" for endpoint, error in self.failures.items())
        super().__init__(f"every RPC endpoint of {network} failed for {method}: {detail}")


class NodesBehind(RpcUnavailable):
    """Raised when no endpoint of a network could give a head at or above the highest head
    it has shown before: those that answered are lagging, the others failed or rest.

    A lagging node's answers are its own fault, never a chain fact: nothing is concluded
    from them (no confirmation count, no missing block) until an endpoint catches up.
    """

    def __init__(
        self, network: str, method: str, highest_head: int, failures: Mapping[str, str]
    ) -> None:
        self.network = network
        self.method = method
        self.failures = dict(failures)
        self.highest_head = highest_head
        detail = "; ".join(f"{endpoint}: {why}" for endpoint, why in self.failures.items())
        ChainError.__init__(
            self,
            f"no endpoint of {network} is at the highest head seen ({highest_head}) "
            f"for {method}: {detail}",
        )


class RpcError(ChainError):
    """Raised when a node answers a call with a JSON-RPC error object."""

    def __init__(self, network: str, method: str, code: int | None, message: str) -> None:
        self.network = network
        self.method = method
        self.code = code
        self.rpc_message = message
        super().__init__(f"{method} on {network} answered error {code}: {message}")


class UnexpectedResponse(ChainError):
    """Raised when a node's answer cannot be read as the result the method promises."""

    def __init__(self, network: str, method: str, detail: str) -> None:
        self.network = network
        self.method = method
        super().__init__(f"{method} on {network} gave an unreadable answer: {detail}")


class InvalidChainInput(ChainError, ValueError):
    """Raised when a hash or an address handed to an adapter is malformed."""

    def __init__(self, network: str, kind: str, value: object) -> None:
        self.network = network
        self.kind = kind
        self.value = value
        super().__init__(f"{value!r} is not a valid {kind} for {network}")


class BroadcastRejected(ChainError):
    """Raised when a node refuses a raw transaction (for example `nonce too low`).

    Refusal is not proof the transaction failed: an earlier copy may already be mined,
    so the caller looks the transaction up by `tx_hash` before deciding anything.
    `lookup_by_hash` is True when the answer itself says the nonce is already taken or
    the node already holds the transaction (`nonce too low`, `already known`,
    `replacement transaction underpriced`): the payout's candidate hashes decide.
    """

    def __init__(
        self,
        network: str,
        tx_hash: str,
        endpoint: str,
        message: str,
        *,
        lookup_by_hash: bool = False,
    ) -> None:
        self.network = network
        self.tx_hash = tx_hash
        self.endpoint = endpoint
        self.rpc_message = message
        self.lookup_by_hash = lookup_by_hash
        super().__init__(f"{endpoint} on {network} refused transaction {tx_hash}: {message}")


class BroadcastAmbiguous(ChainError):
    """Raised when a raw transaction may or may not have reached a node.

    The request left this process but no answer came back (timeout, dropped connection,
    a 5xx from a proxy). Never re-send blindly: look the transaction up by `tx_hash`.
    """

    def __init__(self, network: str, tx_hash: str, endpoint: str, detail: str) -> None:
        self.network = network
        self.tx_hash = tx_hash
        self.endpoint = endpoint
        super().__init__(
            f"broadcast of {tx_hash} to {endpoint} on {network} has an unknown outcome: {detail}"
        )
