"""Comparisons for Latin-script data: levels on hand-built pairs, the vector path against a
one-pair-at-a-time reference, declarative behaviour, presets and a run of the latin preset."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler

from blocking import default_rules, latin_rules
from linkage.comparisons import (
    DobComparison,
    NameComparison,
    comparison_from_dict,
    comparison_vectors,
)
from linkage.config import JobConfig
from linkage.latin import (
    DocumentComparison,
    LatinNameComparison,
    TextComparison,
    variant_groups,
)
from linkage.presets import PRESETS, latin_comparisons, preset_comparisons, preset_rules
from normalizers import schema as s
from normalizers.errors import ConfigError


def _levels(comparison: Any, left: list[str | None], right: list[str | None]) -> list[str]:
    column = comparison.columns[0]
    gamma = comparison.compute(
        pl.DataFrame({column: left}, schema={column: pl.String}),
        pl.DataFrame({column: right}, schema={column: pl.String}),
    )
    return [comparison.levels[g] for g in gamma.to_list()]


# ------------------------------------------------------------------ names

NAME_CASES = [
    ("MITCHELL GREEN", "MITCHELL GREEN", "exact", "same name"),
    ("O'BRIEN, MARY", "O'BRIEN MARY", "exact", "a comma is no difference"),
    ("MITCHELL GREEN", "GREEN MITCHELL", "swapped", "surname first"),
    ("MIKHAYLA HANNAGAN", "MIKHVYLA HANNAGAN", "fuzzy_high", "typo in the given name"),
    ("HANNAGAN MIKHAYLA", "MIKHAYLA HANNAAN", "fuzzy_high", "typo and other order"),
    ("ISABELLE", "ISABELLE SMITH", "partial", "surname missing"),
    ("DONALDSON", "JACK DONALDSEN", "partial", "given name missing, typo"),
    ("TOM CHUDLEIGH", "THOMAS CHUDLEIGH", "fuzzy_low", "nickname"),
    ("J SMITH", "JOHN SMITH", "fuzzy_low", "initial"),
    ("BILL SEARLE", "WILLIAM SEARLE", "fuzzy_low", "another form of the given name"),
    ("SEARLE BILL", "WILLIAM SEARLE", "fuzzy_low", "another form, other order"),
    ("JOHN SMITH", "JANE SMITH", "one_part", "sibling: the same surname"),
    ("TAYLA GREEN", "TAYLA WHITE", "one_part", "another surname"),
    ("JOHN SMITH", "MARY JONES", "different", "different"),
    ("ISABELLE", "MARY JONES", "different", "single part, no match"),
    (None, "MARY JONES", "null", "missing"),
]


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [pytest.param(a, b, level, id=note) for a, b, level, note in NAME_CASES],
)
def test_latin_name_levels(left: str | None, right: str | None, expected: str) -> None:
    comparison = LatinNameComparison()
    assert _levels(comparison, [left], [right]) == [expected]
    assert _levels(comparison, [right], [left]) == [expected]  # symmetric


def _reference_name_level(a: str | None, b: str | None, cmp: LatinNameComparison) -> str:
    """One pair at a time, as the docstring says."""
    if a is None or b is None:
        return "null"
    ta, tb = a.replace(",", " ").split(), b.replace(",", " ").split()
    if ta == tb:
        return "exact"
    if sorted(ta) == sorted(tb):
        return "swapped"

    groups = variant_groups()

    def part(x: str, y: str) -> float:
        score = JaroWinkler.normalized_similarity(x, y)
        if (len(x) == 1 or len(y) == 1) and x[0] == y[0] and score < 1.0:
            return 0.8
        if cmp.name_variants and groups.get(x, frozenset()) & groups.get(y, frozenset()):
            return max(score, 0.85)
        return score

    ff, ll = part(ta[0], tb[0]), part(ta[-1], tb[-1])
    fl, lf = part(ta[0], tb[-1]), part(ta[-1], tb[0])
    straight, crossed = (min(ff, ll), max(ff, ll)), (min(fl, lf), max(fl, lf))
    lo, hi = crossed if crossed[0] > straight[0] else straight
    single = len(ta) == 1 or len(tb) == 1
    if lo >= cmp.high_threshold:
        return "fuzzy_high"
    if single and max(straight[1], crossed[1]) >= cmp.high_threshold:
        return "partial"
    if hi >= cmp.high_threshold and lo >= cmp.low_threshold:
        return "fuzzy_low"
    if hi >= cmp.high_threshold:
        return "one_part"
    return "different"


_part = st.one_of(
    st.text("ABCDEJMNORST'-", min_size=1, max_size=7),
    st.sampled_from(["BILL", "WILLIAM", "WILL", "AL", "ALBERT", "ALFRED", "TOM", "THOMAS", "JACK"]),
)
_name = st.one_of(
    st.none(),
    st.lists(_part, min_size=1, max_size=3).map(" ".join),
    st.tuples(_part, _part).map(lambda t: f"{t[0]}, {t[1]}"),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_name, _name), min_size=1, max_size=30), st.booleans())
def test_latin_name_vector_path_matches_reference(
    pairs: list[tuple[str | None, str | None]], variants: bool
) -> None:
    comparison = LatinNameComparison(name_variants=variants)
    left, right = [a for a, _ in pairs], [b for _, b in pairs]
    expected = [_reference_name_level(a, b, comparison) for a, b in pairs]
    assert _levels(comparison, left, right) == expected
    assert _levels(comparison, right, left) == expected


def test_name_variants_table() -> None:
    groups = variant_groups()
    assert groups["BILL"] & groups["WILLIAM"]
    assert groups["AL"] & groups["ALBERT"] and groups["AL"] & groups["ALFRED"]
    assert not groups["ALBERT"] & groups["ALFRED"]
    assert all(form == form.upper() and form.isalpha() for form in groups)
    no_variants = LatinNameComparison(name_variants=False)
    assert _levels(no_variants, ["BILL SEARLE"], ["WILLIAM SEARLE"]) == ["one_part"]


def test_latin_name_identity_and_veto() -> None:
    assert "one_part" not in LatinNameComparison().identity_levels
    assert LatinNameComparison().veto_levels == ()
    assert LatinNameComparison(veto_one_part=True).veto_levels == ("one_part",)
    assert LatinNameComparison().tf_column == s.NAME_LATIN_NORM
    assert LatinNameComparison(term_frequency=False).tf_column is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"high_threshold": 1.5},
        {"low_threshold": 0.0},
        {"high_threshold": 0.7, "low_threshold": 0.8},
        {"veto_one_part": "yes"},
        {"name": "Name"},
    ],
)
def test_latin_name_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        LatinNameComparison(**kwargs)


# ------------------------------------------------------------------- text

TEXT_CASES = [
    (
        "7 wallaby place delmar nsw 2119",
        "7 Wallaby Place  Delmar NSW 2119",
        "exact",
        "case, spaces",
    ),
    ("7 wallaby place delmar nsw 2119", "7 walaby place delmar nsw 2119", "similar", "typo"),
    ("delmar 7 wallaby place nsw 2119", "7 wallaby place delmar nsw 2119", "similar", "order"),
    ("se1 8xu, lambeth", "lambeth", "contained", "postcode missing"),
    ("tq13 8df, devon", "tq13 8hu, devon", "related", "other postcode"),
    ("cr0 4jz, camden", "wc2h 9ba", "different", "different"),
    ("  ", "lambeth", "null", "blank"),
    (None, "lambeth", "null", "missing"),
]


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [pytest.param(a, b, level, id=note) for a, b, level, note in TEXT_CASES],
)
def test_text_levels(left: str | None, right: str | None, expected: str) -> None:
    assert _levels(TextComparison(), [left], [right]) == [expected]
    assert _levels(TextComparison(), [right], [left]) == [expected]


def _reference_text_level(a: str | None, b: str | None, cmp: TextComparison) -> str:
    def fold(x: str) -> str:
        return " ".join(
            "".join(c if c.isalnum() or c == "_" or c.isspace() else " " for c in x.lower()).split()
        )

    if a is None or b is None or not fold(a) or not fold(b):
        return "null"
    fa, fb = fold(a), fold(b)
    if fa == fb:
        return "exact"
    if fuzz.token_sort_ratio(fa, fb) >= cmp.high_threshold:
        return "similar"
    ratio = fuzz.token_set_ratio(fa, fb)
    if ratio >= cmp.high_threshold:
        return "contained"
    if ratio >= cmp.low_threshold:
        return "related"
    return "different"


_word = st.text("abcde12", min_size=1, max_size=5)
_text = st.one_of(st.none(), st.lists(_word, min_size=0, max_size=5).map(", ".join))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_text, _text), min_size=1, max_size=30))
def test_text_vector_path_matches_rapidfuzz(pairs: list[tuple[str | None, str | None]]) -> None:
    comparison = TextComparison()
    left, right = [a for a, _ in pairs], [b for _, b in pairs]
    expected = [_reference_text_level(a, b, comparison) for a, b in pairs]
    assert _levels(comparison, left, right) == expected


def test_text_validation() -> None:
    with pytest.raises(ConfigError):
        TextComparison(high_threshold=120)
    with pytest.raises(ConfigError):
        TextComparison(high_threshold=60, low_threshold=70)
    with pytest.raises(ConfigError):
        TextComparison(column="")


# ------------------------------------------------------------- documents


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("1804974", "1804974", "exact"),
        ("1804974", "1804975", "typo"),  # one digit
        ("1804974", "1809474", "typo"),  # neighbours transposed
        ("1804974", "180497", "typo"),  # one digit dropped
        ("1804974", "1840794", "different"),
        ("1234", "1235", "different"),  # too short to call a typo
        (None, "1804974", "null"),
    ],
)
def test_document_levels(left: str | None, right: str | None, expected: str) -> None:
    assert _levels(DocumentComparison(), [left], [right]) == [expected]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text("0123", max_size=8), st.text("0123", max_size=8)), max_size=20))
def test_document_typo_is_one_osa_edit(pairs: list[tuple[str, str]]) -> None:
    comparison = DocumentComparison()
    got = _levels(comparison, [a for a, _ in pairs], [b for _, b in pairs])
    for (a, b), level in zip(pairs, got, strict=True):
        if a == b:
            assert level == "exact"
        elif min(len(a), len(b)) >= comparison.min_length and OSA.distance(a, b) <= 1:
            assert level == "typo"
        else:
            assert level == "different"


def test_document_identity_levels() -> None:
    assert DocumentComparison().identity_levels == ("exact", "typo")
    with pytest.raises(ConfigError):
        DocumentComparison(min_length=0)


# ------------------------------------------------------ declarative, presets


@pytest.mark.parametrize("comparison", latin_comparisons(), ids=lambda c: c.name)
def test_round_trip_through_model_dict(comparison: Any) -> None:
    assert comparison_from_dict(comparison.to_dict()) == comparison


def test_presets() -> None:
    assert PRESETS == ("chinese", "latin")
    assert preset_rules("chinese") == default_rules()
    assert preset_rules("latin") == latin_rules()
    assert isinstance(preset_comparisons("chinese")[1], NameComparison)
    assert isinstance(preset_comparisons("latin")[1], LatinNameComparison)
    with pytest.raises(ConfigError, match="preset"):
        preset_rules("western")


def test_job_file_preset(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text('schema_version = 1\npreset = "latin"\n', encoding="utf-8")
    assert JobConfig.from_toml(job).preset == "latin"
    assert JobConfig().preset == "chinese"
    job.write_text('preset = "western"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="preset"):
        JobConfig.from_toml(job)


def test_latin_vectors_on_normalized_records() -> None:
    """The latin comparisons need only normalized columns: u is estimated on records without keys."""
    records = pl.DataFrame(
        {
            s.ROW_ID: pl.Series([0, 1], dtype=pl.UInt32),
            s.ID_CLEAN: ["1804974", "1804975"],
            s.NAME_LATIN_NORM: ["MITCHELL GREEN", "MITCHEL GREEN"],
            s.DOB: pl.Series([None, None], dtype=pl.Date),
            s.BIRTH_YEAR: pl.Series([None, 1956], dtype=pl.Int32),
            s.SEX_BEST: [None, "M"],
            s.PHONE_NORM: [None, None],
            s.PHONE_KIND: [None, None],
            s.ADDRESS_NORM: ["7 wallaby place delmar", "7 wallaby plce delmar"],
        },
        schema_overrides={s.PHONE_NORM: pl.String, s.PHONE_KIND: pl.String, s.SEX_BEST: pl.String},
    )
    pairs = pl.DataFrame(
        {s.ROW_L: [0], s.ROW_R: [1], s.RULE: ["x"]},
        schema={s.ROW_L: pl.UInt32, s.ROW_R: pl.UInt32, s.RULE: pl.String},
    )
    vectors = comparison_vectors(records, pairs, latin_comparisons())
    levels = {c.name: c.levels[vectors[s.GAMMA_PREFIX + c.name][0]] for c in latin_comparisons()}
    assert levels == {
        "document": "typo",
        "name": "fuzzy_high",
        "dob": "null",
        "sex": "null",
        "phone": "null",
        "address": "similar",
    }
    assert np.all(vectors.select(pl.col("^gamma_.*$")).to_numpy() >= 0)


# -------------------------------------------- birth year, Western names in the default


def test_dob_year_fallback() -> None:
    comparison = DobComparison(year_column=s.BIRTH_YEAR)
    schema = {s.DOB: pl.Date, s.BIRTH_YEAR: pl.Int32}
    left = pl.DataFrame(
        {s.DOB: [dt.date(1862, 9, 6), None, None, None], s.BIRTH_YEAR: [1862, 1862, 1862, None]},
        schema=schema,
    )
    right = pl.DataFrame(
        {
            s.DOB: [dt.date(1862, 9, 6), dt.date(1862, 1, 1), None, None],
            s.BIRTH_YEAR: [1862, 1862, 1861, 1862],
        },
        schema=schema,
    )
    got = [comparison.levels[g] for g in comparison.compute(left, right).to_list()]
    assert got == ["exact", "same_year", "different", "null"]
    plain = DobComparison()
    assert [plain.levels[g] for g in plain.compute(left, right).to_list()] == [
        "exact",
        "null",
        "null",
        "null",
    ]
    assert "year_column" not in plain.to_dict()  # default model files unchanged
    assert comparison_from_dict(comparison.to_dict()) == comparison


def test_default_name_comparison_western_names() -> None:
    comparison = NameComparison()
    columns = comparison.columns
    schema = {c: pl.String for c in columns} | {s.NAME_KEYS: pl.List(pl.String)}

    def frame(rows: list[tuple[str, list[str]]]) -> pl.DataFrame:
        return pl.DataFrame(
            [{c: None for c in columns} | {s.NAME_LATIN_NORM: n, s.NAME_KEYS: k} for n, k in rows],
            schema=schema,
        )

    left = frame([("POPOV, SERGEY", []), ("BROWN DAVID", []), ("ZHANG WEI", ["zhang wei"])])
    right = frame([("POPOV SERGEY", []), ("DAVID BROWN", []), ("WEI ZHANG", ["wei zhang"])])
    got = [comparison.levels[g] for g in comparison.compute(left, right).to_list()]
    # a romanized Chinese name in the other order is not the same (ZHANG Wei / WEI Zhang)
    assert got == ["exact", "swapped", "different"]
