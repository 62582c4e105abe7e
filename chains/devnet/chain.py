"""Scenario helpers for one anvil node: deploy test tokens, fund, transfer, mine, reorg.

Transactions are sent with `eth_sendTransaction` from anvil's unlocked accounts (the
default mnemonic `test test ... junk`); other senders are impersonated. Gas is always
given so that a transaction meant to revert is mined instead of refused by estimation.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from eth_utils.address import to_checksum_address

from chains.devnet import artifacts
from chains.errors import ChainError
from chains.evm.endpoints import RestPolicy
from chains.evm.rpc import JsonRpcClient, rpc_error

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_GAS = 500_000


class DevnetChain:
    """Drives one devnet node over JSON-RPC with anvil's extra methods."""

    def __init__(self, network: str, url: str) -> None:
        self.network = network
        self.url = url
        # A scenario driver never rests its one node: a test that stops and restarts it
        # wants the next call to reach it.
        self._rpc = JsonRpcClient(
            network, [url], timeout=30.0, retries=0, rest=RestPolicy(failures=2**31)
        )
        self._accounts: list[str] | None = None
        self._automine: bool | None = None

    def close(self) -> None:
        """Release pooled connections."""
        self._rpc.close()

    def rpc(self, method: str, *params: Any) -> Any:
        """Call any JSON-RPC method on the node."""
        return self._rpc.call(method, params)

    @property
    def accounts(self) -> list[str]:
        """Anvil's unlocked development accounts, checksummed; `accounts[0]` deploys."""
        if self._accounts is None:
            self._accounts = [to_checksum_address(a) for a in self.rpc("eth_accounts")]
        return self._accounts

    # Blocks and state

    def head(self) -> int:
        """Latest block number."""
        return int(self.rpc("eth_blockNumber"), 16)

    def block_hash(self, number: int) -> str | None:
        """Hash of block `number`, None above the head."""
        block = self.rpc("eth_getBlockByNumber", hex(number), False)
        return str(block["hash"]) if block else None

    def mine(self, blocks: int = 1) -> int:
        """Mine `blocks` blocks (anvil_mine) and return the new head."""
        self.rpc("anvil_mine", hex(blocks))
        return self.head()

    def set_automine(self, enabled: bool) -> None:
        """Mine each transaction on arrival (True) or only on `mine()` (False)."""
        self.rpc("evm_setAutomine", enabled)
        self._automine = enabled

    @property
    def automine(self) -> bool:
        """Whether the node mines each transaction on arrival."""
        if self._automine is None:
            self._automine = bool(self.rpc("anvil_getAutomine"))
        return self._automine

    def wait_mined(self, hashes: Sequence[str], timeout: float = 10.0) -> None:
        """Wait until every transaction has a receipt.

        Anvil answers eth_sendTransaction before its automine task has sealed the block,
        so a receipt read right after sending can still be missing.
        """
        pending = list(hashes)
        deadline = time.monotonic() + timeout
        while pending:
            replies = self._rpc.batch([("eth_getTransactionReceipt", [h]) for h in pending])
            pending = [h for h, r in zip(pending, replies, strict=True) if r.result is None]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise ChainError(
                    f"{self.network}: {len(pending)} transactions not mined after {timeout}s, "
                    f"first {pending[0]}"
                )
            time.sleep(0.005)

    def snapshot(self) -> str:
        """Snapshot the chain state (evm_snapshot); returns the id for `revert`."""
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        """Return to a snapshot, dropping every block mined since (evm_revert)."""
        if not self.rpc("evm_revert", snapshot_id):
            raise ChainError(f"{self.network}: evm_revert refused snapshot {snapshot_id}")

    def reorg(self, depth: int) -> None:
        """Replace the last `depth` blocks with new empty ones (anvil_reorg).

        The heights stay, their hashes change, and the transactions that were in them
        are gone from the canonical chain.
        """
        self.rpc("anvil_reorg", depth, [])

    def fund(self, address: str, wei: int) -> None:
        """Set the native balance of `address` (anvil_setBalance)."""
        self.rpc("anvil_setBalance", address, hex(wei))

    def native_balance(self, address: str) -> int:
        """Native balance of `address` at the head."""
        return int(self.rpc("eth_getBalance", address, "latest"), 16)

    def place_contract_at(self, address: str, contract: str = "DepositWallet") -> str:
        """Put a contract's runtime code at `address`, e.g. a deposit address that is a contract."""
        self.rpc("anvil_setCode", address, artifacts.load(contract).deployed_bytecode)
        return str(to_checksum_address(address))

    def delegate(self, address: str, target: str) -> str:
        """Give `address` an EIP-7702 delegation to `target` (its code: 0xef0100 + target)."""
        designator = "0xef0100" + target.lower().removeprefix("0x")
        self.rpc("anvil_setCode", address, designator)
        return str(to_checksum_address(address))

    def clear_code(self, address: str) -> None:
        """Remove any code (contract or delegation) from `address`."""
        self.rpc("anvil_setCode", address, "0x")

    # Transactions

    def send(
        self,
        sender: str,
        to: str | None,
        data: str = "0x",
        *,
        value: int = 0,
        gas: int = DEFAULT_GAS,
    ) -> str:
        """Send a transaction from an unlocked or impersonated `sender`; returns its hash.

        With automine on, returns once the transaction is mined.
        """
        tx: dict[str, Any] = {"from": sender, "data": data, "value": hex(value), "gas": hex(gas)}
        if to is not None:
            tx["to"] = to
        tx_hash = str(self.rpc("eth_sendTransaction", tx))
        if self.automine:
            self.wait_mined([tx_hash])
        return tx_hash

    def send_many(self, txs: Sequence[dict[str, Any]]) -> list[str]:
        """Send many prepared transactions in JSON-RPC batches; returns their hashes.

        With automine on, returns once all are mined. Transactions without a nonce get
        consecutive ones per sender: anvil handles a batch concurrently and would otherwise
        give several of them the same nonce.
        """
        next_nonce: dict[str, int] = {}
        prepared = []
        for tx in txs:
            if "nonce" not in tx:
                sender = str(tx["from"]).lower()
                if sender not in next_nonce:
                    pending = self.rpc("eth_getTransactionCount", sender, "pending")
                    next_nonce[sender] = int(pending, 16)
                tx = {**tx, "nonce": hex(next_nonce[sender])}
                next_nonce[sender] += 1
            prepared.append(tx)
        replies = self._rpc.batch([("eth_sendTransaction", [tx]) for tx in prepared])
        hashes = []
        for reply in replies:
            if reply.error is not None:
                raise rpc_error(self.network, "eth_sendTransaction", reply.error)
            hashes.append(str(reply.result))
        if self.automine:
            self.wait_mined(hashes)
        return hashes

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        """The receipt of a mined transaction."""
        receipt = self.rpc("eth_getTransactionReceipt", tx_hash)
        if receipt is None:
            raise ChainError(f"{self.network}: transaction {tx_hash} is not mined")
        return dict(receipt)

    def impersonate(self, address: str) -> None:
        """Let `send` use `address` as sender without its key (anvil_impersonateAccount)."""
        self.rpc("anvil_impersonateAccount", address)

    def deploy(self, contract: str, *args: Any, sender: str | None = None) -> str:
        """Deploy a committed test contract; returns its checksummed address."""
        data = artifacts.load(contract).deploy_data(*args)
        tx_hash = self.send(
            sender or self.accounts[0], None, "0x" + data.removeprefix("0x"), gas=5_000_000
        )
        receipt = self.receipt(tx_hash)
        if int(receipt["status"], 16) != 1 or not receipt.get("contractAddress"):
            raise ChainError(f"{self.network}: deploying {contract} failed in {tx_hash}")
        return str(to_checksum_address(receipt["contractAddress"]))

    def call_contract(
        self,
        contract: str,
        address: str,
        function: str,
        *args: Any,
        sender: str | None = None,
        gas: int = DEFAULT_GAS,
    ) -> str:
        """Send a transaction calling `function` of a deployed test contract."""
        data = artifacts.load(contract).call_data(function, *args)
        return self.send(sender or self.accounts[0], address, data, gas=gas)

    # Tokens

    def deploy_token(
        self, symbol: str = "USDT", name: str = "Tether USD", decimals: int = 6, supply: int = 0
    ) -> str:
        """Deploy a standard ERC-20 (`TestToken`) with any decimals; anyone may mint."""
        return self.deploy("TestToken", name, symbol, decimals, supply)

    def deploy_bytes32_token(
        self, symbol: str = "MKR", name: str = "Maker", supply: int = 10**24
    ) -> str:
        """Deploy a token whose symbol() and name() return bytes32; supply goes to accounts[0]."""
        return self.deploy("Bytes32Token", _bytes32(name), _bytes32(symbol), supply)

    def deploy_no_return_token(self, supply: int = 10**18) -> str:
        """Deploy a token whose transfer() returns nothing and that has no decimals()."""
        return self.deploy("NoReturnToken", supply)

    def deploy_quirky_token(
        self, symbol: str = "QRK", name: str = "Quirky Token", decimals: int = 6
    ) -> str:
        """Deploy a `QuirkyToken`, an ERC-20 with owner knobs for misbehaving.

        Its owner (`accounts[0]`) can switch on a fee on transfer, a pause, a block list
        and `false` returns, and can seize balances. It starts with no supply and behaves
        like `TestToken` (`mint`, `transfer_token` work on it) until a knob is turned with
        `quirk` or the helpers below.
        """
        return self.deploy("QuirkyToken", name, symbol, decimals)

    def quirk(self, token: str, function: str, *args: Any, sender: str | None = None) -> str:
        """Call an owner knob of a `QuirkyToken` from its owner; raises if it reverted.

        The knobs: `setFeeBps`, `setPaused`, `setBlocked`, `setReturnFalse`, `seize`.
        """
        tx_hash = self.call_contract("QuirkyToken", token, function, *args, sender=sender)
        if not self.automine:
            return tx_hash
        if int(self.receipt(tx_hash)["status"], 16) != 1:
            raise ChainError(f"{self.network}: {function}{args!r} on {token} reverted in {tx_hash}")
        return tx_hash

    def set_token_fee(self, token: str, bps: int) -> str:
        """Take `bps` basis points of every transfer of a `QuirkyToken` as a fee to its owner."""
        return self.quirk(token, "setFeeBps", bps)

    def pause_token(self, token: str, paused: bool = True) -> str:
        """Make every transfer of a `QuirkyToken` revert with "paused" (or allow them again)."""
        return self.quirk(token, "setPaused", paused)

    def block_address(self, token: str, address: str, blocked: bool = True) -> str:
        """Make `QuirkyToken` transfers from or to `address` revert with "blocked"."""
        return self.quirk(token, "setBlocked", address, blocked)

    def set_return_false(self, token: str, enabled: bool = True) -> str:
        """Have an uncovered `QuirkyToken` transfer return false instead of reverting."""
        return self.quirk(token, "setReturnFalse", enabled)

    def seize(self, token: str, holder: str, to: str, value: int) -> str:
        """The `QuirkyToken` owner moves `value` of `holder`'s balance to `to` (clawback)."""
        return self.quirk(token, "seize", holder, to, value)

    def mint(self, token: str, to: str, value: int) -> str:
        """Mint `value` base units of a `TestToken` (or `QuirkyToken`) to `to`."""
        return self.call_contract("TestToken", token, "mint", to, value)

    def transfer_token(self, token: str, sender: str, recipient: str, value: int) -> str:
        """Have `sender` transfer `value` of `token` to `recipient`; returns the tx hash."""
        return self.call_contract("TestToken", token, "transfer", recipient, value, sender=sender)

    def mis_sent_deposit(
        self, token: str, deposit_address: str, value: int, *, sender: str | None = None
    ) -> str:
        """Mint to a user and have them send it to `deposit_address`; returns the tx hash."""
        user = sender or self.accounts[1]
        self.mint(token, user, value)
        return self.transfer_token(token, user, deposit_address, value)

    def reverted_transfer(self, token: str, sender: str, recipient: str, value: int) -> str:
        """A token transfer that is mined but reverts (sender lacks the balance)."""
        return self.transfer_token(token, sender, recipient, value)

    def token_balance(self, token: str, address: str) -> int:
        """`balanceOf(address)` of a token at the head."""
        data = artifacts.load("TestToken").call_data("balanceOf", address)
        return int(self.rpc("eth_call", {"to": token, "data": data}, "latest"), 16)

    def deploy_batch_sender(self) -> str:
        """Deploy the `BatchSender` that sends one token to several recipients in one tx."""
        return self.deploy("BatchSender")

    def batch_transfer(
        self,
        token: str,
        sender: str,
        payments: Sequence[tuple[str, int]],
        *,
        batch_sender: str | None = None,
    ) -> str:
        """One transaction with one Transfer log per (recipient, value); mints to `sender` first."""
        router = batch_sender or self.deploy_batch_sender()
        total = sum(value for _, value in payments)
        self.mint(token, sender, total)
        self.call_contract("TestToken", token, "approve", router, total, sender=sender)
        recipients = [recipient for recipient, _ in payments]
        values = [value for _, value in payments]
        return self.call_contract(
            "BatchSender",
            router,
            "send",
            token,
            recipients,
            values,
            sender=sender,
            gas=200_000 + 60_000 * len(payments),
        )

    def deploy_forwarder(self) -> str:
        """Deploy the `Forwarder` that sends native coin on through internal transfers."""
        return self.deploy("Forwarder")

    def forward_native(
        self,
        forwarder: str,
        sender: str,
        payments: Sequence[tuple[str, int]],
        *,
        undo: bool = False,
    ) -> str:
        """One transaction to `forwarder` whose call frames pay each (recipient, value).

        The top-level value goes to the forwarder; the recipients get theirs only as
        internal transfers. `undo` sends one payment through a frame that reverts (the
        transaction still succeeds and the recipient ends up with nothing).
        """
        total = sum(value for _, value in payments)
        if undo:
            ((recipient, _),) = payments
            data = artifacts.load("Forwarder").call_data("forwardThenUndo", recipient)
        elif len(payments) == 1:
            data = artifacts.load("Forwarder").call_data("forward", payments[0][0])
        else:
            data = artifacts.load("Forwarder").call_data(
                "split", [r for r, _ in payments], [v for _, v in payments]
            )
        return self.send(sender, forwarder, data, value=total, gas=200_000 + 50_000 * len(payments))

    def deploy_front_token(
        self, symbol: str = "FRT", name: str = "Front Token", decimals: int = 6
    ) -> tuple[str, str]:
        """Deploy a token reached through a front: returns (front, ledger) addresses.

        Users call the front; its ledger, at another address, holds the balances and
        emits the `Transfer` logs.
        """
        front = self.deploy("TokenFront", name, symbol, decimals)
        data = artifacts.load("TokenFront").call_data("ledger")
        ledger = "0x" + str(self.rpc("eth_call", {"to": front, "data": data}, "latest"))[-40:]
        return front, str(to_checksum_address(ledger))

    def deploy_collectible(self) -> str:
        """Deploy an ERC-721-style collectible whose Transfer log has 4 topics."""
        return self.deploy("TestCollectible")

    def mint_collectible(self, collectible: str, to: str, token_id: int) -> str:
        """Mint collectible `token_id` to `to`; the tx carries a 4-topic Transfer log."""
        return self.call_contract("TestCollectible", collectible, "mint", to, token_id)


def _bytes32(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 32:
        raise ValueError(f"{text!r} does not fit in bytes32")
    return raw.ljust(32, b"\x00")
