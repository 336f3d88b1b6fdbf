"""The service end to end over real HTTP, on a store built by the batch job; SQLite and PostgreSQL.

A session fixture per backend generates a small multi-department dataset, runs
the batch job into a fresh store, creates keys and starts uvicorn on a free
loopback port; the tests talk to it with httpx.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import polars as pl
import pytest

from benchmarks.datagen import generate
from linkage.pipeline import run_job
from linkage.service import create_key, load_list, read_audit
from linkage.service.app import audit_flush, create_app
from linkage.store import IdentityStore
from normalizers import schema as s

from .conftest import LiveServer

PERSONS = 400


@dataclass
class Deployment:
    url: str
    store: IdentityStore
    app: Any
    keys: dict[str, str]
    records: pl.DataFrame  # the generated input
    crosswalk: pl.DataFrame  # the batch job's: source, record_id, person_id

    def client(self, role: str | None = "query") -> httpx.Client:
        headers = {} if role is None else {"Authorization": f"Bearer {self.keys[role]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def audit(self) -> pl.DataFrame:
        assert audit_flush(self.app)
        return read_audit(self.store)

    def linked(self) -> pl.DataFrame:
        """Input records the batch linked, with the batch's person ID."""
        return self.records.join(self.crosswalk, on=[s.SOURCE, s.RECORD_ID], how="inner")


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("sqlite"),
        pytest.param("postgres", marks=pytest.mark.postgres),
        # single-record resolves served by a resolver replica in a process of its own
        pytest.param("sqlite-replica"),
    ],
)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_schema_factory: Any
) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp(f"service-{request.param}")
    records, _truth = generate(PERSONS, seed=11)
    source = base / "records.parquet"
    records.write_parquet(source)
    if request.param.startswith("sqlite"):
        url = f"sqlite:///{base}/identity.db"
        schema = None
        job_url = url
    else:
        url, schema = pg_schema_factory()
        job_url = f"{url}?options=-csearch_path%3D{schema}"
    run_job([source], base / "out", store_url=job_url)
    crosswalk = pl.read_parquet(base / "out" / "crosswalk.parquet").select(
        s.SOURCE, s.RECORD_ID, s.PERSON_ID
    )
    store = IdentityStore.open(url, schema=schema)
    keys = {
        role: create_key(store, f"{role}-key", [role]) for role in ("query", "ingest", "steward")
    }
    workers = 1 if request.param.endswith("-replica") else 0
    app = create_app(url, store_schema=schema, list_ttl=0.0, resolve_workers=workers)
    with LiveServer(app) as server:
        yield Deployment(server.url, store, app, keys, records, crosswalk)
    store.close()


def _no_full_numbers(deployment: Deployment, text: str) -> None:
    """No ID or phone number of the dataset appears in full in ``text``."""
    values = pl.concat([deployment.records[s.ID_NUMBER], deployment.records[s.PHONE]])
    for value in values.drop_nulls().unique().to_list():
        if len(value) >= 8:
            assert value not in text, f"{value[:3]}... appears in full"


def test_healthz_reports_the_index(deployment: Deployment) -> None:
    with deployment.client("ingest") as client:
        body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["records"] >= deployment.crosswalk.height
    assert body["persons"] >= deployment.crosswalk[s.PERSON_ID].n_unique()


def test_resolving_the_batch_records_returns_the_batch_person_ids(deployment: Deployment) -> None:
    linked = deployment.linked()
    rows = linked.select(s.RAW_COLUMNS).to_dicts()
    results: list[dict[str, Any]] = []
    with deployment.client("query") as client:
        for start in range(0, len(rows), 1000):
            response = client.post(
                "/v1/resolve", json={"purpose": "agreement", "records": rows[start : start + 1000]}
            )
            assert response.status_code == 200, response.text
            results += response.json()["results"]
    assert [r["status"] for r in results] == ["known"] * len(rows)
    assert [r["person_id"] for r in results] == linked[s.PERSON_ID].to_list()


