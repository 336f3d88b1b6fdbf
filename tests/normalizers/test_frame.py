"""The frame path and the scalar record path give the same normalized record."""

from __future__ import annotations

from importlib import resources

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from normalizers import schema as s
from normalizers.frame import normalize_frame, normalize_record

SAMPLE = pl.read_csv(
    resources.files("linkage").joinpath("sample/records.csv").read_bytes(), infer_schema=False
)
DERIVED = [c for c in normalize_frame(SAMPLE.head(3)).columns if c not in SAMPLE.columns]


def _same(frame_row: dict, scalar: dict) -> list[str]:
    return [c for c in DERIVED if c not in (s.ROW_ID, s.RECORD_REASON) and frame_row[c] != scalar[c]]


def test_sample_frame_equals_scalar() -> None:
    frame = normalize_frame(SAMPLE)
    for row, raw in zip(frame.iter_rows(named=True), SAMPLE.iter_rows(named=True), strict=True):
        assert _same(row, normalize_record(raw)) == [], raw[s.RECORD_ID]


field = st.one_of(st.none(), st.text(max_size=24))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({c: field for c in s.RAW_COLUMNS}), min_size=1, max_size=8))
def test_arbitrary_records_frame_equals_scalar(rows: list[dict]) -> None:
    raw = pl.DataFrame(rows, schema={c: pl.String for c in s.RAW_COLUMNS})
    frame = normalize_frame(raw)
    for row, record in zip(frame.iter_rows(named=True), rows, strict=True):
        assert _same(row, normalize_record(record)) == []


def test_progress_reports_every_field() -> None:
    seen: list[str] = []
    normalize_frame(SAMPLE.head(5), progress=seen.append)
    assert sorted(seen) == sorted(set(seen))
    assert set(seen) >= {s.ID_NUMBER, s.NAME, s.BIRTH_DATE}


@pytest.mark.parametrize("rows", [0, 1])
def test_tiny_frames(rows: int) -> None:
    out = normalize_frame(SAMPLE.head(rows))
    assert out.height == rows and s.RECORD_REASON in out.columns


@pytest.mark.parametrize(
    ("name_latin", "id_number", "reason"),
    [
        pytest.param("MITCHELL GREEN", None, None, id="a Western name alone is usable"),
        pytest.param("ZHANG WEI", None, None, id="a romanized Chinese name alone is usable"),
        pytest.param(
            None, "1804974", "RECORD_NO_USABLE_FIELD", id="an unknown number alone is not"
        ),
    ],
)
def test_record_reason_latin_names(
    name_latin: str | None, id_number: str | None, reason: str | None
) -> None:
    record = {c: None for c in s.RAW_COLUMNS} | {
        s.SOURCE: "febrl",
        s.RECORD_ID: "rec-1",
        s.NAME_LATIN: name_latin,
        s.ID_NUMBER: id_number,
    }
    frame = normalize_frame(pl.DataFrame([record], schema={c: pl.String for c in s.RAW_COLUMNS}))
    assert frame[s.RECORD_REASON].to_list() == [reason]
    assert normalize_record(record)[s.RECORD_REASON] == reason


@pytest.mark.parametrize(
    ("number", "checked"),
    [
        pytest.param("110105198001011234", False, id="checksum-fails"),
        pytest.param("110105198001011238", None, id="valid-resident"),
        pytest.param("110105198001011000", False, id="valid-but-ends-000-like-a-truncation"),
        pytest.param("110105800101123", False, id="legacy-15-upgraded"),
        pytest.param("JPN453501070751", False, id="2017-permanent-residence-id-has-no-check"),
    ],
)
def test_id_checked_trusts_only_check_verified_numbers(number: str, checked: bool | None) -> None:
    """ID_CHECKED (what "one person, one ID" trusts) holds only numbers their check character verified."""
    raw = pl.DataFrame(
        [{s.SOURCE: "a", s.RECORD_ID: "1", s.NAME: "张三", s.ID_NUMBER: number}],
        schema={c: pl.String for c in s.RAW_COLUMNS},
    )
    row = normalize_frame(raw).row(0, named=True)
    if checked is None:  # whichever valid number it is, it is trusted
        checked = row[s.ID_KEY] is not None
        assert checked, f"{number} should be valid"
    assert (row[s.ID_CHECKED] is not None) is checked
    assert row[s.ID_CHECKED] == normalize_record(raw.row(0, named=True))[s.ID_CHECKED]
