"""The service's HTTP mechanics over real HTTP, with a scripted resolver.

Authentication, roles, request validation, the catch-all 500, audit rows,
metrics, micro-batching and list reloading do not depend on how records are
scored, so these tests put a small scripted resolver behind the real app (the
real resolver is exercised end to end in test_service.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import polars as pl
import pytest

from linkage.service import create_key, load_list, read_audit, revoke_key
from linkage.service.app import audit_flush, create_app
from linkage.store import IdentityStore
from normalizers import schema as s

from .conftest import LiveServer

FULL_ID = "110101199003071234"
FULL_PHONE = "13812345678"


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    person_id: str
    probability: float
    match_weight: float
    source: str
    record_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class Resolution:
    status: str
    person_id: str | None
    probability: float | None
    candidates: tuple[Candidate, ...]
    reason: str | None = None
    explanation: tuple[dict[str, Any], ...] | None = None


class ScriptedResolver:
    """Answers from the record's name: person "P-<name>", plus a weaker second candidate.

    A record named "boom" raises (with a full ID number in the message);
    ``delay`` makes each call slow enough for concurrent requests to queue up.
    """

    model = SimpleNamespace(match_threshold=0.99, review_threshold=0.5)

    def __init__(self, records: pl.DataFrame | None = None, *, delay: float = 0.0) -> None:
        self.records = records
        self.delay = delay
        self.calls: list[int] = []
        self.size = 0 if records is None else records.height
        self.persons = self.size

    def resolve(
        self, rows: Sequence[Mapping[str, Any]], *, top_k: int = 5, explain: bool = False
    ) -> list[Resolution]:
        self.calls.append(len(rows))
        if self.delay:
            time.sleep(self.delay)
        out = []
        for row in rows:
            name = row.get(s.NAME)
            if name == "boom":
                raise RuntimeError(f"cannot score id {FULL_ID}")
            if self.records is not None:  # a list: hit the entry of the same name
                same = self.records.filter(pl.col(s.NAME) == name)
                cands = tuple(
                    Candidate(pid, 0.995, 9.0, src, rid)
                    for pid, src, rid in same.select(s.PERSON_ID, s.SOURCE, s.RECORD_ID).rows()
                )
            elif name is None:
                cands = ()
            else:
                cands = (
                    Candidate(f"P-{name}", 0.995, 9.5, "tax", name),
                    Candidate("P-other", 0.6, 1.0, "tax", "x"),
                    Candidate("P-third", 0.1, -3.0, "tax", "y"),
                )
            best = cands[0] if cands else None
            out.append(
                Resolution(
                    status="match" if best else "no_match",
                    person_id=best.person_id if best else None,
                    probability=best.probability if best else None,
                    candidates=cands[:top_k],
                    explanation=({"name": "name", "level": 3, "weight": 5.0},) if explain else None,
                )
            )
        return out

    def ingest(self, rows: Sequence[Mapping[str, Any]], store: Any) -> list[Any]:
        return [
            SimpleNamespace(
                source=r[s.SOURCE],
                record_id=r[s.RECORD_ID],
                action="created",
                person_id=f"P-{r[s.RECORD_ID]}",
                probability=None,
                merged=(),
                reason=None,
            )
            for r in rows
        ]


class Harness:
    def __init__(
        self,
        url: str,
        store: IdentityStore,
        app: Any,
        resolver: ScriptedResolver,
        lists_built: list[int],
    ) -> None:
        self.url, self.store, self.app, self.resolver = url, store, app, resolver
        self.lists_built = lists_built
        self.keys = {
            role: create_key(store, f"{role}-key", [role])
            for role in ("query", "ingest", "steward", "admin")
        }

    def client(self, role: str | None = "query") -> httpx.Client:
        headers = {} if role is None else {"Authorization": f"Bearer {self.keys[role]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def audit(self) -> pl.DataFrame:
        assert audit_flush(self.app)
        return read_audit(self.store)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    path = tmp_path_factory.mktemp("mechanics") / "identity.db"
    url = f"sqlite:///{path}"
    store = IdentityStore.open(url)
    resolver = ScriptedResolver(delay=0.05)
    lists_built: list[int] = []

    def list_factory(entries: pl.DataFrame, main: Any) -> ScriptedResolver:
        lists_built.append(entries.height)
        frame = entries.with_columns(
            pl.concat_str(pl.col(s.SOURCE), pl.lit(":"), pl.col(s.RECORD_ID)).alias(s.PERSON_ID)
        )
        return ScriptedResolver(frame)

    app = create_app(
        url,
        resolver_factory=lambda _store: resolver,
        list_resolver_factory=list_factory,
        key_ttl=0.2,
        list_ttl=0.0,
        max_body=1_000_000,
    )
    with LiveServer(app) as server:
        yield Harness(server.url, store, app, resolver, lists_built)
    store.close()


def one(name: str | None = "张三", **extra: Any) -> dict[str, Any]:
    return {"purpose": "tax check", "record": {s.NAME: name, **extra}}


# ------------------------------------------------------------------ auth
def test_missing_and_unknown_keys_get_401_with_a_bearer_challenge(harness: Harness) -> None:
    with harness.client(None) as client:
        for response in (
            client.post("/v1/resolve", json=one()),
            client.post("/v1/resolve", json=one(), headers={"Authorization": "Bearer lk_nope"}),
            client.post("/v1/resolve", json=one(), headers={"Authorization": "Basic abc"}),
            client.get("/healthz"),
            client.get("/openapi.json"),
            client.get("/no/such/path"),
        ):
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["error"] == "unauthenticated"


def test_malformed_json_without_a_key_is_still_401(harness: Harness) -> None:
    with harness.client(None) as client:
        response = client.post("/v1/resolve", content=b"{not json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("query", "POST", "/v1/resolve", True),
        ("steward", "POST", "/v1/resolve", True),
        ("admin", "POST", "/v1/resolve", True),
        ("ingest", "POST", "/v1/resolve", False),
        ("ingest", "POST", "/v1/records", True),
        ("admin", "POST", "/v1/records", True),
        ("query", "POST", "/v1/records", False),
        ("steward", "POST", "/v1/records", False),
        ("query", "GET", "/metrics", False),
        ("ingest", "GET", "/metrics", False),
        ("steward", "GET", "/metrics", True),
        ("ingest", "GET", "/healthz", True),
        ("ingest", "GET", "/v1/persons/P1?purpose=x", False),
        ("ingest", "POST", "/v1/screen", False),
    ],
)
def test_roles(harness: Harness, role: str, method: str, path: str, allowed: bool) -> None:
    body = (
        {"purpose": "p", "record": {s.SOURCE: "bank", s.RECORD_ID: "r1", s.NAME: "李四"}}
        if path == "/v1/records"
        else one()
    )
    with harness.client(role) as client:
        response = client.request(method, path, json=body if method == "POST" else None)
    if allowed:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"


def test_a_revoked_key_stops_working_within_seconds(harness: Harness) -> None:
    key = create_key(harness.store, "short-lived", ["query"])
    headers = {"Authorization": f"Bearer {key}"}
    with harness.client(None) as client:
        assert client.get("/healthz", headers=headers).status_code == 200
        assert revoke_key(harness.store, "short-lived")
        deadline = time.monotonic() + 10
        while client.get("/healthz", headers=headers).status_code == 200:
            assert time.monotonic() < deadline, "revocation not seen within 10 s"
            time.sleep(0.05)
        assert client.get("/healthz", headers=headers).status_code == 401


def test_openapi_schema_documents_routes_and_bearer_auth(harness: Harness) -> None:
    with harness.client("query") as client:
        schema = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 404
    assert {
        "/v1/resolve",
        "/v1/records",
        "/v1/persons/{person_id}",
        "/v1/screen",
        "/healthz",
        "/metrics",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    resolve = schema["paths"]["/v1/resolve"]["post"]
    assert resolve["summary"] and "query" in resolve["description"]
    assert "ErrorBody" in json.dumps(resolve["responses"]["422"])


# ------------------------------------------------------------ validation
def _fields(response: httpx.Response) -> dict[str, str]:
    return {f["field"]: f["message"] for f in response.json()["fields"]}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"record": {s.NAME: "张三"}}, "purpose", "required"),
        ({"purpose": "  ", "record": {s.NAME: "张三"}}, "purpose", "empty"),
        ({"purpose": "p", "record": {"nmae": "张三"}}, "record.nmae", "unknown field"),
        ({"purpose": "p", "record": {s.NAME: "张三"}, "extra": 1}, "extra", "unknown field"),
        (
            {"purpose": "p", "record": {s.ID_NUMBER: 110101199003071234}},
            "record.id_number",
            "string or null",
        ),
        ({"purpose": "p", "record": {s.PHONE: 13812345678}}, "record.phone", "string or null"),
        ({"purpose": "p", "record": {s.NAME: "x"}, "top_k": "5"}, "top_k", "integer"),
        ({"purpose": "p", "record": {s.NAME: "x"}, "top_k": 0}, "top_k", ">= 1"),
        ({"purpose": "p", "record": {s.NAME: "x"}, "explain": "yes"}, "explain", "true or false"),
        ({"purpose": "p", "records": [{s.NAME: "x"}] * 1001}, "records", "at most 1000"),
        ({"purpose": "p", "records": []}, "records", "at least 1"),
        (
            {"purpose": "p", "records": [{s.NAME: "x"}, {s.NAME: 5}]},
            "records.1.name",
            "string or null",
        ),
        ({"purpose": "p"}, "body", "exactly one of `record`"),
        ({"purpose": "p", "record": {}, "records": [{}]}, "body", "exactly one of `record`"),
        ({"purpose": "p", "record": [1, 2]}, "record", "JSON object"),
    ],
)
def test_bad_requests_name_the_field(
    harness: Harness, body: dict[str, Any], field: str, words: str
) -> None:
    with harness.client("query") as client:
        response = client.post("/v1/resolve", json=body)
    assert response.status_code == 422, response.text
    fields = _fields(response)
    assert field in fields, fields
    assert words in fields[field]
    assert field in response.json()["message"]
    for leaked in (FULL_ID, FULL_PHONE, "Traceback", "pydantic"):
        assert leaked not in response.text


def test_malformed_json_is_400_naming_the_body(harness: Harness) -> None:
    with harness.client("query") as client:
        response = client.post(
            "/v1/resolve",
            content=b'{"purpose": "p", "record": {"id_number": "' + FULL_ID.encode() + b'"',
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert "body" in _fields(response)
    assert FULL_ID not in response.text


def test_an_oversized_body_is_413(harness: Harness) -> None:
    with harness.client("query") as client:
        response = client.post(
            "/v1/resolve", json={"purpose": "p", "record": {s.NAME: "x" * 1_000_001}}
        )
    assert response.status_code == 413
    assert "body" in _fields(response)


def test_ingest_requires_keys_and_refuses_repeated_records(harness: Harness) -> None:
    with harness.client("ingest") as client:
        missing = client.post("/v1/records", json={"purpose": "p", "record": {s.NAME: "x"}})
        repeated = client.post(
            "/v1/records",
            json={
                "purpose": "p",
                "records": [
                    {s.SOURCE: "bank", s.RECORD_ID: "1"},
                    {s.SOURCE: "bank", s.RECORD_ID: "1"},
                ],
            },
        )
    assert missing.status_code == 422
    assert {"record.source", "record.record_id"} <= set(_fields(missing))
    assert repeated.status_code == 422
    assert "records.1.record_id" in _fields(repeated)


def test_persons_requires_a_purpose(harness: Harness) -> None:
    with harness.client("query") as client:
        response = client.get("/v1/persons/P1")
    assert response.status_code == 422
    assert "purpose" in _fields(response)


def test_an_internal_error_is_a_bare_500_and_logs_no_full_id(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="linkage.service"),
        harness.client("query") as client,
    ):
        response = client.post("/v1/resolve", json=one("boom"))
    assert response.status_code == 500
    assert response.json()["error"] == "internal"
    for leaked in ("Traceback", "RuntimeError", FULL_ID, "cannot score"):
        assert leaked not in response.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and FULL_ID not in logged
    assert "110101********1234" in logged


# --------------------------------------------------------------- resolve
def test_resolve_one_and_a_batch(harness: Harness) -> None:
    with harness.client("query") as client:
        single = client.post("/v1/resolve", json={**one("王五"), "top_k": 2, "explain": True})
        batch = client.post(
            "/v1/resolve",
            json={"purpose": "p", "records": [{s.NAME: "甲"}, {s.NAME: None}, {s.NAME: "乙"}]},
        )
    assert single.status_code == 200
    (result,) = single.json()["results"]
    assert result["status"] == "match" and result["person_id"] == "P-王五"
    assert [c["person_id"] for c in result["candidates"]] == ["P-王五", "P-other"]
    assert result["explanation"] == [{"name": "name", "level": 3, "weight": 5.0}]
    assert [r["person_id"] for r in batch.json()["results"]] == ["P-甲", None, "P-乙"]
    assert batch.json()["results"][1]["status"] == "no_match"


def test_concurrent_single_resolves_are_coalesced_and_answered_each_its_own(
    harness: Harness,
) -> None:
    names = [f"n{i}" for i in range(24)]
    before = len(harness.resolver.calls)

    def ask(name: str) -> tuple[str, Any]:
        with harness.client("query") as client:
            response = client.post("/v1/resolve", json={**one(name), "top_k": 1 + len(name) % 3})
        return name, response.json()["results"][0]

    with ThreadPoolExecutor(len(names)) as pool:
        answers = list(pool.map(ask, names))
    for name, result in answers:
        assert result["person_id"] == f"P-{name}"
        assert len(result["candidates"]) == 1 + len(name) % 3
    calls = harness.resolver.calls[before:]
    assert sum(calls) == len(names)
    assert len(calls) < len(names)  # each call takes 50 ms: requests queue and go together


# ---------------------------------------------------------------- screen
def test_screen_hits_the_list_and_sees_a_reload(harness: Harness, tmp_path: Path) -> None:
    entries = pl.DataFrame(
        {s.SOURCE: ["court", "court"], s.RECORD_ID: ["1", "2"], s.NAME: ["赵六", "钱七"]}
    )
    load_list(harness.store, "court-black", entries, "black", origin="test")
    body = {"purpose": "licence", "list": "court-black", "record": {s.NAME: "钱七"}}
    with harness.client("query") as client:
        hit = client.post("/v1/screen", json=body).json()
        miss = client.post("/v1/screen", json={**body, "record": {s.NAME: "孙八"}}).json()
        unknown = client.post("/v1/screen", json={**body, "list": "nope"})
        load_list(harness.store, "court-black", entries.head(1), "black")
        after = client.post("/v1/screen", json=body).json()
    assert hit["hit"] is True and hit["kind"] == "black" and hit["list"] == "court-black"
    assert [h["entry"] for h in hit["hits"]] == ["court:2"]
    assert hit["hits"][0]["level"] == "match"
    assert miss["hit"] is False and miss["hits"] == []
    assert unknown.status_code == 404
    assert after["hit"] is False
    assert harness.lists_built[-2:] == [2, 1]


# ------------------------------------------------------ audit and metrics
def test_one_audit_row_per_request_with_hash_key_route_and_person_ids(harness: Harness) -> None:
    before = harness.audit().height
    ok_body = json.dumps({**one("周九", **{s.ID_NUMBER: FULL_ID, s.PHONE: FULL_PHONE})}).encode()
    with harness.client("query") as client:
        ok = client.post(
            "/v1/resolve", content=ok_body, headers={"Content-Type": "application/json"}
        )
        bad = client.post("/v1/resolve", json={"purpose": "why", "record": {s.ID_NUMBER: 1}})
        forbidden = client.get("/metrics")
        person = client.get("/v1/persons/P-unknown", params={"purpose": "look up"})
    with harness.client(None) as client:
        anonymous = client.post("/v1/resolve", json=one())
    statuses = [r.status_code for r in (ok, bad, forbidden, person, anonymous)]
    assert statuses == [200, 422, 403, 404, 401]
    rows = harness.audit().slice(before)
    assert rows.height == 5
    assert rows["status_code"].to_list() == statuses
    assert rows["endpoint"].to_list() == [
        "/v1/resolve",
        "/v1/resolve",
        "/metrics",
        "/v1/persons/{person_id}",
        "/v1/resolve",
    ]
    assert rows["key_name"].to_list() == ["query-key"] * 4 + [None]
    assert rows["purpose"].to_list() == ["tax check", "why", None, "look up", None]
    assert rows["outcome"].to_list() == [
        "match",
        "invalid",
        "forbidden",
        "not_found",
        "unauthenticated",
    ]
    assert rows["input_hash"][0] == hashlib.sha256(ok_body).hexdigest()
    assert rows["person_ids"][0].to_list() == ["P-周九", "P-other", "P-third"]
    assert rows["person_ids"][1].to_list() == []
    assert all(ms >= 0 for ms in rows["latency_ms"].to_list())
    text = rows.write_ndjson()
    assert FULL_ID not in text and FULL_PHONE not in text


def test_metrics_count_requests_by_route_and_status(harness: Harness) -> None:
    with harness.client("steward") as client:
        client.get("/healthz")
        client.get("/healthz")
        text = client.get("/metrics").text
    assert "# TYPE linkage_requests_total counter" in text
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith('linkage_requests_total{endpoint="/healthz",method="GET",status="200"}')
    )
    assert int(line.split()[-1]) >= 2
    assert 'linkage_request_duration_seconds_bucket{endpoint="/v1/resolve",le="+Inf"}' in text
    assert 'linkage_request_latency_seconds{endpoint="/v1/resolve",quantile="0.99"}' in text
    assert "linkage_index_records 0" in text
    assert "linkage_resolve_batch_size_count" in text


def test_audit_rows_cannot_be_changed(harness: Harness) -> None:
    import sqlalchemy as sa

    from linkage.store import audit

    harness.audit()
    with (
        pytest.raises(sa.exc.DatabaseError, match="append-only"),
        harness.store.engine.begin() as conn,
    ):
        conn.execute(audit.delete())


def test_the_lifespan_drains_the_audit_on_shutdown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/identity.db"
    store = IdentityStore.open(url)
    key = create_key(store, "k", ["admin"])
    app = create_app(url, resolver_factory=lambda _s: ScriptedResolver())
    headers = {"Authorization": f"Bearer {key}"}
    with LiveServer(app) as server, httpx.Client(base_url=server.url, headers=headers) as client:
        for _ in range(5):
            assert client.get("/healthz").status_code == 200
    assert read_audit(store).height == 5
    store.close()


def test_a_store_without_a_model_refuses_to_start(tmp_path: Path) -> None:
    def no_model(_store: IdentityStore) -> Any:
        from linkage.store import StoreError

        raise StoreError("no model")

    app = create_app(f"sqlite:///{tmp_path}/identity.db", resolver_factory=no_model)
    with pytest.raises(RuntimeError, match="did not start"), LiveServer(app):
        pass
