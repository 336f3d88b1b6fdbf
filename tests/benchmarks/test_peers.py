"""The peers' own cleaning, the oracle threshold sweep, the hard-case rate and ours' parsing."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import compare
from benchmarks._threshold_sweep import best_threshold, cluster_at
from benchmarks.peers import _prep as P
from benchmarks.peers import _runner as R
from benchmarks.peers.ours import stages_from_text
from normalizers import schema as S
from normalizers.checksums import resident_checksum_ok


# ------------------------------------------------------------------ cleaning
@settings(max_examples=200, deadline=None)
@given(
    region=st.integers(110000, 659999),
    born=st.dates(date(1900, 1, 1), date(1999, 12, 31)),
    sequence=st.integers(0, 999),
)
def test_upgrade_15_to_18_keeps_the_birth_date_and_adds_a_valid_check(
    region: int, born: date, sequence: int
) -> None:
    id15 = f"{region}{born:%y%m%d}{sequence:03d}"
    id18 = P.upgrade_15_to_18(id15)
    assert len(id18) == 18 and resident_checksum_ok(id18)
    assert id18[6:14] == f"{born:%Y%m%d}" and id18[14:17] == id15[12:15]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１１０１０５４９１２３１００２", "11010519491231002X"),  # full-width 15 digits
        (" 11010519491231002x", "11010519491231002X"),
        ("'110105194912310021", "110105194912310021"),
        ("4402**********9710", None),
        ("2.11422E+17", None),
        ("G01945166", "G01945166"),
        ("", None),
        (None, None),
    ],
)
def test_clean_id(raw: str | None, expected: str | None) -> None:
    assert P.clean_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1959-10-09", date(1959, 10, 9)),
        ("19591009", date(1959, 10, 9)),
        ("1959/10/9", date(1959, 10, 9)),
        ("1959.10.09", date(1959, 10, 9)),
        ("1959-10-09 00:00:00", date(1959, 10, 9)),
        ("1959年10月9日", date(1959, 10, 9)),
        ("09 OCT 1959", date(1959, 10, 9)),
        ("38437", date(2005, 3, 26)),  # Excel serial
        ("1630-08-01", date(1630, 8, 1)),
        ("2004-03", None),
        ("1959-13-01", None),
        ("7981-09-27", None),
        ("unknown", None),
        (None, None),
    ],
)
def test_parse_date(raw: str | None, expected: date | None) -> None:
    assert P.parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+86 138 1234 5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("86-13812345678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("0731-20236713", "073120236713"),
        ("n/a", None),
    ],
)
def test_clean_phone(raw: str, expected: str | None) -> None:
    assert P.clean_phone(raw) == expected


def test_names_in_han_traditional_and_latin_share_one_pinyin_key() -> None:
    keys = {
        P.name_key("张晓明", None),
        P.name_key("張曉明", None),
        P.name_key("张 晓 明", None),
        P.name_key(None, "ZHANG XIAOMING"),
        P.name_key(None, "ZHANG, XIAOMING"),
    }
    assert keys == {("xiaoming zhang", "zhang")}
    # given-name-first order still gives the same sorted key (the surname guess differs)
    assert P.name_key(None, "Xiaoming Zhang")[0] == "xiaoming zhang"
    assert P.name_key("阿力木·努尔买买提", None) == ("alimu nuermaimaiti", "alimu")
    assert P.name_key(None, None) == (None, None)
    assert P.name_key(None, "Anna MÜLLER")[0] == P.name_key(None, "muller anna")[0]


def test_prepare_fills_dob_and_sex_from_the_id_and_keeps_row_order() -> None:
    raw = {c: [None, None] for c in S.RAW_COLUMNS}
    raw.update(
        {
            S.SOURCE: ["a", "b"],
            S.RECORD_ID: ["1", "2"],
            S.NAME: ["張曉明", None],
            S.NAME_LATIN: [None, "ZHANG XIAOMING"],
            S.ID_NUMBER: ["110105491231001", None],
            S.SEX: [None, "女性"],
        }
    )
    prepared = P.prepare(pl.DataFrame(raw, schema={c: pl.String for c in S.RAW_COLUMNS}))
    assert prepared.columns == list(P.PREPARED_COLUMNS)
    first, second = prepared.rows(named=True)
    assert first[P.UID] == 0 and second[P.UID] == 1
    assert first[P.ID] == "110105194912310011"
    assert first[P.DOB] == date(1949, 12, 31) and first[P.DOB_TEXT] == "1949-12-31"
    assert first[P.SEX] == "M" and second[P.SEX] == "F"
    assert first[P.NAME_CLEAN] == "张晓明" and second[P.NAME_CLEAN] == "zhang xiaoming"
    assert first[P.NAME_PY] == second[P.NAME_PY] == "xiaoming zhang"


# ------------------------------------------------------------------ sweep
KEYS = pl.DataFrame({S.SOURCE: ["s"] * 4, S.RECORD_ID: ["a", "b", "c", "d"]})
TRUTH = KEYS.with_columns(person_id=pl.Series(["1", "1", "2", "2"]))
PAIRS = pl.DataFrame(
    {R.ROW_L: [0, 1, 2], R.ROW_R: [1, 2, 3], R.MATCH_PROBABILITY: [0.99, 0.6, 0.95]}
)


def test_cluster_at_links_the_pairs_at_or_above_the_threshold() -> None:
    labels = cluster_at(KEYS, PAIRS, 0.95).get_column(R.PERSON_ID).to_list()
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[1] != labels[2]
    assert cluster_at(KEYS, PAIRS, 0.5).get_column(R.PERSON_ID).n_unique() == 1
    assert cluster_at(KEYS, PAIRS, 0.999).get_column(R.PERSON_ID).n_unique() == 4


def test_best_threshold_finds_the_perfect_cut() -> None:
    threshold, report = best_threshold(TRUTH, KEYS, PAIRS, thresholds=(0.5, 0.9, 0.999))
    assert threshold == 0.9 and report.pairwise.f1 == 1.0


def test_connected_components_labels() -> None:
    labels = R.connected_components(5, np.array([0, 3]), np.array([1, 4]))
    assert labels[0] == labels[1] and labels[3] == labels[4] and len(set(labels)) == 3


# ------------------------------------------------------------------ hard cases
def test_hard_merge_rate_counts_planted_persons_merged_with_a_partner() -> None:
    truth = pl.DataFrame(
        {
            S.SOURCE: ["s"] * 6,
            S.RECORD_ID: list("abcdef"),
            "person_id": ["t1", "t1", "t2", "n1", "n2", "g1"],
            "hard_case": [
                "twins",
                "twins",
                "twins",
                "same_name_birthday",
                "same_name_birthday",
                "guardian_id",
            ],
        }
    )
    # the twins merged, the same-name pair kept apart; guardian_id does not count
    crosswalk = truth.select(S.SOURCE, S.RECORD_ID).with_columns(
        person_id=pl.Series([1, 1, 1, 2, 3, 1])
    )
    assert compare.hard_merge_rate(truth, crosswalk) == pytest.approx(2 / 4)
    assert compare.hard_merge_rate(truth.drop("hard_case"), crosswalk) is None
    apart = crosswalk.with_columns(person_id=pl.Series([1, 1, 2, 3, 4, 5]))
    assert compare.hard_merge_rate(truth, apart) == 0.0


# ------------------------------------------------------------------ ours
def test_stage_lines_are_read_from_the_cli_output() -> None:
    text = "normalize 1.25 s\n[blocking] 0.5s\n  scoring: 2 seconds\nwrote 10 records\ntotal 4 s"
    assert stages_from_text(text) == [("normalize", 1.25), ("blocking", 0.5), ("scoring", 2.0)]


def test_stage_timings_and_pairs_come_from_the_run_summary(tmp_path) -> None:
    from benchmarks.peers.ours import _stages_from_report

    (tmp_path / "summary.json").write_text(
        '{"candidate_pairs": 210026, "timings_s": {"read": 0.15, "normalize": 4.1}}',
        encoding="utf-8",
    )
    assert _stages_from_report(tmp_path) == ([("read", 0.15), ("normalize", 4.1)], 210026)
    assert _stages_from_report(tmp_path / "missing") is None
