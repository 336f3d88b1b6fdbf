"""Invariants of the default rules on synthetic normalized records at scale (slow)."""

from __future__ import annotations

import polars as pl
import pytest

from blocking import blocking_recall, estimate_pairs, generate_pairs
from blocking import pairs as blocking_pairs
from normalizers import schema as s


def _bench_module():
    from benchmarks import blocking_bench

    return blocking_bench


@pytest.mark.slow
def test_default_rules_at_scale() -> None:
    records, truth = _bench_module().synthetic_records(200_000, seed=3)
    result = generate_pairs(records)
    pairs = result.pairs
    assert pairs.schema == pl.Schema(blocking_pairs.PAIRS_SCHEMA)
    assert (pairs[s.ROW_L] < pairs[s.ROW_R]).all()
    assert pairs.select(s.ROW_L, s.ROW_R).is_unique().all()
    rejected = records.filter(pl.col(s.RECORD_REASON).is_not_null())[s.ROW_ID]
    assert not pairs[s.ROW_L].is_in(rejected.implode()).any()
    assert not pairs[s.ROW_R].is_in(rejected.implode()).any()
    counts = result.counts
    assert counts[blocking_pairs.NEW_PAIRS].sum() == pairs.height
    assert (
        counts[blocking_pairs.ESTIMATED_PAIRS].to_list()
        == counts[blocking_pairs.MATERIALIZED_PAIRS].to_list()
    )
    assert (
        estimate_pairs(records)[blocking_pairs.ESTIMATED_PAIRS].to_list()
        == counts[blocking_pairs.ESTIMATED_PAIRS].to_list()
    )
    assert pairs.height < 10 * records.height
    assert blocking_recall(pairs, truth) > 0.8
