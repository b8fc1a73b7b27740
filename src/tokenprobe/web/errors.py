"""Errors as the API answers them: a status and one line that names what was wrong.

Every error body is `{"detail": "one line"}`; a validation error adds `errors`, one entry
per field (`{"field": "messages[2].content", "message": "..."}`), at most MAX_ERRORS of
them (`more_errors` counts the rest, so that a body of many bad fields cannot make a
larger answer), and `detail` is the first of them; a branch of a trace whose model is not
offered adds `add_model`. Values the client sent are never echoed back (a field may hold
an API key).

Statuses: 422 bad input (pydantic's checks, and the library's InputError, or a
ModelError for a model that cannot be offered, such as a missing GGUF file); 404 no such
history entry or job; 503 the queue is full (with Retry-After); 401/403/413/415 come from
security.py; anything else the library raises is a 400 with its message.

It leaves out which checks exist (schemas.py, the routes, the library).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from tokenprobe.errors import InputError, ModelError, TokenprobeError
from tokenprobe.web.config import MAX_ERRORS
from tokenprobe.web.jobs import QueueFull, UnknownJob


class NotFound(TokenprobeError):
    """No such history entry."""


class NoModelFor(InputError):
    """No offered model is the one a saved trace came from (a 422 whose body adds
    `add_model: {spec, base_url, logprobs_kind}`, the model the page offers to add)."""

    def __init__(self, message: str, spec: str | None, base_url: str | None,
                 logprobs_kind: str | None = None) -> None:
        super().__init__(message)
        self.suggest = {"spec": spec, "base_url": base_url, "logprobs_kind": logprobs_kind}


def _field(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if p in ("body", "query", "path") and not parts:
            continue
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "body"


def _num(x: Any) -> Any:
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _phrase(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    ctx = {k: _num(v) for k, v in (err.get("ctx") or {}).items()}
    simple = {
        "missing": "is required",
        "extra_forbidden": "is not a known field",
        "int_type": "must be an integer", "int_parsing": "must be an integer",
        "int_from_float": "must be an integer",
        "float_type": "must be a number", "float_parsing": "must be a number",
        "string_type": "must be a string", "bool_type": "must be true or false",
        "bool_parsing": "must be true or false", "list_type": "must be a list",
        "model_type": "must be an object", "model_attributes_type": "must be an object",
        "finite_number": "must be a finite number",
        "json_invalid": "is not valid JSON",
    }
    if kind in simple:
        return simple[kind]
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}"
    if kind == "less_than":
        return f"must be less than {ctx.get('lt')}"
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else (
            f"is too short (at least {ctx.get('min_length')} characters)")
    if kind == "too_long":
        return f"has too many items (at most {ctx.get('max_length')})"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} items"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    if kind == "value_error":
        return str(err.get("msg", "")).removeprefix("Value error, ")
    return str(err.get("msg", "is not valid"))


def validation_errors(errors: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for e in errors:
        field = _field(tuple(e.get("loc", ())))
        # A whole-body rule (a model validator) reads best without the "body" prefix.
        out.append({"field": field, "message": _phrase(e)})
    return out


def _line(e: dict[str, str]) -> str:
    return e["message"] if e["field"] == "body" else f"{e['field']}: {e['message']}"


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        every = exc.errors()
        errors = validation_errors(every[:MAX_ERRORS])
        detail = _line(errors[0]) if errors else "the request is not valid"
        body: dict[str, Any] = {"detail": detail, "errors": errors}
        if len(every) > MAX_ERRORS:
            body["more_errors"] = len(every) - MAX_ERRORS
        return JSONResponse(body, status_code=422)

    @app.exception_handler(TokenprobeError)
    async def _tokenprobe(request: Request, exc: TokenprobeError) -> JSONResponse:
        headers = None
        if isinstance(exc, (InputError, ModelError)):
            status = 422  # raised before any work: the request named something unusable
        elif isinstance(exc, (NotFound, UnknownJob)):
            status = 404
        elif isinstance(exc, QueueFull):
            status, headers = 503, {"Retry-After": "2"}
        else:
            status = 400
        body: dict[str, Any] = {"detail": str(exc)}
        if isinstance(exc, NoModelFor):
            body["add_model"] = exc.suggest
        return JSONResponse(body, status_code=status, headers=headers)
