"""Sex: golden codes and words, the frame path against the scalar path, properties."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalizers import schema
from normalizers.errors import ConfigError, NormalizationError, SchemaError
from normalizers.reasons import Reason
from normalizers.sex import SexResult, normalize_sex, sex_columns


@pytest.mark.golden("sex")
def test_golden(row: dict) -> None:
    result = normalize_sex(row["input"])
    assert (result.value, result.reason) == (row["expected"], Reason(row["reason"]))


@pytest.mark.golden("sex")
def test_golden_frame_matches_scalar(row: dict) -> None:
    out = sex_columns(pl.DataFrame({schema.SEX: [row["input"]]}, schema={schema.SEX: pl.Utf8}))
    assert out.row(0) == (row["expected"], row["reason"])


def test_raise_mode() -> None:
    with pytest.raises(NormalizationError) as info:
        normalize_sex("9", on_error="raise")
    assert info.value.reason == Reason.SEX_UNSPECIFIED
    assert normalize_sex("女", on_error="raise") == SexResult("F", Reason.OK)
    with pytest.raises(ConfigError):
        normalize_sex("女", on_error="strict")  # type: ignore[arg-type]


def test_frame_shape() -> None:
    frame = pl.DataFrame({schema.SEX: ["男", None, "2", "男", "x?"]})
    out = sex_columns(frame)
    assert out.columns == [schema.SEX_NORM, schema.SEX_REASON]
    assert out[schema.SEX_NORM].to_list() == ["M", None, "F", "M", None]
    with pytest.raises(SchemaError):
        sex_columns(pl.DataFrame({"gender": ["M"]}))
    assert sex_columns(pl.DataFrame(schema={schema.SEX: pl.Utf8})).height == 0


_WORDS = st.sampled_from(
    [
        "1",
        "2",
        "0",
        "9",
        "男",
        "女",
        "M",
        "f",
        "Female",
        "先生",
        "女士",
        "未知",
        "未说明",
        "Ｍ",
        " 女 ",
    ]
)
_ANY = st.one_of(st.none(), st.text(max_size=12), _WORDS)


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_never_raises_and_value_iff_not_rejected(value: str | None) -> None:
    result = normalize_sex(value)
    assert result.value in ("M", "F", None)
    assert (result.value is None) == result.reason.rejects


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_output_is_a_fixed_point(value: str | None) -> None:
    result = normalize_sex(value)
    if result.value is not None:
        assert normalize_sex(result.value) == SexResult(result.value, Reason.OK)


@settings(max_examples=60, deadline=None)
@given(st.lists(_ANY, max_size=30))
def test_frame_matches_scalar(values: list[str | None]) -> None:
    out = sex_columns(pl.DataFrame({schema.SEX: values}, schema={schema.SEX: pl.Utf8}))
    assert out.rows() == [(r.value, r.reason.value) for r in map(normalize_sex, values)]
