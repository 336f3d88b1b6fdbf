"""The gate every request passes: authenticate, authorize, audit, measure, contain failures.

One pure ASGI middleware, in front of FastAPI's routing and body parsing, so a
request without a valid key gets 401 before anything reads its JSON, and one
with the wrong role gets 403 (a caller without access learns nothing about the
API from validation errors).  It

1. reads the body (refusing more than ``max_body`` bytes with 413) and hashes it;
2. finds the route template (``/v1/persons/{person_id}``) for roles, metrics and audit;
3. checks ``Authorization: Bearer KEY`` (401 with ``WWW-Authenticate: Bearer``)
   and the key's roles against :data:`linkage.service.auth.ENDPOINT_ROLES` (403);
4. runs the app, turning any unhandled exception into a bare 500 (logged
   without values; no stack trace reaches the client);
5. records the request's metrics and one audit row.

Endpoints add what only they know (purpose, person IDs returned, outcome) to
the :class:`RequestContext` at ``scope["linkage.request"]``.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from anyio import to_thread
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linkage.service.audit import AuditEntry, AuditWriter
from linkage.service.auth import ENDPOINT_ROLES, KeyVerifier, Principal
from linkage.service.errors import error_response, scrub
from linkage.service.metrics import Metrics

log = logging.getLogger(__name__)

CONTEXT_KEY: Final = "linkage.request"
UNMATCHED: Final = "<unmatched>"
_OUTCOMES: Final[Mapping[int, str]] = {
    400: "malformed",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid",
    500: "error",
    503: "unavailable",
}


@dataclass(slots=True)
class RequestContext:
    """What the gate and the endpoint learn about one request, for the audit row."""

    endpoint: str = UNMATCHED
    principal: Principal | None = None
    purpose: str | None = None
    input_hash: str | None = None
    person_ids: list[str] = field(default_factory=list)
    outcome: str | None = None

    def returned(self, ids: Iterable[str | None]) -> None:
        """Note person IDs the response discloses (kept once each, in order)."""
        seen = set(self.person_ids)
        for pid in ids:
            if pid is not None and pid not in seen:
                seen.add(pid)
                self.person_ids.append(pid)


class Gate:
    """The ASGI middleware; ``routes`` gives the app's routes (read at each request)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], Iterable[BaseRoute]],
        verifier: Callable[[], KeyVerifier | None],
        audit: Callable[[], AuditWriter | None],
        metrics: Metrics,
        max_body: int = 8 * 1024 * 1024,
    ) -> None:
        self.app = app
        self._routes = routes
        self._verifier = verifier
        self._audit = audit
        self._metrics = metrics
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        at = datetime.now(UTC)
        context = RequestContext()
        scope[CONTEXT_KEY] = context
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
            await send(message)

        try:
            body, too_large = await self._read_body(scope, receive)
            if body and not too_large:
                context.input_hash = hashlib.sha256(body).hexdigest()
            template = self._match(scope)
            context.endpoint = template or UNMATCHED
            principal, refusal = await self._authenticate(scope)
            context.principal = principal
            allowed = None if template is None else ENDPOINT_ROLES.get(template, frozenset())
            if principal is None:
                await refusal(scope, receive, send_wrapper)
            elif allowed is not None and not principal.may(allowed):
                needs = ", ".join(sorted(allowed)) or "no role"
                message = f"key {principal.name!r} may not call {template} (needs {needs})"
                await error_response(403, message)(scope, receive, send_wrapper)
            elif too_large:
                await error_response(
                    413,
                    f"request body larger than {self._max_body:,} bytes",
                    fields=[{"field": "body", "message": f"at most {self._max_body:,} bytes"}],
                )(scope, receive, send_wrapper)
            else:
                await self.app(scope, _replay(body, receive), send_wrapper)
        except Exception as exc:  # noqa: BLE001 - the catch-all: no stack trace to the client
            log.error(
                "unhandled error on %s %s: %s",
                scope.get("method"),
                context.endpoint,
                scrub("".join(traceback.format_exception(exc)).strip()),
            )
            if not response_started:
                await error_response(500, "internal error (logged on the server)")(
                    scope, receive, send_wrapper
                )
            status = 500
        finally:
            seconds = time.perf_counter() - started
            method = str(scope.get("method", ""))
            self._metrics.observe_request(context.endpoint, method, status, seconds)
            writer = self._audit()
            if writer is not None:
                writer.submit(
                    AuditEntry(
                        at=at,
                        method=method,
                        endpoint=context.endpoint,
                        status_code=status,
                        outcome=context.outcome
                        if context.outcome and status < 400
                        else _OUTCOMES.get(status, "ok" if status < 400 else "error"),
                        latency_ms=seconds * 1000.0,
                        key_name=None if context.principal is None else context.principal.name,
                        purpose=context.purpose,
                        input_hash=context.input_hash,
                        person_ids=context.person_ids if status < 400 else (),
                    )
                )

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[bytes, bool]:
        """The whole body, or (what was read, True) once it exceeds ``max_body``."""
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    if int(value) > self._max_body:
                        return b"", True
                except ValueError:
                    pass
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return b"", True
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        return b"".join(chunks), False

    def _match(self, scope: Scope) -> str | None:
        partial: str | None = None
        for route in self._routes():
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "path", UNMATCHED))
            if match is Match.PARTIAL and partial is None:
                partial = str(getattr(route, "path", UNMATCHED))
        return partial

    async def _authenticate(self, scope: Scope) -> tuple[Principal | None, Any]:
        """(principal, None) for a valid key, else (None, the 401 response)."""
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        if header is None:
            return None, _unauthorized("missing Authorization: Bearer KEY header", None)
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return None, _unauthorized("expected Authorization: Bearer KEY", "invalid_request")
        verifier = self._verifier()
        if verifier is None:
            return None, error_response(503, "the service is starting")
        known, principal = verifier.cached(key)
        if not known:
            principal = await to_thread.run_sync(verifier.verify, key)
        if principal is None:
            return None, _unauthorized("unknown or revoked API key", "invalid_token")
        return principal, None


def _unauthorized(message: str, error: str | None) -> Any:
    challenge = 'Bearer realm="linkage"' + (f', error="{error}"' if error else "")
    return error_response(401, message, headers={"WWW-Authenticate": challenge})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then defers to the server."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
