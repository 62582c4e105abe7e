"""No NUL character in any input: PostgreSQL text cannot hold one (the driver raises, a 500),
so every route refuses it with a 422, and the contract says so on every free-text string."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recovery.api.errors import render_error
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


def _body_holds_nul(body: bytes) -> bool:
    # A JSON string can hold a NUL only as the escape \u0000 (a raw one is not JSON), so a
    # UTF-8 body without those six bytes is decoded only by the route; one with them is
    # decoded here to tell an escape from the text "\\u0000". A body with NUL bytes is
    # UTF-16 or UTF-32 (which JSON parsers accept too), where the escape is other bytes:
    # json.loads finds its encoding.
    if b"\\u0000" not in body and b"\x00" not in body:
        return False
    try:
        document = json.loads(body)
    except ValueError:
        return False  # not JSON: the route's own validation says what is wrong
    return _holds_nul(document)


def _query_holds_nul(query: bytes) -> bool:
    # A decoded query holds a NUL only where the raw one has %00 or a NUL byte.
    if b"%00" not in query and b"\x00" not in query:
        return False
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return any("\x00" in k or "\x00" in v for k, v in pairs)


def _nul_in_head(scope: Scope) -> str | None:
    if "\x00" in scope["path"]:
        return "the path"
    if _query_holds_nul(scope.get("query_string", b"")):
        return "a query parameter"
    if any(b"\x00" in value for _, value in scope.get("headers", [])):
        return "a header"
    return None


def _has_body(scope: Scope) -> bool:
    # A GET or HEAD over HTTP/1.1 has a body only with one of these headers; any other
    # method may carry one without them (over HTTP/2).
    if scope["method"] not in ("GET", "HEAD"):
        return True
    for name, value in scope.get("headers", []):
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


class NulGuard:
    """ASGI middleware: InvalidInput (422) when the path, the query, a header or a JSON
    body's text holds a NUL character, before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = _nul_in_head(scope)
        if where is None and _has_body(scope):
            messages: list[Message] = []
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break
            body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
            if _body_holds_nul(body):
                where = "the body"
            receive = _replay(messages, receive)
        if where is not None:
            error = InvalidInput(
                f"{where} holds a NUL character (\\u0000); text may not contain one"
            )
            await render_error(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


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
