"""Tests of linkage.evaluate: hand-computed cases, brute-force pair enumeration, properties."""

from __future__ import annotations

import itertools
import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.table import Table

import linkage.evaluate as ev
from linkage.evaluate import (
    HARD_CASE,
    HARD_GROUP,
    LEFT_ROW,
    PERSON_ID,
    RECORD_ID_L,
    RECORD_ID_R,
    RIGHT_ROW,
    SOURCE_L,
    SOURCE_R,
    EvaluationReport,
    evaluate,
    report_table,
    report_text,
)
from normalizers.errors import SchemaError
from normalizers.schema import RECORD_ID, SOURCE


def frame(rows: list[tuple], extra: tuple[str, ...] = ()) -> pl.DataFrame:
    """Rows of (source, record_id, person_id, *extra)."""
    return pl.DataFrame(rows, schema=[SOURCE, RECORD_ID, PERSON_ID, *extra], orient="row")


def crosswalk(truth: pl.DataFrame, persons: list) -> pl.DataFrame:
    """The truth's keys with other person ids (None = unplaced)."""
    return truth.select(SOURCE, RECORD_ID).with_columns(
        pl.Series(PERSON_ID, persons, dtype=pl.Int64)
    )


# ------------------------------------------------------------------ hand-computed cases
def test_two_persons_hand_computed() -> None:
    # truth: A = {1,2,3}, B = {4,5};  pred: {1,2}, {3,4,5};  sources 1:a 2:b 3:a 4:b 5:a
    truth = frame(
        [("a", "1", "A"), ("b", "2", "A"), ("a", "3", "A"), ("b", "4", "B"), ("a", "5", "B")]
    )
    pred = frame([("a", "1", 10), ("b", "2", 10), ("a", "3", 20), ("b", "4", 20), ("a", "5", 20)])
    r = evaluate(truth, pred)
    # true pairs  C(3,2)+C(2,2) = 4;  predicted C(2,2)+C(3,2) = 4
    # correct: cells (A,10)=2 -> 1, (A,20)=1 -> 0, (B,20)=2 -> 1  => 2
    assert (r.pairwise.true_pairs, r.pairwise.predicted_pairs, r.pairwise.correct_pairs) == (
        4,
        4,
        2,
    )
    assert r.pairwise.false_merge_pairs == 2 and r.pairwise.missed_pairs == 2  # 3-4, 3-5 / 1-3, 2-3
    assert r.pairwise.precision == 0.5 and r.pairwise.recall == 0.5 and r.pairwise.f1 == 0.5
    # B3 per record (n_tp/n_p, n_tp/n_t): 1:(1, 2/3) 2:(1, 2/3) 3:(1/3, 1/3) 4:(2/3, 1) 5:(2/3, 1)
    # precision = (1+1+1/3+2/3+2/3)/5 = 11/15;  recall = (2/3+2/3+1/3+1+1)/5 = 11/15
    assert r.bcubed.precision == pytest.approx(11 / 15)
    assert r.bcubed.recall == pytest.approx(11 / 15)
    assert r.bcubed.f1 == pytest.approx(11 / 15)
    assert (r.true_persons, r.predicted_persons) == (2, 2)
    assert r.overmerged_clusters == 1  # {3,4,5} holds A and B
    assert r.split_persons == 1  # A is over {1,2} and {3}
    a, b = r.by_source
    # pairs touching a = {1,3,5}: true 1-2 1-3 2-3 4-5 = 4; pred 1-2 3-4 3-5 4-5 = 4;
    # correct 1-2 4-5 = 2
    assert (a.source, a.records) == ("a", 3)
    assert (a.pairwise.true_pairs, a.pairwise.predicted_pairs, a.pairwise.correct_pairs) == (
        4,
        4,
        2,
    )
    # pairs touching b = {2,4}: true 1-2 2-3 4-5 = 3; pred 1-2 3-4 4-5 = 3; correct 1-2 4-5 = 2
    assert (b.source, b.records) == ("b", 2)
    assert (b.pairwise.true_pairs, b.pairwise.predicted_pairs, b.pairwise.correct_pairs) == (
        3,
        3,
        2,
    )
    assert b.pairwise.precision == pytest.approx(2 / 3)
    assert b.pairwise.recall == pytest.approx(2 / 3)
    # without the breakdown, everything else is the same
    assert evaluate(truth, pred, by_source=False).to_dict() == {**r.to_dict(), "by_source": []}


