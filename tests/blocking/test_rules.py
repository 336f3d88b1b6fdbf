"""BlockingRule: construction, validation, repr, dict/TOML round trip, default rules."""

from __future__ import annotations

import dataclasses
import tomllib

import polars as pl
import pytest

from blocking import Blocker, BlockingRule, block_on, default_rules, latin_rules
from blocking.latin_keys import LATIN_KEYS
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError

# the Latin-script key columns are defined in blocking.latin_keys until schema.py takes them
SCHEMA_COLUMNS = {v for k, v in vars(s).items() if k.isupper() and isinstance(v, str)} | set(
    LATIN_KEYS
)


def test_block_on_defaults() -> None:
    rule = block_on(s.NAME_PINYIN, s.DOB)
    assert rule.columns == (s.NAME_PINYIN, s.DOB)
    assert rule.name == "name_pinyin_dob"
    assert rule.max_block_size == 1000


def test_block_on_options() -> None:
    rule = block_on(s.PHONE_NORM, name="phone", max_block_size=50)
    assert (rule.name, rule.columns, rule.max_block_size) == ("phone", (s.PHONE_NORM,), 50)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        pytest.param(lambda: block_on(), "columns", id="no-columns"),
        pytest.param(lambda: block_on("a", max_block_size=0), "max_block_size", id="zero-cap"),
        pytest.param(lambda: block_on("a", max_block_size=-5), "max_block_size", id="negative-cap"),
        pytest.param(lambda: block_on("a", max_block_size=True), "max_block_size", id="bool-cap"),
        pytest.param(lambda: block_on("a", max_block_size=2.5), "max_block_size", id="float-cap"),
        pytest.param(lambda: block_on("a", name=""), "name", id="empty-name"),
        pytest.param(lambda: block_on("a", name="  "), "name", id="blank-name"),
        pytest.param(lambda: block_on("a", ""), "columns", id="empty-column"),
        pytest.param(lambda: block_on("a", "a"), "columns", id="repeated-column"),
        pytest.param(lambda: block_on("a", 3), "columns", id="non-string-column"),
        pytest.param(lambda: BlockingRule("r", "abc"), "columns", id="string-as-columns"),
    ],
)
def test_validation_names_the_argument(call, argument: str) -> None:
    with pytest.raises(ConfigError, match=f"^{argument}:"):
        call()


def test_rule_is_frozen_and_hashable() -> None:
    rule = block_on("a", "b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.name = "other"  # type: ignore[misc]
    assert len({rule, block_on("a", "b"), block_on("b", "a")}) == 2


@pytest.mark.parametrize(
    "rule",
    [
        block_on("a"),
        block_on("a", "b", name="custom"),
        block_on("a", max_block_size=7),
        block_on("a", "b", name="x'y", max_block_size=3),
        *default_rules(),
    ],
    ids=repr,
)
def test_repr_rebuilds_the_rule(rule: BlockingRule) -> None:
    assert eval(repr(rule), {"block_on": block_on}) == rule
    assert repr(rule).startswith("block_on(")


def test_repr_is_minimal() -> None:
    assert repr(block_on("surname", "dob")) == "block_on('surname', 'dob')"
    assert (
        repr(block_on("a", name="n", max_block_size=5))
        == "block_on('a', name='n', max_block_size=5)"
    )


@pytest.mark.parametrize("rule", [*default_rules(), block_on("x")], ids=repr)
def test_dict_round_trip(rule: BlockingRule) -> None:
    data = rule.to_dict()
    assert data == {
        "name": rule.name,
        "columns": list(rule.columns),
        "max_block_size": rule.max_block_size,
    }
    assert BlockingRule.from_dict(data) == rule


def test_toml_round_trip() -> None:
    text = """
    [[blocking]]
    name = "name_dob"
    columns = ["name_pinyin", "dob"]
    max_block_size = 500

    [[blocking]]
    columns = ["phone_norm"]
    """
    rules = [BlockingRule.from_dict(d) for d in tomllib.loads(text)["blocking"]]
    assert rules == [
        block_on(s.NAME_PINYIN, s.DOB, name="name_dob", max_block_size=500),
        block_on(s.PHONE_NORM),
    ]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        pytest.param({"columns": ["a"], "max_blocksize": 3}, "max_blocksize", id="typo"),
        pytest.param({"name": "x"}, "columns", id="missing-columns"),
        pytest.param({"columns": "a"}, "columns", id="string-columns"),
        pytest.param({"columns": []}, "columns", id="no-columns"),
        pytest.param({"columns": ["a"], "max_block_size": "9"}, "max_block_size", id="string-cap"),
        pytest.param({"columns": ["a"], "name": 4}, "name", id="numeric-name"),
    ],
)
def test_from_dict_errors_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}:"):
        BlockingRule.from_dict(data)


def test_from_dict_rejects_non_mapping() -> None:
    with pytest.raises(ConfigError):
        BlockingRule.from_dict(["a"])  # type: ignore[arg-type]


def test_default_rules() -> None:
    rules = default_rules()
    names = [r.name for r in rules]
    assert names == [
        "id",
        "id_mask_surname",
        "name_dob",
        "phone_surname",
        "name_keys_dob",
        "name_keys_phone",
        "latin_name_dob",
        "rare_name",
    ]
    assert rules[0].columns == (s.KEY_ID_CANDIDATES,)
    for rule in rules:
        assert isinstance(rule, Blocker)
        assert set(rule.columns) <= SCHEMA_COLUMNS, rule
    assert default_rules() == rules  # a fresh, equal tuple each call


def test_latin_rules() -> None:
    rules = latin_rules()
    assert [r.name for r in rules] == [
        "document",
        "latin_name",
        "name_part_dob",
        "name_part_address",
        "dob_address",
        "name_part_year",
        "name_part_place",
    ]
    for rule in rules:
        assert isinstance(rule, Blocker)
        assert set(rule.columns) <= SCHEMA_COLUMNS, rule
        assert rule.max_block_size <= 200, rule  # every Western-name rule is capped
        assert BlockingRule.from_dict(rule.to_dict()) == rule


def test_key_frame_explodes_lists_and_drops_nulls() -> None:
    frame = pl.DataFrame(
        {
            s.ROW_ID: pl.Series([0, 1, 2, 3], dtype=pl.UInt32),
            "k": [["a", "b", "a"], [], None, ["c", None]],
            "d": ["x", "y", "z", None],
        }
    )
    keys = block_on("k", "d").key_frame(frame).sort(s.ROW_ID, "k")
    assert keys.to_dicts() == [{s.ROW_ID: 0, "k": "a", "d": "x"}, {s.ROW_ID: 0, "k": "b", "d": "x"}]
    two_lists = pl.DataFrame(
        {s.ROW_ID: pl.Series([0], dtype=pl.UInt32), "k": [["a", "b"]], "m": [["p", "q", "p"]]}
    )
    assert block_on("k", "m").key_frame(two_lists).height == 4


def test_key_frame_missing_column() -> None:
    frame = pl.DataFrame({s.ROW_ID: pl.Series([0], dtype=pl.UInt32)})
    with pytest.raises(SchemaError, match="'nope'"):
        block_on("nope", name="r").key_frame(frame)
