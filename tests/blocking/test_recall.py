"""blocking_recall / recall_by_rule against hand-computed values and full pair enumeration."""

from __future__ import annotations

import itertools

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given, settings

from blocking import blocking_recall, recall_by_rule
from blocking import recall as r
from normalizers import schema as s


def pairs_frame(rows: list[tuple[int, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={s.ROW_L: pl.UInt32, s.ROW_R: pl.UInt32, s.RULE: pl.String}, orient="row"
    )


# persons: rows 0,1,2 -> A (3 true pairs); 3,4 -> B (1); 5 unknown; 6 -> C alone
TRUTH = pl.Series(["A", "A", "A", "B", "B", None, "C"])


def test_true_pair_count() -> None:
    assert r.true_pair_count(TRUTH) == 4
    assert r.true_pair_count(pl.Series([1] * 1000)) == 499_500
    assert r.true_pair_count(pl.Series([], dtype=pl.Int64)) == 0


def test_hand_computed_recall() -> None:
    pairs = pairs_frame(
        [(0, 1, "id"), (1, 2, "name"), (3, 4, "name"), (0, 3, "name"), (5, 6, "id"), (4, 5, "id")]
    )
    # found: (0,1), (1,2), (3,4) of 4 true pairs; (0,3) and the pairs with the unknown row are false
    assert blocking_recall(pairs, TRUTH) == pytest.approx(3 / 4)
    table = recall_by_rule(pairs, TRUTH, ["id", "name", "phone"])
    assert table.to_dicts() == [
        {
            r.RULE_NAME: "id",
            r.PAIRS: 3,
            r.TRUE_PAIRS: 1,
            r.PRECISION: pytest.approx(1 / 3),
            r.RECALL: 0.25,
            r.CUMULATIVE_RECALL: 0.25,
        },
        {
            r.RULE_NAME: "name",
            r.PAIRS: 3,
            r.TRUE_PAIRS: 2,
            r.PRECISION: pytest.approx(2 / 3),
            r.RECALL: 0.5,
            r.CUMULATIVE_RECALL: 0.75,
        },
        {
            r.RULE_NAME: "phone",
            r.PAIRS: 0,
            r.TRUE_PAIRS: 0,
            r.PRECISION: None,
            r.RECALL: 0.0,
            r.CUMULATIVE_RECALL: 0.75,
        },
    ]


def test_default_rule_order_is_by_name() -> None:
    pairs = pairs_frame([(0, 1, "zeta"), (1, 2, "alpha")])
    assert recall_by_rule(pairs, TRUTH)[r.RULE_NAME].to_list() == ["alpha", "zeta"]


def test_no_true_pairs_means_nothing_missed() -> None:
    assert blocking_recall(pairs_frame([]), pl.Series([1, 2, 3])) == 1.0
    assert blocking_recall(pairs_frame([(0, 1, "x")]), pl.Series([1, 2])) == 1.0
    assert recall_by_rule(pairs_frame([(0, 1, "x")]), pl.Series([1, 2]))[r.RECALL].to_list() == [
        0.0
    ]


@settings(max_examples=100, deadline=None)
@given(
    persons=st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=2, max_size=15),
    data=st.data(),
)
def test_matches_enumeration(persons: list[int | None], data: st.DataObject) -> None:
    all_pairs = list(itertools.combinations(range(len(persons)), 2))
    chosen = data.draw(st.lists(st.sampled_from(all_pairs), unique=True))
    rules = data.draw(
        st.lists(st.sampled_from(["a", "b"]), min_size=len(chosen), max_size=len(chosen))
    )
    truth = pl.Series(persons, dtype=pl.Int64)
    true_pairs = {
        (i, j) for i, j in all_pairs if persons[i] is not None and persons[i] == persons[j]
    }
    found = true_pairs & set(chosen)
    expected = len(found) / len(true_pairs) if true_pairs else 1.0
    pairs = pairs_frame([(i, j, rule) for (i, j), rule in zip(chosen, rules)])
    assert blocking_recall(pairs, truth) == pytest.approx(expected)
    table = recall_by_rule(pairs, truth, ["a", "b"])
    if true_pairs:
        assert table[r.RECALL].sum() == pytest.approx(expected)
    assert table[r.TRUE_PAIRS].sum() == len(found)
