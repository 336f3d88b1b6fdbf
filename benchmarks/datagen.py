"""Seeded generator of realistic multi-department person records with ground truth.

Persons from every province (real GB/T 2260 county codes, retired ones for
people born before a change, valid GB 11643 check digits, Zipf-like surnames,
minority names, HK/Macau/Taiwan residents and foreigners) appear in one to six
of ten departments, each writing its records in its own conventions and with
its own error rates; hard cases (twins, same name and birthday, parent and
child, recycled phone numbers, guardians' IDs on children's records) are
planted and labelled.

Usage::

    python -m benchmarks.datagen --persons 100000 --seed 1 --out data/
    python -m benchmarks.datagen --records 2500000 --out data/ --format csv --per-source

Writes ``records.parquet`` (or ``.csv``, UTF-8) with the canonical raw columns,
``truth.parquet`` (source, record_id, person_id, hard_case, errors) and with
``--per-source`` one CSV file per department under ``sources/`` in that
department's encoding (the tax office writes GB18030), listed in
``sources/manifest.json``.  The same seed gives byte-identical files.

Truth's ``hard_case`` names the planted case a record belongs to: ``twins``,
``same_name_birthday``, ``parent_child`` (every record of both persons),
``recycled_phone`` (records showing the number both persons held) and
``guardian_id`` (a child's record carrying the parent's resident ID; the record
is the child's).  ``errors`` lists what was done to the record: name errors
(``homophone``, ``traditional``, ``spaced_name``, ``dot_separator``,
``transliteration``, ``latin_swapped``), ID errors (``id_typo``,
``id_transposition``, ``id_excel_truncated``, ``id_excel_scientific``,
``id_fullwidth``, ``id_spaces``, ``id_lowercase_x``, ``id_quote_prefix``,
``id_type_mismatch``), ``date_swapped``, ``phone_typo``, stale values
(``phone_outdated``, ``address_outdated``) and ``guardian_id``.  Department
formats (date styles, ``+86`` prefixes, masked IDs, 15-digit IDs) are
conventions, not errors, and are not listed.

The generator does not use the normalizers' name, romanization or ID modules:
its tables are its own world model, so that evaluating on its output is not
circular.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks import _datagen_departments as D
from benchmarks import _datagen_documents as DOC
from benchmarks import _datagen_persons as P
from benchmarks import _datagen_records as R
from normalizers import schema as S

__all__ = [
    "HARD_CASES",
    "SOURCES",
    "TRUTH_COLUMNS",
    "generate",
    "persons_for_records",
    "summary",
    "write",
]


SOURCES = D.SOURCES
HARD_CASES = P.HARD_CASES
TRUTH_COLUMNS: tuple[str, ...] = (
    S.SOURCE,
    S.RECORD_ID,
    D.TRUTH_PERSON_ID,
    D.TRUTH_HARD_CASE,
    D.TRUTH_HARD_GROUP,
    D.TRUTH_ERRORS,
)
RECORDS_PER_PERSON = 2.5  # measured mean; used to size a run from a target record count
SOURCE_ENCODINGS: dict[str, str] = {"tax": "gb18030", "hospital": "utf-8-sig"}  # default utf-8


def generate(persons: int, *, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records, truth) for ``persons`` true persons; the same seed gives the same frames.

    ``records`` has the canonical raw columns (all strings); ``truth`` has one
    row per record, in the same order, with the person it belongs to, the hard
    case it was planted for (or null) and the errors applied to it (comma
    separated names, or null).
    """
    if persons < 1:
        raise ValueError(f"persons: expected a positive count (got {persons})")
    rng = np.random.default_rng(seed)
    people = DOC.build_persons(rng, persons)
    both = R.build_records(rng, people)
    return both.select(S.RAW_COLUMNS), both.select(TRUTH_COLUMNS)


def persons_for_records(records: int) -> int:
    """How many persons give about ``records`` records."""
    return max(1, round(records / RECORDS_PER_PERSON))


def summary(records: pl.DataFrame, truth: pl.DataFrame) -> str:
    """Records per source, hard-case records and pairs, and error counts, as text."""
    lines = [f"records: {records.height:,}   persons: {truth[D.TRUTH_PERSON_ID].n_unique():,}"]
    per_source = records.group_by(S.SOURCE).len().sort(S.SOURCE)
    lines += [f"  {s:<16} {c:>10,}" for s, c in per_source.iter_rows()]
    lines.append("hard cases (records / persons):")
    hard = (
        truth.filter(pl.col(D.TRUTH_HARD_CASE).is_not_null())
        .group_by(D.TRUTH_HARD_CASE)
        .agg(pl.len().alias("records"), pl.col(D.TRUTH_PERSON_ID).n_unique().alias("persons"))
        .sort(D.TRUTH_HARD_CASE)
    )
    lines += [f"  {h:<20} {r:>8,} / {p:,}" for h, r, p in hard.iter_rows()]
    errors = (
        truth.select(pl.col(D.TRUTH_ERRORS).str.split(",").explode().drop_nulls())
        .group_by(D.TRUTH_ERRORS)
        .len()
        .sort("len", descending=True)
    )
    lines.append("errors (records): " + ", ".join(f"{e} {c:,}" for e, c in errors.iter_rows()))
    return "\n".join(lines)


def write(
    records: pl.DataFrame,
    truth: pl.DataFrame,
    out: Path,
    *,
    fmt: str = "parquet",
    per_source: bool = False,
) -> list[Path]:
    """Write the files described in the module docstring; returns their paths."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt: expected 'parquet' or 'csv' (got {fmt!r})")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / f"records.{fmt}"
    if fmt == "parquet":
        records.write_parquet(path, statistics=False)
    else:
        records.write_csv(path)
    written.append(path)
    path = out / "truth.parquet"
    truth.write_parquet(path, statistics=False)
    written.append(path)
    if per_source:
        folder = out / "sources"
        folder.mkdir(exist_ok=True)
        manifest = {}
        for source in SOURCES:
            encoding = SOURCE_ENCODINGS.get(source, "utf-8")
            path = folder / f"{source}.csv"
            text = records.filter(pl.col(S.SOURCE) == source).write_csv()
            path.write_bytes(text.encode(encoding))
            manifest[source] = {"file": path.name, "encoding": encoding}
            written.append(path)
        path = folder / "manifest.json"
        path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.datagen", description=__doc__.split("\n\n")[0]
    )
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--persons", type=int, help="number of true persons")
    size.add_argument("--records", type=int, help="target number of records (persons are derived)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet", dest="fmt")
    parser.add_argument(
        "--per-source", action="store_true", help="also write one CSV per department"
    )
    args = parser.parse_args(argv)
    persons = args.persons if args.persons is not None else persons_for_records(args.records)
    if persons < 1:
        parser.error("--persons/--records must be positive")
    start = time.perf_counter()
    records, truth = generate(persons, seed=args.seed)
    generated = time.perf_counter() - start
    write(records, truth, args.out, fmt=args.fmt, per_source=args.per_source)
    total = time.perf_counter() - start
    print(summary(records, truth), file=sys.stderr)
    print(f"generated in {generated:.1f} s, written in {total - generated:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