def test_missing_and_extra_records_hand_computed() -> None:
    # truth: x = {a1,a2,b1}, y = {b2}, z = {c1}
    # pred:  {a1,a2} -> 1, {b1,c1} -> 2, b2 absent, z9 not in truth
    truth = frame(
        [("a", "1", "x"), ("a", "2", "x"), ("b", "1", "x"), ("b", "2", "y"), ("c", "1", "z")]
    )
    pred = frame([("a", "1", 1), ("a", "2", 1), ("b", "1", 2), ("c", "1", 2), ("z", "9", 3)])
    r = evaluate(truth, pred)
    assert (r.truth_records, r.pred_records, r.missing_from_pred, r.pred_not_in_truth) == (
        5,
        5,
        1,
        1,
    )
    # b2 is a singleton: predicted clusters {a1,a2} {b1,c1} {b2}
    assert r.predicted_persons == 3
    # true 3 (x), predicted 2, correct 1 (a1-a2)
    assert (r.pairwise.true_pairs, r.pairwise.predicted_pairs, r.pairwise.correct_pairs) == (
        3,
        2,
        1,
    )
    assert r.pairwise.precision == 0.5 and r.pairwise.recall == pytest.approx(1 / 3)
    assert r.pairwise.f1 == pytest.approx(0.4)
    # B3: a1 (1, 2/3) a2 (1, 2/3) b1 (1/2, 1/3) c1 (1/2, 1) b2 (1, 1)
    assert r.bcubed.precision == pytest.approx(4 / 5)
    assert r.bcubed.recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1) / 5)
    by = {s.source: s for s in r.by_source}
    assert by["b"].missing_from_pred == 1 and by["a"].missing_from_pred == 0
    # pairs touching c: predicted b1-c1 (false), no true pair -> precision 0, recall 1 by convention
    assert (by["c"].pairwise.precision, by["c"].pairwise.recall, by["c"].pairwise.f1) == (
        0.0,
        1.0,
        0.0,
    )


def test_null_pred_person_counts_as_missing() -> None:
    truth = frame([("a", "1", "x"), ("a", "2", "x")])
    pred = frame([("a", "1", None), ("a", "2", 7)])
    r = evaluate(truth, pred)
    assert r.missing_from_pred == 1 and r.pred_not_in_truth == 0
    assert r.pairwise.recall == 0.0 and r.pairwise.precision == 1.0


def test_conventions_on_empty_and_pairless_inputs() -> None:
    empty = pl.DataFrame(schema={SOURCE: pl.String, RECORD_ID: pl.String, PERSON_ID: pl.String})
    r = evaluate(empty, empty)
    assert (r.pairwise.precision, r.pairwise.recall, r.bcubed.precision, r.bcubed.recall) == (
        1.0,
        1.0,
        1.0,
        1.0,
    )
    assert r.truth_records == 0 and r.by_source == ()
    singles = frame([("a", "1", "x"), ("a", "2", "y")])
    r = evaluate(singles, singles)
    assert (r.pairwise.true_pairs, r.pairwise.precision, r.pairwise.recall, r.pairwise.f1) == (
        0,
        1.0,
        1.0,
        1.0,
    )


