"""generate_pairs / estimate_pairs on small frames, against hand-computed and brute-force answers."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections import Counter

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given, settings

from blocking import BlockingResult, block_on, default_rules, estimate_pairs, generate_pairs
from blocking import pairs as blocking_pairs
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError


def frame(**columns: list) -> pl.DataFrame:
    """A records frame with dense row ids and the given key columns (lists become List(String))."""
    height = len(next(iter(columns.values())))
    return pl.DataFrame({s.ROW_ID: pl.Series(range(height), dtype=pl.UInt32), **columns})


def pair_set(result: BlockingResult) -> dict[tuple[int, int], str]:
    return {(l, r): rule for l, r, rule in result.pairs.iter_rows()}


def test_exact_pairs_one_rule() -> None:
    records = frame(a=["x", "x", "y", None, "x", "y", "z"])
    result = generate_pairs(records, [block_on("a")])
    assert pair_set(result) == {(0, 1): "a", (0, 4): "a", (1, 4): "a", (2, 5): "a"}
    assert result.pairs.schema == pl.Schema(
        {s.ROW_L: pl.UInt32, s.ROW_R: pl.UInt32, s.RULE: pl.String}
    )


def test_multi_column_rule_needs_all_columns() -> None:
    records = frame(
        a=["x", "x", "x", "x"],
        d=[dt.date(1990, 1, 1), dt.date(1990, 1, 1), dt.date(1991, 1, 1), None],
    )
    assert pair_set(generate_pairs(records, [block_on("a", "d")])) == {(0, 1): "a_d"}


def test_list_keys_explode_and_pairs_appear_once() -> None:
    records = frame(
        k=[["zhang wei", "wei zhang"], ["wei zhang", "zhang wei"], ["zhang wei"], [], None]
    )
    result = generate_pairs(records, [block_on("k")])
    assert pair_set(result) == {(0, 1): "k", (0, 2): "k", (1, 2): "k"}
    counts = result.counts.row(0, named=True)
    # blocks {0,1,2} and {0,1}: 3 + 1 pairs made, (0, 1) twice
    assert counts[blocking_pairs.MATERIALIZED_PAIRS] == 4
    assert counts[blocking_pairs.DISTINCT_PAIRS] == 3
    assert counts[blocking_pairs.NEW_PAIRS] == 3


def test_rejects_are_skipped_and_row_ids_are_not_positions() -> None:
    records = pl.DataFrame(
        {
            s.ROW_ID: pl.Series([10, 3, 7, 5], dtype=pl.UInt32),
            "a": ["x", "x", "x", "x"],
            s.RECORD_REASON: [None, None, "RECORD_NO_USABLE_FIELD", None],
        }
    )
    result = generate_pairs(records, [block_on("a")])
    assert pair_set(result) == {(3, 10): "a", (5, 10): "a", (3, 5): "a"}
    assert result.pairs[s.ROW_L].to_list() == sorted(result.pairs[s.ROW_L].to_list())


def test_first_rule_labels_the_pair() -> None:
    records = frame(a=["x", "x", "y", "y"], b=["p", "q", "r", "r"], c=["m", "m", "n", "n"])
    rules = [block_on("a", name="first"), block_on("b", name="second"), block_on("c", name="third")]
    result = generate_pairs(records, rules)
    assert pair_set(result) == {(0, 1): "first", (2, 3): "first"}
    counts = {r[blocking_pairs.RULE_NAME]: r for r in result.counts.iter_rows(named=True)}
    assert counts["second"][blocking_pairs.MATERIALIZED_PAIRS] == 1
    assert counts["second"][blocking_pairs.NEW_PAIRS] == 0
    assert counts["third"][blocking_pairs.MATERIALIZED_PAIRS] == 2
    assert counts["third"][blocking_pairs.NEW_PAIRS] == 0
    reordered = generate_pairs(records, rules[::-1])
    assert pair_set(reordered) == {(0, 1): "third", (2, 3): "third"}


def test_oversized_blocks_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    records = frame(phone=["+8613800138000"] * 5 + ["+8613912345678"] * 2 + ["+8613700000000"] * 3)
    rule = block_on("phone", name="phone_rule", max_block_size=3)
    with caplog.at_level(logging.WARNING, logger="blocking.pairs"):
        result = generate_pairs(records, [rule])
    assert pair_set(result) == {
        (5, 6): "phone_rule",
        (7, 8): "phone_rule",
        (7, 9): "phone_rule",
        (8, 9): "phone_rule",
    }
    counts = result.counts.row(0, named=True)
    assert counts[blocking_pairs.SKIPPED_BLOCKS] == 1
    assert counts[blocking_pairs.SKIPPED_RECORDS] == 5
    [message] = [r.getMessage() for r in caplog.records]
    assert "phone_rule" in message and "skipped 1 block" in message and "5 records" in message
    assert "138" not in message  # the key is personal data and never logged


def test_no_warning_without_oversized_blocks(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="blocking.pairs"):
        generate_pairs(frame(a=["x", "x"]), [block_on("a", max_block_size=2)])
    assert caplog.records == []


def test_counts_and_estimates_agree() -> None:
    records = frame(
        a=["x", "x", "x", "y", "y", None, "z"],
        k=[["p", "q"], ["q"], [], ["p"], ["p", "q"], ["p"], None],
    )
    rules = [block_on("a"), block_on("k", max_block_size=3), block_on("a", "k", name="both")]
    estimate = estimate_pairs(records, rules)
    result = generate_pairs(records, rules)
    assert estimate[blocking_pairs.RULE_NAME].to_list() == ["a", "k", "both"]
    assert (
        estimate[blocking_pairs.ESTIMATED_PAIRS].to_list()
        == result.counts[blocking_pairs.ESTIMATED_PAIRS].to_list()
    )
    assert (
        result.counts[blocking_pairs.ESTIMATED_PAIRS].to_list()
        == result.counts[blocking_pairs.MATERIALIZED_PAIRS].to_list()
    )
    rows = {r[blocking_pairs.RULE_NAME]: r for r in estimate.iter_rows(named=True)}
    # k: block p = {0, 3, 4, 5} (4 > cap 3, skipped), block q = {0, 1, 4}
    assert rows["k"] == {
        blocking_pairs.RULE_NAME: "k",
        blocking_pairs.KEYED_RECORDS: 5,
        blocking_pairs.BLOCKS: 2,
        blocking_pairs.LARGEST_BLOCK: 4,
        blocking_pairs.SKIPPED_BLOCKS: 1,
        blocking_pairs.SKIPPED_RECORDS: 4,
        blocking_pairs.ESTIMATED_PAIRS: 3,
    }
    assert rows["a"][blocking_pairs.ESTIMATED_PAIRS] == 4
    assert result.counts[blocking_pairs.NEW_PAIRS].sum() == result.pairs.height


def test_estimate_without_cap_equals_materialized_pairs() -> None:
    records = frame(
        a=[str(i % 7) for i in range(200)], k=[[str(i % 5), str(i % 3)] for i in range(200)]
    )
    rules = [block_on("a", max_block_size=10**9), block_on("k", max_block_size=10**9)]
    estimated = estimate_pairs(records, rules)[blocking_pairs.ESTIMATED_PAIRS].to_list()
    result = generate_pairs(records, rules)
    assert estimated == result.counts[blocking_pairs.MATERIALIZED_PAIRS].to_list()
    assert estimated[0] == sum(
        n * (n - 1) // 2 for n in Counter(i % 7 for i in range(200)).values()
    )


def test_progress_is_called_per_rule() -> None:
    seen: list[tuple[str, int]] = []
    generate_pairs(
        frame(a=["x", "x", "x"], b=["y", "y", "z"]),
        [block_on("a"), block_on("b")],
        progress=lambda name, n: seen.append((name, n)),
    )
    assert seen == [("a", 3), ("b", 1)]


def test_empty_and_all_rejected_inputs() -> None:
    empty = frame(a=pl.Series([], dtype=pl.String))
    result = generate_pairs(empty, [block_on("a")])
    assert result.pairs.height == 0
    assert result.pairs.schema == pl.Schema(blocking_pairs.PAIRS_SCHEMA)
    assert result.counts.schema == pl.Schema(blocking_pairs.COUNTS_SCHEMA)
    rejected = frame(a=["x", "x"]).with_columns(pl.lit("RECORD_MISSING_KEY").alias(s.RECORD_REASON))
    assert generate_pairs(rejected, [block_on("a")]).pairs.height == 0
    none = generate_pairs(frame(a=["x", "x"]), [])
    assert none.pairs.height == 0 and none.counts.height == 0


def test_errors() -> None:
    records = frame(a=["x", "x"])
    with pytest.raises(ConfigError, match="rules"):
        generate_pairs(
            records, [block_on("a", name="r"), block_on("a", name="r", max_block_size=3)]
        )
    with pytest.raises(SchemaError, match="'b'"):
        generate_pairs(records, [block_on("b")])
    with pytest.raises(SchemaError, match=s.ROW_ID):
        generate_pairs(records.drop(s.ROW_ID), [block_on("a")])


def test_row_id_is_cast_to_uint32() -> None:
    records = pl.DataFrame({s.ROW_ID: [0, 1], "a": ["x", "x"]})
    assert generate_pairs(records, [block_on("a")]).pairs.schema[s.ROW_L] == pl.UInt32


class FirstLetter:
    """A blocker that is not a BlockingRule: records whose names start alike."""

    name = "first_letter"
    max_block_size = 100

    def key_frame(self, records: pl.DataFrame) -> pl.DataFrame:
        return records.select(s.ROW_ID, pl.col("n").str.head(1).alias("_letter")).drop_nulls()


def test_custom_blocker() -> None:
    records = frame(n=["wang", "wu", "li", None], a=["1", "2", "3", "3"])
    result = generate_pairs(records, [FirstLetter(), block_on("a")])
    assert pair_set(result) == {(0, 1): "first_letter", (2, 3): "a"}


def _normalized(rows: list[dict]) -> pl.DataFrame:
    """A frame with every column the default rules and add_blocking_keys read."""
    schema = {
        s.ROW_ID: pl.UInt32,
        s.RECORD_REASON: pl.String,
        s.ID_KIND: pl.String,
        s.ID_NORM: pl.String,
        s.ID_KEY: pl.String,
        s.ID_MASK_PATTERN: pl.String,
        s.ID_REPAIRS: pl.List(pl.String),
        s.NAME_NORM: pl.String,
        s.NAME_PINYIN: pl.String,
        s.NAME_SURNAME_PINYIN: pl.String,
        s.DOB: pl.Date,
        s.SEX_BEST: pl.String,
        s.PHONE_NORM: pl.String,
        s.NAME_KEYS: pl.List(pl.String),
    }
    filled = [{**{c: None for c in schema}, s.ROW_ID: i, **row} for i, row in enumerate(rows)]
    return pl.DataFrame(filled, schema=schema)


def test_default_rules_on_normalized_records() -> None:
    valid = "110101199003071233"
    born = dt.date(1990, 3, 7)
    records = _normalized(
        [
            # 0: full record
            {
                s.ID_KIND: "RESIDENT",
                s.ID_NORM: valid,
                s.ID_KEY: f"RESIDENT:{valid}",
                s.NAME_NORM: "张伟",
                s.NAME_PINYIN: "zhang wei",
                s.NAME_SURNAME_PINYIN: "zhang",
                s.DOB: born,
                s.SEX_BEST: "M",
                s.PHONE_NORM: "+8613812345678",
                s.NAME_KEYS: ["zhang wei"],
            },
            # 1: same person, ID typo with the right repair among the candidates
            {
                s.ID_KIND: "RESIDENT",
                s.ID_REPAIRS: [valid, "110101199603071237"],
                s.NAME_NORM: "张卫",
                s.NAME_PINYIN: "zhang wei",
                s.NAME_SURNAME_PINYIN: "zhang",
                s.NAME_KEYS: ["zhang wei"],
            },
            # 2: court list, masked ID
            {
                s.ID_KIND: "RESIDENT",
                s.ID_MASK_PATTERN: "110101********1233",
                s.NAME_NORM: "张伟",
                s.NAME_SURNAME_PINYIN: "zhang",
            },
            # 3: passport record: romanized name only
            {s.NAME_KEYS: ["zhang wei", "wei zhang"], s.DOB: born},
            # 4: phone and surname only, given name misspelt
            {
                s.NAME_NORM: "张为",
                s.NAME_PINYIN: "zhang wei",
                s.NAME_SURNAME_PINYIN: "zhang",
                s.PHONE_NORM: "+8613812345678",
                s.NAME_KEYS: ["zhang wei"],
            },
            # 5: a reject that would match everything
            {
                s.RECORD_REASON: "RECORD_DUPLICATE_KEY",
                s.ID_KEY: f"RESIDENT:{valid}",
                s.NAME_NORM: "张伟",
            },
            # 6: volunteer record: the name and a newer phone, nothing else
            {s.NAME_NORM: "张伟", s.PHONE_NORM: "+8613900000000"},
        ]
    )
    result = generate_pairs(records)  # keys derived on the fly
    assert pair_set(result) == {
        (0, 1): "id",
        (0, 2): "id_mask_surname",
        (0, 3): "name_keys_dob",
        (0, 4): "phone_surname",
        (0, 6): "rare_name",
        (2, 6): "rare_name",
    }
    assert result.counts[blocking_pairs.RULE_NAME].to_list() == [r.name for r in default_rules()]


# ------------------------------------------------------------ brute force property

_LIST_COLUMNS = ("k", "m")
_VALUES = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
_LISTS = st.one_of(st.none(), st.lists(st.sampled_from(["p", "q", "r", "s"]), max_size=3))
_RULE_SETS = [
    [block_on("x", max_block_size=4), block_on("k", "y", max_block_size=3), block_on("k", "m")],
    [block_on("k"), block_on("x", "y", max_block_size=2)],
    [block_on("m", "k", max_block_size=5), block_on("y")],
]


def _brute_force(rows: list[dict], rules: list) -> dict[tuple[int, int], str]:
    """Pairs by definition: share a full key under some rule whose block is within the cap."""

    def key_tuples(row: dict, columns: tuple[str, ...]) -> set[tuple]:
        if row["reason"] is not None:
            return set()
        options = []
        for c in columns:
            if c in _LIST_COLUMNS:
                options.append(set(row[c] or ()))
            else:
                options.append({row[c]} - {None})
        return set(itertools.product(*options))

    found: dict[tuple[int, int], str] = {}
    for rule in rules:
        keys = [key_tuples(r, rule.columns) for r in rows]
        sizes = Counter(t for ks in keys for t in ks)
        for i, j in itertools.combinations(range(len(rows)), 2):
            shared = keys[i] & keys[j]
            if any(sizes[t] <= rule.max_block_size for t in shared):
                found.setdefault((i, j), rule.name)
    return found


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "x": _VALUES,
                "y": _VALUES,
                "k": _LISTS,
                "m": _LISTS,
                "reason": st.one_of(st.none(), st.just("RECORD_NO_USABLE_FIELD")),
            }
        ),
        max_size=14,
    ),
    rule_set=st.sampled_from(range(len(_RULE_SETS))),
)
def test_matches_brute_force(rows: list[dict], rule_set: int) -> None:
    rules = _RULE_SETS[rule_set]
    records = pl.DataFrame(
        {
            s.ROW_ID: pl.Series(range(len(rows)), dtype=pl.UInt32),
            "x": pl.Series([r["x"] for r in rows], dtype=pl.String),
            "y": pl.Series([r["y"] for r in rows], dtype=pl.String),
            "k": pl.Series([r["k"] for r in rows], dtype=pl.List(pl.String)),
            "m": pl.Series([r["m"] for r in rows], dtype=pl.List(pl.String)),
            s.RECORD_REASON: pl.Series([r["reason"] for r in rows], dtype=pl.String),
        }
    )
    result = generate_pairs(records, rules)
    assert pair_set(result) == _brute_force(rows, rules)
    pairs = result.pairs
    assert (pairs[s.ROW_L] < pairs[s.ROW_R]).all()
    assert pairs.select(s.ROW_L, s.ROW_R).is_unique().all()
    assert result.counts[blocking_pairs.NEW_PAIRS].sum() == pairs.height
    estimated = estimate_pairs(records, rules)[blocking_pairs.ESTIMATED_PAIRS]
    assert estimated.to_list() == result.counts[blocking_pairs.MATERIALIZED_PAIRS].to_list()


def test_huge_row_ids_take_the_unpacked_dedupe() -> None:
    big = 4_000_000_000
    records = pl.DataFrame(
        {
            s.ROW_ID: pl.Series([big + 2, 7, big, big + 1], dtype=pl.UInt32),
            "a": ["x", "x", "x", "y"],
            "b": ["p", "q", "p", "y"],
        }
    )
    result = generate_pairs(records, [block_on("b"), block_on("a")])
    assert pair_set(result) == {(big, big + 2): "b", (7, big): "a", (7, big + 2): "a"}
    assert result.pairs[s.ROW_L].to_list() == [7, 7, big]
