"""Reading a block range for deposits into a set of addresses: `Transfer` logs and native value.

Cost grows with blocks and address chunks, never with addresses one by one:

- Token transfers come from `eth_getLogs` over a block range with the `Transfer` topic and
  the recipient topic set to a chunk of addresses (an OR-list), one request per chunk in
  one JSON-RPC batch; or, once the chunks would cost more than the range's whole
  `Transfer` log set, from every `Transfer` log of the range matched against the address
  set here. A node that refuses a range (too many results, too wide) gets it again in two
  halves, down to single blocks.
- Native value comes per block: the block's call traces (`debug_traceBlockByNumber` with
  the `callTracer`) where the network's nodes trace, which also shows value a contract
  moved; else the block's transactions, which show top-level value only (their receipts
  say whether they succeeded).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chains.base import TokenTransfer
from chains.errors import RpcError, UnexpectedResponse
from chains.evm.addresses import checksum
from chains.evm.rpc import RpcReply, rpc_error
from chains.evm.transfers import TRANSFER_TOPIC, decode_transfers

_CALL_TRACER = {"tracer": "callTracer"}
# Recipient topics per HTTP request: 10,000 topics are about 700 kB of JSON, below the
# request size nodes and providers accept (anvil refuses a few MB).
MAX_BATCH_TOPICS = 10_000
_VALUE_FRAMES = frozenset({"CALL", "CREATE", "CREATE2", "SELFDESTRUCT"})


@dataclass(frozen=True, slots=True)
class LoggedTransfer:
    """One `Transfer` log into a watched address, with where it sits on chain."""

    tx_hash: str
    block_number: int
    block_hash: str
    transfer: TokenTransfer


@dataclass(frozen=True, slots=True)
class NativeArrival:
    """Native value one transaction put into a watched address (all its frames together)."""

    tx_hash: str
    block_number: int
    block_hash: str
    sender: str
    recipient: str
    value: int
    internal: bool


@dataclass
class ScanCost:
    """What reading one range cost: HTTP requests, items asked and ranges split."""

    requests: int = 0
    items: int = 0
    splits: int = 0
    logs_seen: int = 0
    by_method: dict[str, int] = field(default_factory=dict)


class BatchReader(Protocol):
    """What the scanner needs from an adapter: its network, a request count, a raw batch."""

    network: str

    @property
    def calls(self) -> int:
        """HTTP requests sent so far."""
        ...

    def raw_batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[RpcReply]:
        """Replies in order; each may carry its own error."""
        ...


def address_topic(address: str) -> str:
    """An address as a 32-byte log topic."""
    return "0x" + address[2:].lower().rjust(64, "0")


def transfer_logs(
    reader: BatchReader,
    first: int,
    last: int,
    recipients: Collection[str],
    *,
    chunk_size: int = 1000,
    whole_range: bool = False,
    cost: ScanCost | None = None,
) -> list[LoggedTransfer]:
    """Every ERC-20 `Transfer` log in blocks `first..last` whose recipient is in `recipients`.

    `whole_range`: fetch every `Transfer` log of the range and match recipients here,
    instead of one filtered request per chunk of `chunk_size` addresses.
    """
    cost = cost if cost is not None else ScanCost()
    if not recipients or last < first:
        return []
    wanted = {a.lower() for a in recipients}
    if whole_range:
        filters: list[list[Any]] = [[TRANSFER_TOPIC]]
    else:
        topics = sorted(address_topic(a) for a in wanted)
        filters = [
            [TRANSFER_TOPIC, None, topics[i : i + chunk_size]]
            for i in range(0, len(topics), chunk_size)
        ]
    logs = _logs(reader, [(first, last, f) for f in filters], cost)
    found: dict[tuple[str, int], LoggedTransfer] = {}
    for log in logs:
        cost.logs_seen += 1
        decoded = decode_transfers([log])
        if not decoded or decoded[0].recipient.lower() not in wanted:
            continue
        try:
            item = LoggedTransfer(
                tx_hash=str(log["transactionHash"]).lower(),
                block_number=int(str(log["blockNumber"]), 16),
                block_hash=str(log["blockHash"]).lower(),
                transfer=decoded[0],
            )
        except (KeyError, ValueError) as exc:
            raise UnexpectedResponse(reader.network, "eth_getLogs", f"{log!r:.200}") from exc
        found[(item.block_hash, item.transfer.log_index)] = item
    return sorted(found.values(), key=lambda t: (t.block_number, t.transfer.log_index))


def _logs(
    reader: BatchReader, queries: list[tuple[int, int, list[Any]]], cost: ScanCost
) -> list[dict[str, Any]]:
    """Logs of every (first, last, topics) query; a refused range is asked again in halves."""
    logs: list[dict[str, Any]] = []
    while queries:
        replies = [reply for group in _groups(queries) for reply in _send_logs(reader, group, cost)]
        retry: list[tuple[int, int, list[Any]]] = []
        for (a, b, topics), reply in zip(queries, replies, strict=True):
            if reply.error is not None:
                if a == b:
                    raise rpc_error(reader.network, "eth_getLogs", reply.error)
                middle = (a + b) // 2
                cost.splits += 1
                retry += [(a, middle, topics), (middle + 1, b, topics)]
                continue
            if not isinstance(reply.result, list):
                raise UnexpectedResponse(reader.network, "eth_getLogs", f"{reply.result!r:.200}")
            logs.extend(item for item in reply.result if not item.get("removed"))
        queries = retry
    return logs


def _groups(queries: list[tuple[int, int, list[Any]]]) -> list[list[tuple[int, int, list[Any]]]]:
    """Queries in batches of at most `MAX_BATCH_TOPICS` recipient topics (request size)."""
    groups: list[list[tuple[int, int, list[Any]]]] = [[]]
    size = 0
    for query in queries:
        topics = query[2][2] if len(query[2]) > 2 else []
        if groups[-1] and size + len(topics) > MAX_BATCH_TOPICS:
            groups.append([])
            size = 0
        groups[-1].append(query)
        size += len(topics)
    return groups


def _send_logs(
    reader: BatchReader, group: list[tuple[int, int, list[Any]]], cost: ScanCost
) -> list[RpcReply]:
    """One batch of `eth_getLogs`; a node that refuses the whole batch gets it in halves."""
    requests = [
        ("eth_getLogs", [{"fromBlock": hex(a), "toBlock": hex(b), "topics": topics}])
        for a, b, topics in group
    ]
    try:
        return _send(reader, requests, cost)
    except RpcError:
        if len(group) == 1:
            raise
        cost.splits += 1
        half = len(group) // 2
        return _send_logs(reader, group[:half], cost) + _send_logs(reader, group[half:], cost)


def native_arrivals(
    reader: BatchReader,
    first: int,
    last: int,
    recipients: Collection[str],
    *,
    traces: bool,
    cost: ScanCost | None = None,
) -> list[NativeArrival]:
    """Native value that transactions of blocks `first..last` put into `recipients`."""
    cost = cost if cost is not None else ScanCost()
    if not recipients or last < first:
        return []
    wanted = {a.lower() for a in recipients}
    numbers = list(range(first, last + 1))
    requests: list[tuple[str, Sequence[Any]]] = [
        ("eth_getBlockByNumber", [hex(n), not traces]) for n in numbers
    ]
    if traces:
        requests += [("debug_traceBlockByNumber", [hex(n), _CALL_TRACER]) for n in numbers]
    replies = _send(reader, requests, cost)
    blocks = [_result(reader, r, "eth_getBlockByNumber") for r in replies[: len(numbers)]]
    hashes = {}
    for number, block in zip(numbers, blocks, strict=True):
        if not isinstance(block, dict) or "hash" not in block:
            raise UnexpectedResponse(
                reader.network, "eth_getBlockByNumber", f"no block {number} (head moved back?)"
            )
        hashes[number] = str(block["hash"]).lower()
    try:
        if traces:
            found = _traced(reader, numbers, replies[len(numbers) :], blocks, wanted)
        else:
            found = _top_level(reader, numbers, blocks, hashes, wanted, cost)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        method = "debug_traceBlockByNumber" if traces else "eth_getBlockByNumber"
        raise UnexpectedResponse(
            reader.network, method, f"blocks {first}..{last}: {exc!r}"
        ) from exc
    return sorted(found, key=lambda a: (a.block_number, a.tx_hash, a.recipient))


def _traced(
    reader: BatchReader,
    numbers: list[int],
    replies: list[RpcReply],
    blocks: list[Any],
    wanted: set[str],
) -> list[NativeArrival]:
    found = []
    for number, reply, block in zip(numbers, replies, blocks, strict=True):
        traces = _result(reader, reply, "debug_traceBlockByNumber")
        hashes = [str(h).lower() for h in block.get("transactions") or []]
        if not isinstance(traces, list) or len(traces) != len(hashes):
            # A node that traced only part of the block (or nothing) cannot say what
            # arrived: the range is read again rather than passed over.
            raise UnexpectedResponse(
                reader.network,
                "debug_traceBlockByNumber",
                f"block {number}: {len(hashes)} transactions, traces {traces!r:.100}",
            )
        for tx_hash, item in zip(hashes, traces, strict=True):
            frame = item.get("result") if isinstance(item, dict) else None
            if not isinstance(frame, dict):
                raise UnexpectedResponse(
                    reader.network, "debug_traceBlockByNumber", f"{tx_hash}: no call frame"
                )
            into: dict[str, tuple[int, bool]] = {}
            _collect(frame, 0, wanted, into)
            for recipient, (value, internal) in into.items():
                found.append(
                    NativeArrival(
                        # By position in the block: some nodes leave txHash out of traces.
                        tx_hash=str(item.get("txHash") or tx_hash).lower(),
                        block_number=number,
                        block_hash=str(block["hash"]).lower(),
                        sender=checksum(str(frame["from"])),
                        recipient=checksum(recipient),
                        value=value,
                        internal=internal,
                    )
                )
    return found


def _collect(
    frame: dict[str, Any], depth: int, wanted: set[str], into: dict[str, tuple[int, bool]]
) -> None:
    if frame.get("error"):
        return  # reverted: neither it nor anything inside it moved value
    value = int(str(frame.get("value") or "0x0"), 16)
    recipient = str(frame.get("to") or "").lower()
    kind = str(frame.get("type", "")).upper()
    if value > 0 and recipient in wanted and kind in _VALUE_FRAMES:
        total, internal = into.get(recipient, (0, False))
        into[recipient] = (total + value, internal or depth > 0)
    for child in frame.get("calls") or []:
        _collect(child, depth + 1, wanted, into)


def _top_level(
    reader: BatchReader,
    numbers: list[int],
    blocks: list[Any],
    hashes: dict[int, str],
    wanted: set[str],
    cost: ScanCost,
) -> list[NativeArrival]:
    candidates = []
    for number, block in zip(numbers, blocks, strict=True):
        for tx in block.get("transactions") or []:
            to = str(tx.get("to") or "").lower()
            if to in wanted and int(str(tx.get("value") or "0x0"), 16) > 0:
                candidates.append((number, tx))
    if not candidates:
        return []
    receipts = _send(
        reader,
        [("eth_getTransactionReceipt", [str(tx["hash"])]) for _, tx in candidates],
        cost,
    )
    found = []
    for (number, tx), reply in zip(candidates, receipts, strict=True):
        receipt = _result(reader, reply, "eth_getTransactionReceipt")
        if not isinstance(receipt, dict):
            # A node that has the block but not yet its receipt (a lagging backend): read
            # the range again rather than pass a deposit over.
            raise UnexpectedResponse(
                reader.network, "eth_getTransactionReceipt", f"no receipt for {tx['hash']}"
            )
        if int(str(receipt.get("status", "0x0")), 16) != 1:
            continue  # failed: nothing arrived
        found.append(
            NativeArrival(
                tx_hash=str(tx["hash"]).lower(),
                block_number=number,
                block_hash=hashes[number],
                sender=checksum(str(tx["from"])),
                recipient=checksum(str(tx["to"])),
                value=int(str(tx["value"]), 16),
                internal=False,
            )
        )
    return found


def _send(
    reader: BatchReader, requests: Sequence[tuple[str, Sequence[Any]]], cost: ScanCost
) -> list[RpcReply]:
    before = reader.calls
    replies = reader.raw_batch(requests)
    cost.requests += reader.calls - before
    cost.items += len(requests)
    for method, _ in requests:
        cost.by_method[method] = cost.by_method.get(method, 0) + 1
    return replies


def _result(reader: BatchReader, reply: RpcReply, method: str) -> Any:
    if reply.error is not None:
        raise rpc_error(reader.network, method, reply.error)
    return reply.result


__all__ = [
    "BatchReader",
    "LoggedTransfer",
    "NativeArrival",
    "ScanCost",
    "native_arrivals",
    "transfer_logs",
]
