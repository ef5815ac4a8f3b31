"""Request parameters the Restcomm way: form-urlencoded bodies (JSON accepted too).

Bodies are read into a flat ``{name: value}`` mapping and validated by a Pydantic model
whose field aliases are the documented parameter names, so a bad value becomes a 400 that
names the parameter as the client spelled it. ``body_openapi`` documents the model as
both a form and a JSON request body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from message_exchange.core.errors import BadRequest, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value).decode()


async def read_params(request: Request) -> dict[str, str]:
    """The request's body parameters; an unreadable body → 400, an unknown type → 415."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if not raw.strip():
        return {}
    if content_type in FORM_TYPES:
        form = await request.form()
        return {key: value for key, value in form.multi_items() if isinstance(value, str)}
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"Request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadRequest("Request body must be a JSON object")
        return {str(key): _scalar(value) for key, value in data.items()}
    raise UnsupportedMediaType(
        f"Content-Type {content_type or '(none)'} is not supported; use application/x-www-form-urlencoded or JSON"
    )


def validate_params(model: type[M], params: Mapping[str, Any]) -> M:
    """Validate ``params`` into ``model``; the first problem becomes a 400 naming the parameter."""
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        problems = []
        first_param: str | None = None
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "body"
            first_param = first_param or name
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message}")
        raise BadRequest("; ".join(problems), param=first_param) from None


def body_of(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency that reads the body (form or JSON) into ``model``."""

    async def dependency(request: Request) -> M:
        return validate_params(model, await read_params(request))

    return dependency


def body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as a form or JSON body."""
    schema = model.model_json_schema(by_alias=True)
    return {
        "requestBody": {
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema},
                "application/json": {"schema": schema},
            },
        }
    }
