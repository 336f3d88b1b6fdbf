"""Addresses: golden addresses, the chain dictionary, frame against scalar, properties."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalizers import schema
from normalizers.addresses import AddressResult, address_columns, normalize_address
from normalizers.errors import NormalizationError, SchemaError
from normalizers.reasons import Reason
from normalizers.regions import region_table

_COLUMNS = [
    schema.ADDRESS_NORM,
    schema.ADDRESS_PROVINCE,
    schema.ADDRESS_CITY,
    schema.ADDRESS_COUNTY,
    schema.ADDRESS_REASON,
]


def _row(result: AddressResult) -> tuple:
    return result.norm, result.province, result.city, result.county, result.reason.value


@pytest.mark.golden("addresses")
def test_golden(row: dict) -> None:
    result = normalize_address(row["input"], id_region=row["id_region"])
    assert _row(result) == (
        row["expected"],
        row["province"],
        row["city"],
        row["county"],
        row["reason"],
    )


@pytest.mark.golden("addresses")
def test_golden_frame_matches_scalar(row: dict) -> None:
    frame = pl.DataFrame(
        {schema.ADDRESS: [row["input"]], schema.ID_REGION: [row["id_region"]]},
        schema={schema.ADDRESS: pl.Utf8, schema.ID_REGION: pl.Utf8},
    )
    assert address_columns(frame).row(0) == (
        row["expected"],
        row["province"],
        row["city"],
        row["county"],
        row["reason"],
    )


def test_every_county_in_use_resolves_with_its_full_chain() -> None:
    table = region_table()
    for periods in table.by_code.values():
        region = periods[-1]
        if not region.in_use or region.level != 3 or region.prefecture == "直辖":
            continue
        result = normalize_address(region.province + region.prefecture + region.name + "人民路1号")
        assert result.county == region.code, (region, result)


def test_codes_are_consistent() -> None:
    result = normalize_address("广东深圳南山")
    assert result.county.startswith(result.city[:4]) and result.city.startswith(result.province[:2])  # type: ignore[union-attr]


def test_raise_mode_and_missing_column() -> None:
    with pytest.raises(NormalizationError):
        normalize_address("  ", on_error="raise")
    assert normalize_address("幸福路", on_error="raise").reason == Reason.ADDRESS_NO_REGION
    with pytest.raises(SchemaError):
        address_columns(pl.DataFrame({"addr": ["x"]}))


def test_frame_without_id_region_column() -> None:
    out = address_columns(pl.DataFrame({schema.ADDRESS: ["广东省深圳市南山区", None, "北京朝阳"]}))
    assert out.columns == _COLUMNS
    assert out[schema.ADDRESS_REASON].to_list() == [
        "ADDRESS_REGION_FOUND",
        "MISSING",
        "ADDRESS_REGION_FOUND",
    ]
    assert address_columns(pl.DataFrame(schema={schema.ADDRESS: pl.Utf8})).shape == (0, 5)


_PARTS = st.sampled_from(
    [
        "广东省",
        "广东",
        "深圳市",
        "深圳",
        "南山区",
        "南山",
        "北京市",
        "朝阳区",
        "朝阳",
        "辽宁",
        "朝阳县",
        "吉林",
        "吉林市",
        "中国",
        "新疆",
        "伊犁州",
        "廣東",
        "鼓楼区",
        "海南",
        "仙桃市",
        "襄樊市",
        "内蒙",
        "人民路",
        "１２３号",
        " ",
        "　",
        "\t",
    ]
)


@st.composite
def address_like(draw: st.DrawFn) -> str:
    return "".join(draw(st.lists(_PARTS, max_size=5))) + draw(st.text(max_size=4))


_ANY = st.one_of(st.none(), st.text(max_size=20), address_like())
_ID_REGIONS = st.one_of(
    st.none(), st.sampled_from(["110105", "440305", "510202", "999999", "12", "四四"])
)


@settings(max_examples=300, deadline=None)
@given(_ANY, _ID_REGIONS)
def test_never_raises(value: str | None, id_region: str | None) -> None:
    result = normalize_address(value, id_region=id_region)
    assert (result.norm is None) == result.reason.rejects
    assert (result.province is None) == (
        result.reason in (Reason.ADDRESS_NO_REGION, Reason.MISSING)
    )
    for code in (result.province, result.city, result.county):
        assert code is None or (len(code) == 6 and code.isdigit())


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_normalizing_the_norm_changes_nothing(value: str | None) -> None:
    result = normalize_address(value)
    if result.norm is not None:
        again = normalize_address(result.norm)
        assert _row(again) == _row(result)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_ANY, _ID_REGIONS), max_size=25))
def test_frame_matches_scalar(rows: list[tuple[str | None, str | None]]) -> None:
    frame = pl.DataFrame(
        {schema.ADDRESS: [a for a, _ in rows], schema.ID_REGION: [r for _, r in rows]},
        schema={schema.ADDRESS: pl.Utf8, schema.ID_REGION: pl.Utf8},
    )
    assert address_columns(frame).rows() == [
        _row(normalize_address(a, id_region=r)) for a, r in rows
    ]
