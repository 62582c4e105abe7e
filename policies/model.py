"""The policy data model: catalogue of networks, fee schedules, prices and thresholds.

Every model forbids unknown fields and is frozen: a loaded policy is shared (the default
load is cached) and decides cases, so nobody may change it after validation.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from policies.errors import UnknownNetwork

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _refuse_float(value: object) -> object:
    # YAML turns 0.1 into a binary float; money must be written as a string or an integer.
    if isinstance(value, float):
        raise ValueError(f"write money as a quoted decimal string, not the float {value!r}")
    return value


Money = Annotated[Decimal, BeforeValidator(_refuse_float), Field(ge=0, allow_inf_nan=False)]
Percent = Annotated[Decimal, BeforeValidator(_refuse_float), Field(ge=0, lt=100)]


def normalize_address(address: str) -> str:
    """Return the comparison form of a token address: hex addresses lower-cased.

    Only 0x-hex addresses are case-insensitive; base58 addresses (Tron, Solana) keep
    their case because it is part of the address.
    """
    if address[:2].lower() == "0x":
        return address.lower()
    return address


class CaseType(StrEnum):
    """The two kinds of mis-sent deposit the service recovers."""

    WRONG_NETWORK = "wrong_network"
    UNLISTED_TOKEN = "unlisted_token"


class RecoveryClass(StrEnum):
    """How recoverable a network is for a case type."""

    DIRECT = "direct"
    CONDITIONAL = "conditional"
    UNSUPPORTED = "unsupported"


# Stricter classes sort higher; a wrong-network pair uses the stricter of its two sides.
CLASS_STRICTNESS = {
    RecoveryClass.DIRECT: 0,
    RecoveryClass.CONDITIONAL: 1,
    RecoveryClass.UNSUPPORTED: 2,
}


class Family(StrEnum):
    """Network families; an address format and transaction model is shared within one."""

    EVM = "evm"
    UTXO = "utxo"
    TRON = "tron"
    SOLANA = "solana"
    COSMOS = "cosmos"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConditionRef(_Frozen):
    """A condition named in the data, with its parameters (checked against the registry)."""

    id: str = Field(min_length=1)
    value: Money | None = None
    days: int | None = Field(default=None, gt=0)


class CaseTypePolicy(_Frozen):
    """A network's recoverability class for one case type, with its conditions or reason."""

    recovery_class: RecoveryClass = Field(alias="class")
    conditions: tuple[ConditionRef, ...] = ()
    reason: str | None = None

    @model_validator(mode="after")
    def _class_matches_content(self) -> CaseTypePolicy:
        if self.recovery_class is RecoveryClass.UNSUPPORTED:
            if not self.reason:
                raise ValueError("an unsupported class needs a reason")
            if self.conditions:
                raise ValueError("an unsupported class takes no conditions")
        elif self.recovery_class is RecoveryClass.DIRECT and self.conditions:
            raise ValueError("a direct class takes no conditions; make it conditional")
        elif self.recovery_class is RecoveryClass.CONDITIONAL and not self.conditions:
            raise ValueError("a conditional class needs at least one condition")
        ids = [c.id for c in self.conditions]
        if len(ids) != len(set(ids)):
            raise ValueError(f"condition ids repeat: {', '.join(ids)}")
        return self


class NativeAsset(_Frozen):
    """The network's own coin, used for gas."""

    symbol: str = Field(min_length=1)
    decimals: int = Field(ge=0, le=36)


class ListedAsset(_Frozen):
    """An asset the exchange credits on a network; address None means the native asset."""

    symbol: str = Field(min_length=1)
    address: str | None = None
    decimals: int = Field(ge=0, le=36)

    @property
    def is_native(self) -> bool:
        """True for the network's native asset."""
        return self.address is None