def test_a_record_without_its_key_is_matched_by_the_model(deployment: Deployment) -> None:
    """Stripped of source and record_id, most records still find their batch person."""
    linked = deployment.linked().head(200)
    rows = linked.select(c for c in s.RAW_COLUMNS if c not in s.KEY_COLUMNS).to_dicts()
    with deployment.client("query") as client:
        results = client.post("/v1/resolve", json={"purpose": "p", "records": rows}).json()[
            "results"
        ]
    statuses = {r["status"] for r in results}
    assert statuses <= {"match", "review", "no_match", "rejected"} and "known" not in statuses
    found = sum(
        r["status"] == "match" and r["person_id"] == pid
        for r, pid in zip(results, linked[s.PERSON_ID].to_list(), strict=True)
    )
    assert found >= 0.8 * len(rows)
    wrong = sum(
        r["status"] == "match" and r["person_id"] != pid
        for r, pid in zip(results, linked[s.PERSON_ID].to_list(), strict=True)
    )
    assert wrong <= 0.02 * len(rows)


def test_single_resolve_with_explanation_and_top_k(deployment: Deployment) -> None:
    row = deployment.linked().row(0, named=True)
    record = {c: row[c] for c in s.RAW_COLUMNS if c not in s.KEY_COLUMNS}
    with deployment.client("query") as client:
        response = client.post(
            "/v1/resolve", json={"purpose": "p", "record": record, "top_k": 2, "explain": True}
        )
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["person_id"] == row[s.PERSON_ID]
    assert 1 <= len(result["candidates"]) <= 2
    assert result["candidates"][0]["person_id"] == row[s.PERSON_ID]
    assert result["explanation"] and {"name", "level", "weight"} <= set(result["explanation"][0])
    _no_full_numbers(deployment, response.text)


