"""No NUL character in any input: PostgreSQL text cannot hold one (the driver raises, a 500),
so every route refuses it with a 422, and the contract says so on every free-text string."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from recovery.errors import InvalidInput

# What the contract adds to every request string that has no pattern, enum or format.
NO_NUL_PATTERN = "^[^\\u0000]*$"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


async def refuse_nul(request: Request) -> None:
    """A dependency of every route: InvalidInput when the path, the query, a header or a
    JSON body's text holds a NUL character."""
    where = None
    if "\x00" in request.scope["path"]:
        where = "the path"
    elif any(_holds_nul(k) or _holds_nul(v) for k, v in request.query_params.multi_items()):
        where = "a query parameter"
    elif any(b"\x00" in value for _, value in request.scope.get("headers", [])):
        where = "a header"
    else:
        body = await request.body()  # FastAPI has read it already: this is its copy
        if body:
            try:
                document = json.loads(body)
            except ValueError:
                document = None  # not JSON: the route's own validation says what is wrong
            if _holds_nul(document):
                where = "the body"
    if where is not None:
        raise InvalidInput(f"{where} holds a NUL character (\\u0000); text may not contain one")


def forbid_nul_in_contract(spec: dict[str, Any]) -> None:
    """Add NO_NUL_PATTERN to every string a request may carry (parameters and bodies, through
    their component schemas) that has no pattern, enum, const or format of its own."""
    schemas = spec.get("components", {}).get("schemas", {})
    seen: set[str] = set()

    def walk(schema: Any) -> None:
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen and name in schemas:
                seen.add(name)
                walk(schemas[name])
            return
        if schema.get("type") == "string" and not {"pattern", "enum", "const", "format"} & set(
            schema
        ):
            schema["pattern"] = NO_NUL_PATTERN
        for key in ("properties", "patternProperties", "$defs"):
            for child in (schema.get(key) or {}).values():
                walk(child)
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for child in schema.get(key) or []:
                walk(child)
        for key in ("items", "additionalProperties", "not"):
            walk(schema.get(key))

    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                walk(parameter.get("schema"))
            for media in (operation.get("requestBody") or {}).get("content", {}).values():
                walk(media.get("schema"))
