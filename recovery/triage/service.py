"""Triage: read a description into a draft, complete it from the chain, preview its verdict.

Services never commit; triage writes nothing at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Context, Decimal, localcontext
from typing import Any

from chains.base import TransactionFacts
from chains.errors import ChainError
from chains.evm.adapter import EvmAdapter
from policies import Facts, Policy, StaticPriceSource, evaluate
from policies.errors import PolicyError
from policies.vocabulary import load_vocabulary
from recovery.appeals.verdicts import verdict_dict
from recovery.domain.case import NATIVE
from recovery.triage.reading import Draft, DraftField, Reader, draft_dict

# One reader per loaded policy, kept with it (a policy is not hashable; its id is
# stable while it is kept here).
_READERS: dict[int, tuple[Policy, Reader]] = {}


def reader_for(policy: Policy) -> Reader:
    """The reader of one loaded policy (built once: it compiles every phrase)."""
    kept = _READERS.get(id(policy))
    if kept is None or kept[0] is not policy:
        kept = (policy, Reader(load_vocabulary(policy), policy))
        _READERS[id(policy)] = kept
    return kept[1]


def lookup(adapters: Mapping[str, EvmAdapter], tx_hash: str) -> dict[str, Any]:
    """Ask every served network for `tx_hash` at once (one batched request each, in
    parallel): the facts per network where it is, and the networks that could not answer."""
    if not adapters or not tx_hash.startswith("0x"):
        return {"found": {}, "unreachable": []}

    def ask(network: str) -> tuple[str, TransactionFacts | ChainError | None]:
        try:
            return network, adapters[network].transactions([tx_hash.lower()])[tx_hash.lower()]
        except ChainError as exc:
            return network, exc

    with ThreadPoolExecutor(max_workers=min(8, len(adapters))) as pool:
        answers = list(pool.map(ask, sorted(adapters)))
    return {
        "found": {n: a for n, a in answers if isinstance(a, TransactionFacts)},
        "unreachable": [n for n, a in answers if isinstance(a, ChainError)],
    }


def complete(draft: Draft, chain: dict[str, Any]) -> dict[str, Any]:
    """Fill the draft from what the chain showed; the chain's facts as plain data."""
    found: dict[str, TransactionFacts] = chain["found"]
    facts: dict[str, Any] = {"unreachable": chain["unreachable"]}
    if len(found) != 1:
        if len(found) > 1:
            draft.notes.append(f"the transaction is on several networks: {', '.join(found)}")
        return facts
    ((network, tx),) = found.items()
    written = draft.value("network")
    if written and written != network:
        draft.notes.append(f"you wrote {written}; the transaction is on {network}")
    draft.fields["network"] = DraftField(
        network, f"found on {network}, block {tx.block_number}", 1.0
    )
    if draft.value("opened_for") == network:
        draft.fields.pop("opened_for")
        draft.notes.append(f"the address's network cannot be {network}, where it went")
    facts.update(
        {
            "network": network,
            "status": tx.status,
            "block_number": tx.block_number,
            "sender": tx.sender,
            "recipient": tx.recipient,
            "native_value": str(tx.native_value),
        }
    )
    address = draft.value("address")
    transfers = tx.transfers_to(address) if address else tx.transfers
    if transfers:
        token = transfers[0].token
        same = [t for t in transfers if t.token == token]
        facts["token_contract"] = token
        facts["amount_base_units"] = str(sum(t.value for t in same))
        if not address:
            draft.fields["address"] = DraftField(same[0].recipient, "the Transfer's recipient", 0.7)
    elif tx.native_value > 0:
        facts["token_contract"] = NATIVE
        facts["amount_base_units"] = str(tx.native_value)
        if not address and tx.recipient:
            draft.fields["address"] = DraftField(tx.recipient, "the transaction's recipient", 0.7)
    draft.missing = [m for m in draft.missing if m not in draft.fields]
    return facts


def preview(draft: Draft, chain: dict[str, Any], policy: Policy, now: datetime) -> Any:
    """The verdict the policy would give the draft now, when it says enough; else None."""
    case_type, network = draft.value("case_type"), draft.value("network")
    opened_for = draft.value("opened_for")
    if case_type is None or network is None or network not in policy.networks:
        return None
    if case_type == "wrong_network" and (opened_for is None or opened_for not in policy.networks):
        return None
    token = chain.get("token_contract")
    amount_text = chain.get("amount_base_units")
    if token is None:
        ticker = (draft.value("token") or "").upper()
        served = policy.networks[network]
        decimals = None
        if ticker and ticker == served.native.symbol.upper():
            token, decimals = NATIVE, served.native.decimals
        else:
            listed = [a for a in served.listed_assets if a.symbol.upper() == ticker]
            if listed:
                token, decimals = listed[0].address, listed[0].decimals
        written = draft.value("amount")
        if amount_text is None and written is not None and decimals is not None:
            # The amount as the user wrote it, in base units of the token they named.
            with localcontext(Context(prec=200)):
                amount_text = str(int(Decimal(written).scaleb(decimals)))
    if amount_text is None:
        return None  # no amount, no fee to preview
    amount = int(amount_text)
    try:
        verdict = evaluate(
            Facts(
                case_type=case_type,
                network=network,
                opened_for=opened_for if case_type == "wrong_network" else None,
                token=None if token in (None, NATIVE) else token,
                amount=amount,
                sender=chain.get("sender"),
                refund_address=chain.get("sender") or "",
                now=now,
            ),
            policy,
            StaticPriceSource(policy),
        )
    except PolicyError:
        return None
    return verdict_dict(verdict)


def triage(
    text: str,
    *,
    policy: Policy,
    adapters: Mapping[str, EvmAdapter],
    now: datetime,
    language: str | None = None,
) -> dict[str, Any]:
    """The draft appeal a description gives, completed from the chain when it names a
    transaction hash, with the verdict it would get."""
    draft = reader_for(policy).read(text, language)
    tx_hash = draft.value("tx_hash")
    chain = lookup(adapters, tx_hash) if tx_hash else {"found": {}, "unreachable": []}
    chain_facts = complete(draft, chain)
    result = draft_dict(draft)
    result["chain"] = chain_facts if tx_hash else None
    result["preview"] = preview(draft, chain_facts, policy, now)
    result["appeal"] = _appeal(draft, chain_facts)
    return result


def _appeal(draft: Draft, chain: dict[str, Any]) -> dict[str, Any]:
    """The fields of `POST /v1/appeals` the draft fills (the user adds the rest)."""
    appeal: dict[str, Any] = {
        "case_type": draft.value("case_type"),
        "network": draft.value("network"),
        "opened_for": draft.value("opened_for"),
        "tx_hash": draft.value("tx_hash"),
        "token": chain.get("token_contract"),
        "deposit_address": draft.value("address"),
        "refund_address": chain.get("sender"),
        "claimed_amount": chain.get("amount_base_units"),
    }
    return {k: v for k, v in appeal.items() if v is not None}
