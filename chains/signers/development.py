"""Mnemonics published by common development tools: anyone holds their keys.

Compared after the normalisation the signer itself applies (NFKD, lower case, single
spaces), so `Test  test ...`, tabs or a trailing newline derive the same public keys and
are refused alike. No import here is heavy: settings validation uses it.
"""

from __future__ import annotations

import unicodedata

DEVELOPMENT_MNEMONICS = frozenset(
    {
        # anvil and hardhat
        "test test test test test test test test test test test junk",
        # truffle develop
        "candy maple cake sugar pudding cream honey rich smooth crumble sweet treat",
        # ganache --deterministic
        "myth like bonus scare over problem client lizard pioneer submit female collect",
    }
)


def normalised_phrase(phrase: str) -> str:
    """The phrase as the signer reads it: NFKD, lower case, words joined by one space."""
    return " ".join(unicodedata.normalize("NFKD", phrase).lower().split())


def is_development_mnemonic(phrase: str) -> bool:
    """Whether `phrase` is one of the published development mnemonics, however spaced or cased."""
    return normalised_phrase(phrase) in DEVELOPMENT_MNEMONICS
