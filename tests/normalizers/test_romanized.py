"""Romanized names: golden table, syllable systems, the frame path against the scalar path, properties."""

from __future__ import annotations

import re

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from normalizers import schema
from normalizers.errors import ConfigError, NormalizationError, SchemaError
from normalizers.names import normalize_name
from normalizers.pinyin import data_table, pinyin_segmenter, pinyin_syllables
from normalizers.reasons import Reason
from normalizers.romanized import (
    MAX_KEYS,
    LatinNameResult,
    latin_name_columns,
    normalize_latin_name,
    token_readings,
    tongyong,
    wade_giles,
)

_KEY = re.compile(r"^[a-z]+(?: [a-z]+)*$")


@pytest.mark.golden("latin_names")
def test_golden(row: dict) -> None:
    result = normalize_latin_name(row["input"])
    assert (result.norm, result.reason.value) == (row["expected"], row["reason"])
    if row["keys"] == "(none)":
        assert result.keys == ()
    elif row["keys"] is not None:
        missing = [k for k in row["keys"].split(";") if k not in result.keys]
        assert not missing, f"missing {missing} among {result.keys}"


@pytest.mark.golden("latin_names")
def test_golden_frame_matches_scalar(row: dict) -> None:
    out = latin_name_columns(pl.DataFrame({schema.NAME_LATIN: [row["input"]]}, schema={schema.NAME_LATIN: pl.String}))
    r = normalize_latin_name(row["input"])
    assert out.row(0) == (r.norm, r.reason.value, list(r.keys))


def test_han_pinyin_is_found_among_latin_keys() -> None:
    pairs = [
        ("张伟", "ZHANG WEI"), ("张伟", "Wei Zhang"), ("欧阳娜娜", "AU YEUNG Na Na"), ("吕小红", "LYU XIAOHONG"),
        ("陈大文", "CHAN Tai Man"), ("谢长廷", "Hsieh Chang-ting"), ("单雄信", "SHAN XIONGXIN"),
        ("买买提·艾力", "MAIMAITI AILI"), ("买买提·艾力", "Memet Eli"), ("司徒华", "SZETO Wah"),
    ]
    for han, latin in pairs:
        assert normalize_name(han).pinyin in normalize_latin_name(latin).keys, (han, latin)


def test_syllable_systems() -> None:
    assert [wade_giles(s) for s in ("zhang", "qian", "xu", "you", "yu", "zhi", "si", "ci", "ge", "guo", "gui", "lv")] == [
        "chang", "ch'ien", "hsü", "yu", "yü", "chih", "ssu", "tz'u", "ko", "kuo", "kuei", "lü"]
    assert [wade_giles(s) for s in ("rong", "ren", "xiong", "jue", "yan", "ye", "er", "yi", "luo", "zhuo")] == [
        "jung", "jen", "hsiung", "chüeh", "yen", "yeh", "erh", "i", "lo", "cho"]
    assert [tongyong(s) for s in ("zhang", "xin", "qu", "zhi", "feng", "wen", "liu", "gui", "lv")] == [
        "jhang", "sin", "cyu", "jhih", "fong", "wun", "liou", "guei", "lyu"]


def test_segmentation() -> None:
    seg = pinyin_segmenter()
    assert seg.segment("xian") == [("xian",), ("xi", "an")]
    assert seg.segment("xiaoming")[0] == ("xiao", "ming")
    assert seg.segment("fange") == [("fan", "ge"), ("fang", "e")]
    assert seg.segment("xi'an") == [("xi", "an")]
    assert seg.segment("qqq") == []
    assert token_readings("xiaoming")[0] == "xiao ming"


def test_romanization_table_is_valid() -> None:
    syllables = pinyin_syllables()
    rows = data_table("romanization.tsv")
    assert len({r["spelling"] for r in rows if r["use"] == "surname"}) >= 150
    for row in rows:
        assert row["spelling"] == row["spelling"].lower()
        for reading in row["pinyin"].split("|"):
            assert set(reading.split()) <= syllables, row