class Network(_Frozen):
    """One network of the catalogue."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    family: Family
    chain_id: int | None = Field(default=None, gt=0)
    key_derivation: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)+$")
    native: NativeAsset
    confirmations: int = Field(ge=1)
    block_time_seconds: float = Field(gt=0)
    explorer_tx_url: str
    listed_assets: tuple[ListedAsset, ...] = ()
    wrong_network: CaseTypePolicy
    unlisted_token: CaseTypePolicy
    devnet: bool = False
    # Whether this network's nodes answer `debug_traceTransaction` with a call tracer, so
    # that native value a contract moved (an internal transfer) can be verified.
    traces: bool = False

    @field_validator("explorer_tx_url")
    @classmethod
    def _has_placeholder(cls, url: str) -> str:
        if not url.startswith("https://") or "{tx_hash}" not in url:
            raise ValueError(f"must be an https URL containing {{tx_hash}}, got {url!r}")
        return url

    @model_validator(mode="after")
    def _consistent(self) -> Network:
        if self.family is Family.EVM and self.chain_id is None:
            raise ValueError("an evm network needs a chain_id")
        seen: set[str] = set()
        for asset in self.listed_assets:
            if asset.address is None:
                raise ValueError(f"listed asset {asset.symbol} needs an address")
            if self.family is Family.EVM and not _HEX_ADDRESS.match(asset.address):
                raise ValueError(f"listed asset {asset.symbol}: {asset.address!r} is not 0x+40 hex")
            key = normalize_address(asset.address)
            if key in seen:
                raise ValueError(f"listed asset address {asset.address} repeats")
            seen.add(key)
        return self

    @property
    def native_asset(self) -> ListedAsset:
        """The native asset as a listed asset (address None)."""
        return ListedAsset(symbol=self.native.symbol, decimals=self.native.decimals)

    def listed(self, token: str | None) -> ListedAsset | None:
        """Return the listed asset for a token address (None: native), or None if unlisted."""
        if token is None:
            return self.native_asset
        wanted = normalize_address(token)
        for asset in self.listed_assets:
            if asset.address is not None and normalize_address(asset.address) == wanted:
                return asset
        return None

    def case_policy(self, case_type: CaseType | str) -> CaseTypePolicy:
        """The class and conditions of this network for a case type."""
        if CaseType(case_type) is CaseType.WRONG_NETWORK:
            return self.wrong_network
        return self.unlisted_token

    def explorer_url(self, tx_hash: str) -> str:
        """The explorer page of a transaction on this network."""
        return self.explorer_tx_url.format(tx_hash=tx_hash)


class Bracket(_Frozen):
    """One progressive bracket: `percent` applies to the part of the value up to `up_to`."""

    up_to: Money | None = None
    percent: Percent


class UnpricedRule(_Frozen):
    """How to charge a token that has no price: a percentage of the amount in token units."""

    percent: Annotated[Decimal, BeforeValidator(_refuse_float), Field(gt=0, lt=100)]


class FeeSchedule(_Frozen):
    """A fee schedule for one case type and class, in the quote currency."""

    currency: str = Field(pattern=r"^[A-Z]{3,5}$")
    min_value: Money = Decimal(0)
    flat: Money = Decimal(0)
    free_up_to: Money = Decimal(0)
    brackets: tuple[Bracket, ...] = ()
    min_fee: Money = Decimal(0)
    max_fee: Money | None = None
    unpriced: UnpricedRule | None = None

    @model_validator(mode="after")
    def _brackets_ascend(self) -> FeeSchedule:
        previous = Decimal(0)
        for index, bracket in enumerate(self.brackets):
            last = index == len(self.brackets) - 1
            if bracket.up_to is None and not last:
                raise ValueError(f"brackets[{index}]: only the last bracket may be open-ended")
            if bracket.up_to is not None and bracket.up_to <= previous:
                raise ValueError(f"brackets[{index}]: up_to {bracket.up_to} must exceed {previous}")
            if bracket.up_to is not None:
                previous = bracket.up_to
        if self.brackets and self.brackets[-1].up_to is not None:
            raise ValueError("the last bracket must be open-ended (no up_to)")
        if self.max_fee is not None and self.max_fee < self.min_fee:
            raise ValueError(f"max_fee {self.max_fee} is below min_fee {self.min_fee}")
        return self


class PriceTable(_Frozen):
    """Static prices in the quote currency of one whole token.

    `by_symbol` prices a network's native asset and its listed assets by their symbol;
    `by_token` prices unlisted tokens by network id and contract address.
    """

    by_symbol: dict[str, Annotated[Decimal, BeforeValidator(_refuse_float), Field(gt=0)]] = {}
    by_token: dict[
        str, dict[str, Annotated[Decimal, BeforeValidator(_refuse_float), Field(gt=0)]]
    ] = {}

    @field_validator("by_token")
    @classmethod
    def _normalize(cls, table: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
        return {
            network: {normalize_address(a): p for a, p in prices.items()}
            for network, prices in table.items()
        }


class Thresholds(_Frozen):
    """Values in the quote currency above which a case needs more scrutiny."""

    second_approval_min_value: Money
    ownership_proof_min_value: Money


class Policy(_Frozen):
    """The whole policy: what is recoverable where, at what fee, under which version."""

    version: str = Field(min_length=1)
    quote_currency: str = Field(pattern=r"^[A-Z]{3,5}$")
    quote_validity_seconds: int = Field(gt=0)
    thresholds: Thresholds
    fee_schedules: dict[CaseType, dict[RecoveryClass, FeeSchedule]]
    prices: PriceTable
    networks: dict[str, Network]

    @model_validator(mode="before")
    @classmethod
    def _network_ids_from_keys(cls, data: Any) -> Any:
        # The id is the mapping key in the file; copy it in so a Network knows its name.
        if isinstance(data, dict) and isinstance(data.get("networks"), dict):
            networks = {}
            for key, entry in data["networks"].items():
                if isinstance(entry, dict) and "id" not in entry:
                    entry = {"id": key, **entry}
                networks[key] = entry
            data = {**data, "networks": networks}
        return data

    @model_validator(mode="after")
    def _cross_checks(self) -> Policy:
        for key, network in self.networks.items():
            if network.id != key:
                raise ValueError(f"networks.{key}: id {network.id!r} differs from its key")
        chain_ids: dict[int, str] = {}
        for network in self.networks.values():
            if network.chain_id is None:
                continue
            if network.chain_id in chain_ids:
                other = chain_ids[network.chain_id]
                raise ValueError(
                    f"networks.{network.id}: chain_id {network.chain_id} is also {other}'s"
                )
            chain_ids[network.chain_id] = network.id
        for case_type, by_class in self.fee_schedules.items():
            if RecoveryClass.UNSUPPORTED in by_class:
                raise ValueError(f"fee_schedules.{case_type}: unsupported cases have no fee")
            for klass, schedule in by_class.items():
                if schedule.currency != self.quote_currency:
                    raise ValueError(
                        f"fee_schedules.{case_type}.{klass}: currency {schedule.currency} "
                        f"differs from quote_currency {self.quote_currency}"
                    )
        for network in self.networks.values():
            for case_type in CaseType:
                klass = network.case_policy(case_type).recovery_class
                if klass is RecoveryClass.UNSUPPORTED:
                    continue
                if klass not in self.fee_schedules.get(case_type, {}):
                    raise ValueError(
                        f"networks.{network.id}.{case_type}: no fee schedule for "
                        f"{case_type}/{klass}"
                    )
        for network_id in self.prices.by_token:
            if network_id not in self.networks:
                raise ValueError(f"prices.by_token.{network_id}: unknown network")
        return self

    def network(self, network_id: str) -> Network:
        """The network with this id; raises UnknownNetwork listing the known ids."""
        try:
            return self.networks[network_id]
        except KeyError:
            raise UnknownNetwork(network_id, self.networks) from None

    def fee_schedule(self, case_type: CaseType | str, klass: RecoveryClass) -> FeeSchedule:
        """The fee schedule for a case type and a (not unsupported) class."""
        return self.fee_schedules[CaseType(case_type)][klass]

    @cached_property
    def content_hash(self) -> str:
        """sha256 (hex) of the canonical JSON of the loaded, merged policy."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def canonical_json(self) -> str:
        """The policy as JSON with sorted keys and no whitespace; the input of the hash."""
        data = self.model_dump(mode="json", by_alias=True)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
