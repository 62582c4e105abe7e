"""The OpenAPI schemas of an appeal's body, drawn from the loaded policy.

The runtime model (`AppealCreate`) is flat; what the service accepts is not: the networks
are the policy's, the address and hash formats follow the family of the network the
transfer went over, and `opened_for` depends on `case_type`. The contract says so with a
union discriminated by `case_type`, each side a `oneOf` by chain family (whose network
enums do not overlap, so exactly one branch matches a valid body).
"""

from __future__ import annotations

from typing import Any

from policies import Policy
from recovery.appeals import formats
from recovery.domain.case import NATIVE, CaseType

# The format of an EVM address, beyond its pattern: mixed case must be its EIP-55 checksum.
EVM_ADDRESS_FORMAT = "evm-address"


def family_ids(policy: Policy) -> dict[str, list[str]]:
    """The policy's network ids by chain family, both sorted."""
    by_family: dict[str, list[str]] = {}
    for network in sorted(policy.networks.values(), key=lambda n: n.id):
        by_family.setdefault(str(network.family), []).append(network.id)
    return dict(sorted(by_family.items()))


def address_schema(family: str, description: str) -> dict[str, Any]:
    """An address of `family`, as formats.address accepts it."""
    schema: dict[str, Any] = {
        "type": "string",
        "pattern": formats.ADDRESS_PATTERNS.get(family, formats.GENERIC),
        "description": description,
    }
    if family == "evm":
        schema["format"] = EVM_ADDRESS_FORMAT
        schema["description"] += (
            " 0x and 40 hex digits: all lowercase, all uppercase, or mixed case that is its "
            "EIP-55 checksum (a wrong checksum is refused as a likely typo)."
        )
    return schema


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _variant(case_type: CaseType, family: str, ids: list[str]) -> dict[str, Any]:
    wrong_network = case_type == CaseType.WRONG_NETWORK
    properties: dict[str, Any] = {
        "case_type": {"const": case_type.value},
        "network": {
            "enum": ids,
            "description": f"Network the transfer actually went over (a {family} network).",
        },
        "opened_for": (
            {
                "$ref": "#/components/schemas/NetworkId",
                "description": "Network the deposit address was opened for; not network.",
            }
            if wrong_network
            else {
                "type": "null",
                "description": "Leave out: an unlisted_token appeal is about network itself.",
            }
        ),
        "tx_hash": {
            "type": "string",
            "pattern": formats.TX_HASH_PATTERNS.get(family, formats.GENERIC),
            "description": f"The transaction's hash in the {family} family's format.",
        },
        "token": {
            "anyOf": [
                {"const": NATIVE, "description": "The network's own coin."},
                address_schema(family, "Token contract address."),
            ],
            "description": 'Token contract address, or "native" for the network\'s own coin.',
        },
        "deposit_address": address_schema(family, "One of your deposit addresses."),
        "refund_address": address_schema(family, "Where the refund goes."),
        "claimed_amount": {
            "anyOf": [
                {"type": "string", "maxLength": 78, "pattern": r"^0*[1-9][0-9]*$"},
                {"type": "null"},
            ],
            "description": "Amount that was sent, as an integer in base units (wei, token "
            "units), greater than zero.",
        },
        "log_indexes": {
            "anyOf": [
                {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0, "maximum": 2_147_483_647},
                    "minItems": 1,
                    "maxItems": 100,
                    "uniqueItems": True,
                },
                {"type": "null"},
            ],
            "description": "The transaction's Transfer logs this claim covers, by their log "
            "index (as the receipt shows them), each once. Leave out to claim every transfer "
            "of the token to the deposit address in the transaction (the amount is then "
            "their sum). Tokens only: native value has no log.",
        },
    }
    required = ["case_type", "network", "tx_hash", "token", "deposit_address", "refund_address"]
    refused: list[dict[str, Any]] = [
        {
            "properties": {"token": {"const": NATIVE}, "log_indexes": {"type": "array"}},
            "required": ["log_indexes"],
        }
    ]
    if wrong_network:
        required.insert(2, "opened_for")
        refused += [
            {"properties": {"network": {"const": n}, "opened_for": {"const": n}}} for n in ids
        ]
    return {
        "title": f"{_title(case_type.value)}{_title(family)}Appeal",
        "description": f"A {case_type.value} appeal for a transfer over a {family} network.",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "not": {"anyOf": refused},
    }


def appeal_schemas(policy: Policy) -> dict[str, dict[str, Any]]:
    """Components: `AppealCreate` and the schemas it is made of, by name."""
    by_family = family_ids(policy)
    schemas: dict[str, dict[str, Any]] = {
        "NetworkId": {
            "title": "NetworkId",
            "description": "A network of the policy's catalogue, by its id (GET /v1/networks).",
            "enum": sorted(policy.networks),
        }
    }
    mapping: dict[str, str] = {}
    descriptions = {
        CaseType.WRONG_NETWORK: "Sent over another network than the address was opened for.",
        CaseType.UNLISTED_TOKEN: "A token the exchange does not list, on a network it does.",
    }
    for case_type in (CaseType.WRONG_NETWORK, CaseType.UNLISTED_TOKEN):
        side = f"{_title(case_type.value)}Appeal"
        branches = []
        for family, ids in by_family.items():
            variant = _variant(case_type, family, ids)
            schemas[variant["title"]] = variant
            branches.append({"$ref": f"#/components/schemas/{variant['title']}"})
        schemas[side] = {"title": side, "description": descriptions[case_type], "oneOf": branches}
        mapping[case_type.value] = f"#/components/schemas/{side}"
    schemas["AppealCreate"] = {
        "title": "AppealCreate",
        "description": "A request to recover one mis-sent transfer. The networks are the "
        "policy's (GET /v1/networks); addresses and the hash take the format of the family "
        "of the network the transfer went over.",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "case_type", "mapping": mapping},
    }
    return schemas
