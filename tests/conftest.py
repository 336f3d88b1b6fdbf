"""Shared test helpers: golden-table loading."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"
NULL = r"\N"


def golden(name: str) -> list:
    """Rows of ``tests/golden/<name>.tsv`` as ``pytest.param``s with readable ids.

    The file is tab separated with a header; columns ``input``, ``expected`` and
    ``note`` are required, more (``reason``, ``id_type`` ...) may follow.  ``\\N``
    stands for null; lines starting with ``#`` are comments.
    """
    path = GOLDEN_DIR / f"{name}.tsv"
    with path.open(encoding="utf-8", newline="") as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    missing = {"input", "expected", "note"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"{path.name}: missing columns {sorted(missing)}")
    params = []
    for i, row in enumerate(reader, start=1):
        row = {k: (None if v == NULL else v) for k, v in row.items()}
        params.append(pytest.param(row, id=f"{i}-{row['note'] or row['input']}"))
    return params