def test_raise_mode() -> None:
    with pytest.raises(NormalizationError) as info:
        normalize_latin_name("N/A", on_error="raise")
    assert info.value.reason is Reason.NAME_PLACEHOLDER
    assert normalize_latin_name("ZHANG WEI", on_error="raise") == LatinNameResult(
        "ZHANG WEI", Reason.OK, ("zhang wei", "wei zhang"))
    with pytest.raises(ConfigError):
        normalize_latin_name("ZHANG WEI", on_error="strict")  # type: ignore[arg-type]


def test_frame_shape() -> None:
    frame = pl.DataFrame({schema.NAME_LATIN: ["ZHANG WEI", None, "CHAN Tai Man", "ZHANG WEI", "n/a"]})
    out = latin_name_columns(frame)
    assert out.columns == [schema.NAME_LATIN_NORM, schema.NAME_LATIN_REASON, schema.NAME_LATIN_KEYS]
    assert out.schema[schema.NAME_LATIN_KEYS] == pl.List(pl.String)
    assert out[schema.NAME_LATIN_NORM].to_list() == ["ZHANG WEI", None, "CHAN TAI MAN", "ZHANG WEI", None]
    assert out[schema.NAME_LATIN_KEYS].to_list()[1] == []
    with pytest.raises(SchemaError):
        latin_name_columns(pl.DataFrame({"latin": ["ZHANG WEI"]}))
    assert latin_name_columns(pl.DataFrame(schema={schema.NAME_LATIN: pl.String})).height == 0


# ------------------------------------------------------------------ properties

_SYLLABLES = ["zhang", "wei", "xiao", "ming", "chan", "tai", "man", "hsu", "chih", "ch'en", "au", "yeung",
              "lyu", "xian", "ng", "mr", "test", "smith", "szeto", "kwok", "ying", "jeou", "a", "e"]


@st.composite
def _romanized(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(st.lists(st.sampled_from(_SYLLABLES), min_size=1, max_size=3), min_size=1, max_size=4))
    words = []
    for parts in tokens:
        joiner = draw(st.sampled_from(["", "-"]))
        word = joiner.join(parts)
        style = draw(st.sampled_from([str.upper, str.lower, str.title, str.capitalize]))
        words.append(style(word))
    sep = draw(st.sampled_from([" ", "  ", ", ", ",", "/"]))
    if len(words) > 1 and sep.strip():
        return words[0] + sep + " ".join(words[1:])
    return " ".join(words)


_anything = st.one_of(_romanized(), st.text(max_size=30), st.none())


@settings(max_examples=300, deadline=None)
@given(_anything)
def test_never_raises_keys_well_formed(value: str | None) -> None:
    result = normalize_latin_name(value)
    assert isinstance(result.reason, Reason)
    assert len(result.keys) <= MAX_KEYS
    assert len(set(result.keys)) == len(result.keys)
    assert all(_KEY.match(k) for k in result.keys)
    if result.norm is None:
        assert result.keys == ()
    else:
        assert result.norm == result.norm.upper() and "  " not in result.norm


@settings(max_examples=300, deadline=None)
@given(_anything)
def test_norm_idempotent(value: str | None) -> None:
    first = normalize_latin_name(value)
    if first.norm is not None:
        again = normalize_latin_name(first.norm)
        assert again.norm == first.norm
        assert again.reason is Reason.OK


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_romanized(), st.none(), st.text(max_size=12)), max_size=25))
def test_frame_matches_scalar(values: list[str | None]) -> None:
    out = latin_name_columns(pl.DataFrame({schema.NAME_LATIN: values}, schema={schema.NAME_LATIN: pl.String}))
    expected = []
    for v in values:
        r = normalize_latin_name(v)
        expected.append((r.norm, r.reason.value, list(r.keys)))
    assert out.rows() == expected
