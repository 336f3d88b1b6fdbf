"""The resolve-identity HTTP service: :func:`create_app` builds the FastAPI application.

At start-up (the lifespan) it opens the identity store, builds the
:class:`linkage.resolver.Resolver` over its records and model, and starts the
audit writer and the resolve micro-batcher; at shutdown it drains them.
Resolver work never runs on the event loop: single-record resolves go through
the micro-batcher to their own thread, batch requests and screening to another
("bulk"), ingests to a third, so ingests are serialized; store reads use
anyio's worker threads.  With resolver replicas (``resolve_workers``), resolves
of either kind go to an idle replica first (:mod:`linkage.service.replica`).
Every request passes :class:`linkage.service.gate.Gate` (authentication,
roles, audit, metrics, the catch-all 500).

The OpenAPI schema is served at ``/openapi.json`` to any valid key, like every
other route (the guide says authenticate every endpoint, and the schema
describes what the deployment exposes); the interactive ``/docs`` page is off,
since it cannot send a bearer key for the schema it loads and pulls scripts
from a CDN.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final

import polars as pl
import sqlalchemy as sa
from anyio import to_thread
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException

from linkage.service.audit import AuditWriter
from linkage.service.auth import ENDPOINT_ROLES, KeyVerifier
from linkage.service.batcher import ResolveBatcher, ServiceClosed
from linkage.service.errors import (
    error_response,
    http_error_handler,
    scrub,
    validation_error_handler,
)
from linkage.service.gate import CONTEXT_KEY, Gate, RequestContext
from linkage.service.lists import ListInfo, list_entries, list_info
from linkage.service.metrics import Metrics
from linkage.service.models import (
    ErrorBody,
    Health,
    IngestRequest,
    IngestResponse,
    Person,
    ResolveRequest,
    ResolveResponse,
    ScreenRequest,
    ScreenResponse,
)
from linkage.service.replica import ReplicaSet
from linkage.store import IdentityStore, StoreError
from normalizers import schema as s
from normalizers.errors import LinkageError
from normalizers.masking import mask_id, mask_phone

if TYPE_CHECKING:
    from linkage.resolver import Resolution, Resolver

log = logging.getLogger(__name__)

API_VERSION: Final = "1"
_ERRORS: Final = {
    401: {"model": ErrorBody, "description": "No or unknown API key."},
    403: {"model": ErrorBody, "description": "The key lacks the role this route needs."},
    422: {
        "model": ErrorBody,
        "description": "The body breaks the schema; `fields` names each field.",
    },
    400: {"model": ErrorBody, "description": "The body is not JSON."},
}

ResolverFactory = Callable[[IdentityStore], "Resolver"]
ListResolverFactory = Callable[[pl.DataFrame, "Resolver"], "Resolver"]


def default_resolver(store: IdentityStore) -> Resolver:
    from linkage.resolver import Resolver

    return Resolver.from_store(store)


def default_list_resolver(entries: pl.DataFrame, main: Resolver) -> Resolver:
    """A resolver over a list's entries, each its own "person" ``<source>:<record_id>``.

    Same model, rules and normalization as the store's resolver: one
    definition of each comparison.
    """
    from linkage.resolver import Resolver

    frame = entries.with_columns(
        pl.concat_str(pl.col(s.SOURCE), pl.lit(":"), pl.col(s.RECORD_ID)).alias(s.PERSON_ID)
    )
    # the run normalized its records with this floor, so must the list (no public accessor yet)
    min_birth_year: int = main.min_birth_year
    return Resolver(frame, main.model, rules=main.rules, min_birth_year=min_birth_year)


@dataclass
class _Service:
    """Everything the routes share; filled in by the lifespan."""

    store_url: str
    store_schema: str | None
    resolver_factory: ResolverFactory
    list_resolver_factory: ListResolverFactory
    key_ttl: float
    list_ttl: float
    max_batch: int
    max_wait: float
    resolve_threads: int
    resolve_workers: int = 0
    metrics: Metrics = field(default_factory=Metrics)
    store: IdentityStore | None = None
    resolver: Resolver | None = None
    replicas: ReplicaSet | None = None
    verifier: KeyVerifier | None = None
    audit: AuditWriter | None = None
    batcher: ResolveBatcher | None = None
    resolve_pool: ThreadPoolExecutor | None = None
    bulk_pool: ThreadPoolExecutor | None = None
    ingest_pool: ThreadPoolExecutor | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    lists: dict[str, tuple[float, ListInfo, Resolver]] = field(default_factory=dict)
    lists_lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------ lifecycle
    def open(self) -> None:
        self.store = IdentityStore.open(self.store_url, schema=self.store_schema)
        replicas = None
        try:
            if self.resolve_workers:
                # started first: they index the store while this process does
                replicas = ReplicaSet(self.store_url, self.store_schema, self.resolve_workers)
            self.resolver = self.resolver_factory(self.store)
            if replicas is not None:
                replicas.start(self.resolver)
        except BaseException:
            if replicas is not None:
                replicas.stop()
            self.store.close()
            self.store = None
            raise
        self.replicas = replicas
        self.verifier = KeyVerifier(self.store, ttl=self.key_ttl)
        self.audit = AuditWriter(self.store)
        self.audit.start()
        self.resolve_pool = ThreadPoolExecutor(
            self.resolve_threads + self.resolve_workers, thread_name_prefix="resolve"
        )
        # batch requests and screening on their own lane, so a 1,000-record batch does not
        # hold up the single-record queue
        self.bulk_pool = ThreadPoolExecutor(1, thread_name_prefix="bulk")
        self.ingest_pool = ThreadPoolExecutor(1, thread_name_prefix="ingest")
        self.started_at = datetime.now(UTC)
        # What start-up built (the index, the modules) lives as long as the service: out of
        # the garbage collector's reach, a full collection scans only what requests allocate.
        # Over the start-up objects one pauses every thread for ~50 ms (1M records indexed),
        # which showed as the resolve p99 under load.
        gc.collect()
        gc.freeze()

    def close(self) -> None:
        gc.unfreeze()  # what a closed service held may be collected again
        for pool in (self.resolve_pool, self.bulk_pool, self.ingest_pool):
            if pool is not None:
                pool.shutdown(wait=True)
        if self.replicas is not None:
            self.replicas.stop()
            self.replicas = None
        if self.audit is not None:
            self.audit.close()
        if self.store is not None:
            self.store.close()

    # --------------------------------------------------------------- work
    async def in_pool(self, pool: ThreadPoolExecutor | None, fn: Callable[[], Any]) -> Any:
        if pool is None:
            raise ServiceClosed("the service is not running")
        return await asyncio.get_running_loop().run_in_executor(pool, fn)

    def list_resolver(self, name: str) -> tuple[ListInfo, Resolver] | None:
        """The resolver over list ``name``, rebuilt when the list is reloaded."""
        assert self.store is not None and self.resolver is not None
        now = time.monotonic()
        cached = self.lists.get(name)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        with self.lists_lock:
            cached = self.lists.get(name)
            if cached is not None and cached[0] > now:
                return cached[1], cached[2]
            info = list_info(self.store, name)
            if info is None:
                self.lists.pop(name, None)
                return None
            if cached is not None and cached[1].loaded_at == info.loaded_at:
                resolver = cached[2]
            else:
                resolver = self.list_resolver_factory(list_entries(self.store, name), self.resolver)
                log.info("list %s: resolver built over %d entries", name, info.entries)
            self.lists[name] = (now + self.list_ttl, info, resolver)
            return info, resolver


def _context(request: Request) -> RequestContext:
    context = request.scope.get(CONTEXT_KEY)
    if context is None:  # not behind the gate (cannot happen in create_app's stack)
        context = request.scope[CONTEXT_KEY] = RequestContext()
    return context


def resolution_dict(result: Resolution) -> dict[str, Any]:
    """A Resolution as the response's JSON object."""
    return {
        "status": result.status,
        "person_id": result.person_id,
        "probability": result.probability,
        "candidates": [
            {
                "person_id": c.person_id,
                "probability": c.probability,
                "match_weight": c.match_weight,
                "source": c.source,
                "record_id": c.record_id,
            }
            for c in result.candidates
        ],
        "reason": result.reason,
        "explanation": None if result.explanation is None else list(result.explanation),
    }


