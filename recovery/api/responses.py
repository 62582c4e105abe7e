"""Responses a route encodes itself."""

from __future__ import annotations

from starlette.responses import Response


class JsonBytes(Response):
    """JSON the route already encoded (pydantic-core's `to_json`): FastAPI passes a
    Response on as it is, without validating it against the route's model and encoding it
    again. The route still names its `response_model`, which the contract shows."""

    media_type = "application/json"
