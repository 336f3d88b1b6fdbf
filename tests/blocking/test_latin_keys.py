"""Latin-script blocking keys: sorted names, phonetic name parts, address numbers and words."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocking import add_blocking_keys, add_latin_keys, generate_pairs, latin_rules
from blocking.latin_keys import (
    KEY_ADDRESS_NUMBERS,
    KEY_ADDRESS_WORDS,
    KEY_LATIN_NAME,
    KEY_LATIN_TOKENS,
    LATIN_KEYS,
    latin_key_columns,
    phonetic_code,
)
from normalizers import schema as s

ROWS = [
    # (note, name_latin_norm, address, sorted name, phonetic parts, address numbers, words)
    (
        "given name first",
        "MITCHELL GREEN",
        "7 wallaby place delmar nsw 2119",
        "GREEN MITCHELL",
        ["MATCAL", "GRAN"],
        ["7", "2119"],
        ["WALLABY", "PLACE", "DELMAR"],
    ),
    (
        "surname first with a comma",
        "O'BRIEN, MARY",
        "tq13 8df, devon",
        "MARY O'BRIEN",
        ["OBRAN", "MARY"],
        ["TQ13", "8DF"],
        ["DEVON"],
    ),
    ("accents folded for the code", "JOSÉ MÜLLER", None, "JOSÉ MÜLLER", ["JAS", "MALAR"], [], []),
    ("initials are not coded", "J R TOLKIEN", "", "J R TOLKIEN", ["TALCAN"], [], []),
    (
        "one part",
        "ISABELLE",
        "23 gundulu place",
        "ISABELLE",
        ["ISABAL"],
        ["23"],
        ["GUNDULU", "PLACE"],
    ),
    ("no name", None, "lambeth", None, [], [], ["LAMBETH"]),
]


def _frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            s.NAME_LATIN_NORM: [r[1] for r in rows],
            s.ADDRESS: [r[2] for r in rows],
        },
        schema={s.NAME_LATIN_NORM: pl.String, s.ADDRESS: pl.String},
    )


@pytest.mark.parametrize("row", [pytest.param(r, id=r[0]) for r in ROWS])
def test_keys(row: tuple) -> None:
    out = add_latin_keys(_frame([row]))
    assert out[KEY_LATIN_NAME].to_list() == [row[3]]
    assert out[KEY_LATIN_TOKENS].to_list() == [row[4]]
    assert out[KEY_ADDRESS_NUMBERS].to_list() == [row[5]]
    assert out[KEY_ADDRESS_WORDS].to_list() == [row[6]]


def test_whole_frame_same_as_row_by_row() -> None:
    whole = add_latin_keys(_frame(ROWS))
    single = pl.concat([add_latin_keys(_frame([r])) for r in ROWS])
    assert whole.equals(single)
    assert whole.columns == [s.NAME_LATIN_NORM, s.ADDRESS, *LATIN_KEYS]


def test_only_the_keys_asked_for() -> None:
    frame = _frame(ROWS)
    assert [c.name for c in latin_key_columns(frame, columns=[KEY_LATIN_NAME])] == [KEY_LATIN_NAME]
    assert [c.name for c in latin_key_columns(frame, columns=[KEY_ADDRESS_WORDS])] == [
        KEY_ADDRESS_WORDS
    ]
    assert latin_key_columns(frame, columns=[s.DOB]) == []


def test_missing_columns_give_empty_keys() -> None:
    out = add_latin_keys(pl.DataFrame({s.ROW_ID: [0, 1]}))
    assert out[KEY_LATIN_NAME].to_list() == [None, None]
    assert out[KEY_LATIN_TOKENS].to_list() == [[], []]
    assert out[KEY_ADDRESS_NUMBERS].to_list() == [[], []]


def test_phonetic_code_tolerates_typos_and_nicknames() -> None:
    assert phonetic_code("MITCHELL") == phonetic_code("MITCHEL")
    assert phonetic_code("ISABELLE") == phonetic_code("ISABELLA")
    assert phonetic_code("THOMAS") == phonetic_code("TOM")
    assert phonetic_code("J") is None
    assert phonetic_code("'-") is None


_token = st.text("ABCÉIOÜ'-", min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(_token, min_size=1, max_size=3)), max_size=20))
def test_token_codes_match_scalar(names: list[list[str] | None]) -> None:
    frame = pl.DataFrame(
        {s.NAME_LATIN_NORM: [None if n is None else " ".join(n) for n in names]},
        schema={s.NAME_LATIN_NORM: pl.String},
    )
    got = add_latin_keys(frame)[KEY_LATIN_TOKENS].to_list()
    for tokens, codes in zip(names, got, strict=True):
        expected = [] if tokens is None else [phonetic_code(t) for t in tokens]
        assert codes == list(dict.fromkeys(c for c in expected if c is not None))


def test_latin_rules_pair_typos() -> None:
    """Each rule still finds the pair when the fields of the others are wrong."""
    records = pl.DataFrame(
        {
            s.ROW_ID: pl.Series(range(6), dtype=pl.UInt32),
            s.RECORD_REASON: pl.Series([None] * 6, dtype=pl.String),
            s.ID_CLEAN: ["1030769", "1030769", None, None, None, None],
            s.NAME_LATIN_NORM: [
                "MIKHAYLA HANNAGAN",
                "HANNAGAN MIKHAYLA",  # document, latin_name
                "MIKHAYLA HANNAGAN",
                "MIKHVYLA HANNAGAN",  # name part + dob
                "SAM BENTHAM",
                "SAM BENTHEM",  # name part + address number
            ],
            s.DOB: pl.Series(
                [None, None, "1977-05-01", "1977-05-01", "1950-01-01", "1951-01-01"]
            ).str.to_date(),
            s.BIRTH_YEAR: pl.Series([None, None, 1977, 1977, 1950, 1951], dtype=pl.Int32),
            s.ADDRESS: [None, None, "somewhere", "elsewhere", "1 kent st 2000", "1 kent st 2000"],
        }
    )
    pairs = generate_pairs(add_blocking_keys(records, columns=LATIN_KEYS), latin_rules()).pairs
    found = {(a, b): rule for a, b, rule in pairs.iter_rows()}
    assert found[(0, 1)] == "document"
    assert found[(2, 3)] == "name_part_dob"
    assert found[(4, 5)] == "name_part_address"
