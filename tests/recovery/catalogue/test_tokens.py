"""A preview learns an unlisted token's decimals from its chain, when it can."""

from __future__ import annotations

from chains.devnet import DevnetCluster
from chains.evm import EvmAdapter
from recovery.catalogue.tokens import TokenDecimals


def test_decimals_come_from_the_chain_and_outages_are_not_remembered(
    devnet: DevnetCluster, adapters: dict[str, EvmAdapter]
) -> None:
    bsc = devnet.chain("bsc")
    token = bsc.deploy_token(symbol="SIX", name="Six", decimals=6)
    silent = bsc.deploy_no_return_token()
    dead = EvmAdapter("bsc", ["http://127.0.0.1:9"], timeout=0.2, retries=0)
    lookup = TokenDecimals({"bsc": dead})
    assert lookup("bsc", token) is None
    lookup.adapters = adapters
    assert lookup("bsc", token) == 6
    assert lookup("bsc", silent) is None
    assert lookup("polygon", token) is None


def test_absurd_decimals_count_as_unknown() -> None:
    from chains.base import TokenMetadata
    from recovery.catalogue.tokens import sane_decimals

    def meta(decimals: int | None) -> TokenMetadata:
        return TokenMetadata(address="0x" + "1" * 40, symbol="X", name="X", decimals=decimals)

    assert sane_decimals(meta(6)) == 6
    assert sane_decimals(meta(0)) == 0
    assert sane_decimals(meta(255)) is None
    assert sane_decimals(meta(None)) is None
    assert sane_decimals(None) is None