def test_persons_lists_linked_records_masked(deployment: Deployment) -> None:
    sizes = deployment.crosswalk.group_by(s.PERSON_ID).len().filter(pl.col("len") >= 2)
    pid = sizes.sort(s.PERSON_ID)[s.PERSON_ID][0]
    expected = deployment.linked().filter(pl.col(s.PERSON_ID) == pid)
    with deployment.client("query") as client:
        response = client.get(f"/v1/persons/{pid}", params={"purpose": "case 17"})
        unknown = client.get("/v1/persons/PNOSUCHPERSON", params={"purpose": "case 17"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["person_id"] == body["requested_id"] == pid
    got = {(r[s.SOURCE], r[s.RECORD_ID]) for r in body["records"]}
    assert got == set(expected.select(s.SOURCE, s.RECORD_ID).iter_rows())
    for record in body["records"]:
        for column in (s.ID_NUMBER, s.PHONE):
            if record[column] is not None and len(record[column]) >= 4:
                assert "*" in record[column]
    _no_full_numbers(deployment, response.text)
    assert unknown.status_code == 404


def test_ingest_attaches_and_creates_then_resolves_as_known(deployment: Deployment) -> None:
    row = deployment.linked().row(1, named=True)
    copy = {c: row[c] for c in s.RAW_COLUMNS} | {s.SOURCE: "bank", s.RECORD_ID: "ingest-copy-1"}
    stranger = {
        s.SOURCE: "bank",
        s.RECORD_ID: "ingest-new-1",
        s.NAME: "欧阳测试",
        s.ID_NUMBER: None,
        s.BIRTH_DATE: "1901-02-03",
        s.SEX: "男",
        s.PHONE: "13000000000",
    }
    with deployment.client("ingest") as client:
        response = client.post(
            "/v1/records", json={"purpose": "bank feed", "records": [copy, stranger]}
        )
        again = client.post("/v1/records", json={"purpose": "bank feed", "record": copy})
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["action"] in ("attached", "merged") and first["person_id"] == row[s.PERSON_ID]
    assert second["action"] == "created" and second["person_id"] not in set(
        deployment.crosswalk[s.PERSON_ID]
    )
    assert again.json()["results"][0]["action"] == "exists"
    with deployment.client("query") as client:
        known = client.post(
            "/v1/resolve", json={"purpose": "p", "records": [copy, stranger]}
        ).json()["results"]
        person = client.get(f"/v1/persons/{second['person_id']}", params={"purpose": "p"}).json()
    assert [(r["status"], r["person_id"]) for r in known] == [
        ("known", row[s.PERSON_ID]),
        ("known", second["person_id"]),
    ]
    assert [(r[s.SOURCE], r[s.RECORD_ID]) for r in person["records"]] == [("bank", "ingest-new-1")]
    assert person["records"][0][s.PHONE] == "130****0000"


def test_a_single_resolve_after_an_ingest_sees_it(deployment: Deployment) -> None:
    # single-record resolves go through the micro-batcher (to a replica when there is
    # one): an ingest that has answered is in the index they read
    with deployment.client("ingest") as client, deployment.client("query") as query:
        for k in range(3):
            new = {
                s.SOURCE: "tax",
                s.RECORD_ID: f"read-your-writes-{k}",
                s.NAME: f"司马测{'一二三'[k]}",
                s.BIRTH_DATE: f"1950-0{k + 1}-0{k + 1}",
                s.SEX: "女",
                s.PHONE: f"1390000000{k}",
            }
            ingested = client.post("/v1/records", json={"purpose": "p", "record": new})
            assert ingested.status_code == 200, ingested.text
            person_id = ingested.json()["results"][0]["person_id"]
            resolved = query.post("/v1/resolve", json={"purpose": "p", "record": new}).json()
            assert (resolved["results"][0]["status"], resolved["results"][0]["person_id"]) == (
                "known",
                person_id,
            )
        health = client.get("/healthz").json()
    replicas = deployment.app.state.service.replicas
    if replicas is not None:
        assert health["replicas"] == 1 and replicas.replica_calls >= 3
    else:
        assert health["replicas"] == 0


def test_persons_follows_merges(deployment: Deployment) -> None:
    from linkage.identities import EVENT_KIND, EVENT_REASON, EVENT_RECORDS, RELATED_IDS
    from linkage.store import IngestBatch

    pids = deployment.crosswalk[s.PERSON_ID].unique().sort().to_list()
    away, survivor = pids[-1], pids[-2]
    deployment.store.apply_ingest(
        IngestBatch(
            records=pl.DataFrame(schema={c: pl.String for c in s.RAW_COLUMNS}),
            crosswalk=pl.DataFrame(
                schema={
                    s.SOURCE: pl.String,
                    s.RECORD_ID: pl.String,
                    s.PERSON_ID: pl.String,
                    s.MATCH_PROBABILITY: pl.Float64,
                    s.ID_KEY: pl.String,
                }
            ),
            new_persons=pl.DataFrame(schema={s.PERSON_ID: pl.String}),
            merges=[(away, survivor)],
            events=pl.DataFrame(
                {
                    EVENT_KIND: ["MERGE"],
                    s.PERSON_ID: [away],
                    RELATED_IDS: [[survivor]],
                    EVENT_RECORDS: [1],
                    EVENT_REASON: ["test merge"],
                }
            ),
        )
    )
    expected = deployment.crosswalk.filter(pl.col(s.PERSON_ID).is_in([away, survivor]))
    with deployment.client("query") as client:
        body = client.get(f"/v1/persons/{away}", params={"purpose": "p"}).json()
    assert body["person_id"] == survivor and body["requested_id"] == away
    assert {(r[s.SOURCE], r[s.RECORD_ID]) for r in body["records"]} >= set(
        expected.select(s.SOURCE, s.RECORD_ID).iter_rows()
    )
    rows = deployment.audit().filter(pl.col("endpoint") == "/v1/persons/{person_id}")
    assert rows["outcome"][-1] == "merged" and rows["person_ids"][-1].to_list() == [survivor]


def test_screen_hits_a_loaded_list(deployment: Deployment) -> None:
    linked = deployment.linked()
    multi = linked.group_by(s.PERSON_ID).len().filter(pl.col("len") >= 2).sort(s.PERSON_ID)
    listed_pid = multi[s.PERSON_ID][0]
    listed = linked.filter(pl.col(s.PERSON_ID) == listed_pid).sort(s.SOURCE, s.RECORD_ID)
    entry = (
        listed.head(1)
        .select(s.RAW_COLUMNS)
        .with_columns(pl.lit("court").alias(s.SOURCE), pl.lit("J-1").alias(s.RECORD_ID))
    )
    load_list(deployment.store, "court-black", entry, "black", origin="test")
    probe = {c: listed.row(1, named=True)[c] for c in s.RAW_COLUMNS if c not in s.KEY_COLUMNS}
    other_pid = multi[s.PERSON_ID][-1]
    other = linked.filter(pl.col(s.PERSON_ID) == other_pid).row(0, named=True)
    miss_probe = {c: other[c] for c in s.RAW_COLUMNS if c not in s.KEY_COLUMNS}
    with deployment.client("query") as client:
        hit = client.post(
            "/v1/screen", json={"purpose": "licence", "list": "court-black", "record": probe}
        )
        miss = client.post(
            "/v1/screen", json={"purpose": "licence", "list": "court-black", "record": miss_probe}
        )
    assert hit.status_code == 200, hit.text
    body = hit.json()
    assert body["hit"] is True and body["kind"] == "black"
    assert body["hits"][0]["entry"] == "court:J-1" and body["hits"][0]["probability"] >= 0.99
    assert miss.json()["hit"] is False
    _no_full_numbers(deployment, hit.text)


def test_audit_rows_one_per_request_masked_with_hash_and_person_ids(
    deployment: Deployment,
) -> None:
    before = deployment.audit().height
    row = deployment.linked().row(2, named=True)
    payload = json.dumps(
        {"purpose": "audit check", "record": {c: row[c] for c in s.RAW_COLUMNS}}
    ).encode()
    with deployment.client("query") as client:
        ok = client.post(
            "/v1/resolve", content=payload, headers={"Content-Type": "application/json"}
        )
        bad = client.post(
            "/v1/resolve", json={"purpose": "x", "record": {s.ID_NUMBER: row[s.ID_NUMBER], "no": 1}}
        )
        forbidden = client.post("/v1/records", json={"purpose": "x", "record": {}})
    with deployment.client(None) as client:
        anonymous = client.get("/healthz")
    assert [r.status_code for r in (ok, bad, forbidden, anonymous)] == [200, 422, 403, 401]
    rows = deployment.audit().slice(before)
    assert rows.height == 4
    assert rows["endpoint"].to_list() == ["/v1/resolve", "/v1/resolve", "/v1/records", "/healthz"]
    assert rows["key_name"].to_list() == ["query-key", "query-key", "query-key", None]
    assert rows["input_hash"][0] == hashlib.sha256(payload).hexdigest()
    returned = ok.json()["results"][0]
    assert rows["person_ids"][0].to_list()[0] == returned["person_id"] == row[s.PERSON_ID]
    assert rows["outcome"][0] == "known"
    _no_full_numbers(deployment, deployment.audit().write_ndjson())
    _no_full_numbers(deployment, bad.text)


def test_metrics_count_requests(deployment: Deployment) -> None:
    with deployment.client("query") as client:
        client.get("/healthz")
    with deployment.client("steward") as client:
        text = client.get("/metrics").text
    counts = {
        m.group(1, 2): int(m.group(3))
        for m in re.finditer(
            r'linkage_requests_total\{endpoint="([^"]+)",method="[A-Z]+",status="(\d+)"\} (\d+)',
            text,
        )
    }
    assert counts[("/healthz", "200")] >= 1
    assert counts[("/v1/resolve", "200")] >= 1
    index = re.search(r"^linkage_index_records (\d+)$", text, re.MULTILINE)
    assert index is not None and int(index.group(1)) >= deployment.crosswalk.height