def test_key_dtypes_are_compared_as_strings() -> None:
    truth = frame([("a", "1", "x"), ("a", "2", "x")])
    pred = pl.DataFrame({SOURCE: ["a", "a"], RECORD_ID: [1, 2], PERSON_ID: ["p", "p"]})
    r = evaluate(truth, pred)
    assert r.missing_from_pred == 0 and r.pairwise.f1 == 1.0


# ------------------------------------------------------------------ hard cases
HARD_TRUTH = [
    # kind, group: twins g1 = X (2 records) and Y; parent_child g2 = P and C; twins g3 = U and V
    ("a", "x1", "X", "twins", "g1"),
    ("b", "x2", "X", "twins", "g1"),
    ("a", "y1", "Y", "twins", "g1"),
    ("a", "p1", "P", "parent_child", "g2"),
    ("a", "c1", "C", "parent_child", "g2"),
    ("a", "u1", "U", "twins", "g3"),
    ("b", "v1", "V", "twins", "g3"),
    ("b", "n1", "N", None, None),
]


def hard_pred(truth: pl.DataFrame) -> pl.DataFrame:
    # {x1,x2,y1} merged, p1 and c1 apart, {u1,v1} merged, n1 alone
    return crosswalk(truth, [1, 1, 1, 2, 3, 4, 4, 5])


def test_hard_case_merges_with_groups() -> None:
    truth = frame(HARD_TRUTH, (HARD_CASE, HARD_GROUP))
    r = evaluate(truth, hard_pred(truth))
    cases = {c.kind: c for c in r.hard_cases}
    assert set(cases) == {"twins", "parent_child"}
    # twins g1: C(3,2) - C(2,2) = 2 planted (x1-y1, x2-y1), both merged; g3: 1 planted, merged
    assert (cases["twins"].records, cases["twins"].planted_pairs, cases["twins"].merged_pairs) == (
        5,
        3,
        3,
    )
    assert cases["twins"].merge_rate == 1.0
    assert (cases["parent_child"].planted_pairs, cases["parent_child"].merged_pairs) == (1, 0)
    assert cases["parent_child"].merge_rate == 0.0
    # y1 with x1, x2 and u1 with v1 are the false merges
    assert r.pairwise.false_merge_pairs == 3 and r.overmerged_clusters == 2


def test_hard_case_without_group_column_pools_the_kind() -> None:
    truth = frame(HARD_TRUTH, (HARD_CASE, HARD_GROUP)).drop(HARD_GROUP)
    cases = {c.kind: c for c in evaluate(truth, hard_pred(truth)).hard_cases}
    # all 5 twins records form one group: C(5,2) - C(2,2) = 9 distinct-person pairs;
    # merged: 2 in {x1,x2,y1} + 1 in {u1,v1}
    assert (cases["twins"].planted_pairs, cases["twins"].merged_pairs) == (9, 3)
    assert cases["twins"].merge_rate == pytest.approx(3 / 9)


def test_hard_group_mixing_kinds_counts_under_the_rarer_kind() -> None:
    # parent P (2 records) and child C: C's school record carries P's ID (guardian_id)
    rows = [
        ("a", "p1", "P", "parent_child", "g"),
        ("b", "p2", "P", "parent_child", "g"),
        ("a", "c1", "C", "parent_child", "g"),
        ("c", "c2", "C", "guardian_id", "g"),
    ]
    truth = frame(rows, (HARD_CASE, HARD_GROUP))
    # the guardian record was wrongly merged with the parent; c1 stands alone
    cases = {c.kind: c for c in evaluate(truth, crosswalk(truth, [1, 1, 2, 1])).hard_cases}
    # c2 with p1, p2: guardian_id pairs (2 planted, 2 merged); c1 with p1, p2: parent_child
    assert (cases["guardian_id"].planted_pairs, cases["guardian_id"].merged_pairs) == (2, 2)
    assert (cases["parent_child"].planted_pairs, cases["parent_child"].merged_pairs) == (2, 0)
    assert cases["guardian_id"].records == 1 and cases["parent_child"].records == 3


