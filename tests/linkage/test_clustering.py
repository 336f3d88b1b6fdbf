"""Clustering: connected components, constraints as data, Kruskal re-clustering of violators."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linkage.clustering import (
    AMBIGUOUS,
    CUT_REASON,
    MUST_LINK_RULE,
    CannotLink,
    ClusterResult,
    Constraint,
    DistinctValues,
    LifelongIdsApart,
    MaxClusterSize,
    MustLink,
    RowIndex,
    cluster,
    default_constraints,
)
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError

A, B, C, D, E = range(5)
ID1, ID2 = "110101199003071234", "110101198512120021"


def records(
    ids: dict[int, tuple[str, str]] | None = None, n: int = 5, row_ids: list[int] | None = None
) -> pl.DataFrame:
    """n records; ``ids`` maps a position to (ID_KIND, ID_NORM)."""
    ids = ids or {}
    return pl.DataFrame(
        {
            s.ROW_ID: pl.Series(row_ids if row_ids is not None else range(n), dtype=pl.UInt32),
            s.ID_KIND: [ids.get(i, (None, None))[0] for i in range(n)],
            s.ID_NORM: [ids.get(i, (None, None))[1] for i in range(n)],
        },
        schema_overrides={s.ID_KIND: pl.String, s.ID_NORM: pl.String},
    ).with_columns(pl.col(s.ID_NORM).alias(s.ID_CHECKED))  # the numbers are the holders' own


def pairs(*edges: tuple[int, int, float]) -> pl.DataFrame:
    """Scored pairs from (row_l, row_r, weight); probability from the weight."""
    frame = pl.DataFrame(
        {
            s.ROW_L: [e[0] for e in edges],
            s.ROW_R: [e[1] for e in edges],
            s.MATCH_WEIGHT: [e[2] for e in edges],
        },
        schema={s.ROW_L: pl.UInt32, s.ROW_R: pl.UInt32, s.MATCH_WEIGHT: pl.Float64},
    )
    return frame.with_columns((1 / (1 + 2 ** -pl.col(s.MATCH_WEIGHT))).alias(s.MATCH_PROBABILITY))


def groups(result: ClusterResult) -> set[frozenset[int]]:
    """The clusters as sets of row ids."""
    frame = result.clusters.group_by(s.CLUSTER_ID).agg(pl.col(s.ROW_ID))
    return {frozenset(ids) for ids in frame[s.ROW_ID].to_list()}


# ------------------------------------------------------------------- basics
def test_components_and_singletons() -> None:
    result = cluster(records(), pairs((A, B, 10), (C, D, 8)), threshold=0.9)
    assert groups(result) == {frozenset({A, B}), frozenset({C, D}), frozenset({E})}
    assert result.clusters[s.CLUSTER_ID].dtype == pl.UInt32
    assert result.clusters[s.ROW_ID].to_list() == [A, B, C, D, E]
    assert result.components_broken == 0 and result.cut_edges.height == 0
    best = dict(
        zip(result.clusters[s.ROW_ID].to_list(), result.clusters[s.MATCH_PROBABILITY].to_list())
    )
    assert best[E] is None and best[A] == pytest.approx(1 / (1 + 2**-10))


def test_cluster_ids_numbered_by_first_record() -> None:
    result = cluster(records(), pairs((C, E, 10), (A, D, 10)), threshold=0.5)
    assert result.clusters[s.CLUSTER_ID].to_list() == [0, 1, 2, 0, 2]


def test_threshold_is_inclusive_and_lower_edges_ignored() -> None:
    frame = pairs((A, B, 0), (B, C, 0.001))  # probabilities 0.5 and 0.50017
    result = cluster(records(), frame, threshold=0.5)
    assert groups(result) >= {frozenset({A, B, C})}
    assert groups(cluster(records(), frame, threshold=0.5001)) >= {
        frozenset({B, C}),
        frozenset({A}),
    }


def test_best_probability_is_max_over_kept_edges() -> None:
    result = cluster(records(), pairs((A, B, 3), (B, C, 9)), threshold=0.5)
    best = dict(
        zip(result.clusters[s.ROW_ID].to_list(), result.clusters[s.MATCH_PROBABILITY].to_list())
    )
    assert best[B] == pytest.approx(1 / (1 + 2**-9))
    assert best[A] == pytest.approx(1 / (1 + 2**-3))


# --------------------------------------------------------------- constraints
@pytest.mark.parametrize(("w_ab", "w_bc", "cut"), [(10, 5, (B, C)), (5, 10, (A, B))])
def test_chain_with_two_resident_ids_cut_at_weakest_edge(
    w_ab: float, w_bc: float, cut: tuple[int, int]
) -> None:
    data = records({A: ("RESIDENT", ID1), C: ("RESIDENT", ID2)})
    result = cluster(data, pairs((A, B, w_ab), (B, C, w_bc)), threshold=0.9)
    assert result.clusters.height == 5  # no record dropped
    assert result.components_broken == 1 and result.violations == {"one_resident_id": 1}
    assert result.cut_edges.select(s.ROW_L, s.ROW_R).rows() == [cut]
    assert result.cut_edges[CUT_REASON].to_list() == ["one_resident_id"]
    kept = {A, B, C} - {cut[0] if cut == (A, B) else cut[1]}
    assert frozenset(kept) in groups(result)


def test_same_resident_id_twice_is_fine() -> None:
    data = records({A: ("RESIDENT", ID1), C: ("RESIDENT", ID1)})
    result = cluster(data, pairs((A, B, 10), (B, C, 5)), threshold=0.9)
    assert frozenset({A, B, C}) in groups(result)
    assert result.components_reclustered == 0


def test_constraints_are_per_id_kind() -> None:
    data = records(
        {
            A: ("RESIDENT", ID1),
            B: ("HMT_PERMIT", "810000199408230011"),
            C: ("PASSPORT", "E12345678"),
            D: ("PASSPORT", "E87654321"),
        }
    )
    result = cluster(data, pairs((A, B, 10), (B, C, 9), (C, D, 8)), threshold=0.9)
    assert frozenset({A, B, C, D}) in groups(result)  # passports are reissued: not constrained


def test_three_ids_in_a_star_leave_each_id_alone() -> None:
    data = records({B: ("RESIDENT", "1"), C: ("RESIDENT", "2"), D: ("RESIDENT", "3")})
    star = pairs((A, B, 12), (A, C, 7), (A, D, 8), (D, E, 20))
    result = cluster(data, star, threshold=0.5)
    assert groups(result) == {frozenset({A, B}), frozenset({C}), frozenset({D, E})}
    assert result.cut_edges.height == 2 and result.components_broken == 1


def test_record_between_two_persons_is_left_alone() -> None:
    """A record without an ID, as like one person as the other, is given to neither."""
    data = records({B: ("RESIDENT", "1"), C: ("RESIDENT", "2"), D: ("RESIDENT", "3")})
    star = pairs((A, B, 9), (A, C, 7), (A, D, 8), (D, E, 20))
    result = cluster(data, star, threshold=0.5)
    assert groups(result) == {frozenset({A}), frozenset({B}), frozenset({C}), frozenset({D, E})}
    assert set(result.cut_edges[CUT_REASON]) == {AMBIGUOUS}
    # without the ambiguity rule the strongest edge wins
    old = cluster(data, star, threshold=0.5, ambiguity_margin=None)
    assert groups(old) == {frozenset({A, B}), frozenset({C}), frozenset({D, E})}
    with pytest.raises(ConfigError, match="ambiguity_margin"):
        cluster(data, star, threshold=0.5, ambiguity_margin=-1)


def test_record_whose_own_id_rules_out_the_other_person_is_not_ambiguous() -> None:
    data = records({A: ("RESIDENT", "1"), B: ("RESIDENT", "1"), C: ("RESIDENT", "2")})
    result = cluster(data, pairs((A, B, 9), (A, C, 8), (C, D, 20)), threshold=0.5)
    assert groups(result) == {frozenset({A, B}), frozenset({C, D}), frozenset({E})}


def unverified_records(numbers: dict[int, tuple[str, str | None]], n: int = 5) -> pl.DataFrame:
    """n resident-ID records; ``numbers`` maps a position to (number, ID_REASON or None).

    A 15-digit number gets its upgrade's key (no check character verified it); a
    number with reason ID_CHECKSUM_FAILED gets no key, as the normalizer leaves it.
    """
    def key(number: str, reason: str | None) -> str | None:
        if reason == "ID_CHECKSUM_FAILED":
            return None
        if len(number) == 15:  # the body of the upgrade; its check character does not matter here
            number = number[:6] + "19" + number[6:] + "0"
        return f"RESIDENT:{number}"

    rows = [numbers.get(i) for i in range(n)]
    frame = pl.DataFrame(
        {
            s.ROW_ID: pl.Series(range(n), dtype=pl.UInt32),
            s.ID_KIND: ["RESIDENT" if r else None for r in rows],
            s.ID_CLEAN: [r[0] if r else None for r in rows],
            s.ID_REASON: [(r[1] or "OK") if r else None for r in rows],
            s.ID_OWN: [key(*r) if r else None for r in rows],
        },
        schema_overrides={c: pl.String for c in (s.ID_KIND, s.ID_CLEAN, s.ID_REASON, s.ID_OWN)},
    )
    verified = (pl.col(s.ID_REASON) == "OK") & (pl.col(s.ID_CLEAN).str.len_chars() == 18)
    return frame.with_columns(pl.when(verified).then(pl.col(s.ID_OWN)).alias(s.ID_CHECKED))


LEGACY_OTHER = "340802420801107"  # another person's 15-digit number: 6 body places differ
LEGACY_TYPO = ID1[:6] + ID1[8:14] + "9" + ID1[15:17]  # ID1's body as 15 digits, one digit off


@pytest.mark.parametrize(
    ("other", "apart"),
    [
        pytest.param((LEGACY_OTHER, "ID_LEGACY_15_UPGRADED"), True, id="legacy-far"),
        pytest.param((LEGACY_TYPO, "ID_LEGACY_15_UPGRADED"), False, id="legacy-typo"),
        pytest.param(("360724200807011635", "ID_CHECKSUM_FAILED"), True, id="checksum-far"),
        pytest.param((ID1[:16] + "99", "ID_CHECKSUM_FAILED"), False, id="checksum-typo"),
    ],
)
def test_unverified_number_far_from_a_verified_one_is_another_person(
    other: tuple[str, str], apart: bool
) -> None:
    data = unverified_records({A: (ID1, None), C: other})
    result = cluster(data, pairs((A, B, 10), (B, C, 5)), threshold=0.9)
    if apart:
        assert result.violations == {"resident_ids_apart": 1}
        assert result.cut_edges[CUT_REASON].to_list() == ["resident_ids_apart"]
        assert frozenset({A, B}) in groups(result) and frozenset({C}) in groups(result)
    else:
        assert frozenset({A, B, C}) in groups(result) and result.components_reclustered == 0


def test_checksum_failed_number_of_someone_else_born_does_not_count() -> None:
    # the record's own birth date is not the one its number encodes: maybe a guardian's number
    data = unverified_records({A: (ID1, None), C: ("360724200807011635", "ID_CHECKSUM_FAILED")})
    born = [None, None, dt.date(2015, 3, 1), None, None]
    data = data.with_columns(pl.Series(s.BIRTH_DATE_NORM, born, dtype=pl.Date))
    result = cluster(data, pairs((A, B, 10), (B, C, 5)), threshold=0.9)
    assert frozenset({A, B, C}) in groups(result)


_BODIES = ["11010119900307123", "11010119900307129", "34080219420801107", "11010119900307923"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.sampled_from(_BODIES), st.booleans()), max_size=12)
)
def test_ids_apart_violations_match_the_pairwise_rule(entries) -> None:  # type: ignore[no-untyped-def]
    """Vectorized violation detection flags exactly the components with a conflicting pair."""
    rule = LifelongIdsApart("RESIDENT", max_typo_positions=2)
    n = len(entries)
    data = pl.DataFrame(
        {
            s.ROW_ID: pl.Series(range(n), dtype=pl.UInt32),
            s.ID_KIND: pl.Series(["RESIDENT"] * n, dtype=pl.String),
            s.ID_OWN: pl.Series([f"RESIDENT:{b}X" for _, b, _ in entries], dtype=pl.String),
            s.ID_CHECKED: pl.Series(
                [f"RESIDENT:{b}X" if v else None for _, b, v in entries], dtype=pl.String
            ),
        }
    )
    labels = np.array([label for label, _, _ in entries], dtype=np.int64)
    bound = rule.bind(data, RowIndex(data[s.ROW_ID]))
    got = set(bound.violating(labels).tolist())

    def conflict(x: tuple[int, str, bool], y: tuple[int, str, bool]) -> bool:
        if x[2] and y[2]:
            return False
        return sum(p != q for p, q in zip(x[1], y[1], strict=True)) > 2

    want = {x[0] for x in entries for y in entries if x[0] == y[0] and conflict(x, y)}
    assert got == want
    # the replay's union test: merging a component's records one by one, a union is refused
    # exactly when the component has a conflict, and what it accepts never holds one
    states = bound.initial_states(np.arange(n))
    for label in set(labels.tolist()):
        merged, refused = None, False
        for k in np.flatnonzero(labels == label).tolist():
            if bound.allows(merged, states[k]):
                merged = bound.merge(merged, states[k])
            else:
                refused = True
        assert refused == (label in want)
        held = [(label, *x) for x in (merged or ())]
        assert not any(conflict(x, y) for x in held for y in held)


def test_cannot_link_cuts_a_direct_edge_and_a_chain() -> None:
    result = cluster(
        records(),
        pairs((A, B, 10), (C, D, 10), (D, E, 4)),
        threshold=0.9,
        constraints=[CannotLink([(A, B), (E, C)])],
    )
    assert groups(result) == {frozenset({A}), frozenset({B}), frozenset({C, D}), frozenset({E})}
    assert set(result.cut_edges[CUT_REASON]) == {"cannot_link"}
    assert result.violations == {"cannot_link": 2}


def test_must_link_joins_unscored_records_and_overrides_automatic_rules() -> None:
    data = records({A: ("RESIDENT", ID1), B: ("RESIDENT", ID2)})
    result = cluster(
        data, pairs(), threshold=0.9, constraints=[*default_constraints(), MustLink([(B, A)])]
    )
    assert frozenset({A, B}) in groups(result)
    edge = result.kept_edges.row(0, named=True)
    assert (edge[s.ROW_L], edge[s.ROW_R], edge[s.RULE]) == (A, B, MUST_LINK_RULE)
    assert edge[s.MATCH_PROBABILITY] == 1.0


def test_forced_cluster_with_two_ids_may_grow_but_not_take_a_third() -> None:
    data = records(
        {A: ("RESIDENT", ID1), B: ("RESIDENT", ID2), C: ("RESIDENT", ID1), D: ("RESIDENT", "3")}
    )
    result = cluster(
        data,
        pairs((B, C, 10), (C, D, 8)),
        threshold=0.9,
        constraints=[*default_constraints(), MustLink([(A, B)])],
    )
    assert groups(result) == {frozenset({A, B, C}), frozenset({D}), frozenset({E})}


def test_must_link_refused_by_cannot_link(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="linkage.clustering"):
        result = cluster(
            records(),
            pairs(),
            threshold=0.9,
            constraints=[MustLink([(A, B)]), CannotLink([(A, B)])],
        )
    assert frozenset({A}) in groups(result) and frozenset({B}) in groups(result)
    assert result.cut_edges[CUT_REASON].to_list() == ["cannot_link"]
    assert "conflicts with constraint cannot_link" in caplog.text


def test_pair_both_scored_and_must_linked_is_one_edge() -> None:
    result = cluster(records(), pairs((A, B, 10)), threshold=0.9, constraints=[MustLink([(A, B)])])
    assert result.kept_edges.height == 1 and result.kept_edges[s.RULE].to_list() == [MUST_LINK_RULE]


def test_oversized_component_is_cut_and_alarmed(caplog: pytest.LogCaptureFixture) -> None:
    n = 10
    chain = pairs(*((i, i + 1, 10 + i) for i in range(n - 1)))
    with caplog.at_level(logging.WARNING, logger="linkage.clustering"):
        result = cluster(records(n=n), chain, threshold=0.5, max_cluster_size=4)
    assert result.oversized == (10,)
    assert "exceed max_cluster_size=4" in caplog.text
    sizes = sorted(len(g) for g in groups(result))
    assert max(sizes) <= 4 and sum(sizes) == n
    # the strongest edges (at the end of the chain) survive
    assert frozenset({6, 7, 8, 9}) in groups(result)
    assert set(result.cut_edges[CUT_REASON]) == {"max_cluster_size"}


def test_non_dense_row_ids_and_unknown_rows() -> None:
    data = records(n=3, row_ids=[10, 3, 7])
    result = cluster(data, pairs((3, 10, 10), (7, 99, 10)), threshold=0.9)
    assert result.clusters[s.ROW_ID].to_list() == [10, 3, 7]
    assert groups(result) == {frozenset({3, 10}), frozenset({7})}
    assert result.edges_ignored == 1


def test_empty_inputs() -> None:
    result = cluster(records(n=0), pairs(), threshold=0.9)
    assert result.clusters.height == 0 and result.n_clusters == 0


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        cluster(records(), pairs(), threshold=1.5)
    with pytest.raises(ConfigError, match="max_cluster_size"):
        cluster(records(), pairs(), threshold=0.9, max_cluster_size=0)
    with pytest.raises(SchemaError, match="lacks"):
        cluster(records().drop(s.ID_CHECKED), pairs(), threshold=0.9)
    with pytest.raises(SchemaError, match="duplicate"):
        cluster(records(n=2, row_ids=[4, 4]), pairs(), threshold=0.9)


def test_constraints_are_declarative_objects() -> None:
    rule = DistinctValues(s.ID_NORM, where={s.ID_KIND: "RESIDENT"}, name="one_resident_id")
    assert rule == eval(repr(rule), {"DistinctValues": DistinctValues})
    assert isinstance(rule, Constraint) and isinstance(CannotLink([(1, 2)]), Constraint)
    assert CannotLink([(2, 1), (1, 2)]).pairs == ((1, 2),)
    assert isinstance(MaxClusterSize(3), Constraint)
    with pytest.raises(ConfigError):
        DistinctValues(s.ID_NORM, limit=0)


# ---------------------------------------------------------------- properties
@st.composite
def graphs(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, list[tuple[int, int]]]:
    n = draw(st.integers(1, 25))
    ids = draw(st.lists(st.sampled_from([None, "1", "2", "3"]), min_size=n, max_size=n))
    data = records({i: ("RESIDENT", v) for i, v in enumerate(ids) if v is not None}, n=n)
    edges = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1), st.integers(0, n - 1), st.floats(-5, 20, allow_nan=False)
            ),
            max_size=3 * n,
        )
    )
    unique = {}
    for left, right, weight in edges:
        if left != right:
            unique[(min(left, right), max(left, right))] = weight
    frame = pairs(*((left, right, weight) for (left, right), weight in sorted(unique.items())))
    cannot = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3))
    return data, frame, cannot


@settings(max_examples=200, deadline=None)
@given(graphs(), st.integers(2, 6), st.randoms(use_true_random=False))
def test_clusters_obey_every_constraint(graph, limit: int, rnd) -> None:  # type: ignore[no-untyped-def]
    data, frame, cannot = graph
    rules = [*default_constraints(), CannotLink(cannot)]
    result = cluster(data, frame, threshold=0.5, constraints=rules, max_cluster_size=limit)
    clusters = result.clusters.join(data, on=s.ROW_ID)
    # every record exactly once
    assert sorted(clusters[s.ROW_ID].to_list()) == list(range(data.height))
    # at most one resident ID and at most `limit` records per cluster
    per = clusters.group_by(s.CLUSTER_ID).agg(pl.col(s.ID_NORM).drop_nulls().n_unique(), pl.len())
    assert per[s.ID_NORM].max() <= 1 and per["len"].max() <= limit
    label = dict(zip(clusters[s.ROW_ID].to_list(), clusters[s.CLUSTER_ID].to_list()))
    assert all(label[a] != label[b] for a, b in cannot if a != b)
    # kept edges lie inside clusters and connect them; cut edges cross clusters
    assert all(label[a] == label[b] for a, b in result.kept_edges.select(s.ROW_L, s.ROW_R).rows())
    assert all(label[a] != label[b] for a, b in result.cut_edges.select(s.ROW_L, s.ROW_R).rows())
    kept = result.kept_edges
    n = data.height
    graph_kept = coo_matrix(
        (np.ones(kept.height), (kept[s.ROW_L].to_numpy(), kept[s.ROW_R].to_numpy())), shape=(n, n)
    )
    count, _ = connected_components(graph_kept, directed=False)
    assert count == result.n_clusters
    # the same pairs in another order give the same clusters
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=rnd.randint(0, 1000))
    again = cluster(data, shuffled, threshold=0.5, constraints=rules, max_cluster_size=limit)
    assert again.clusters.equals(result.clusters)


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_components_without_violations_are_untouched(graph) -> None:  # type: ignore[no-untyped-def]
    data, frame, _ = graph
    plain = cluster(data, frame, threshold=0.5, constraints=[], max_cluster_size=10_000)
    constrained = cluster(data, frame, threshold=0.5)
    bad = (
        plain.clusters.join(data, on=s.ROW_ID)
        .group_by(s.CLUSTER_ID)
        .agg(pl.col(s.ID_NORM).drop_nulls().n_unique().alias("ids"), pl.col(s.ROW_ID))
    )
    for ids, rows in bad.select("ids", s.ROW_ID).rows():
        if ids <= 1:
            assert frozenset(rows) in groups(constrained)

