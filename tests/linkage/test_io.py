"""Reading department extracts: encodings, formats, column mapping."""

from __future__ import annotations

import codecs
from pathlib import Path

import polars as pl
import pytest

from linkage.io import concat_sources, read_records, read_source, write_frame
from normalizers import InputFileError, schema

CSV_TEXT = "record_id,name,id_number,birth_date\n1,张伟,11010519491231002X,1949-12-31\n2,歐陽修,,\n"


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("gb18030", b""), ("gbk", b"")],
)
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    path = tmp_path / "tax.csv"
    path.write_bytes(prefix + CSV_TEXT.encode(encoding))
    frame = read_records(path)
    assert frame[schema.NAME].to_list() == ["张伟", "歐陽修"]
    assert frame[schema.SOURCE].to_list() == ["tax", "tax"]  # from the file name
    assert set(schema.RAW_COLUMNS) <= set(frame.columns)
    assert frame[schema.ID_NUMBER][0] == "11010519491231002X"  # never read as a number


def test_explicit_encoding_that_does_not_fit_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(CSV_TEXT.encode("gb18030"))
    with pytest.raises(InputFileError, match="x.csv: cannot decode as utf-8"):
        read_records(path, encoding="utf-8")


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="unknown input format"):
        read_records(tmp_path / "x.docx")
    with pytest.raises(InputFileError, match="no such file"):
        read_records(tmp_path / "x.csv")


@pytest.mark.parametrize("suffix", [".parquet", ".ndjson", ".xlsx", ".csv"])
def test_formats_round_trip_as_strings(tmp_path: Path, suffix: str) -> None:
    frame = pl.DataFrame(
        {"source": ["court", "court"], "record_id": ["7", "8"], "id_number": ["4403**********123X", None],
         "extra": ["kept", "kept"]}
    )
    path = tmp_path / f"in{suffix}"
    write_frame(frame, path)
    back = read_records(path)
    assert back["id_number"].to_list() == ["4403**********123X", None]
    assert back["extra"].to_list() == ["kept", "kept"]
    assert all(back.schema[c] == pl.String for c in schema.RAW_COLUMNS)


def test_integer_columns_keep_their_digits(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pl.DataFrame({"record_id": [1, 2], "phone": [13812345678, 13912345678]}).write_parquet(path)
    back = read_records(path)
    assert back["phone"].to_list() == ["13812345678", "13912345678"]
    assert back["record_id"].to_list() == ["1", "2"]


def test_column_mapping_renames_department_columns(tmp_path: Path) -> None:
    path = tmp_path / "dept.csv"
    path.write_text("BH,XM,SFZH,CSRQ\n1,张伟,110105194912310029,19491231\n", encoding="utf-8")
    frame = read_source(
        path, name="tax",
        columns={"record_id": "BH", "name": "XM", "id_number": "SFZH", "birth_date": "CSRQ"},
    )
    assert frame[schema.NAME][0] == "张伟"
    assert frame[schema.BIRTH_DATE][0] == "19491231"
    assert frame[schema.SOURCE][0] == "tax"
    assert "XM" not in frame.columns


def test_column_mapping_names_a_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "dept.csv"
    path.write_text("BH,XM\n1,张伟\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="id_number <- 'SFZH'"):
        read_source(path, columns={"id_number": "SFZH"})


def test_concat_sources_fills_missing_columns() -> None:
    a = pl.DataFrame({"source": ["a"], "record_id": ["1"], "only_a": ["x"]})
    b = pl.DataFrame({"source": ["b"], "record_id": ["1"]})
    both = concat_sources([a, b])
    assert both["only_a"].to_list() == ["x", None]
    with pytest.raises(InputFileError):
        concat_sources([])