def test_hard_case_unplaced_record_is_not_merged() -> None:
    truth = frame(HARD_TRUTH, (HARD_CASE, HARD_GROUP))
    pred = hard_pred(truth).filter(pl.col(RECORD_ID) != "y1")
    cases = {c.kind: c for c in evaluate(truth, pred).hard_cases}
    assert (cases["twins"].planted_pairs, cases["twins"].merged_pairs) == (3, 1)


def test_empty_hard_case_strings_are_not_planted() -> None:
    truth = frame([("a", "1", "x", ""), ("a", "2", "y", None)], (HARD_CASE,))
    assert evaluate(truth, truth.drop(HARD_CASE)).hard_cases == ()


# ------------------------------------------------------------------ blocking
def test_blocking_by_keys_and_by_rows_agree() -> None:
    # truth: A = {a1,a2,b1}, B = {b2}; 4 records, 6 possible pairs, 3 true pairs
    truth = frame([("a", "1", "A"), ("a", "2", "A"), ("b", "1", "A"), ("b", "2", "B")])
    # candidates: a1-a2 (true), a2-a1 (duplicate, reversed), a1-b2 (false), b1-b1 (self),
    # q9-a1 (unknown)
    by_key = pl.DataFrame(
        {
            SOURCE_L: ["a", "a", "a", "b", "q"],
            RECORD_ID_L: ["1", "2", "1", "1", "9"],
            SOURCE_R: ["a", "a", "b", "b", "a"],
            RECORD_ID_R: ["2", "1", "2", "1", "1"],
        }
    )
    by_row = pl.DataFrame({LEFT_ROW: [0, 1, 0, 2, 99], RIGHT_ROW: [1, 0, 3, 2, 0]})
    for candidates in (by_key, by_row):
        block = evaluate(truth, truth, candidate_pairs=candidates).blocking
        assert block is not None
        assert (block.candidate_pairs, block.unknown_key_pairs) == (2, 1)
        assert (block.true_pairs_found, block.true_pairs) == (1, 3)
        assert block.recall == pytest.approx(1 / 3)
        assert block.pair_quality == 0.5
        assert block.reduction_ratio == pytest.approx(1 - 2 / 6)


def test_blocking_rejects_bad_candidate_frames() -> None:
    truth = frame([("a", "1", "A"), ("a", "2", "A")])
    with pytest.raises(SchemaError, match="record_id_r"):
        evaluate(
            truth,
            truth,
            candidate_pairs=pl.DataFrame({SOURCE_L: ["a"], RECORD_ID_L: ["1"], SOURCE_R: ["a"]}),
        )
    with pytest.raises(SchemaError, match="integer row numbers"):
        evaluate(truth, truth, candidate_pairs=pl.DataFrame({LEFT_ROW: [0.0], RIGHT_ROW: [1.0]}))
    # row numbers read from a text file are strings; non-numbers are unknown
    text_rows = pl.DataFrame({LEFT_ROW: ["0", "x"], RIGHT_ROW: ["1", "0"]})
    block = evaluate(truth, truth, candidate_pairs=text_rows).blocking
    assert block is not None and (block.candidate_pairs, block.unknown_key_pairs) == (1, 1)


# ------------------------------------------------------------------ input errors
def test_schema_errors() -> None:
    truth = frame([("a", "1", "x"), ("a", "2", "x")])
    with pytest.raises(SchemaError, match="person_id"):
        evaluate(truth.drop(PERSON_ID), truth)
    with pytest.raises(SchemaError, match="must be unique"):
        evaluate(pl.concat([truth, truth]), truth)
    with pytest.raises(SchemaError, match="pred.*must be unique"):
        evaluate(truth, pl.concat([truth, truth]))
    with pytest.raises(SchemaError, match="null"):
        evaluate(truth.with_columns(pl.lit(None, pl.String).alias(PERSON_ID)), truth)


