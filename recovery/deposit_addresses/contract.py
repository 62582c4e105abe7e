"""The OpenAPI schema of a deposit address's registration, drawn from the loaded policy.

One address is opened on networks of one chain family and has that family's format: a
`oneOf` by family says it (the families' network enums do not overlap).
"""

from __future__ import annotations

from typing import Any

from policies import Policy
from recovery.appeals.contract import address_schema, family_ids


def deposit_address_schemas(policy: Policy) -> dict[str, dict[str, Any]]:
    """Components: `DepositAddressCreate` and its one branch per chain family, by name."""
    schemas: dict[str, dict[str, Any]] = {}
    for family, ids in family_ids(policy).items():
        title = f"DepositAddressCreate{family.capitalize()}"
        schemas[title] = {
            "title": title,
            "description": f"A deposit address on {family} networks.",
            "type": "object",
            "properties": {
                "address": address_schema(family, "The address, in the family's format."),
                "owner": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 128,
                    "description": "The user's subject.",
                },
                "networks": {
                    "type": "array",
                    "items": {"enum": ids},
                    "minItems": 1,
                    "maxItems": 64,
                    "description": f"Networks the address was opened for, all {family}.",
                },
                "hd_index": {
                    "anyOf": [
                        {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                        {"type": "null"},
                    ],
                    "description": "Index of its key in the service's HD wallet "
                    "(m/44'/60'/0'/0/<index>); needed to pay a refund out of it.",
                },
            },
            "required": ["address", "owner", "networks"],
            "additionalProperties": False,
        }
    schemas["DepositAddressCreate"] = {
        "title": "DepositAddressCreate",
        "description": "Register an address the exchange controls for one user, opened on "
        "networks of one chain family (GET /v1/networks gives each network's family).",
        "oneOf": [{"$ref": f"#/components/schemas/{title}"} for title in schemas],
    }
    return schemas
