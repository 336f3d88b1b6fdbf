"""The service's parts without HTTP: keys, the audit writer, lists, metrics, message scrubbing."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from linkage.service.audit import AuditEntry, AuditWriter, read_audit
from linkage.service.auth import KeyVerifier, create_key, hash_key, list_keys, revoke_key
from linkage.service.batcher import ResolveBatcher
from linkage.service.errors import scrub
from linkage.service.lists import list_entries, list_info, load_list
from linkage.service.metrics import Metrics
from linkage.store import IdentityStore, api_keys
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IdentityStore]:
    with IdentityStore.open(f"sqlite:///{tmp_path}/identity.db") as opened:
        yield opened


def test_keys_are_stored_hashed_and_verified(store: IdentityStore) -> None:
    key = create_key(store, "tax", ["query", "query", "steward"])
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(api_keys.c.key_hash, api_keys.c.roles)).one()
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest() == hash_key(key)
    assert key not in stored.key_hash
    principal = KeyVerifier(store).verify(key)
    assert principal is not None and principal.name == "tax"
    assert principal.roles == {"query", "steward"}
    assert KeyVerifier(store).verify(key + "x") is None
    assert list_keys(store)["roles"].to_list() == ["query,steward"]


def test_key_checks_are_cached_until_the_ttl(store: IdentityStore) -> None:
    key = create_key(store, "bank", ["ingest"])
    cached = KeyVerifier(store, ttl=3600)
    fresh = KeyVerifier(store, ttl=0)
    assert cached.verify(key) is not None and fresh.verify(key) is not None
    assert revoke_key(store, "bank") and not revoke_key(store, "bank")
    assert cached.cached(key)[0] and cached.verify(key) is not None  # until the TTL runs out
    assert fresh.verify(key) is None


@pytest.mark.parametrize(
    ("name", "roles", "words"),
    [
        ("", ["query"], "key name"),
        ("a b", ["query"], "key name"),
        ("ok", [], "at least one"),
        ("ok", ["root"], "unknown"),
    ],
)
def test_bad_key_requests_name_the_problem(
    store: IdentityStore, name: str, roles: list[str], words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        create_key(store, name, roles)


def _entry(i: int) -> AuditEntry:
    return AuditEntry(
        at=datetime.now(UTC),
        method="POST",
        endpoint="/v1/resolve",
        status_code=200,
        outcome="match",
        latency_ms=1.5,
        key_name="k",
        purpose="p" * 600,
        input_hash="0" * 64,
        person_ids=[f"P{i}"],
    )


def test_the_audit_writer_batches_flushes_and_drains_on_close(store: IdentityStore) -> None:
    writer = AuditWriter(store, max_batch=7, interval=10.0)
    writer.start()
    for i in range(20):
        writer.submit(_entry(i))
    assert writer.flush()
    assert read_audit(store).height == 20
    for i in range(20, 25):
        writer.submit(_entry(i))
    writer.close()
    rows = read_audit(store)
    assert rows.height == 25 and writer.written == 25 and writer.lost == 0
    assert rows["person_ids"].to_list()[-1] == ["P24"]
    assert len(rows["purpose"][0]) == 500  # capped
    assert rows["at"].dtype == pl.Datetime("us", "UTC")


def test_lists_replace_atomically_and_validate(store: IdentityStore) -> None:
    frame = pl.DataFrame({s.SOURCE: ["a", "a"], s.RECORD_ID: ["1", "2"], s.NAME: ["张三", "李四"]})
    first = load_list(store, "black-1", frame, "black", origin="x.csv")
    second = load_list(store, "black-1", frame.head(1), "red")
    info = list_info(store, "black-1")
    assert info is not None and (info.kind, info.entries, info.origin) == ("red", 1, None)
    assert second.loaded_at > first.loaded_at
    entries = list_entries(store, "black-1")
    assert entries.columns == list(s.RAW_COLUMNS) and entries[s.NAME].to_list() == ["张三"]
    assert list_info(store, "nope") is None and list_entries(store, "nope").height == 0
    with pytest.raises(SchemaError, match="share"):
        load_list(store, "dup", pl.concat([frame, frame]), "black")
    with pytest.raises(ConfigError, match="list name"):
        load_list(store, "bad name", frame, "black")
    with pytest.raises(ConfigError, match="kind"):
        load_list(store, "ok", frame, "grey")  # type: ignore[arg-type]
    assert list_entries(store, "black-1").height == 1  # failed loads changed nothing


def test_metrics_render_the_prometheus_text_format() -> None:
    metrics = Metrics()
    for seconds in (0.0005, 0.003, 0.2):
        metrics.observe_request("/v1/resolve", "POST", 200, seconds)
    metrics.observe_request("/v1/resolve", "POST", 422, 0.001)
    metrics.observe_batch(3)
    text = metrics.render({"linkage_index_records": ("Records.", 42)})
    lines = text.splitlines()
    assert 'linkage_requests_total{endpoint="/v1/resolve",method="POST",status="200"} 3' in lines
    assert 'linkage_requests_total{endpoint="/v1/resolve",method="POST",status="422"} 1' in lines
    assert 'linkage_request_duration_seconds_bucket{endpoint="/v1/resolve",le="0.001"} 2' in lines
    assert 'linkage_request_duration_seconds_bucket{endpoint="/v1/resolve",le="+Inf"} 4' in lines
    assert 'linkage_request_duration_seconds_count{endpoint="/v1/resolve"} 4' in lines
    assert 'linkage_resolve_batch_size_bucket{le="4"} 1' in lines
    assert "linkage_index_records 42" in lines
    for line in lines:
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2


def test_scrub_masks_long_digit_runs() -> None:
    assert scrub("id 110101199003071234 and 1381234567X") == (
        "id 110101********1234 and 13*******7X"
    )
    assert (
        scrub("records.3.id_number: expected a string") == "records.3.id_number: expected a string"
    )


@dataclasses.dataclass(frozen=True)
class _Result:
    name: str
    candidates: tuple[int, ...]


def test_the_batcher_isolates_a_failing_record_from_its_batch() -> None:
    calls: list[list[str]] = []

    def resolve(rows, top_k, explain):  # type: ignore[no-untyped-def]
        calls.append([r["name"] for r in rows])
        if any(r["name"] == "bad" for r in rows):
            raise ValueError("bad record")
        return [_Result(r["name"], tuple(range(10))) for r in rows]

    async def main() -> list[object]:
        with ThreadPoolExecutor(1) as pool:
            batcher = ResolveBatcher(resolve, pool, max_batch=8, max_wait=0.5, concurrency=1)
            batcher.start()
            # all four are queued before the dispatch loop runs: they go in one call
            tasks = [
                asyncio.ensure_future(batcher.resolve({"name": n}, top_k=2, explain=False))
                for n in ("a", "b", "bad", "c")
            ]
            out = await asyncio.gather(*tasks, return_exceptions=True)
            await batcher.close()
            return out

    a, b, bad, c = asyncio.run(main())
    assert isinstance(bad, ValueError)
    assert [(r.name, r.candidates) for r in (a, b, c)] == [  # type: ignore[union-attr]
        ("a", (0, 1)),
        ("b", (0, 1)),
        ("c", (0, 1)),
    ]
    assert calls == [["a", "b", "bad", "c"], ["a"], ["b"], ["bad"], ["c"]]  # then one by one


def test_the_resolver_refuses_a_model_trained_with_other_comparison_levels() -> None:
    """A store whose model predates a level the code now has (e.g. a new name level) would
    fail on every request reaching that level: the resolver refuses it at start-up."""
    import numpy as np
    import polars as pl

    from linkage.comparisons import default_comparisons
    from linkage.model import FSModel, ModelMismatchError, comparison_params
    from linkage.resolver import Resolver

    def uniform(levels: int) -> np.ndarray:  # index 0 is the null level: 1.0
        return np.concatenate([[1.0], np.full(levels - 1, 1.0 / (levels - 1))])

    params = []
    for comp in default_comparisons():
        p = comparison_params(comp, uniform(len(comp.levels)), uniform(len(comp.levels)))
        if comp.name == "name":  # as written before the code's last name level existed
            kept = (*p.levels[:-2], p.levels[-1])
            share = 1.0 / (len(kept) - 1)
            kept = (kept[0], *(lv.model_copy(update={"m": share, "u": share}) for lv in kept[1:]))
            p = p.model_copy(update={"levels": kept})
        params.append(p)
    model = FSModel.model_validate(
        {
            "prior": 0.001,
            "comparisons": tuple(params),
            "training": {"method": "given", "records": 0, "pairs": 0, "patterns": 0},
        }
    )
    records = pl.DataFrame(
        {"source": ["a"], "record_id": ["1"], "name": ["张三"], "person_id": ["P1"]}
    )
    with pytest.raises(ModelMismatchError, match="name: levels differ"):
        Resolver(records, model)
