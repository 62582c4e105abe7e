"""Compiled test contracts, loaded from the committed JSON artifacts beside the sources.

The artifacts come from `node chains/devnet/compile.mjs`; nothing compiles at run time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from chains.errors import ChainError

ARTIFACTS_DIR = Path(__file__).parent / "contracts" / "artifacts"


class ArtifactMissing(ChainError):
    """Raised when a contract artifact is not among the committed ones."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        super().__init__(
            f"no artifact for contract {name} at {path}; run `node chains/devnet/compile.mjs`"
        )


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI and its creation and runtime bytecode."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str

    def deploy_data(self, *args: Any) -> str:
        """Creation bytecode followed by the ABI-encoded constructor arguments."""
        constructor = next((e for e in self.abi if e["type"] == "constructor"), None)
        types = [_type(i) for i in constructor["inputs"]] if constructor else []
        return self.bytecode + encode(types, list(args)).hex()

    def call_data(self, function: str, *args: Any) -> str:
        """Calldata for `function` (by name; overloads are not used in the test contracts)."""
        entry = next(
            (e for e in self.abi if e["type"] == "function" and e["name"] == function), None
        )
        if entry is None:
            raise ChainError(f"contract {self.name} has no function {function}")
        types = [_type(i) for i in entry["inputs"]]
        selector = keccak(text=f"{function}({','.join(types)})")[:4]
        return "0x" + selector.hex() + encode(types, list(args)).hex()


def _type(parameter: dict[str, Any]) -> str:
    return str(parameter["type"])


@cache
def load(name: str) -> Artifact:
    """The committed artifact of contract `name` (e.g. `TestToken`)."""
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.is_file():
        raise ArtifactMissing(name, path)
    data = json.loads(path.read_text())
    abi: Sequence[dict[str, Any]] = data["abi"]
    return Artifact(
        name=name,
        abi=tuple(abi),
        bytecode=str(data["bytecode"]),
        deployed_bytecode=str(data["deployedBytecode"]),
    )
