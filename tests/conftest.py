"""Shared test machinery.

Golden tables: mark a test ``@pytest.mark.golden("ids")`` and give it a ``row``
argument; it is run once per row of ``tests/golden/ids.tsv``.  The file is tab
separated with a header; columns ``input``, ``expected`` and ``note`` are
required and more (``reason``, ``id_type`` ...) may follow.  ``\\N`` stands for
null; lines starting with ``#`` are comments.  (A hook rather than an import,
because tests run in importlib mode against the installed package.)
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

# benchmarks/ is not part of the wheel: make the checkout's copy importable.  Appended,
# not prepended, so the installed normalizers/blocking/linkage still win over the source tree.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

PG_URL = "postgresql+psycopg://{user}@127.0.0.1:5432/test"
PG_USERS = ("postgres", "root")


@pytest.fixture(scope="session")
def local_postgres_url() -> str | None:
    """A URL of the local PostgreSQL server (trust auth, database ``test``), or None when unreachable."""
    import sqlalchemy as sa

    for user in PG_USERS:
        url = PG_URL.format(user=user)
        engine = sa.create_engine(url)
        try:
            with engine.connect():
                return url
        except sa.exc.OperationalError:
            continue
        finally:
            engine.dispose()
    return None


GOLDEN_DIR = Path(__file__).parent / "golden"
NULL = r"\N"


def load_golden(name: str) -> list:
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
    if not params:
        raise ValueError(f"{path.name}: no rows")
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("golden")
    if marker is not None:
        metafunc.parametrize("row", load_golden(marker.args[0]))
