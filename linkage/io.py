"""Reading department extracts into the canonical raw schema, and writing results.

Department exports come as CSV (UTF-8, with or without BOM, or GB18030/GBK, the
encoding most Chinese office software still writes), Excel, Parquet or NDJSON.
Every column is read as a string: an ID number read as an integer loses its
trailing ``X``, and one read as a float loses its last digits.
"""

from __future__ import annotations

import codecs
import io
import logging
from pathlib import Path
from typing import Literal

import polars as pl

from normalizers import schema
from normalizers.errors import InputFileError

log = logging.getLogger(__name__)

FileFormat = Literal["csv", "parquet", "ndjson", "excel"]
_SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson",
    ".xlsx": "excel", ".xls": "excel", ".xlsm": "excel",
}
_FALLBACK_ENCODINGS = ("utf-8", "gb18030")


def detect_format(path: Path) -> FileFormat:
    """The file format from the suffix; raises InputFileError naming the path otherwise."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputFileError(
            f"{path}: unknown input format {path.suffix!r} "
            f"(expected one of {', '.join(sorted(_SUFFIXES))})"
        )
    return fmt


def decode_text(data: bytes, *, encoding: str | None = None, name: str = "input") -> str:
    """Decode a text file: BOM, then the given encoding, else UTF-8, else GB18030, else detection.

    GB18030 is a superset of GBK and GB2312, so it reads all three.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8")
    if encoding is not None:
        try:
            return data.decode(_canonical_encoding(encoding))
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputFileError(f"{name}: cannot decode as {encoding}: {exc}") from None
    for candidate in _FALLBACK_ENCODINGS:
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise InputFileError(f"{name}: cannot detect the text encoding; pass --encoding")
    log.info("%s: detected encoding %s", name, best.encoding)
    return str(best)


def _canonical_encoding(encoding: str) -> str:
    # GBK and GB2312 files often hold characters only GB18030 defines; read them as GB18030.
    lowered = encoding.lower().replace("_", "-")
    return "gb18030" if lowered in {"gbk", "gb2312", "cp936", "gb-2312"} else encoding


def read_records(
    path: str | Path,
    *,
    encoding: str | None = None,
    file_format: FileFormat | None = None,
    source: str | None = None,
) -> pl.DataFrame:
    """Read one input file as all-string columns in the canonical raw schema.

    Missing canonical columns are added as nulls; other columns pass through.
    Without a ``source`` column the file's stem (or ``source``) names the
    department; without ``record_id`` the 1-based row number is used.
    """
    return read_source(path, default_source=source, encoding=encoding, file_format=file_format)


def _read(path: Path, fmt: FileFormat, encoding: str | None) -> pl.DataFrame:
    if fmt == "csv":
        text = decode_text(path.read_bytes(), encoding=encoding, name=str(path))
        separator = "\t" if path.suffix.lower() == ".tsv" else ","
        return pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            infer_schema=False,
            separator=separator,
            truncate_ragged_lines=True,
        )
    if fmt == "parquet":
        return pl.read_parquet(path)
    if fmt == "ndjson":
        return pl.read_ndjson(path, infer_schema_length=None)
    return pl.read_excel(path, infer_schema_length=0)


def conform(frame: pl.DataFrame, *, default_source: str = "input") -> pl.DataFrame:
    """Cast every column to string and add the canonical raw columns that are missing."""
    # Integers keep their digits; floats in an ID column are already damaged and get flagged later.
    # Values are otherwise left as they are: cleaning is the normalizers' job.
    frame = frame.with_columns(
        pl.col(name).cast(pl.String) for name, dtype in frame.schema.items() if dtype != pl.String
    )
    missing = [c for c in schema.RAW_COLUMNS if c not in frame.columns]
    extra = []
    for c in missing:
        if c == schema.SOURCE:
            extra.append(pl.lit(default_source, dtype=pl.String).alias(c))
        elif c == schema.RECORD_ID:
            extra.append((pl.int_range(1, pl.len() + 1)).cast(pl.String).alias(c))
        else:
            extra.append(pl.lit(None, dtype=pl.String).alias(c))
    if extra:
        frame = frame.with_columns(extra)
    return frame


def write_frame(frame: pl.DataFrame, path: str | Path) -> None:
    """Write a frame in the format its suffix names (Parquet, CSV, NDJSON or Excel)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = detect_format(path)
    if fmt == "parquet":
        frame.write_parquet(path)
    elif fmt == "csv":
        _flat(frame).write_csv(path, separator="\t" if path.suffix.lower() == ".tsv" else ",")
    elif fmt == "ndjson":
        frame.write_ndjson(path)
    else:
        _flat(frame).write_excel(path)


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV and Excel cannot hold list columns: join them with '|'."""
    return frame.with_columns(
        pl.col(n).list.join("|") for n, t in frame.schema.items() if isinstance(t, pl.List)
    )


def read_source(
    path: str | Path,
    *,
    name: str | None = None,
    default_source: str | None = None,
    columns: dict[str, str] | None = None,
    encoding: str | None = None,
    file_format: FileFormat | None = None,
) -> pl.DataFrame:
    """Read one department extract, renaming its columns onto the canonical schema.

    ``columns`` maps canonical names to the department's own (``{"name": "XM"}``);
    a mapped column missing from the file raises InputFileError naming both.
    ``name`` overrides the ``source`` column; ``default_source`` (else the
    file's stem) fills it only where the file has none.
    """
    path = Path(path)
    fmt = file_format or detect_format(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    try:
        frame = _read(path, fmt, encoding)
    except InputFileError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot read as {fmt}: {exc}") from None
    if columns:
        absent = {canon: own for canon, own in columns.items() if own not in frame.columns}
        if absent:
            raise InputFileError(
                f"{path}: mapped column(s) not in the file: "
                + ", ".join(f"{canon} <- {own!r}" for canon, own in absent.items())
                + f" (the file has {frame.columns})"
            )
        clashing = [c for c in columns if c in frame.columns and c not in columns.values()]
        frame = frame.drop(clashing).rename({own: canon for canon, own in columns.items()})
    frame = conform(frame, default_source=name or default_source or path.stem)
    if name is not None:
        frame = frame.with_columns(pl.lit(name, dtype=pl.String).alias(schema.SOURCE))
    return frame


def concat_sources(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Stack department extracts; columns one source lacks are null for its rows."""
    if not frames:
        raise InputFileError("no input files given")
    return pl.concat(frames, how="diagonal_relaxed")
