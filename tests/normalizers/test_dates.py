"""Birth dates: golden formats, the frame path against the scalar path, properties."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalizers import schema
from normalizers.dates import DateResult, date_columns, normalize_date
from normalizers.errors import ConfigError, NormalizationError, SchemaError
from normalizers.reasons import Reason


@pytest.mark.golden("dates")
def test_golden(row: dict) -> None:
    result = normalize_date(row["input"])
    assert result.reason == Reason(row["reason"])
    assert (result.value.isoformat() if result.value else None) == row["expected"]
    assert result.year == (int(row["year"]) if row["year"] else None)


@pytest.mark.golden("dates")
def test_golden_frame_matches_scalar(row: dict) -> None:
    out = date_columns(
        pl.DataFrame({schema.BIRTH_DATE: [row["input"]]}, schema={schema.BIRTH_DATE: pl.Utf8})
    )
    value, reason, year = out.row(0)
    assert (value.isoformat() if value else None, reason) == (row["expected"], row["reason"])
    assert year == (int(row["year"]) if row["year"] else None)


def test_two_digit_year_takes_latest_past_century() -> None:
    this_year = dt.date.today().year % 100
    assert normalize_date(f"01-Jan-{this_year:02d}").value == dt.date(2000 + this_year, 1, 1)
    later = (this_year + 1) % 100
    if later > this_year:
        assert normalize_date(f"01-Jan-{later:02d}").value == dt.date(1900 + later, 1, 1)


def test_future_date_is_out_of_range() -> None:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    assert normalize_date(tomorrow.isoformat()).reason == Reason.DATE_OUT_OF_RANGE
    assert normalize_date(dt.date.today().isoformat()).reason == Reason.OK


def test_raise_mode() -> None:
    with pytest.raises(NormalizationError) as info:
        normalize_date("1990-02-30", on_error="raise")
    assert info.value.reason == Reason.DATE_IMPOSSIBLE
    assert info.value.field == schema.BIRTH_DATE
    with pytest.raises(NormalizationError, match="issue_date"):
        normalize_date("abc", on_error="raise", field="issue_date")
    assert normalize_date("1990-01-02", on_error="raise").value == dt.date(1990, 1, 2)
    with pytest.raises(ConfigError, match="on_error"):
        normalize_date("1990-01-02", on_error="ignore")  # type: ignore[arg-type]


def test_result_is_frozen() -> None:
    result = normalize_date("1990-01-02")
    with pytest.raises(AttributeError):
        result.value = None  # type: ignore[misc]
    assert isinstance(result, DateResult)


def test_frame_schema_and_order() -> None:
    frame = pl.DataFrame(
        {schema.BIRTH_DATE: ["1990-01-02", None, "1990年1月2日", "32874", "1990"], "x": range(5)}
    )
    out = date_columns(frame)
    assert out.schema == pl.Schema(
        {
            schema.BIRTH_DATE_NORM: pl.Date,
            schema.BIRTH_DATE_REASON: pl.Utf8,
            schema.BIRTH_YEAR: pl.Int32,
        }
    )
    assert out[schema.BIRTH_YEAR].to_list() == [1990, None, 1990, 1990, 1990]
    assert out[schema.BIRTH_DATE_REASON].to_list() == [
        "OK",
        "MISSING",
        "CLEANED",
        "CLEANED",
        "DATE_YEAR_ONLY",
    ]


def test_frame_empty_and_missing_column() -> None:
    empty = date_columns(pl.DataFrame(schema={schema.BIRTH_DATE: pl.Utf8}))
    assert empty.height == 0 and empty.width == 3
    with pytest.raises(SchemaError, match=schema.BIRTH_DATE):
        date_columns(pl.DataFrame({"other": ["1990-01-02"]}))


# ------------------------------------------------------------------ properties

_DATES = st.dates(min_value=dt.date(1870, 1, 1), max_value=dt.date(2100, 12, 31))
_FORMATS = [
    "%Y-%m-%d",
    "%Y%m%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y年%m月%d日",
    "%d %b %Y",
    "%d-%b-%y",
    "%B %d, %Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y%m%d%H%M%S",
    "%Y-%m",
    "%Y",
]


@st.composite
def date_like(draw: st.DrawFn) -> str:
    date = draw(_DATES)
    text = date.strftime(draw(st.sampled_from(_FORMATS)))
    if draw(st.booleans()):
        text = text.replace("-0", "-").replace("/0", "/")
    return draw(
        st.sampled_from([text, f" {text} ", text.upper(), text + draw(st.text(max_size=2))])
    )


_ANY = st.one_of(
    st.none(),
    st.text(max_size=40),
    date_like(),
    st.from_regex(r"[0-9./\- 年月日]{0,14}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_never_raises_in_reject_mode(value: str | None) -> None:
    result = normalize_date(value)
    assert isinstance(result.reason, Reason)
    assert (result.value is None) == result.reason.rejects
    if result.value is not None:
        assert result.year == result.value.year
        assert dt.date(1880, 1, 1) <= result.value <= dt.date.today()


@settings(max_examples=300, deadline=None)
@given(date_like())
def test_iso_output_is_a_fixed_point(value: str) -> None:
    result = normalize_date(value)
    if result.value is not None:
        again = normalize_date(result.value.isoformat())
        assert (again.value, again.reason, again.year) == (result.value, Reason.OK, result.year)


@settings(max_examples=60, deadline=None)
@given(st.lists(_ANY, max_size=30))
def test_frame_matches_scalar(values: list[str | None]) -> None:
    out = date_columns(
        pl.DataFrame({schema.BIRTH_DATE: values}, schema={schema.BIRTH_DATE: pl.Utf8})
    )
    expected = [(r.value, r.reason.value, r.year) for r in map(normalize_date, values)]
    assert out.rows() == expected


HISTORICAL = ["1630-08-01", "16300801", "1630", "1630-08", "1780-01-00", "0085-01-01", "1990-01-02"]


@pytest.mark.parametrize("min_year", [1000, 1880])
def test_min_year_frame_equals_scalar(min_year: int) -> None:
    frame = date_columns(pl.DataFrame({schema.BIRTH_DATE: HISTORICAL}), min_year=min_year)
    for value, row in zip(HISTORICAL, frame.iter_rows(named=True), strict=True):
        scalar = normalize_date(value, min_year=min_year)
        assert (
            row[schema.BIRTH_DATE_NORM],
            row[schema.BIRTH_DATE_REASON],
            row[schema.BIRTH_YEAR],
        ) == (
            scalar.value,
            scalar.reason.value,
            scalar.year,
        ), value


def test_min_year_lowers_the_floor() -> None:
    assert normalize_date("1630-08-01").reason is Reason.DATE_OUT_OF_RANGE
    assert normalize_date("1630-08-01", min_year=1000).value == dt.date(1630, 8, 1)
    assert normalize_date("1630", min_year=1000) == DateResult(None, Reason.DATE_YEAR_ONLY, 1630)
    assert normalize_date("0085-01-01", min_year=1000).reason is Reason.DATE_OUT_OF_RANGE
    with pytest.raises(NormalizationError, match="between 1000 and today"):
        normalize_date("0085-01-01", on_error="raise", min_year=1000)


@pytest.mark.parametrize("min_year", [0, -5, 3000, 1880.0, True, "1880"])
def test_min_year_validated(min_year: object) -> None:
    with pytest.raises(ConfigError, match="min_year"):
        normalize_date("1990-01-01", min_year=min_year)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="min_year"):
        date_columns(pl.DataFrame({schema.BIRTH_DATE: ["1990-01-01"]}), min_year=min_year)  # type: ignore[arg-type]