def test_key_hash_collisions_are_resolved_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    truth = frame([("a", str(i), f"p{i % 3}") for i in range(12)])
    pred = crosswalk(truth, [i % 2 for i in range(12)]).filter(pl.col(RECORD_ID) != "5")
    pred = pl.concat([pred, pl.DataFrame({SOURCE: ["z"], RECORD_ID: ["0"], PERSON_ID: [1]})])
    candidates = pl.DataFrame(
        {
            SOURCE_L: ["a", "a", "z"],
            RECORD_ID_L: ["0", "1", "0"],
            SOURCE_R: ["a", "a", "a"],
            RECORD_ID_R: ["3", "2", "1"],
        }
    )
    expected = evaluate(truth, pred, candidate_pairs=candidates).to_dict()

    def colliding_hash(keys: pl.DataFrame) -> pl.Series:
        # every key shares one of two hashes: all matches must be confirmed on the strings
        return keys.select(
            (pl.col(RECORD_ID).str.len_chars() % 2).cast(pl.UInt64).alias("_hash")
        ).to_series()

    monkeypatch.setattr(ev, "_key_hash", colliding_hash)
    assert evaluate(truth, pred, candidate_pairs=candidates).to_dict() == expected


# ------------------------------------------------------------------ output
def test_to_dict_is_json_and_table_renders() -> None:
    truth = frame(HARD_TRUTH, (HARD_CASE, HARD_GROUP))
    report = evaluate(
        truth, hard_pred(truth), candidate_pairs=pl.DataFrame({LEFT_ROW: [0], RIGHT_ROW: [1]})
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["pairwise"]["false_merge_pairs"] == 3
    assert data["hard_cases"][1]["kind"] == "twins" and data["blocking"]["candidate_pairs"] == 1
    assert isinstance(report_table(report), Table)
    text = report_text(report)
    assert "false-merge pairs" in text and "hard case twins" in text and "\x1b[" not in text


# ------------------------------------------------------------------ brute force and properties
SOURCES = ("a", "b", "c")


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Random truth (with hard cases), crosswalk (with gaps and extras) and candidate pairs."""
    n = draw(st.integers(0, 14))
    persons = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    sources = draw(st.lists(st.sampled_from(SOURCES), min_size=n, max_size=n))
    clusters = draw(st.lists(st.none() | st.integers(0, 5), min_size=n, max_size=n))
    kinds = draw(
        st.lists(st.none() | st.sampled_from(("twins", "guardian_id")), min_size=n, max_size=n)
    )
    groups = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    extras = draw(st.integers(0, 2))
    truth = pl.DataFrame(
        {
            SOURCE: sources,
            RECORD_ID: [f"r{i}" for i in range(n)],
            PERSON_ID: [f"person-{p}" for p in persons],
            HARD_CASE: kinds,
            HARD_GROUP: groups,
        },
        schema={
            SOURCE: pl.String,
            RECORD_ID: pl.String,
            PERSON_ID: pl.String,
            HARD_CASE: pl.String,
            HARD_GROUP: pl.Int64,
        },
    )
    pred = pl.DataFrame(
        {
            SOURCE: sources + ["a"] * extras,
            RECORD_ID: [f"r{i}" for i in range(n)] + [f"extra{i}" for i in range(extras)],
            PERSON_ID: clusters + [0] * extras,
        },
        schema={SOURCE: pl.String, RECORD_ID: pl.String, PERSON_ID: pl.Int64},
    )
    dropped = draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=3)) if n else []
    pred = pred.with_row_index("_i").filter(~pl.col("_i").is_in(dropped)).drop("_i")
    m = draw(st.integers(0, 10)) if n else 0
    lefts = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)) if n else []
    rights = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)) if n else []
    candidates = pl.DataFrame(
        {LEFT_ROW: lefts, RIGHT_ROW: rights}, schema={LEFT_ROW: pl.Int64, RIGHT_ROW: pl.Int64}
    )
    return truth, pred, candidates


def brute_force(truth: pl.DataFrame, pred: pl.DataFrame, candidates: pl.DataFrame) -> dict:
    """Every number by enumerating record pairs, from the definitions in the module doc."""
    keys = list(zip(truth[SOURCE], truth[RECORD_ID]))
    placed = {
        k: c for k, c in zip(zip(pred[SOURCE], pred[RECORD_ID]), pred[PERSON_ID]) if c is not None
    }
    person = list(truth[PERSON_ID])
    cluster = [("pred", placed[k]) if k in placed else ("single", i) for i, k in enumerate(keys)]
    source = list(truth[SOURCE])
    kind, group = list(truth[HARD_CASE]), list(truth[HARD_GROUP])
    n = len(keys)
    out: dict = {"true": 0, "pred": 0, "correct": 0, "sources": {}, "hard": {}}
    for s in set(source):
        out["sources"][s] = [0, 0, 0]
    for k in {k for k in kind if k}:
        out["hard"][k] = [0, 0]
    for i, j in itertools.combinations(range(n), 2):
        same_t, same_p = person[i] == person[j], cluster[i] == cluster[j]
        flags = (same_t, same_p, same_t and same_p)
        for name, flag in zip(("true", "pred", "correct"), flags):
            out[name] += flag
        for s in {source[i], source[j]}:
            for idx, flag in enumerate(flags):
                out["sources"][s][idx] += flag
        if kind[i] and kind[j] and group[i] == group[j] and not same_t:
            # a pair of two kinds counts under the rarer one (ties: by name)
            pair_kind = min(kind[i], kind[j], key=lambda k: (kind.count(k), k))
            out["hard"][pair_kind][0] += 1
            out["hard"][pair_kind][1] += same_p
    b3p = sum(
        sum(person[j] == person[i] and cluster[j] == cluster[i] for j in range(n))
        / sum(cluster[j] == cluster[i] for j in range(n))
        for i in range(n)
    )
    b3r = sum(
        sum(person[j] == person[i] and cluster[j] == cluster[i] for j in range(n))
        / sum(person[j] == person[i] for j in range(n))
        for i in range(n)
    )
    out["b3p"] = b3p / n if n else 1.0
    out["b3r"] = b3r / n if n else 1.0
    out["overmerged"] = len(
        {
            cluster[i]
            for i in range(n)
            for j in range(n)
            if cluster[i] == cluster[j] and person[i] != person[j]
        }
    )
    out["split"] = len(
        {
            person[i]
            for i in range(n)
            for j in range(n)
            if person[i] == person[j] and cluster[i] != cluster[j]
        }
    )
    pairs = {
        (min(left, right), max(left, right))
        for left, right in zip(candidates[LEFT_ROW], candidates[RIGHT_ROW])
        if left != right
    }
    out["candidates"] = len(pairs)
    out["found"] = sum(person[left] == person[right] for left, right in pairs)
    return out


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_matches_brute_force(case: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    truth, pred, candidates = case
    r = evaluate(truth, pred, candidate_pairs=candidates)
    bf = brute_force(truth, pred, candidates)
    assert (r.pairwise.true_pairs, r.pairwise.predicted_pairs, r.pairwise.correct_pairs) == (
        bf["true"],
        bf["pred"],
        bf["correct"],
    )
    assert r.bcubed.precision == pytest.approx(bf["b3p"])
    assert r.bcubed.recall == pytest.approx(bf["b3r"])
    assert (r.overmerged_clusters, r.split_persons) == (bf["overmerged"], bf["split"])
    assert {
        s.source: [s.pairwise.true_pairs, s.pairwise.predicted_pairs, s.pairwise.correct_pairs]
        for s in r.by_source
    } == bf["sources"]
    assert {h.kind: [h.planted_pairs, h.merged_pairs] for h in r.hard_cases} == bf["hard"]
    assert r.blocking is not None
    assert (r.blocking.candidate_pairs, r.blocking.true_pairs_found) == (
        bf["candidates"],
        bf["found"],
    )
    assert r.truth_records == truth.height and r.pred_records == pred.height


def all_scores(report: EvaluationReport, *, merge_rates: bool = True) -> list[float]:
    scores = [
        report.pairwise.precision,
        report.pairwise.recall,
        report.pairwise.f1,
        report.bcubed.precision,
        report.bcubed.recall,
        report.bcubed.f1,
    ]
    for s in report.by_source:
        scores += [s.pairwise.precision, s.pairwise.recall, s.pairwise.f1]
    if merge_rates:
        scores += [h.merge_rate for h in report.hard_cases]
    if report.blocking is not None:
        scores += [
            report.blocking.recall,
            report.blocking.pair_quality,
            report.blocking.reduction_ratio,
        ]
    return scores


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_scores_are_bounded(case: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    truth, pred, candidates = case
    assert all(
        0.0 <= x <= 1.0 for x in all_scores(evaluate(truth, pred, candidate_pairs=candidates))
    )


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_perfect_prediction_scores_one(
    case: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    truth, _, _ = case
    r = evaluate(truth, truth.select(SOURCE, RECORD_ID, PERSON_ID))
    assert all(x == pytest.approx(1.0) for x in all_scores(r, merge_rates=False))
    assert all(h.merged_pairs == 0 and h.merge_rate == 0.0 for h in r.hard_cases)
    assert r.pairwise.false_merge_pairs == r.pairwise.missed_pairs == 0
    assert r.overmerged_clusters == r.split_persons == r.missing_from_pred == 0


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_all_singletons(case: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    truth, _, _ = case
    singletons = truth.select(SOURCE, RECORD_ID, pl.int_range(pl.len()).alias(PERSON_ID))
    r = evaluate(truth, singletons)
    assert (
        r.pairwise.predicted_pairs == 0 and r.pairwise.precision == 1.0
    )  # convention: nothing claimed
    has_pairs = truth.group_by(PERSON_ID).len().get_column("len").max() or 0
    if has_pairs >= 2:
        assert r.pairwise.recall == 0.0 and r.pairwise.f1 == 0.0
    assert r.bcubed.precision == 1.0


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 12)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_relabelling_changes_nothing(
    case: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], rnd
) -> None:
    truth, pred, candidates = case
    true_labels = sorted(set(truth[PERSON_ID]))
    shuffled = true_labels[:]
    rnd.shuffle(shuffled)
    relabel_truth = truth.with_columns(
        pl.col(PERSON_ID).replace_strict(
            true_labels, [f"other-{x}" for x in shuffled], default=None
        )
    )
    relabel_pred = pred.with_columns((pl.col(PERSON_ID) * 7919 + 13).cast(pl.String))
    before = evaluate(truth, pred, candidate_pairs=candidates).to_dict()
    after = evaluate(relabel_truth, relabel_pred, candidate_pairs=candidates).to_dict()
    assert _rounded(before) == _rounded(after)


# ------------------------------------------------------------------ speed
def synthetic(n: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """n records of about n/2.5 persons over 8 sources; predicted with 3% wrong, 1% missing."""
    rng = np.random.default_rng(seed)
    persons = rng.integers(0, int(n / 2.5) + 1, n)
    truth = pl.DataFrame(
        {
            SOURCE: pl.Series([f"dept{i}" for i in range(8)])[rng.integers(0, 8, n)],
            RECORD_ID: pl.Series(np.arange(n)).cast(pl.String),
            PERSON_ID: pl.Series(persons).cast(pl.String),
        }
    )
    predicted = np.where(rng.random(n) < 0.03, rng.integers(0, n, n), persons)
    pred = truth.with_columns(pl.Series(PERSON_ID, predicted)).sample(
        fraction=0.99, seed=seed, shuffle=True
    )
    return truth, pred
