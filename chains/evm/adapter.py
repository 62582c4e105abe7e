"""The EVM chain adapter: one class serves every EVM network by its RPC endpoints."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
from eth_utils.crypto import keccak

from chains.base import HeadView, TokenMetadata, TransactionFacts, TransactionStatus
from chains.errors import (
    BroadcastAmbiguous,
    BroadcastRejected,
    ChainError,
    InvalidChainInput,
    NodesBehind,
    RpcUnavailable,
    UnexpectedResponse,
)
from chains.evm import metadata
from chains.evm.addresses import checksum
from chains.evm.endpoints import NetworkEndpoints, RestPolicy
from chains.evm.payout import FeeParams, Receipt
from chains.evm.rpc import EndpointFailed, JsonRpcClient, RpcReply, rpc_error
from chains.evm.transfers import decode_transfers

_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# Node answers meaning "this exact transaction is already in my pool".
_ALREADY_KNOWN = ("already known", "known transaction", "already imported", "alreadyknown")
# Node answers meaning "this nonce is already taken" (mined, or pending in the pool): the
# sender's candidates are looked up by hash, the answer is not a failure of the payout.
_NONCE_TAKEN = (
    "nonce too low",
    "oldnonce",
    "nonce has already been used",
    "replacement transaction underpriced",
    "replacement fee too low",
)
_BLOCK_TAGS = ("latest", "pending", "safe", "finalized", "earliest")
# Fields eth_estimateGas is given: fees are left out so that an address still waiting for
# its gas top-up can be estimated.
_ESTIMATE_FIELDS = ("from", "to", "value", "data", "input")
# How nodes word "the call itself failed" (geth, erigon, nethermind, besu, anvil).
_REVERT_MARKERS = ("revert", "execution", "invalid opcode", "out of gas", "vm exception")
# transfer(0x..dEaD, 0) sent from 0x..dEaD: moves nothing, reveals what transfer() returns.
_PROBE_ACCOUNT = "0x000000000000000000000000000000000000dEaD"
_ZERO_SELF_TRANSFER = (
    "0x"
    + keccak(text="transfer(address,uint256)")[:4].hex()
    + _PROBE_ACCOUNT[2:].lower().rjust(64, "0")
    + "0" * 64
)


class EvmAdapter:
    """Reads an EVM network over JSON-RPC; many lookups travel in one batch request.

    `calls` and `errors` count HTTP requests to this network's endpoints (a batch counts
    once) so that metrics and benchmarks can report them.
    """

    def __init__(
        self,
        network: str,
        endpoints: Sequence[str],
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.2,
        batch_size: int = 500,
        rest: RestPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.network = network
        self.batch_size = batch_size
        self._rpc = JsonRpcClient(
            network,
            endpoints,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            rest=rest,
            clock=clock,
        )

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The RPC endpoints, in the order they are tried."""
        return self._rpc.endpoints

    def endpoint_report(self) -> NetworkEndpoints:
        """Each endpoint's state, last head and failures, and the highest head seen."""
        return self._rpc.pool.report()

    @property
    def calls(self) -> int:
        """HTTP requests sent to this network (a batch counts once)."""
        return self._rpc.calls

    @property
    def errors(self) -> int:
        """HTTP requests to this network that failed."""
        return self._rpc.errors

    def close(self) -> None:
        """Release pooled connections."""
        self._rpc.close()

    def __enter__(self) -> EvmAdapter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EvmAdapter({self.network!r}, {list(self.endpoints)!r})"

    # Single reads

    def client_version(self) -> str:
        """The node software's own name and version (`web3_clientVersion`)."""
        return str(self._rpc.call("web3_clientVersion", []))

    def chain_id(self) -> int:
        """The chain id the node serves."""
        return self._quantity(self._rpc.call("eth_chainId", []), "eth_chainId")

    def head(self) -> int:
        """Number of the latest block, from an endpoint that is not lagging (`head_view`)."""
        return self.head_view([]).head

    def native_balance(self, address: str) -> int:
        """Native coin balance of `address` in base units at the head."""
        self._address(address)
        result = self._rpc.call("eth_getBalance", [address, "latest"])
        return self._quantity(result, "eth_getBalance")

    def token_balance(self, token: str, address: str) -> int:
        """Balance of `address` in `token` base units at the head."""
        self._address(token)
        data = metadata.BALANCE_OF + "0" * 24 + self._address(address)[2:].lower()
        result = self._rpc.call("eth_call", [{"to": token, "data": data}, "latest"])
        raw = self._bytes(result, "eth_call balanceOf")
        if len(raw) < 32:
            raise UnexpectedResponse(
                self.network, "eth_call balanceOf", f"{token} returned {len(raw)} bytes, not 32"
            )
        return int.from_bytes(raw[:32], "big")

    # Batched reads

    def transactions(self, hashes: Sequence[str]) -> dict[str, TransactionFacts | None]:
        """Facts per hash, keyed by the hash as given; None when not found or not yet mined.

        Every transaction and its receipt travel in one JSON-RPC batch (chunked by
        `batch_size`); a hash the node does not know leaves the others unaffected.
        """
        wanted = list(dict.fromkeys(hashes))
        for tx_hash in wanted:
            if not _TX_HASH.match(tx_hash):
                raise InvalidChainInput(self.network, "transaction hash", tx_hash)
        requests: list[tuple[str, Sequence[Any]]] = []
        for tx_hash in wanted:
            requests.append(("eth_getTransactionByHash", [tx_hash]))
            requests.append(("eth_getTransactionReceipt", [tx_hash]))
        replies = self._batch(requests)
        facts: dict[str, TransactionFacts | None] = {}
        for index, tx_hash in enumerate(wanted):
            tx = self._result(replies[2 * index], "eth_getTransactionByHash")
            receipt = self._result(replies[2 * index + 1], "eth_getTransactionReceipt")
            facts[tx_hash] = self._facts(tx_hash, tx, receipt)
        return facts

    def block_hashes(self, numbers: Sequence[int]) -> dict[int, str | None]:
        """Canonical block hash per height in one batch; None above the head.

        Read with the head from one endpoint that is not lagging (`head_view`), so a None
        means the height is above the highest head this network has shown, never that a
        lagging node has not reached it yet.
        """
        if not numbers:
            return {}
        return self.head_view(numbers).block_hashes

    def head_view(self, numbers: Sequence[int]) -> HeadView:
        """The head and the hashes of the blocks `numbers`, all from one endpoint.

        Every endpoint keeps its own view of the chain, so the hashes are counted against
        the head of the endpoint that gave them, in one batch. An answer is refused, and
        the next endpoint asked, when its head is below the highest head seen on this
        network (the endpoint is lagging), or when it lacks a block at or below its own
        head (it contradicts itself). An endpoint whose head is below one of `numbers`
        (blocks an earlier answer showed) is used only if no other one is further on.
        Raises `NodesBehind` when every endpoint that answered was lagging, and
        `RpcUnavailable` when none answered at all.
        """
        wanted = list(dict.fromkeys(numbers))
        for number in wanted:
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise InvalidChainInput(self.network, "block number", number)
        requests: list[tuple[str, Sequence[Any]]] = [("eth_blockNumber", [])]
        requests += [("eth_getBlockByNumber", [hex(n), False]) for n in wanted]
        pool = self._rpc.pool
        order = pool.order()
        failures = pool.resting()
        lagging = False
        for attempt in range(self._rpc.retries + 1 if order else 0):
            if attempt:
                self._rpc.pause(attempt)
            fallback: tuple[int, HeadView] | None = None
            for index in order:
                url = pool.url(index)
                try:
                    replies = self._rpc.batch_at(
                        index, requests, chunk_size=self.batch_size, use=False
                    )
                    head = self._quantity(
                        self._result(replies[0], "eth_blockNumber"), "eth_blockNumber"
                    )
                    highest = pool.behind(index, head)
                    if highest is not None:
                        lagging = True
                        failures[url] = f"lagging: head {head}, below {highest} seen before"
                        continue
                    view = self._view(pool.name(index), head, wanted, replies[1:])
                except EndpointFailed as exc:
                    failures[url] = exc.reason
                    continue
                except ChainError as exc:  # it answered, but not with what was asked
                    pool.failed(index, str(exc))
                    failures[url] = str(exc)
                    continue
                missing = [n for n, h in view.block_hashes.items() if h is None and n <= head]
                if missing:
                    why = f"head {head}, yet no block {missing[0]}"
                    pool.failed(index, why, contradiction=True)
                    failures[url] = f"contradicts itself: {why}"
                    continue
                pool.saw_head(index, head)
                if wanted and head < max(wanted):
                    # Below a block an earlier answer showed: another may be further on.
                    if fallback is None or head > fallback[1].head:
                        fallback = (index, view)
                    continue
                pool.answered(index)
                return view
            if fallback is not None:
                pool.answered(fallback[0])
                return fallback[1]
            if lagging:
                break  # asking again at once will not make a lagging node catch up
        if lagging:
            highest = pool.highest_head
            raise NodesBehind(self.network, "eth_blockNumber", highest or 0, failures)
        raise RpcUnavailable(self.network, "eth_blockNumber", failures)

    def _view(
        self, endpoint: str, head: int, wanted: Sequence[int], replies: Sequence[RpcReply]
    ) -> HeadView:
        hashes: dict[int, str | None] = {}
        for number, reply in zip(wanted, replies, strict=True):
            block = self._result(reply, "eth_getBlockByNumber")
            if block and not isinstance(block, dict):
                raise UnexpectedResponse(
                    self.network, "eth_getBlockByNumber", f"{block!r:.100} is no block"
                )
            # A block mined after the head was read is left for the next look: every hash
            # of a view belongs to the chain up to its head.
            hashes[number] = str(block["hash"]).lower() if block and number <= head else None
        return HeadView(head=head, block_hashes=hashes, endpoint=endpoint)

    def has_code(self, addresses: Sequence[str]) -> dict[str, bool]:
        """Whether each address holds code at the head, keyed by the address as given.

        An EIP-7702 delegated account shows its delegation designator as code and so
        counts as having code; the caller decides what that means for it.
        """
        wanted = list(dict.fromkeys(addresses))
        for address in wanted:
            self._address(address)
        replies = self._batch([("eth_getCode", [a, "latest"]) for a in wanted])
        return {
            address: len(self._bytes(self._result(reply, "eth_getCode"), "eth_getCode")) > 0
            for address, reply in zip(wanted, replies, strict=True)
        }

    def token_metadata(self, token: str) -> TokenMetadata:
        """Symbol, name, decimals and transfer() return shape in one batch.

        Tolerates `bytes32` symbols and names, a missing `decimals()`, reverts, and
        addresses without code: whatever the token does not say is None.
        `transfer_returns_bool` comes from simulating a zero-value self-transfer.
        """
        checksummed = self._address(token)
        probe = {"from": _PROBE_ACCOUNT, "to": token, "data": _ZERO_SELF_TRANSFER}
        replies = self._batch(
            [
                *(
                    ("eth_call", [{"to": token, "data": selector}, "latest"])
                    for selector in (metadata.SYMBOL, metadata.NAME, metadata.DECIMALS)
                ),
                ("eth_call", [probe, "latest"]),
                ("eth_getCode", [token, "latest"]),
            ]
        )
        symbol_raw, name_raw, decimals_raw, transfer_raw = (
            self._call_output(reply) for reply in replies[:4]
        )
        code = self._bytes(self._result(replies[4], "eth_getCode"), "eth_getCode")
        returns_bool: bool | None = None
        if code and transfer_raw is not None:
            returns_bool = len(transfer_raw) >= 32
        return TokenMetadata(
            address=checksummed,
            symbol=metadata.decode_text(symbol_raw or b""),
            name=metadata.decode_text(name_raw or b""),
            decimals=metadata.decode_decimals(decimals_raw or b""),
            transfer_returns_bool=returns_bool,
        )

    def _call_output(self, reply: RpcReply) -> bytes | None:
        """Return data of an eth_call; None when the call reverted."""
        if reply.error is None:
            return self._bytes(reply.result, "eth_call")
        message = str(reply.error.get("message", "")).lower()
        if reply.error.get("code") == 3 or any(m in message for m in _REVERT_MARKERS):
            return None
        # Anything else (rate limit, node trouble) is not an answer about the token.
        raise rpc_error(self.network, "eth_call", reply.error)

    # Broadcast

    def send_raw_transaction(self, raw: bytes) -> str:
        """Broadcast a signed transaction once and return its hash; never re-sends blindly.

        Endpoints are tried in turn only while a connection could not even be opened, so
        nothing was sent. Once the request may have left (timeout, dropped connection, a
        5xx answer, an unreadable body) it raises `BroadcastAmbiguous`: look the hash up.
        A node refusal raises `BroadcastRejected`, except "already known", which means the
        node holds this very transaction and returns its hash.
        """
        tx_hash = "0x" + keccak(raw).hex()
        request_id = self._rpc.next_id()
        content = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "eth_sendRawTransaction",
                "params": ["0x" + raw.hex()],
            }
        ).encode()
        failures: dict[str, str] = {}
        for endpoint in self.endpoints:
            try:
                response = self._rpc.post_once(endpoint, content)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failures[endpoint] = f"{type(exc).__name__} before sending: {exc}"
                continue
            except httpx.HTTPError as exc:
                raise BroadcastAmbiguous(
                    self.network, tx_hash, endpoint, f"{type(exc).__name__}: {exc}"
                ) from exc
            return self._broadcast_answer(tx_hash, endpoint, response)
        raise RpcUnavailable(self.network, "eth_sendRawTransaction", failures)

    def _broadcast_answer(self, tx_hash: str, endpoint: str, response: httpx.Response) -> str:
        try:
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}: {response.text[:200]}")
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError(f"expected an object, got {body!r:.200}")
        except ValueError as exc:
            self._rpc.count_error()
            raise BroadcastAmbiguous(self.network, tx_hash, endpoint, str(exc)) from exc
        error = body.get("error")
        if error is not None:
            message = str(error.get("message", error) if isinstance(error, dict) else error)
            if any(marker in message.lower() for marker in _ALREADY_KNOWN):
                return tx_hash
            taken = any(marker in message.lower() for marker in _NONCE_TAKEN)
            raise BroadcastRejected(self.network, tx_hash, endpoint, message, lookup_by_hash=taken)
        answered = str(body.get("result", "")).lower()
        if answered != tx_hash:
            raise BroadcastAmbiguous(
                self.network, tx_hash, endpoint, f"node answered hash {answered!r}"
            )
        return tx_hash

    # Payout support

    def nonce(self, address: str, block: str | int = "pending") -> int:
        """Transaction count of `address` at `block`; for diagnostics only.

        The service allocates payout nonces from its database, never from this answer.
        """
        self._address(address)
        if isinstance(block, bool) or not (
            block in _BLOCK_TAGS or (isinstance(block, int) and block >= 0)
        ):
            raise InvalidChainInput(self.network, "block tag or number", block)
        tag = hex(block) if isinstance(block, int) else block
        result = self._rpc.call("eth_getTransactionCount", [address, tag])
        return self._quantity(result, "eth_getTransactionCount")

    def fee_params(
        self,
        *,
        blocks: int = 10,
        percentile: float = 50.0,
        min_priority_fee_per_gas: int = 0,
    ) -> FeeParams:
        """Fees for a transaction to be mined soon, from one batch of reads.

        EIP-1559 when the head block has a base fee: tip = median of the recent blocks'
        `percentile` tips (`eth_feeHistory`), else `eth_maxPriorityFeePerGas`, else gas
        price minus base fee; max fee = 2 x next base fee + tip, enough for six full
        blocks in a row. A node without EIP-1559 gets a legacy `eth_gasPrice`.
        """
        replies = self._batch(
            [
                ("eth_getBlockByNumber", ["latest", False]),
                ("eth_feeHistory", [hex(blocks), "latest", [percentile]]),
                ("eth_maxPriorityFeePerGas", []),
                ("eth_gasPrice", []),
            ]
        )
        block = self._result(replies[0], "eth_getBlockByNumber")
        if not isinstance(block, dict):
            raise UnexpectedResponse(self.network, "eth_getBlockByNumber", "no latest block")
        gas_price = self._optional_quantity(replies[3], "eth_gasPrice")
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            if gas_price is None:
                raise rpc_error(self.network, "eth_gasPrice", replies[3].error or {})
            return FeeParams.legacy(max(gas_price, min_priority_fee_per_gas))
        next_base_fee = self._quantity(base_fee, "eth_getBlockByNumber")
        tips: list[int] = []
        history = replies[1].result if replies[1].error is None else None
        if isinstance(history, dict):
            next_fees = history.get("baseFeePerGas") or []
            if next_fees:
                next_base_fee = self._quantity(next_fees[-1], "eth_feeHistory")
            for rewards in history.get("reward") or []:
                tips.extend(self._quantity(r, "eth_feeHistory") for r in rewards[:1])
        tips = sorted(t for t in tips if t > 0)
        if tips:
            tip = tips[len(tips) // 2]
        else:
            suggested = self._optional_quantity(replies[2], "eth_maxPriorityFeePerGas")
            fallback = max((gas_price or 0) - next_base_fee, 0)
            tip = suggested if suggested is not None else fallback
        tip = max(tip, min_priority_fee_per_gas)
        return FeeParams.eip1559(2 * next_base_fee + tip, tip)

    def estimate_gas(self, tx: Mapping[str, Any]) -> int:
        """Gas `tx` (eth-account field names) would use at the head, fees left out.

        A transaction that would revert raises `RpcError` with the node's reason.
        """
        call: dict[str, Any] = {}
        for field in _ESTIMATE_FIELDS:
            value = tx.get(field)
            if value is None:
                continue
            if field in ("from", "to"):
                self._address(str(value))
            if isinstance(value, bytes):
                value = "0x" + value.hex()
            call[field] = hex(value) if isinstance(value, int) else value
        result = self._rpc.call("eth_estimateGas", [call, "latest"])
        return self._quantity(result, "eth_estimateGas")

    def receipts(self, hashes: Sequence[str]) -> dict[str, Receipt | None]:
        """Receipt per hash in one batch, keyed by the hash as given; None when not mined."""
        wanted = list(dict.fromkeys(hashes))
        for tx_hash in wanted:
            if not _TX_HASH.match(tx_hash):
                raise InvalidChainInput(self.network, "transaction hash", tx_hash)
        replies = self._batch([("eth_getTransactionReceipt", [h]) for h in wanted])
        return {
            tx_hash: self._receipt(tx_hash, self._result(reply, "eth_getTransactionReceipt"))
            for tx_hash, reply in zip(wanted, replies, strict=True)
        }

    def transaction_by_hash(self, tx_hash: str) -> dict[str, Any] | None:
        """The node's raw view of a transaction, pending or mined; None when it knows none."""
        if not isinstance(tx_hash, str) or not _TX_HASH.match(tx_hash):
            raise InvalidChainInput(self.network, "transaction hash", tx_hash)
        result = self._rpc.call("eth_getTransactionByHash", [tx_hash])
        if result is None:
            return None
        if not isinstance(result, dict):
            raise UnexpectedResponse(
                self.network, "eth_getTransactionByHash", f"{result!r:.100} is no object"
            )
        return result

    def _receipt(self, tx_hash: str, receipt: Any) -> Receipt | None:
        if not receipt or receipt.get("blockNumber") is None:
            return None
        method = "eth_getTransactionReceipt"
        try:
            price = receipt.get("effectiveGasPrice")
            return Receipt(
                tx_hash=tx_hash.lower(),
                status="success" if self._quantity(receipt["status"], method) == 1 else "failed",
                block_number=self._quantity(receipt["blockNumber"], method),
                block_hash=str(receipt["blockHash"]).lower(),
                gas_used=self._quantity(receipt["gasUsed"], method),
                effective_gas_price=None if price is None else self._quantity(price, method),
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise UnexpectedResponse(self.network, method, f"{tx_hash}: {exc!r}") from exc

    def _optional_quantity(self, reply: RpcReply, method: str) -> int | None:
        if reply.error is not None or reply.result is None:
            return None
        return self._quantity(reply.result, method)

    # Reading answers

    def _facts(
        self, tx_hash: str, tx: dict[str, Any] | None, receipt: dict[str, Any] | None
    ) -> TransactionFacts | None:
        if not tx or not receipt or receipt.get("blockNumber") is None:
            return None  # unknown, or still pending in a mempool
        method = "eth_getTransactionReceipt"
        try:
            status: TransactionStatus = (
                "success" if self._quantity(receipt["status"], method) == 1 else "failed"
            )
            recipient = tx.get("to")
            return TransactionFacts(
                tx_hash=tx_hash.lower(),
                status=status,
                block_number=self._quantity(receipt["blockNumber"], method),
                block_hash=str(receipt["blockHash"]).lower(),
                sender=checksum(str(tx["from"])),
                recipient=checksum(str(recipient)) if recipient else None,
                native_value=self._quantity(tx["value"], "eth_getTransactionByHash"),
                transfers=decode_transfers(receipt.get("logs") or []),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnexpectedResponse(self.network, method, f"{tx_hash}: {exc!r}") from exc

    def _batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[RpcReply]:
        if not requests:
            return []
        return self._rpc.batch(requests, chunk_size=self.batch_size)

    def _result(self, reply: RpcReply, method: str) -> Any:
        if reply.error is not None:
            raise rpc_error(self.network, method, reply.error)
        return reply.result

    def _quantity(self, value: Any, method: str) -> int:
        try:
            return int(str(value), 16)
        except ValueError as exc:
            raise UnexpectedResponse(self.network, method, f"{value!r} is no quantity") from exc

    def _bytes(self, value: Any, method: str) -> bytes:
        try:
            return bytes.fromhex(str(value).removeprefix("0x"))
        except ValueError as exc:
            raise UnexpectedResponse(self.network, method, f"{value!r:.100} is no hex") from exc

    def _address(self, address: str) -> str:
        if not isinstance(address, str) or not _ADDRESS.match(address):
            raise InvalidChainInput(self.network, "address", address)
        return checksum(address)