def _person_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    wanted = [
        s.SOURCE,
        s.RECORD_ID,
        s.MATCH_PROBABILITY,
        *(c for c in s.RAW_COLUMNS if c not in s.KEY_COLUMNS),
    ]
    rows = frame.select([c for c in wanted if c in frame.columns]).to_dicts()
    for row in rows:
        if s.ID_NUMBER in row:
            row[s.ID_NUMBER] = mask_id(row[s.ID_NUMBER])
        if s.PHONE in row:
            row[s.PHONE] = mask_phone(row[s.PHONE])
    return rows


def create_app(
    store_url: str,
    *,
    store_schema: str | None = None,
    resolver_factory: ResolverFactory = default_resolver,
    list_resolver_factory: ListResolverFactory = default_list_resolver,
    key_ttl: float = 5.0,
    list_ttl: float = 2.0,
    max_batch: int = 128,
    max_wait: float = 0.0015,
    resolve_threads: int = 1,
    resolve_workers: int = 0,
    max_body: int = 8 * 1024 * 1024,
) -> FastAPI:
    """The service over the store at ``store_url`` (PostgreSQL tables in ``store_schema``).

    ``key_ttl``: seconds a key check is cached (revocation takes effect within
    it); ``list_ttl``: seconds between checks for a reloaded list;
    ``max_batch``/``max_wait``: the resolve micro-batcher's limits;
    ``resolve_threads``: micro-batched resolver calls run at once (one by
    default: the calls are CPU-bound and hold the GIL much of the time, so a
    second one mostly splits the queue into smaller batches; on 2 cores one
    thread served more single-record requests per second than two);
    ``resolve_workers``: resolver replicas in processes of their own
    (:mod:`linkage.service.replica`; each holds its own index, as much memory as
    this process) to which micro-batched resolves go first: the way to use a
    second core;
    ``max_body``: largest request body in bytes.  The factories exist for tests
    (replicas always index the store with ``Resolver.from_store``).
    """
    if resolve_workers < 0 or resolve_threads < 1:
        raise ValueError("resolve_workers must be >= 0 and resolve_threads >= 1")
    svc = _Service(
        store_url=store_url,
        store_schema=store_schema,
        resolver_factory=resolver_factory,
        list_resolver_factory=list_resolver_factory,
        key_ttl=key_ttl,
        list_ttl=list_ttl,
        max_batch=max_batch,
        max_wait=max_wait,
        resolve_threads=resolve_threads,
        resolve_workers=resolve_workers,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await to_thread.run_sync(svc.open)
        assert svc.resolver is not None and svc.resolve_pool is not None
        resolver = svc.resolver
        replicas = svc.replicas
        svc.batcher = ResolveBatcher(
            replicas.resolve
            if replicas is not None
            else lambda rows, top_k, explain: resolver.resolve(rows, top_k=top_k, explain=explain),
            svc.resolve_pool,
            max_batch=max_batch,
            max_wait=max_wait,
            concurrency=resolve_threads + resolve_workers,
            on_batch=svc.metrics.observe_batch,
        )
        svc.batcher.start()
        log.info("service ready: %d records, %d persons", resolver.size, resolver.persons)
        try:
            yield
        finally:
            await svc.batcher.close()
            await to_thread.run_sync(svc.close)

    app = FastAPI(
        title="resolve-identity",
        version=API_VERSION,
        summary="Resolve, ingest and screen person records against the identity store.",
        description=(
            "Every route needs `Authorization: Bearer KEY` (keys: `linkage keys create`). "
            "Roles: `query` (resolve, screen, persons), `ingest` (records), `steward` "
            "(query routes and metrics), `admin` (all). Every query states its `purpose`; "
            "every request is audited. ID and phone numbers are masked in responses and errors."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = svc
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)

    async def linkage_error(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(422, str(exc))

    async def closed_error(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(503, str(exc))

    async def store_error(_request: Request, exc: Exception) -> JSONResponse:
        log.error("store error: %s", scrub(str(exc)))
        return error_response(503, "the identity store cannot serve this request now")

    app.add_exception_handler(LinkageError, linkage_error)
    app.add_exception_handler(StoreError, store_error)
    # e.g. SQLite's "database is locked" while a batch run saves: transient, not a bug
    app.add_exception_handler(sa.exc.OperationalError, store_error)
    app.add_exception_handler(ServiceClosed, closed_error)
    app.add_middleware(
        Gate,
        routes=lambda: app.router.routes,
        verifier=lambda: svc.verifier,
        audit=lambda: svc.audit,
        metrics=svc.metrics,
        max_body=max_body,
    )
    _add_routes(app, svc)
    _document(app)
    return app


def _roles(template: str) -> str:
    return "Roles: " + ", ".join(f"`{r}`" for r in sorted(ENDPOINT_ROLES[template])) + "."


def _add_routes(app: FastAPI, svc: _Service) -> None:
    @app.post(
        "/v1/resolve",
        response_model=ResolveResponse,
        summary="Resolve one record or a batch to person IDs (read-only)",
        description=(
            "For each record: the best person (`known` if the record itself is in the store, "
            "`match` at or above the model's match threshold, `review`, `no_match`, or "
            "`rejected` when nothing in it is linkable), its probability, the top-k candidate "
            "persons and, with `explain`, each comparison's level and weight. "
            + _roles("/v1/resolve")
        ),
        responses=_ERRORS,
        tags=["resolve"],
    )
    async def resolve(body: ResolveRequest, request: Request) -> dict[str, Any]:
        context = _context(request)
        context.purpose = body.purpose
        assert svc.resolver is not None and svc.batcher is not None
        rows = body.rows
        if body.record is not None:
            results = [await svc.batcher.resolve(rows[0], top_k=body.top_k, explain=body.explain)]
            context.outcome = results[0].status
        else:
            resolver, replicas = svc.resolver, svc.replicas
            svc.metrics.observe_batch(len(rows))
            results = await svc.in_pool(
                svc.bulk_pool,
                # an idle replica takes the batch too (else this process resolves it)
                lambda: (
                    replicas.resolve(rows, body.top_k, body.explain)
                    if replicas is not None
                    else resolver.resolve(rows, top_k=body.top_k, explain=body.explain)
                ),
            )
            context.outcome = "batch"
        for result in results:
            context.returned([result.person_id, *(c.person_id for c in result.candidates)])
        return {"results": [resolution_dict(r) for r in results]}

    @app.post(
        "/v1/records",
        response_model=IngestResponse,
        summary="Ingest records: attach each to a person or create one",
        description=(
            "Normalizes, blocks against the store, scores with the stored model and attaches "
            "each record to an existing person or creates one, under the batch job's "
            "constraints (never two different valid resident IDs in one person); records of "
            "one request may link to each other. Merges are logged as events. Ingests run one "
            "at a time. " + _roles("/v1/records")
        ),
        responses=_ERRORS,
        tags=["ingest"],
    )
    async def ingest(body: IngestRequest, request: Request) -> dict[str, Any]:
        context = _context(request)
        context.purpose = body.purpose
        rows = body.rows
        seen: dict[tuple[Any, Any], int] = {}
        for i, row in enumerate(rows):
            key = (row[s.SOURCE], row[s.RECORD_ID])
            if key in seen:
                field = f"records.{i}.record_id"
                return error_response(  # type: ignore[return-value]
                    422,
                    f"invalid request: {field}: repeats records.{seen[key]}",
                    fields=[
                        {
                            "field": field,
                            "message": f"same source and record_id as records.{seen[key]}",
                        }
                    ],
                )
            seen[key] = i
        assert svc.resolver is not None
        resolver, store = svc.resolver, svc.store
        decisions = await svc.in_pool(svc.ingest_pool, lambda: resolver.ingest(rows, store))
        context.outcome = "ingested"
        out = []
        for d in decisions:
            context.returned([d.person_id, *d.merged])
            out.append(
                {
                    "source": d.source,
                    "record_id": d.record_id,
                    "action": d.action,
                    "person_id": d.person_id,
                    "probability": d.probability,
                    "merged": list(d.merged),
                    "reason": d.reason,
                }
            )
        return {"results": out}

    @app.get(
        "/v1/persons/{person_id}",
        response_model=Person,
        summary="A person's linked records (ID and phone numbers masked)",
        description=(
            "Follows merges: a merged-away ID answers with the person that now holds its "
            "records (`person_id` differs from `requested_id`). 404 for unknown or retired "
            "IDs. " + _roles("/v1/persons/{person_id}")
        ),
        responses={**_ERRORS, 404: {"model": ErrorBody, "description": "No such active person."}},
        tags=["persons"],
    )
    async def person(
        request: Request,
        person_id: Annotated[str, Path(min_length=1, max_length=64, description="A person ID.")],
        purpose: Annotated[
            str, Query(min_length=1, max_length=500, description="Why this person is looked up.")
        ],
    ) -> dict[str, Any]:
        context = _context(request)
        context.purpose = purpose.strip() or None
        if context.purpose is None:
            return error_response(  # type: ignore[return-value]
                422,
                "invalid request: purpose: must not be empty",
                fields=[{"field": "purpose", "message": "must not be empty"}],
            )
        store = svc.store
        assert store is not None
        current = await to_thread.run_sync(store.current_person_id, person_id)
        if current is None:
            raise HTTPException(404, f"person {person_id!r}: unknown or retired")
        frame = await to_thread.run_sync(store.person_records, current)
        context.returned([current])
        context.outcome = "found" if current == person_id else "merged"
        return {"person_id": current, "requested_id": person_id, "records": _person_records(frame)}

    @app.post(
        "/v1/screen",
        response_model=ScreenResponse,
        response_model_by_alias=True,
        summary="Screen a record against a named red or black list",
        description=(
            "Scores the record against every entry of a list loaded with `linkage lists load` "
            "(same model and rules as /v1/resolve). Hits are entries at or above the review "
            "threshold; `hit` is true when one reaches the match threshold. " + _roles("/v1/screen")
        ),
        responses={**_ERRORS, 404: {"model": ErrorBody, "description": "No list of that name."}},
        tags=["screen"],
    )
    async def screen(body: ScreenRequest, request: Request) -> dict[str, Any]:
        context = _context(request)
        context.purpose = body.purpose
        found = await to_thread.run_sync(svc.list_resolver, body.list_name)
        if found is None:
            raise HTTPException(404, f"list {body.list_name!r}: no such list")
        info, resolver = found
        row = body.record.model_dump()
        result = (
            await svc.in_pool(
                svc.bulk_pool,
                lambda: resolver.resolve([row], top_k=body.top_k, explain=body.explain),
            )
        )[0]
        model = resolver.model
        hits = [
            {
                "entry": c.person_id,
                "source": c.source,
                "record_id": c.record_id,
                "probability": c.probability,
                "match_weight": c.match_weight,
                "level": "match" if c.probability >= model.match_threshold else "review",
            }
            for c in result.candidates
            if c.probability >= model.review_threshold
        ]
        hit = any(h["level"] == "match" for h in hits)
        context.returned(h["entry"] for h in hits)
        context.outcome = "hit" if hit else ("review" if hits else "no_hit")
        return {
            "list_name": info.name,
            "kind": info.kind,
            "loaded_at": info.loaded_at,
            "hit": hit,
            "hits": hits,
            "status": result.status,
            "explanation": None if result.explanation is None else list(result.explanation),
        }

    @app.get(
        "/healthz",
        response_model=Health,
        summary="Liveness: the resolver is loaded",
        description="Index size and start time. " + _roles("/healthz"),
        responses=_ERRORS,
        tags=["operations"],
    )
    async def healthz(request: Request) -> dict[str, Any]:
        _context(request).outcome = "ok"
        if svc.resolver is None:
            raise HTTPException(503, "the resolver is not loaded")
        return {
            "status": "ok",
            "records": svc.resolver.size,
            "persons": svc.resolver.persons,
            "started_at": svc.started_at,
            "replicas": 0 if svc.replicas is None else svc.replicas.alive,
        }

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        summary="Prometheus metrics: request counts, latencies, index size",
        description=(
            "Text exposition format 0.0.4: `linkage_requests_total` by route template, method "
            "and status; `linkage_request_duration_seconds` (histogram) and "
            "`linkage_request_latency_seconds` (quantiles over recent requests) per route; "
            "`linkage_resolve_batch_size`; index and audit gauges. " + _roles("/metrics")
        ),
        responses=_ERRORS,
        tags=["operations"],
    )
    async def metrics(request: Request) -> PlainTextResponse:
        _context(request).outcome = "ok"
        gauges: dict[str, tuple[str, float]] = {}
        if svc.resolver is not None:
            gauges["linkage_index_records"] = (
                "Records in the resolver's index.",
                svc.resolver.size,
            )
            gauges["linkage_index_persons"] = (
                "Persons in the resolver's index.",
                svc.resolver.persons,
            )
        if svc.audit is not None:
            gauges["linkage_audit_pending"] = (
                "Audit rows queued, not yet written.",
                svc.audit.pending,
            )
            gauges["linkage_audit_written"] = ("Audit rows written since start.", svc.audit.written)
            gauges["linkage_audit_lost"] = ("Audit rows given up after retries.", svc.audit.lost)
        gauges["linkage_lists_loaded"] = ("Lists with a resolver in memory.", len(svc.lists))
        return PlainTextResponse(
            svc.metrics.render(gauges), media_type="text/plain; version=0.0.4; charset=utf-8"
        )


def _document(app: FastAPI) -> None:
    """Add the bearer scheme to the OpenAPI schema (the gate enforces it on every route)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `linkage keys create` (shown once).",
                }
            }
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def audit_flush(app: FastAPI, timeout: float = 10.0) -> bool:
    """Write every queued audit row now (tests and shutdown hooks); True when done."""
    svc: _Service = app.state.service
    return True if svc.audit is None else svc.audit.flush(timeout)
