"""HD signer: BIP-44 derivation, refusal of public development mnemonics, no key leaks."""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from chains.devnet import DEV_MNEMONIC
from chains.signers import (
    DEPOSIT_PATH,
    GAS_WALLET_PATH,
    DevelopmentKeyRefused,
    HdSigner,
    InvalidDerivationPath,
    InvalidMnemonic,
    InvalidSignature,
    Signer,
    SignerError,
    TransactionNotSignable,
    UnknownSigningAddress,
    verify_message_signature,
)

Account.enable_unaudited_hdwallet_features()

MNEMONIC = "immense venue example moral sausage virtual sea crush proof fury long flower"
RECIPIENT = "0x5555555555555555555555555555555555555555"


def _signer(mnemonic: str = MNEMONIC, **options: object) -> HdSigner:
    options.setdefault("devnet_chain_ids", frozenset({1, 56}))
    return HdSigner(mnemonic, **options)  # type: ignore[arg-type]


def _tx(**overrides: object) -> dict[str, object]:
    tx: dict[str, object] = {
        "type": 2,
        "to": RECIPIENT,
        "value": 1,
        "nonce": 0,
        "gas": 21_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
    }
    tx.update(overrides)
    return tx


def _private_keys(mnemonic: str, paths: list[str], passphrase: str = "") -> list[str]:
    return [
        Account.from_mnemonic(mnemonic, passphrase=passphrase, account_path=p).key.hex()
        for p in paths
    ]


def test_deposit_and_gas_wallet_addresses_match_eth_account() -> None:
    signer = _signer()

    for index in (0, 1, 7, 1000):
        expected = Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
        assert signer.register_deposit_index(index) == expected.address
        assert signer.path_of(expected.address) == DEPOSIT_PATH.format(index=index)
    gas = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/1'/0/0")
    assert signer.gas_wallet_address == gas.address
    assert signer.path_of(gas.address.lower()) == GAS_WALLET_PATH == "m/44'/60'/1'/0/0"


def test_a_passphrase_derives_other_addresses() -> None:
    plain = _signer().address_of(0)
    protected = _signer(passphrase="correct horse").address_of(0)

    expected = Account.from_mnemonic(
        MNEMONIC, passphrase="correct horse", account_path="m/44'/60'/0'/0/0"
    )
    assert protected == expected.address
    assert protected != plain


def test_address_of_a_path_equals_address_of_its_index() -> None:
    signer = _signer()
    assert signer.address_of("m/44'/60'/0'/0/3") == signer.address_of(3)
    assert isinstance(signer, Signer)


@pytest.mark.parametrize("bad", [-1, 2**31, True, "44/60/0", "m/x", "", 1.5])
def test_malformed_index_or_path_is_refused(bad: object) -> None:
    with pytest.raises(InvalidDerivationPath):
        _signer().address_of(bad)  # type: ignore[arg-type]


def test_signing_for_an_address_never_derived_is_refused() -> None:
    stranger = Account.create().address
    with pytest.raises(UnknownSigningAddress, match=stranger):
        _signer().sign_transaction(stranger, _tx(), 56)


def test_signed_transaction_is_the_one_eth_account_makes() -> None:
    signer = _signer()
    address = signer.register_deposit_index(4)

    signed = signer.sign_transaction(address, _tx(nonce=3), 56)

    key = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/4").key
    expected = Account.sign_transaction({**_tx(nonce=3), "chainId": 56}, key)
    assert signed.raw_transaction == bytes(expected.raw_transaction)
    assert signed.tx_hash == expected.hash.to_0x_hex()
    assert (signed.sender, signed.chain_id, signed.nonce) == (address, 56, 3)
    assert signed.raw_hex == "0x" + signed.raw_transaction.hex()


def test_a_transaction_naming_another_chain_or_sender_is_refused() -> None:
    signer = _signer()
    address = signer.address_of(0)

    with pytest.raises(TransactionNotSignable, match="chain id 1"):
        signer.sign_transaction(address, _tx(chainId=1), 56)
    with pytest.raises(TransactionNotSignable, match="from"):
        signer.sign_transaction(address, _tx(**{"from": signer.address_of(1)}), 56)
    with pytest.raises(TransactionNotSignable, match="recipient"):
        signer.sign_transaction(address, _tx(to=None), 56)


def test_development_mnemonic_is_refused_on_a_chain_not_marked_devnet() -> None:
    signer = _signer(DEV_MNEMONIC, devnet_chain_ids=frozenset({1, 56}))
    address = signer.address_of(0)

    with pytest.raises(DevelopmentKeyRefused) as refused:
        signer.sign_transaction(address, _tx(), 137)

    assert refused.value.chain_id == 137
    assert "137" in str(refused.value)
    assert signer.is_development


def test_development_mnemonic_signs_for_a_devnet_chain_id() -> None:
    signer = _signer(DEV_MNEMONIC, devnet_chain_ids=frozenset({56}))
    address = signer.address_of(0)

    signed = signer.sign_transaction(address, _tx(), 56)

    assert address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil account 0
    assert signed.sender == address


