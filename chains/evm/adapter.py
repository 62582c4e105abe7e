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

from chains.base import (
    AccountCode,
    HeadView,
    NativeMove,
    TokenMetadata,
    TokenTransfer,
    TransactionFacts,
    TransactionStatus,
)
from chains.errors import (
    BroadcastAmbiguous,
    BroadcastRejected,
    ChainError,
    InvalidChainInput,
    NodesBehind,
    RpcError,
    RpcUnavailable,
    UnexpectedResponse,
)
from chains.evm import metadata
from chains.evm.addresses import checksum
from chains.evm.endpoints import EndpointIdentity, NetworkEndpoints, RestPolicy
from chains.evm.payout import (
    ERC20_TRANSFER_SELECTOR,
    FeeParams,
    Receipt,
    TransferSimulation,
    revert_reason,
)
from chains.evm.rpc import EndpointFailed, JsonRpcClient, RpcReply, rpc_error
from chains.evm.transfers import TRANSFER_TOPIC, decode_transfers

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
# An EIP-7702 delegated account's code: this prefix and the delegate's 20-byte address.
_DELEGATION_PREFIX = bytes.fromhex("ef0100")
# Call frames that move value from their sender to their recipient (DELEGATECALL and
# CALLCODE run code with a value but move none; STATICCALL carries none).
_VALUE_FRAMES = frozenset({"CALL", "CREATE", "CREATE2", "SELFDESTRUCT"})
_CALL_TRACER = {"tracer": "callTracer"}
_BLOCK_TAGS = ("latest", "pending", "safe", "finalized", "earliest")
# Fields eth_estimateGas is given: fees are left out so that an address still waiting for
# its gas top-up can be estimated.
_ESTIMATE_FIELDS = ("from", "to", "value", "data", "input")
# How nodes word "the call itself failed" (geth, erigon, nethermind, besu, anvil).
_REVERT_MARKERS = ("revert", "execution", "invalid opcode", "out of gas", "vm exception")
# transfer(0x..dEaD, 0) sent from 0x..dEaD: moves nothing, reveals what transfer() returns.
_PROBE_ACCOUNT = "0x000000000000000000000000000000000000dEaD"
# (token or None for the native coin, holder address, block number or tag)
BalanceQuery = tuple[str | None, str, int | str]
_UINT256_MAX = 2**256 - 1
_RETURNED_FALSE = "transfer() returned false"
# How nodes word "I do not serve this method" (geth and anvil: -32601 "Method not found").
_NO_METHOD_MARKERS = ("not found", "not supported", "unsupported", "does not exist", "not avail")
# Answers about the simulated transaction itself rather than about the node.
_REFUSAL_MARKERS = (*_REVERT_MARKERS, "insufficient funds", "intrinsic gas", "gas limit")
# Runtime code put at `_BALANCE_PROBE` by a simulation's state override: returns
# BALANCE(calldata word 0), so a simulated block can read native balances between calls.
# PUSH1 0 CALLDATALOAD BALANCE PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN (no PUSH0: pre-Shanghai).
_BALANCE_PROBE = "0x" + keccak(text="recovery.chains.native-balance-probe")[-20:].hex()
_BALANCE_PROBE_CODE = "0x600035316000526020" + "6000f3"
_ZERO_SELF_TRANSFER = (
    "0x"
    + keccak(text="transfer(address,uint256)")[:4].hex()
    + _PROBE_ACCOUNT[2:].lower().rjust(64, "0")
    + "0" * 64
)


