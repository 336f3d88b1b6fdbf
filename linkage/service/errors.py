"""Error responses: a JSON body naming the field, never a value in full, never a stack trace.

Every error body is ``{"error": code, "message": text, "fields": [{"field", "message"}]}``.
Validation messages are built from pydantic's error *type* and constraints,
not from its input, so what a client sent is never echoed back; and every
message passes through :func:`scrub`, which masks any long digit run, as a
second guard for ID and phone numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from normalizers.masking import mask_id

_DIGITS: Final = re.compile(r"[0-9Xx*]{7,}")
_STATUS_CODES: Final[Mapping[int, str]] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal",
    503: "unavailable",
}


def scrub(text: str) -> str:
    """Mask every run of 7+ digits (an ID or phone number that slipped into a message)."""
    return _DIGITS.sub(lambda m: mask_id(m.group(0)) or "", text)


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: Iterable[Mapping[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": code or _STATUS_CODES.get(status, "error"),
        "message": scrub(message),
        "fields": [{"field": f["field"], "message": scrub(f["message"])} for f in fields],
    }
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (not in the schema)"
    if kind in ("string_type", "string_sub_type"):
        return "expected a string or null"
    if kind == "int_type" or kind == "int_parsing":
        return "expected an integer"
    if kind == "bool_type" or kind == "bool_parsing":
        return "expected true or false"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a JSON object"
    if kind == "list_type":
        return "expected a JSON array"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items (got {ctx.get('actual_length')})"
    if kind == "too_short":
        return f"at least {ctx.get('min_length')} item(s) (got {ctx.get('actual_length')})"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bounds = {
            "greater_than_equal": ">=",
            "less_than_equal": "<=",
            "greater_than": ">",
            "less_than": "<",
        }
        limit = ctx.get("ge", ctx.get("le", ctx.get("gt", ctx.get("lt"))))
        return f"must be {bounds[kind]} {limit}"
    if kind == "value_error":
        return str(ctx.get("error", "invalid value"))
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}"
    # pydantic's message text names the constraint, not the input
    return str(error.get("msg", "invalid value"))


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """400 for a body that is not JSON, 422 naming each field otherwise."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    context = request.scope.get("linkage.request")
    body = getattr(exc, "body", None)
    if context is not None and isinstance(body, dict) and isinstance(body.get("purpose"), str):
        context.purpose = body["purpose"].strip() or None
    if any(e.get("type") == "json_invalid" for e in errors):
        error = next(e for e in errors if e.get("type") == "json_invalid")
        loc = error.get("loc", ())
        position = loc[1] if len(loc) > 1 else "?"
        detail = (error.get("ctx") or {}).get("error", "invalid JSON")
        return error_response(
            400,
            f"malformed JSON: {detail} at character {position}",
            code="malformed_json",
            fields=[{"field": "body", "message": f"malformed JSON: {detail}"}],
        )
    fields = [{"field": _field_name(e.get("loc", ())), "message": _message(e)} for e in errors]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    if len(fields) > 5:
        summary += f"; and {len(fields) - 5} more"
    return error_response(422, f"invalid request: {summary}", fields=fields)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)