TRUFFLE = "candy maple cake sugar pudding cream honey rich smooth crumble sweet treat"
GANACHE = "myth like bonus scare over problem client lizard pioneer submit female collect"
# Fullwidth letters: BIP-39's NFKD makes them the plain ones, and so the same public keys.
FULLWIDTH = DEV_MNEMONIC.replace("junk", "\uff4a\uff55\uff4e\uff4b")


@pytest.mark.parametrize(
    "spelling",
    [
        DEV_MNEMONIC,
        DEV_MNEMONIC.upper(),
        "  " + DEV_MNEMONIC.replace(" ", "\n  "),
        DEV_MNEMONIC.replace(" ", "\t", 3) + "\n",
        FULLWIDTH,
        TRUFFLE,
        "Candy  Maple " + TRUFFLE.removeprefix("candy maple "),
        GANACHE,
    ],
)
def test_development_mnemonic_without_any_devnet_is_refused_at_once(spelling: str) -> None:
    with pytest.raises(DevelopmentKeyRefused, match="no chain is marked devnet"):
        HdSigner(spelling, devnet_chain_ids=None)
    with pytest.raises(DevelopmentKeyRefused):
        HdSigner(spelling, devnet_chain_ids=frozenset())


def test_invalid_mnemonic_is_refused_without_quoting_it() -> None:
    broken = MNEMONIC.replace("flower", "flowers")

    with pytest.raises(InvalidMnemonic) as raised:
        HdSigner(broken, devnet_chain_ids=None)

    assert "flowers" not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None


def _leaks(text: str, secrets: list[str]) -> list[str]:
    lowered = text.lower()
    found = [s for s in secrets if s.lower() in lowered]
    words = MNEMONIC.split()
    found += [w for w in words if re.search(rf"\b{w}\b", lowered)]
    return found


def test_no_key_or_mnemonic_word_in_repr_or_any_error() -> None:
    signer = _signer()
    address = signer.address_of(0)
    keys = _private_keys(MNEMONIC, [DEPOSIT_PATH.format(index=0), GAS_WALLET_PATH])
    secrets = [MNEMONIC, *keys, *(k.removeprefix("0x") for k in keys)]
    messages = [repr(signer), str(signer)]
    attempts: list[Callable[[], object]] = [
        lambda: signer.sign_transaction(address, _tx(chainId=1), 56),
        lambda: signer.sign_transaction(address, _tx(value=-1), 56),
        lambda: signer.sign_transaction(address, _tx(maxFeePerGas="lots"), 56),
        lambda: signer.sign_transaction(address, _tx(nonce=None), 56),
        lambda: signer.sign_transaction(Account.create().address, _tx(), 56),
        lambda: signer.sign_message(address, b"bytes"),  # type: ignore[arg-type]
        lambda: signer.address_of("m/bad"),
        lambda: pickle.dumps(signer),
        lambda: HdSigner(MNEMONIC + " extra", devnet_chain_ids=None),
    ]
    for attempt in attempts:
        with pytest.raises((SignerError, TypeError)) as raised:
            attempt()
        error: BaseException | None = raised.value
        while error is not None:  # the chained causes count too
            messages.append(str(error))
            error = error.__cause__ or error.__context__

    for message in messages:
        assert _leaks(message, secrets) == [], message


def test_message_signature_round_trip() -> None:
    signer = _signer()
    owner = signer.address_of(0)
    message = "I own 0x5555555555555555555555555555555555555555 for case RC-000123"

    signature = signer.sign_message(owner, message)

    assert verify_message_signature(message, signature) == owner
    assert verify_message_signature(message, signature.removeprefix("0x")) == owner
    assert verify_message_signature(message + ".", signature) != owner


def test_a_signature_by_another_address_recovers_that_address() -> None:
    signer = _signer()
    owner = signer.address_of(0)
    other = Account.create()
    message = "I own the deposit of RC-000124"

    signature = other.sign_message(encode_defunct(text=message)).signature.to_0x_hex()

    recovered = verify_message_signature(message, signature)
    assert recovered == other.address
    assert recovered != owner


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "0x1234",
        "0x" + "zz" * 65,
        "0x" + "00" * 65,  # r = s = 0 recovers nothing
        "0x" + "11" * 64 + "05",  # v is neither 0/1 nor 27/28
        None,
    ],
)
def test_malformed_signature_raises_a_clear_error(signature: object) -> None:
    with pytest.raises(InvalidSignature, match="not a valid EIP-191 signature"):
        verify_message_signature("hello", signature)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mnemonic", "error"),
    [(MNEMONIC + " extra", InvalidMnemonic), (DEV_MNEMONIC, DevelopmentKeyRefused)],
)
def test_a_refused_mnemonic_is_not_kept_in_the_traceback(
    mnemonic: str, error: type[SignerError]
) -> None:
    with pytest.raises(error) as raised:
        HdSigner(mnemonic, devnet_chain_ids=None)

    tb = raised.value.__traceback__
    signer_frames = []
    while tb is not None:  # error trackers record the locals of these frames
        if tb.tb_frame.f_code.co_filename.endswith("hd.py"):
            signer_frames.append(tb.tb_frame)
        tb = tb.tb_next
    assert signer_frames
    for frame in signer_frames:
        shown = " ".join(repr(value) for value in frame.f_locals.values())
        assert "extra" not in shown
        assert "junk" not in shown
