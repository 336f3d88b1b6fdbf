"""Phones: golden formats, allocation data, frame against scalar, properties."""

from __future__ import annotations

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalizers import schema
from normalizers.errors import NormalizationError, SchemaError
from normalizers.phones import (
    MOBILE_PATTERN,
    PhoneResult,
    area_codes,
    normalize_phone,
    phone_columns,
)

_COLUMNS = [schema.PHONE_NORM, schema.PHONE_EXT, schema.PHONE_KIND, schema.PHONE_REASON]


def _row(result: PhoneResult) -> tuple:
    return result.value, result.ext, result.kind, result.reason.value


@pytest.mark.golden("phones")
def test_golden(row: dict) -> None:
    result = normalize_phone(row["input"])
    assert _row(result) == (row["expected"], row["ext"], row["kind"], row["reason"])


@pytest.mark.golden("phones")
def test_golden_frame_matches_scalar(row: dict) -> None:
    out = phone_columns(
        pl.DataFrame({schema.PHONE: [row["input"]]}, schema={schema.PHONE: pl.Utf8})
    )
    assert out.row(0) == (row["expected"], row["ext"], row["kind"], row["reason"])


def test_mobile_blocks_agree_with_phonenumbers() -> None:
    """Our blocks are phonenumbers' blocks, plus the MIIT data-card blocks it does not list yet.

    phonenumbers also accepts 1610, which MIIT has not allocated to public mobile service.
    """
    import re

    ours = re.compile(MOBILE_PATTERN)
    only_ours, only_theirs = set(), set()
    for prefix in range(1300, 2000):
        number = f"{prefix}1234567"
        theirs = phonenumbers.is_valid_number(phonenumbers.parse("+86" + number))
        if bool(ours.fullmatch(number)) != theirs:
            (only_ours if not theirs else only_theirs).add(str(prefix))
    assert {p[:3] for p in only_ours} <= {"146", "148", "149"}
    assert only_theirs <= {"1610"}


def test_area_codes_cover_big_cities() -> None:
    codes = area_codes()
    assert {
        "10",
        "20",
        "21",
        "22",
        "23",
        "24",
        "25",
        "27",
        "28",
        "29",
        "755",
        "571",
        "999",
    } <= codes
    assert "400" not in codes and len(codes) > 300


def test_raise_mode_masks_the_number() -> None:
    with pytest.raises(NormalizationError) as info:
        normalize_phone("19412345678", on_error="raise")
    assert "19412345678" not in str(info.value)
    assert info.value.value == "194****5678"
    assert normalize_phone("13812345678", on_error="raise").kind == "mobile"


def test_frame_shape() -> None:
    frame = pl.DataFrame(
        {schema.PHONE: ["13812345678", None, "010-62345678转8", "138****5678"], "k": [1, 2, 3, 4]}
    )
    out = phone_columns(frame)
    assert out.columns == _COLUMNS
    assert out[schema.PHONE_EXT].to_list() == [None, None, "8", None]
    with pytest.raises(SchemaError):
        phone_columns(pl.DataFrame({"tel": ["1"]}))
    assert phone_columns(pl.DataFrame(schema={schema.PHONE: pl.Utf8})).shape == (0, 4)


@st.composite
def phone_like(draw: st.DrawFn) -> str:
    block = draw(st.sampled_from(["138", "150", "166", "177", "199", "145", "194", "123"]))
    mobile = block + draw(st.from_regex(r"[0-9]{8}", fullmatch=True))
    landline = (
        "0"
        + draw(st.sampled_from(["10", "21", "755", "571", "999", "401"]))
        + draw(st.from_regex(r"[1-9][0-9]{6,7}", fullmatch=True))
    )
    number = draw(
        st.sampled_from([mobile, landline, "+852" + mobile[3:11], mobile[:3] + "****" + mobile[7:]])
    )
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "0086", "86", "+86(0)"]))
    sep = draw(st.sampled_from(["", " ", "-"]))
    if sep and len(number) >= 11:
        number = number[:3] + sep + number[3:7] + sep + number[7:]
    suffix = draw(st.sampled_from(["", "转123", "-12", "/13987654321", " ext 9", "x"]))
    return prefix + number + suffix


_ANY = st.one_of(
    st.none(), st.text(max_size=30), phone_like(), st.from_regex(r"[0-9+\- ]{0,16}", fullmatch=True)
)


@settings(max_examples=400, deadline=None)
@given(_ANY)
def test_never_raises(value: str | None) -> None:
    result = normalize_phone(value)
    assert (result.value is None) == result.reason.rejects
    assert (result.kind is None) == (result.value is None)
    if result.value is not None:
        assert (
            result.value.startswith("+") and result.value[1:].isdigit() and result.value.isascii()
        )


@settings(max_examples=400, deadline=None)
@given(phone_like())
def test_e164_output_is_a_fixed_point(value: str) -> None:
    result = normalize_phone(value)
    if result.value is not None:
        again = normalize_phone(result.value)
        assert (again.value, again.kind) == (result.value, result.kind)
        assert again.ext is None


@settings(max_examples=80, deadline=None)
@given(st.lists(_ANY, max_size=30))
def test_frame_matches_scalar(values: list[str | None]) -> None:
    out = phone_columns(pl.DataFrame({schema.PHONE: values}, schema={schema.PHONE: pl.Utf8}))
    assert out.rows() == [_row(normalize_phone(v)) for v in values]
