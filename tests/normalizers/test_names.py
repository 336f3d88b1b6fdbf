"""Han names: golden table, surname split, pinyin, the frame path against the scalar path, properties."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from normalizers import schema
from normalizers.errors import ConfigError, NormalizationError, SchemaError
from normalizers.names import (
    SEPARATOR,
    NameResult,
    name_columns,
    normalize_name,
    split_name,
    t2s_table,
    variant_table,
)
from normalizers.pinyin import char_readings, pinyin_syllables, surname_readings, toneless
from normalizers.reasons import Reason

_FIELDS = ("norm", "reason", "surname", "given", "surname_alt", "pinyin", "pinyin_initials",
           "surname_pinyin", "script")
_COLUMNS = (schema.NAME_NORM, schema.NAME_REASON, schema.NAME_SURNAME, schema.NAME_GIVEN,
            schema.NAME_SURNAME_ALT, schema.NAME_PINYIN, schema.NAME_PINYIN_INITIALS,
            schema.NAME_SURNAME_PINYIN, schema.NAME_SCRIPT)


def _as_row(result: NameResult) -> tuple:
    return tuple(
        getattr(result, f).value if f == "reason" else getattr(result, f) for f in _FIELDS
    )


@pytest.mark.golden("names")
def test_golden(row: dict) -> None:
    result = normalize_name(row["input"])
    got = (result.norm, result.reason.value, result.surname, result.given, result.surname_alt, result.pinyin)
    want = (row["expected"], row["reason"], row["surname"], row["given"], row["surname_alt"], row["pinyin"])
    assert got == want
    if result.pinyin is not None:
        assert result.pinyin_initials == "".join(s[0] for s in result.pinyin.split())


@pytest.mark.golden("names")
def test_golden_frame_matches_scalar(row: dict) -> None:
    out = name_columns(pl.DataFrame({schema.NAME: [row["input"]]}, schema={schema.NAME: pl.String}))
    assert out.row(0) == _as_row(normalize_name(row["input"]))


def test_raise_mode() -> None:
    with pytest.raises(NormalizationError) as info:
        normalize_name("不详", on_error="raise")
    assert info.value.reason is Reason.NAME_PLACEHOLDER
    assert info.value.field == schema.NAME
    assert normalize_name("张伟", on_error="raise").norm == "张伟"
    # a romanized name is routed, not rejected
    assert normalize_name("Zhang Wei", on_error="raise").reason is Reason.NAME_LATIN_IN_HAN_FIELD
    with pytest.raises(ConfigError):
        normalize_name("张伟", on_error="strict")  # type: ignore[arg-type]


def test_frame_shape_and_order() -> None:
    frame = pl.DataFrame({schema.NAME: ["张伟", None, "單雄信", "张伟", "买买提•艾力", "test", "司马光"]})
    out = name_columns(frame)
    assert out.columns == list(_COLUMNS)
    assert out.height == frame.height
    assert out[schema.NAME_NORM].to_list() == ["张伟", None, "单雄信", "张伟", "买买提·艾力", None, "司马光"]
    assert out[schema.NAME_PINYIN].to_list()[2] == "shan xiong xin"
    with pytest.raises(SchemaError):
        name_columns(pl.DataFrame({"full_name": ["张伟"]}))
    assert name_columns(pl.DataFrame(schema={schema.NAME: pl.String})).height == 0


def test_minority_names_compare_with_and_without_separator() -> None:
    separated, solid = normalize_name("买买提·艾力"), normalize_name("买买提艾力")
    assert separated.pinyin == solid.pinyin == "mai mai ti ai li"
    assert separated.norm.replace(SEPARATOR, "") == solid.norm


def test_split_recombines() -> None:
    for name in ("欧阳娜娜", "张伟", "张王丽华", "宗政伟", "尉迟恭", "买买提·艾力·吐尔逊"):
        surname, given, _ = split_name(name)
        if SEPARATOR in name:
            assert f"{given}{SEPARATOR}{surname}" == name
        else:
            assert (surname or "") + (given or "") == name


def test_tables_are_consistent() -> None:
    t2s = t2s_table()
    assert t2s["張"] == "张" and "乾" not in t2s and "於" not in t2s
    assert all(t2s.get(v, v) == v for v in t2s.values()), "t2s must be idempotent"
    folds = variant_table()
    assert all(t2s.get(v, v) == v and v not in folds for v in folds.values()), "fold targets are final"
    syllables = pinyin_syllables()
    assert all(set(r.split()) <= syllables for r in surname_readings().values())
    assert toneless("lǚ") == "lv" and char_readings()["女"] == "nv"


# ------------------------------------------------------------------ properties

_ALPHABET = list(
    "张王李赵刘陈杨黄周吴徐孙欧阳司马诸葛尉迟万俟单曾解仇区朴查盖覃伟芳娜秀英敏静丽强磊军"
    "洋勇艳杰娟涛明超兰霞平刚單張陳歐陽鍾蕭乾於喆堃凃锺晧煕買提艾力麦阿卜杜都某无测试"
) + ["·", "•", "・", ".", "-", "．", " ", "　", "*", "x", "A", "b", "1", "(", "\u200b", "𠀀", "さ"]

_names = st.lists(st.sampled_from(_ALPHABET), min_size=0, max_size=8).map("".join)
_anything = st.one_of(_names, st.text(max_size=30), st.none())


@settings(max_examples=300, deadline=None)
@given(_anything)
def test_never_raises_and_never_empty(value: str | None) -> None:
    result = normalize_name(value)
    assert isinstance(result.reason, Reason)
    if result.norm is not None:
        assert result.norm != ""
        assert not result.reason.rejects
        assert result.norm.strip(SEPARATOR) == result.norm
    else:
        assert result.reason.rejects or result.reason is Reason.NAME_LATIN_IN_HAN_FIELD


@settings(max_examples=300, deadline=None)
@given(_names)
def test_han_input_never_normalizes_to_empty(value: str) -> None:
    result = normalize_name(value)
    if any("\u4e00" <= ch <= "\u9fff" for ch in value) and result.reason not in (
        Reason.NAME_PLACEHOLDER, Reason.NAME_MASKED, Reason.NAME_TOO_LONG
    ):
        assert result.norm


@settings(max_examples=300, deadline=None)
@given(_anything)
def test_idempotent(value: str | None) -> None:
    first = normalize_name(value)
    if first.norm is not None:
        again = normalize_name(first.norm)
        assert again.norm == first.norm
        assert again.reason is Reason.OK
        assert again.pinyin == first.pinyin


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_names, st.none(), st.sampled_from(["张伟", "張偉", "欧阳修", "张 伟"])), max_size=25))
def test_frame_matches_scalar(values: list[str | None]) -> None:
    out = name_columns(pl.DataFrame({schema.NAME: values}, schema={schema.NAME: pl.String}))
    assert out.rows() == [_as_row(normalize_name(v)) for v in values]