class EvmAdapter:
    """Reads an EVM network over JSON-RPC; many lookups travel in one batch request.

    `calls` and `errors` count HTTP requests to this network's endpoints (a batch counts
    once) so that metrics and benchmarks can report them. With an `identity` (the chain
    id, and whether the policy marks the network devnet), each endpoint must report it
    before anything is read from or sent through it.
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
        rewinds: bool = False,
        identity: EndpointIdentity | None = None,
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
            rewinds=rewinds,
            identity=identity,
        )

    @property
    def identity(self) -> EndpointIdentity | None:
        """What each endpoint must report before it is used (None: not checked)."""
        return self._rpc.identity

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

    def native_balance_at(self, address: str, block: int | str) -> int:
        """Native balance of `address` at block `block` (a number or a tag).

        Older blocks need a node that keeps historical state (an archive node, anvil).
        """
        return self.balances_at([(None, address, block)])[(None, address, block)]

    def token_balance_at(self, token: str, address: str, block: int | str) -> int:
        """`token` balance of `address` at block `block` (a number or a tag)."""
        return self.balances_at([(token, address, block)])[(token, address, block)]

    def finalized_head(self) -> int | None:
        """Number of the `finalized` block; None when the node knows no such tag.

        A JSON-RPC error or a null block both mean "no finality here": the caller
        falls back to confirmation depth. An unreachable network still raises.
        """
        try:
            block = self._rpc.call("eth_getBlockByNumber", ["finalized", False])
        except RpcError:
            return None
        if not isinstance(block, dict) or block.get("number") is None:
            return None
        return self._quantity(block["number"], "eth_getBlockByNumber")

    def token_transfers_in_block(
        self, token: str, block_hash: str, address: str
    ) -> list[tuple[str, TokenTransfer]]:
        """Every `Transfer` log of `token` into or out of `address` in one block, with the
        hash of the transaction that emitted it (two `eth_getLogs` in one batch)."""
        self._address(token)
        topic = "0x" + "0" * 24 + self._address(address)[2:].lower()
        replies = self._batch(
            [
                ("eth_getLogs", [{"blockHash": block_hash, "address": token, "topics": topics}])
                for topics in ([TRANSFER_TOPIC, None, topic], [TRANSFER_TOPIC, topic])
            ]
        )
        found: dict[tuple[str, int], tuple[str, TokenTransfer]] = {}
        for reply in replies:
            logs = self._result(reply, "eth_getLogs") or []
            for log in logs:
                for transfer in decode_transfers([log]):
                    key = (str(log.get("transactionHash", "")).lower(), transfer.log_index)
                    found[key] = (key[0], transfer)
        return [found[key] for key in sorted(found, key=lambda k: k[1])]

    # Batched reads

    def balances_at(self, queries: Sequence[BalanceQuery]) -> dict[BalanceQuery, int]:
        """Balances for `(token or None for native, address, block)` triples in one batch.

        Keyed by the query as given. A token balance that cannot be read (a revert, a
        short answer) raises, as does a block the node has no state for.
        """
        wanted = list(dict.fromkeys(queries))
        requests: list[tuple[str, Sequence[Any]]] = []
        for token, address, block in wanted:
            self._address(address)
            tag = self._block_param(block)
            if token is None:
                requests.append(("eth_getBalance", [address, tag]))
            else:
                self._address(token)
                call = {"to": token, "data": self._balance_of_data(address)}
                requests.append(("eth_call", [call, tag]))
        replies = self._batch(requests)
        balances: dict[BalanceQuery, int] = {}
        for query, reply in zip(wanted, replies, strict=True):
            token, _, _ = query
            if token is None:
                balances[query] = self._quantity(
                    self._result(reply, "eth_getBalance"), "eth_getBalance"
                )
                continue
            raw = self._bytes(self._result(reply, "eth_call balanceOf"), "eth_call balanceOf")
            if len(raw) < 32:
                raise UnexpectedResponse(
                    self.network, "eth_call balanceOf", f"{token} returned {len(raw)} bytes, not 32"
                )
            balances[query] = int.from_bytes(raw[:32], "big")
        return balances

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
        With `rewinds` (a devnet, which may be reset), when every endpoint answered and
        all were below the highest head, the chain went back: the best answer stands.
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
            # Answers below the highest head; on a devnet, when every endpoint gave one,
            # the chain itself went back (a reset or a rewind) and the best one stands.
            below: list[tuple[int, int, list[RpcReply]]] = []
            trouble = bool(failures)
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
                        below.append((index, head, replies))
                        continue
                    view = self._view(pool.name(index), head, wanted, replies[1:])
                except EndpointFailed as exc:
                    failures[url] = exc.reason
                    trouble = True
                    continue
                except ChainError as exc:  # it answered, but not with what was asked
                    pool.failed(index, str(exc))
                    failures[url] = str(exc)
                    trouble = True
                    continue
                if self._contradicts(index, view, failures):
                    trouble = True
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
            if below and pool.rewinds and not trouble:
                index, head, replies = max(below, key=lambda answer: answer[1])
                try:
                    view = self._view(pool.name(index), head, wanted, replies[1:])
                except ChainError as exc:
                    pool.failed(index, str(exc))
                    break
                if not self._contradicts(index, view, failures):
                    pool.rewound(index, head)
                    pool.answered(index)
                    return view
            if lagging:
                break  # asking again at once will not make a lagging node catch up
        if lagging:
            highest = pool.highest_head
            raise NodesBehind(self.network, "eth_blockNumber", highest or 0, failures)
        raise RpcUnavailable(self.network, "eth_blockNumber", failures)

    def _contradicts(self, index: int, view: HeadView, failures: dict[str, str]) -> bool:
        """Whether the endpoint lacks a block at or below its own head (counted if so)."""
        missing = [n for n, h in view.block_hashes.items() if h is None and n <= view.head]
        if not missing:
            return False
        why = f"head {view.head}, yet no block {missing[0]}"
        self._rpc.pool.failed(index, why, contradiction=True)
        failures[self._rpc.pool.url(index)] = f"contradicts itself: {why}"
        return True

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
        return {address: code.has_code for address, code in self.account_codes(addresses).items()}

    def account_codes(self, addresses: Sequence[str]) -> dict[str, AccountCode]:
        """What each address holds at the head, in one batch, keyed by the address as given.

        Code of exactly `0xef0100` + 20 bytes is an EIP-7702 delegation designator: the
        account still has its key, and the delegate's code runs whenever it is called.
        """
        wanted = list(dict.fromkeys(addresses))
        for address in wanted:
            self._address(address)
        replies = self._batch([("eth_getCode", [a, "latest"]) for a in wanted])
        codes: dict[str, AccountCode] = {}
        for address, reply in zip(wanted, replies, strict=True):
            code = self._bytes(self._result(reply, "eth_getCode"), "eth_getCode")
            if not code:
                codes[address] = AccountCode("none")
            elif len(code) == 23 and code.startswith(_DELEGATION_PREFIX):
                codes[address] = AccountCode("delegation", checksum("0x" + code[3:].hex()))
            else:
                codes[address] = AccountCode("contract")
        return codes

    def native_moves(self, hashes: Sequence[str]) -> dict[str, tuple[NativeMove, ...] | None]:
        """Native value moved by every call frame of each transaction, in one batch.

        Read with `debug_traceTransaction` and the `callTracer`, so only for networks whose
        nodes trace. Frames that reverted, and every frame inside one, are left out: what
        they sent was undone. None for a transaction the node does not know.
        """
        wanted = list(dict.fromkeys(hashes))
        for tx_hash in wanted:
            if not _TX_HASH.match(tx_hash):
                raise InvalidChainInput(self.network, "transaction hash", tx_hash)
        replies = self._batch([("debug_traceTransaction", [h, _CALL_TRACER]) for h in wanted])
        moves: dict[str, tuple[NativeMove, ...] | None] = {}
        for tx_hash, reply in zip(wanted, replies, strict=True):
            trace = self._result(reply, "debug_traceTransaction")
            # A node that does not know the hash answers null, or (anvil) an empty struct log.
            if not isinstance(trace, dict) or "type" not in trace:
                moves[tx_hash] = None
                continue
            found: list[NativeMove] = []
            try:
                self._collect_moves(trace, 0, found)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise UnexpectedResponse(
                    self.network, "debug_traceTransaction", f"{tx_hash}: {exc!r}"
                ) from exc
            moves[tx_hash] = tuple(found)
        return moves

    def _collect_moves(self, frame: dict[str, Any], depth: int, into: list[NativeMove]) -> None:
        if frame.get("error"):
            return  # reverted: neither it nor anything inside it moved value
        value = int(str(frame.get("value") or "0x0"), 16)
        recipient = frame.get("to")
        if value > 0 and recipient and str(frame.get("type", "")).upper() in _VALUE_FRAMES:
            into.append(
                NativeMove(
                    sender=checksum(str(frame["from"])),
                    recipient=checksum(str(recipient)),
                    value=value,
                    depth=depth,
                )
            )
        for child in frame.get("calls") or []:
            self._collect_moves(child, depth + 1, into)

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
        nothing was sent; one that fails its identity check (see `JsonRpcClient`) is
        skipped before the transaction is sent to it. Once the request may have left
        (timeout, dropped connection, a 5xx answer, an unreadable body) it raises
        `BroadcastAmbiguous`: look the hash up. A node refusal raises `BroadcastRejected`,
        except "already known", which means the node holds this very transaction and
        returns its hash.
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
        for index, endpoint in enumerate(self.endpoints):
            try:
                # Nothing is sent through an endpoint that is not what the network needs.
                self._rpc.check_identity(index)
            except EndpointFailed as exc:
                failures[endpoint] = f"{exc.reason} (nothing sent)"
                continue
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
        result = self._rpc.call("eth_getTransactionCount", [address, self._block_param(block)])
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

    def simulate_transfer(
        self,
        *,
        token: str | None,
        sender: str,
        recipient: str,
        amount: int,
        block: int | str = "latest",
    ) -> TransferSimulation:
        """What `sender` sending `amount` of `token` (None: the native coin) would do.

        One batch: `eth_simulateV1` of one block with three calls from `sender` (the
        recipient's balance, the transfer, the balance again), `eth_estimateGas` of the
        transfer and, for a token, its code. Native balances are read inside the block
        by a probe contract placed with a state override. The simulation runs without
        validation, so a sender holding no native coin for gas can be simulated; a native
        `amount` above the sender's balance is refused by the node (ok False, its
        message as reason). A node without `eth_simulateV1` gets an `eth_call` of the
        transfer: reverts and `false` returns are caught, `delivered` is None.
        """
        self._address(sender)
        self._address(recipient)
        if token is not None:
            self._address(token)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise InvalidChainInput(self.network, "amount", amount)
        if not 0 <= amount <= _UINT256_MAX:
            raise InvalidChainInput(self.network, "amount", amount)
        tag = self._block_param(block)
        transfer: dict[str, str]
        if token is None:
            transfer = {"from": sender, "to": recipient, "value": hex(amount)}
            read = {"from": sender, "to": _BALANCE_PROBE, "data": "0x" + _word(recipient)}
            block_calls: dict[str, Any] = {
                "stateOverrides": {_BALANCE_PROBE: {"code": _BALANCE_PROBE_CODE}},
                "calls": [read, transfer, read],
            }
        else:
            data = "0x" + ERC20_TRANSFER_SELECTOR.hex() + _word(recipient) + f"{amount:064x}"
            transfer = {"from": sender, "to": token, "data": data}
            read = {"from": sender, "to": token, "data": self._balance_of_data(recipient)}
            block_calls = {"calls": [read, transfer, read]}
        requests: list[tuple[str, Sequence[Any]]] = [
            ("eth_simulateV1", [{"blockStateCalls": [block_calls]}, tag]),
            ("eth_estimateGas", [transfer, tag]),
        ]
        if token is not None:
            requests.append(("eth_getCode", [token, tag]))
        replies = self._batch(requests)
        estimate = self._optional_quantity(replies[1], "eth_estimateGas")
        if token is not None and not self._bytes(
            self._result(replies[2], "eth_getCode"), "eth_getCode"
        ):
            return TransferSimulation(ok=False, delivered=None, reason="token has no code")
        simulated = replies[0]
        if simulated.error is not None:
            if _no_such_method(simulated.error):
                return self._call_transfer(transfer, tag, estimate, native=token is None)
            return TransferSimulation(
                ok=False, delivered=None, reason=self._refusal(simulated.error, "eth_simulateV1")
            )
        return self._read_simulation(simulated.result, amount, estimate, native=token is None)

    def _read_simulation(
        self, result: Any, amount: int, estimate: int | None, *, native: bool
    ) -> TransferSimulation:
        method = "eth_simulateV1"
        try:
            calls = result[0]["calls"]
            before, sent, after = (dict(call) for call in calls)
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise UnexpectedResponse(self.network, method, f"{result!r:.200}: {exc!r}") from exc
        simulated_gas = self._optional_quantity(RpcReply(sent.get("gasUsed")), method)
        gas_used = estimate if estimate is not None else simulated_gas
        delivered: int | None = None
        balances = [self._call_word(call) for call in (before, after)]
        if balances[0] is not None and balances[1] is not None:
            delivered = balances[1] - balances[0]
        output = self._bytes(sent.get("returnData") or "0x", method)
        if self._quantity(sent.get("status"), method) != 1:
            error = sent.get("error")
            message = str(error.get("message")) if isinstance(error, dict) else "reverted"
            reason = revert_reason(output) or message
            return TransferSimulation(
                ok=False, delivered=delivered, reason=reason, gas_used=gas_used
            )
        failed = None if native else _returned_failure(output)
        if failed is not None:
            return TransferSimulation(
                ok=False,
                delivered=delivered,
                reason=failed,
                returned_false=failed == _RETURNED_FALSE,
                gas_used=gas_used,
            )
        if delivered is not None and amount > 0 and delivered <= 0:
            return TransferSimulation(
                ok=False, delivered=delivered, reason="nothing would arrive", gas_used=gas_used
            )
        return TransferSimulation(ok=True, delivered=delivered, gas_used=gas_used)

    def _call_transfer(
        self, transfer: Mapping[str, str], tag: str, estimate: int | None, *, native: bool
    ) -> TransferSimulation:
        """The fallback without eth_simulateV1: revert and `false` detection only."""
        reply = self._batch([("eth_call", [dict(transfer), tag])])[0]
        if reply.error is not None:
            data = reply.error.get("data")
            output = self._bytes(data, "eth_call") if isinstance(data, str) else b""
            reason = revert_reason(output) or self._refusal(reply.error, "eth_call")
            return TransferSimulation(ok=False, delivered=None, reason=reason)
        failed = None if native else _returned_failure(self._bytes(reply.result, "eth_call"))
        if failed is not None:
            return TransferSimulation(
                ok=False,
                delivered=None,
                reason=failed,
                returned_false=failed == _RETURNED_FALSE,
                gas_used=estimate,
            )
        return TransferSimulation(ok=True, delivered=None, gas_used=estimate)

    def _refusal(self, error: Mapping[str, Any], method: str) -> str:
        """The node's message when it refused the simulated transaction; else raises."""
        message = str(error.get("message", error))
        if error.get("code") in (3, -32003) or any(
            marker in message.lower() for marker in _REFUSAL_MARKERS
        ):
            return message
        raise rpc_error(self.network, method, dict(error))

    def _call_word(self, call: Mapping[str, Any]) -> int | None:
        """The uint256 a simulated call returned; None when it failed or said too little."""
        if self._optional_quantity(RpcReply(call.get("status")), "eth_simulateV1") != 1:
            return None
        output = self._bytes(call.get("returnData") or "0x", "eth_simulateV1")
        return int.from_bytes(output[:32], "big") if len(output) >= 32 else None

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
            logs = receipt.get("logs") or []
            return Receipt(
                tx_hash=tx_hash.lower(),
                status="success" if self._quantity(receipt["status"], method) == 1 else "failed",
                block_number=self._quantity(receipt["blockNumber"], method),
                block_hash=str(receipt["blockHash"]).lower(),
                gas_used=self._quantity(receipt["gasUsed"], method),
                effective_gas_price=None if price is None else self._quantity(price, method),
                transfers=decode_transfers(logs),
                logs_count=len(logs),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
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

    def raw_batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[RpcReply]:
        """Replies to `requests` in order, each with its own result or error (readers built
        on the adapter, such as deposit discovery, read them themselves)."""
        return self._batch(requests)

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

    def _block_param(self, block: int | str) -> str:
        if isinstance(block, bool) or not (
            block in _BLOCK_TAGS or (isinstance(block, int) and block >= 0)
        ):
            raise InvalidChainInput(self.network, "block tag or number", block)
        return hex(block) if isinstance(block, int) else str(block)

    def _balance_of_data(self, address: str) -> str:
        return metadata.BALANCE_OF + _word(address)

    def _address(self, address: str) -> str:
        if not isinstance(address, str) or not _ADDRESS.match(address):
            raise InvalidChainInput(self.network, "address", address)
        return checksum(address)


def _word(address: str) -> str:
    """An address as one 32-byte ABI word, in hex without 0x."""
    return address[2:].lower().rjust(64, "0")


def _no_such_method(error: Mapping[str, Any]) -> bool:
    message = str(error.get("message", "")).lower()
    return error.get("code") == -32601 or (
        "method" in message and any(marker in message for marker in _NO_METHOD_MARKERS)
    )


def _returned_failure(output: bytes) -> str | None:
    """Why a transfer's return data means failure (SafeERC20's reading); None if fine."""
    if not output:
        return None  # USDT-style: returns nothing
    if len(output) < 32:
        return f"transfer() returned {len(output)} bytes"
    if int.from_bytes(output[:32], "big") == 0:
        return _RETURNED_FALSE
    return None
