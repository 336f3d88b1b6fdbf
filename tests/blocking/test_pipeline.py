"""Blocking on the real output of normalize_frame: raw department records -> candidate pairs."""

from __future__ import annotations

import polars as pl

from blocking import add_blocking_keys, blocking_recall, estimate_pairs, generate_pairs
from blocking import pairs as blocking_pairs
from normalizers import schema as s
from normalizers.frame import normalize_frame

RAW = pl.DataFrame(
    {
        s.SOURCE: ["tax", "court", "police", "exit_entry", "social", "hospital", "tax", "tax"],
        s.RECORD_ID: ["1", "2", "3", "4", "5", "6", "7", "7"],
        s.NAME: ["张伟", "張偉", "张伟", None, "张伟", "张伟", "李娜", "王芳"],
        s.NAME_LATIN: [None, None, None, "ZHANG WEI", None, None, None, None],
        s.ID_NUMBER: [
            "110101199003071233",  # 0 valid
            "110101********1233",  # 1 court list: masked
            "110101199003071237",  # 2 one digit off: repairs include 0's ID
            None,  # 3 passport record, romanized name and birth date only
            "110101900307123",  # 4 legacy 15-digit form of 0's ID
            None,  # 5 name and phone only
            "440106200001011230",  # 6 someone else
            "110101199003071233",  # 7 duplicate (source, record_id): rejected
        ],
        s.BIRTH_DATE: [None, None, None, "1990-03-07", None, None, None, None],
        s.PHONE: [None, None, None, None, None, "13812345678", None, None],
    }
)
PERSON = pl.Series([1, 1, 1, 1, 1, 1, 2, None])


def test_raw_records_to_pairs() -> None:
    records = add_blocking_keys(normalize_frame(RAW))
    assert records[s.RECORD_REASON].to_list()[-1] is not None
    result = generate_pairs(records)
    pairs = {(l, r): rule for l, r, rule in result.pairs.iter_rows()}
    assert pairs[(0, 1)] == "id_mask_surname"
    assert pairs[(0, 2)] == "id"
    assert pairs[(0, 3)] == "name_keys_dob"
    assert pairs[(0, 4)] == "id"
    assert pairs[(0, 5)] == "rare_name"
    assert not any(7 in pair for pair in pairs)
    assert not any(6 in pair for pair in pairs)
    # person 1 has 6 records (15 true pairs); the romanized passport record (3)
    # shares nothing but a name reading with the three that have no birth date
    assert blocking_recall(result.pairs, PERSON) == 12 / 15
    estimated = estimate_pairs(records)[blocking_pairs.ESTIMATED_PAIRS].to_list()
    assert estimated == result.counts[blocking_pairs.MATERIALIZED_PAIRS].to_list()


def test_keys_are_derived_when_missing() -> None:
    normalized = normalize_frame(RAW)
    assert generate_pairs(normalized).pairs.equals(
        generate_pairs(add_blocking_keys(normalized)).pairs
    )
