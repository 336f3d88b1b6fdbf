"""Ethnicity: golden codes and names, the shipped table, frame against scalar, properties."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalizers import schema
from normalizers.errors import NormalizationError, SchemaError
from normalizers.ethnicity import (
    EthnicityResult,
    ethnic_group_names,
    ethnicity_columns,
    normalize_ethnicity,
)
from normalizers.reasons import Reason


@pytest.mark.golden("ethnicity")
def test_golden(row: dict) -> None:
    result = normalize_ethnicity(row["input"])
    assert (result.value, result.name, result.reason) == (
        row["expected"],
        row["name"],
        Reason(row["reason"]),
    )


@pytest.mark.golden("ethnicity")
def test_golden_frame_matches_scalar(row: dict) -> None:
    out = ethnicity_columns(
        pl.DataFrame({schema.ETHNICITY: [row["input"]]}, schema={schema.ETHNICITY: pl.Utf8})
    )
    assert out.row(0) == (row["expected"], row["reason"])


def test_table_has_56_groups_and_two_extra_codes() -> None:
    names = ethnic_group_names()
    assert len(names) == 56 and len(set(names)) == 56
    assert names[0] == "汉族" and names[-1] == "基诺族"
    for code in [f"{n:02d}" for n in range(1, 57)] + ["97", "98"]:
        result = normalize_ethnicity(code)
        assert (result.value, result.reason) == (code, Reason.OK)
        assert normalize_ethnicity(result.name).value == code  # type: ignore[arg-type]


def test_raise_mode() -> None:
    with pytest.raises(NormalizationError) as info:
        normalize_ethnicity("火星族", on_error="raise")
    assert info.value.field == schema.ETHNICITY
    assert normalize_ethnicity("壮族", on_error="raise").value == "08"


def test_frame_shape() -> None:
    out = ethnicity_columns(
        pl.DataFrame({schema.ETHNICITY: ["汉族", None, "僮族"], "y": [1, 2, 3]})
    )
    assert out.columns == [schema.ETHNICITY_NORM, schema.ETHNICITY_REASON]
    assert out.rows() == [("01", "OK"), (None, "MISSING"), ("08", "ETHNICITY_OLD_NAME")]
    with pytest.raises(SchemaError):
        ethnicity_columns(pl.DataFrame({"nation": ["汉"]}))


_KNOWN = st.sampled_from(
    [
        "汉族",
        "汉",
        "漢族",
        "01",
        "1",
        "Uyghur",
        "维族",
        "僮族",
        "壮",
        "01汉族",
        "Ｈａｎ",
        "蒙古",
        "穿青人",
    ]
)
_ANY = st.one_of(
    st.none(), st.text(max_size=12), _KNOWN, st.from_regex(r"[0-9]{1,3}", fullmatch=True)
)


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_never_raises_and_code_is_valid(value: str | None) -> None:
    result = normalize_ethnicity(value)
    assert isinstance(result, EthnicityResult)
    assert (result.value is None) == result.reason.rejects
    if result.value is not None:
        assert result.value in {f"{n:02d}" for n in range(1, 57)} | {"97", "98"}
        assert normalize_ethnicity(result.value) == EthnicityResult(
            result.value, result.name, Reason.OK
        )


@settings(max_examples=60, deadline=None)
@given(st.lists(_ANY, max_size=30))
def test_frame_matches_scalar(values: list[str | None]) -> None:
    out = ethnicity_columns(
        pl.DataFrame({schema.ETHNICITY: values}, schema={schema.ETHNICITY: pl.Utf8})
    )
    assert out.rows() == [(r.value, r.reason.value) for r in map(normalize_ethnicity, values)]
