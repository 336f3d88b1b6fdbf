"""The Fellegi-Sunter model: EM recovers known parameters, scoring, TF, the model file, interop."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.comparisons import (
    Comparison,
    DobComparison,
    NameComparison,
    comparison_vectors,
    default_comparisons,
)
from linkage.em import estimate_u, random_pairs, train, train_supervised
from linkage.interop import RecordLinkageFeature, agreement, one_hot, to_recordlinkage_features
from linkage.model import FSModel, comparison_params, explain_pair, score, term_frequencies
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError
from normalizers.frame import own_id_exprs

COMPARISONS = default_comparisons()

# A known model: m and u per non-null level of each default comparison (within EM's bounds).
TRUE_U = {
    "id": [0.001, 0.0005, 0.001, 0.002, 0.8, 0.1955],
    "name": [0.002, 0.001, 0.001, 0.001, 0.01, 0.005, 0.1, 0.02, 0.86],
    "dob": [0.003, 0.001, 0.01, 0.05, 0.936],
    "sex": [0.5, 0.5],
    "phone": [0.001, 0.999],
    "address": [0.05, 0.1, 0.3, 0.55],
}
TRUE_M = {
    # exact_conflicting (a guardian's ID) below its u: training bounds its weight at 0
    "id": [0.85, 0.0004, 0.0496, 0.05, 0.0005, 0.0495],
    # surname_only below its training bound (log2(m/u) <= -8)
    "name": [0.7297, 0.08, 0.05, 0.02, 0.06, 0.02, 0.0003, 0.01, 0.03],
    "dob": [0.9, 0.02, 0.04, 0.02, 0.02],
    "sex": [0.97, 0.03],
    "phone": [0.6, 0.4],
    "address": [0.6, 0.2, 0.1, 0.1],
}
TRUE_PRIOR = 0.2
NULL_SHARE = {"id": 0.3, "name": 0.02, "dob": 0.1, "sex": 0.05, "phone": 0.6, "address": 0.4}


def full(values: list[float]) -> list[float]:
    return [1.0, *values]


def simulate(n: int, seed: int, prior: float = TRUE_PRIOR) -> tuple[pl.DataFrame, np.ndarray]:
    """Comparison vectors drawn from the known model, and which pairs are matches."""
    rng = np.random.default_rng(seed)
    is_match = rng.random(n) < prior
    columns: dict[str, Any] = {
        s.ROW_L: pl.Series(np.arange(n), dtype=pl.UInt32),
        s.ROW_R: pl.Series(np.arange(n) + n, dtype=pl.UInt32),
        s.RULE: ["sim"] * n,
    }
    for c in COMPARISONS:
        draw = rng.random(n)
        m_level = np.searchsorted(np.cumsum(TRUE_M[c.name]), draw, side="right") + 1
        u_level = np.searchsorted(np.cumsum(TRUE_U[c.name]), draw, side="right") + 1
        level = np.minimum(np.where(is_match, m_level, u_level), len(c.levels) - 1)
        level[rng.random(n) < NULL_SHARE[c.name]] = 0
        columns[s.GAMMA_PREFIX + c.name] = pl.Series(level, dtype=pl.Int8)
    return pl.DataFrame(columns), is_match


def known_model(**overrides: Any) -> FSModel:
    params = tuple(
        comparison_params(c, full(TRUE_M[c.name]), full(TRUE_U[c.name])) for c in COMPARISONS
    )
    return FSModel.model_validate(
        {
            "prior": TRUE_PRIOR,
            "comparisons": params,
            "training": {"method": "given", "records": 0, "pairs": 0, "patterns": 0},
            **overrides,
        }
    )


# ----------------------------------------------------------------------- EM


@pytest.fixture(scope="module")
def simulated() -> tuple[pl.DataFrame, np.ndarray]:
    return simulate(200_000, seed=7)


def test_em_recovers_known_parameters(simulated: tuple[pl.DataFrame, np.ndarray]) -> None:
    vectors, _ = simulated
    u = {name: full(values) for name, values in TRUE_U.items()}
    model = train(vectors, None, COMPARISONS, u=u, max_iter=500, tol=1e-7)
    assert model.training.converged and model.training.method == "em"
    assert model.training.pairs == vectors.height
    assert model.prior == pytest.approx(TRUE_PRIOR, abs=0.01)
    for c in model.comparisons:
        got = [lv.m for lv in c.levels[1:]]
        assert got == pytest.approx(TRUE_M[c.name], abs=0.015), c.name
        assert [lv.u for lv in c.levels[1:]] == pytest.approx(TRUE_U[c.name])


def test_different_resident_ids_weigh_strongly_against() -> None:
    # Households: many candidate pairs share surname, phone and address but hold different
    # resident IDs; against random-pair u they look nothing like non-matches.  EM must not
    # learn that different resident IDs are typical of one person.
    vectors, _ = simulate(20_000, seed=3)
    level = {c.name: {label: i for i, label in enumerate(c.levels)} for c in COMPARISONS}
    household = {
        "id": level["id"]["different_same_kind"],
        "name": level["name"]["surname_only"],
        "dob": level["dob"]["different"],
        "sex": level["sex"]["different"],
        "phone": level["phone"]["exact"],
        "address": level["address"]["same_county"],
    }
    extra = pl.DataFrame(
        {s.ROW_L: [0] * 20_000, s.ROW_R: [1] * 20_000, s.RULE: ["household"] * 20_000}
        | {
            s.GAMMA_PREFIX + name: pl.Series([lv] * 20_000, dtype=pl.Int8)
            for name, lv in household.items()
        },
        schema=vectors.schema,
    )
    u = {name: full(values) for name, values in TRUE_U.items()}
    model = train(pl.concat([vectors, extra]), None, COMPARISONS, u=u)
    ids = model.comparison("id")
    assert ids.levels[ids.labels.index("different_same_kind")].weight <= -10.0 + 1e-9
    for c in model.comparisons:
        assert c.levels[1].weight >= 0.0 and c.levels[-1].weight <= 1e-9, c.name


def test_em_needs_pairs_and_u() -> None:
    empty = simulate(10, seed=1)[0].head(0)
    u = {name: full(values) for name, values in TRUE_U.items()}
    with pytest.raises(ConfigError, match="no candidate pairs"):
        train(empty, None, COMPARISONS, u=u)
    with pytest.raises(ConfigError, match="records are needed"):
        train(simulate(10, seed=1)[0], None, COMPARISONS)
    with pytest.raises(ConfigError, match="missing comparison"):
        train(simulate(10, seed=1)[0], None, COMPARISONS, u={"id": u["id"]})


def test_supervised_counts(simulated: tuple[pl.DataFrame, np.ndarray]) -> None:
    vectors, is_match = simulated
    model = train_supervised(vectors, is_match, COMPARISONS)
    assert model.training.method == "supervised"
    assert model.prior == pytest.approx(is_match.mean())
    for c in model.comparisons:
        assert [lv.m for lv in c.levels[1:]] == pytest.approx(TRUE_M[c.name], abs=0.01), c.name
        assert [lv.u for lv in c.levels[1:]] == pytest.approx(TRUE_U[c.name], abs=0.01), c.name
    with pytest.raises(ConfigError, match="both matching and non-matching"):
        train_supervised(vectors, np.ones(vectors.height, dtype=bool), COMPARISONS)


# ------------------------------------------------------------------ records


RECORD_SCHEMA: dict[str, Any] = {
    s.ROW_ID: pl.UInt32,
    s.ID_KIND: pl.String,
    s.ID_NORM: pl.String,
    s.ID_KEY: pl.String,
    s.ID_CLEAN: pl.String,
    s.ID_OWN: pl.String,
    s.ID_REASON: pl.String,
    s.ID_BIRTH_DATE: pl.Date,
    s.ID_SEX: pl.String,
    s.ID_MASK_PATTERN: pl.String,
    s.ID_REPAIRS: pl.List(pl.String),
    s.BIRTH_DATE_NORM: pl.Date,
    s.SEX_NORM: pl.String,
    s.NAME_NORM: pl.String,
    s.NAME_SURNAME: pl.String,
    s.NAME_GIVEN: pl.String,
    s.NAME_PINYIN: pl.String,
    s.NAME_SURNAME_PINYIN: pl.String,
    s.NAME_LATIN_NORM: pl.String,
    s.NAME_KEYS: pl.List(pl.String),
    s.DOB: pl.Date,
    s.SEX_BEST: pl.String,
    s.PHONE_NORM: pl.String,
    s.PHONE_KIND: pl.String,
    s.ADDRESS_PROVINCE: pl.String,
    s.ADDRESS_CITY: pl.String,
    s.ADDRESS_COUNTY: pl.String,
    s.RECORD_REASON: pl.String,
}


def person(
    name: str, surname: str, pinyin: str, dob: dt.date, sex: str, **extra: Any
) -> dict[str, Any]:
    return {
        s.NAME_NORM: name,
        s.NAME_SURNAME: surname,
        s.NAME_GIVEN: name[len(surname) :],
        s.NAME_PINYIN: pinyin,
        s.NAME_SURNAME_PINYIN: pinyin.split()[0],
        s.NAME_KEYS: [pinyin],
        s.DOB: dob,
        s.SEX_BEST: sex,
        **extra,
    }


def records(rows: list[dict[str, Any]]) -> pl.DataFrame:
    data = [{**{c: None for c in RECORD_SCHEMA}, **row, s.ROW_ID: i} for i, row in enumerate(rows)]
    return pl.DataFrame(data, schema=RECORD_SCHEMA).with_columns(own_id_exprs())


def pairs(lefts: list[int], rights: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {s.ROW_L: lefts, s.ROW_R: rights, s.RULE: ["test"] * len(lefts)},
        schema={s.ROW_L: pl.UInt32, s.ROW_R: pl.UInt32, s.RULE: pl.String},
    )


COMMON = person("张伟", "张", "zhang wei", dt.date(1985, 2, 3), "M")
RARE = person("翟芬竹", "翟", "zhai fen zhu", dt.date(1985, 2, 3), "F")
FILLER = [
    person(
        f"李{chr(0x4E00 + i)}",
        "李",
        f"li x{i}",
        dt.date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
        "F",
    )
    for i in range(3000)
]
CROWD = records([COMMON] * 20 + [RARE, RARE] + FILLER)  # rows 0..19 张伟, 20..21 翟芬竹
SMALL = records([COMMON] * 5 + FILLER[:30])


# ------------------------------------------------------------------- scoring


def test_score_adds_weight_and_probability(simulated: tuple[pl.DataFrame, np.ndarray]) -> None:
    vectors, is_match = simulated
    model = known_model(require_identity_evidence=False)
    scored = score(vectors, None, model)
    assert scored.columns == [*vectors.columns, s.MATCH_WEIGHT, s.MATCH_PROBABILITY]
    expected = np.full(vectors.height, math.log2(TRUE_PRIOR / (1 - TRUE_PRIOR)))
    for c in model.comparisons:
        expected += c.weights()[vectors[s.GAMMA_PREFIX + c.name].to_numpy()]
    assert np.allclose(scored[s.MATCH_WEIGHT].to_numpy(), expected)
    p = scored[s.MATCH_PROBABILITY].to_numpy()
    assert np.allclose(p, 1 / (1 + 2.0**-expected))
    # scores from the true model separate the simulated classes
    assert ((p >= 0.5) == is_match).mean() > 0.97


def test_pairs_without_identity_evidence_are_capped_at_review(
    simulated: tuple[pl.DataFrame, np.ndarray],
) -> None:
    vectors, _ = simulated
    model = known_model()
    gated = score(vectors, None, model)[s.MATCH_WEIGHT].to_numpy()
    free = score(vectors, None, model.model_copy(update={"require_identity_evidence": False}))
    free_w = free[s.MATCH_WEIGHT].to_numpy()
    id_level = vectors[s.GAMMA_PREFIX + "id"].to_numpy()
    name_level = vectors[s.GAMMA_PREFIX + "name"].to_numpy()
    evidence = (np.isin(id_level, [1, 3, 4]) | np.isin(name_level, [1, 2, 3, 4, 6])) & (
        name_level != 7  # surname_only vetoes
    )
    assert np.allclose(gated[evidence], free_w[evidence])
    assert np.allclose(gated[~evidence], np.minimum(free_w[~evidence], model.identity_cap_weight))
    assert (gated[~evidence] <= model.identity_cap_weight + 1e-9).all()
    assert (~evidence & (free_w > model.identity_cap_weight)).any()  # the cap did bite


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 100), min_size=len(COMPARISONS), max_size=len(COMPARISONS)),
    st.integers(0, len(COMPARISONS) - 1),
)
def test_score_monotone_in_agreement(raw: list[int], which: int) -> None:
    """Disagreement -> no information -> strongest agreement never lowers the score."""
    model = known_model()
    base = [r % len(c.levels) for r, c in zip(raw, COMPARISONS, strict=True)]
    rows = []
    for lv in (len(COMPARISONS[which].levels) - 1, 0, 1):
        vec = list(base)
        vec[which] = lv
        rows.append(vec)
    frame = pl.DataFrame(
        {s.ROW_L: [0, 0, 0], s.ROW_R: [1, 1, 1], s.RULE: ["x"] * 3}
        | {
            s.GAMMA_PREFIX + c.name: pl.Series([r[k] for r in rows], dtype=pl.Int8)
            for k, c in enumerate(COMPARISONS)
        }
    )
    w = score(frame, None, model)[s.MATCH_WEIGHT].to_list()
    assert w[0] <= w[1] <= w[2]


def test_tf_lowers_common_name_weight() -> None:
    model = known_model()
    vectors = comparison_vectors(CROWD, pairs([0, 20], [1, 21]), COMPARISONS)
    name_exact = COMPARISONS[1].levels.index("exact")
    assert vectors[s.GAMMA_PREFIX + "name"].to_list() == [name_exact, name_exact]
    with_tf = score(vectors, CROWD, model)[s.MATCH_WEIGHT].to_list()
    without_tf = score(vectors, None, model)[s.MATCH_WEIGHT].to_list()
    n = CROWD.height
    level = model.comparison("name").levels[name_exact]
    # 张伟 is 20/n of the records: u is replaced by that frequency
    assert with_tf[0] == pytest.approx(without_tf[0] - level.weight + math.log2(level.m / (20 / n)))
    assert with_tf[0] < without_tf[0]
    # 翟芬竹 is rarer than the level's u: clipped to u, no change
    assert 2 / n < level.u and with_tf[1] == pytest.approx(without_tf[1])
    assert with_tf[0] < with_tf[1] - 1.0


def test_tf_tables_override_and_exclude_rejects() -> None:
    rejected = CROWD.with_columns(
        pl.when(pl.col(s.ROW_ID) < 10).then(pl.lit("RECORD_DUPLICATE_KEY")).alias(s.RECORD_REASON)
    )
    table = term_frequencies(rejected, s.NAME_NORM)
    zhang = table.filter(pl.col(s.NAME_NORM) == "张伟")["tf"][0]
    assert zhang == pytest.approx(10 / (CROWD.height - 10))
    model = known_model()
    vectors = comparison_vectors(CROWD, pairs([0], [1]), COMPARISONS)
    tiny = pl.DataFrame({s.NAME_NORM: ["张伟"], "tf": [1e-9]})
    assert score(vectors, CROWD, model, tf_tables={s.NAME_NORM: tiny})[s.MATCH_WEIGHT][
        0
    ] == pytest.approx(score(vectors, None, model)[s.MATCH_WEIGHT][0])


def test_score_checks_vectors() -> None:
    model = known_model()
    vectors, _ = simulate(5, seed=0)
    with pytest.raises(SchemaError, match="gamma_dob"):
        score(vectors.drop(s.GAMMA_PREFIX + "dob"), None, model)
    with pytest.raises(SchemaError, match="outside"):
        score(
            vectors.with_columns(pl.lit(9, dtype=pl.Int8).alias(s.GAMMA_PREFIX + "sex")),
            None,
            model,
        )


def test_explain_pair_is_a_waterfall() -> None:
    model = known_model()
    explanation = explain_pair(CROWD, 0, 1, model)
    vectors = comparison_vectors(CROWD, pairs([0], [1]), COMPARISONS)
    scored = score(vectors, CROWD, model)
    assert explanation.match_weight == pytest.approx(scored[s.MATCH_WEIGHT][0])
    assert explanation.match_probability == pytest.approx(scored[s.MATCH_PROBABILITY][0])
    terms = {t.comparison: t for t in explanation.terms}
    assert terms["name"].label == "exact" and terms["name"].u_tf == pytest.approx(20 / CROWD.height)
    assert terms["id"].label == "null" and terms["id"].weight == 0.0
    frame = explanation.to_frame()
    assert frame["comparison"].to_list() == ["prior", *[c.name for c in COMPARISONS]]
    assert frame["cumulative"][-1] == pytest.approx(explanation.match_weight)


# ---------------------------------------------------------------------- u


def test_estimate_u_uses_all_pairs_when_few() -> None:
    u = estimate_u(SMALL, COMPARISONS, max_pairs=10_000)
    assert set(u) == {c.name for c in COMPARISONS}
    for c in COMPARISONS:
        assert len(u[c.name]) == len(c.levels) and u[c.name][0] == 1.0
        assert sum(u[c.name][1:]) == pytest.approx(1.0)
        assert min(u[c.name][1:]) > 0.0  # Laplace: no level impossible
    n = SMALL.height
    assert random_pairs(SMALL, max_pairs=10_000).height == n * (n - 1) // 2


def test_random_pairs_sampled_seeded_and_skip_rejects() -> None:
    rejected = SMALL.with_columns(
        pl.when(pl.col(s.ROW_ID) == 3).then(pl.lit("RECORD_NO_USABLE_FIELD")).alias(s.RECORD_REASON)
    )
    a = random_pairs(rejected, max_pairs=200, seed=1)
    b = random_pairs(rejected, max_pairs=200, seed=1)
    assert a.equals(b) and a.height == 200
    assert (a[s.ROW_L] < a[s.ROW_R]).all()
    assert 3 not in set(a[s.ROW_L].to_list()) | set(a[s.ROW_R].to_list())
    assert estimate_u(SMALL, COMPARISONS, max_pairs=200, seed=1) == estimate_u(
        SMALL, COMPARISONS, max_pairs=200, seed=1
    )


def test_train_from_records_estimates_u() -> None:
    vectors = comparison_vectors(SMALL, pairs(list(range(30)), list(range(1, 31))), COMPARISONS)
    model = train(vectors, SMALL, COMPARISONS, u_pairs=500, seed=2)
    assert model.training.records == SMALL.height and model.training.u_pairs == 500
    assert model.training.seed == 2


# ----------------------------------------------------------------- the file


def test_json_round_trip() -> None:
    model = known_model(match_threshold=0.95, review_threshold=0.4)
    text = model.to_json()
    again = FSModel.from_json(text)
    assert again == model
    assert again.build_comparisons() == COMPARISONS
    data = json.loads(text)
    assert data["schema_version"] == 1
    assert data["comparisons"][0]["definition"]["type"] == "IdComparison"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"schema_version": 2}, "upgrade"),
        ({"schema_version": None}, "retrain"),
        ({"surprise": 1}, "surprise"),
        ({"prior": 1.5}, "prior"),
        ({"review_threshold": 0.999}, "review_threshold"),
    ],
)
def test_bad_model_files(change: dict[str, Any], match: str) -> None:
    data = json.loads(known_model().to_json())
    data.update(change)
    with pytest.raises(ConfigError, match=match):
        FSModel.from_json(json.dumps(data))


def test_model_is_frozen_and_thresholds_validated() -> None:
    model = known_model()
    with pytest.raises(ValueError, match="frozen"):
        model.prior = 0.5  # type: ignore[misc]
    assert model.with_thresholds(match=0.9, review=0.3).match_threshold == 0.9
    with pytest.raises(ConfigError, match="review_threshold"):
        model.with_thresholds(match=0.2)
    with pytest.raises(ConfigError, match="not valid JSON"):
        FSModel.from_json("{")


# ----------------------------------------------------------- recordlinkage


def test_recordlinkage_features_with_classifiers(
    simulated: tuple[pl.DataFrame, np.ndarray],
) -> None:
    recordlinkage = pytest.importorskip("recordlinkage")
    vectors, is_match = simulated[0].head(20_000), simulated[1][:20_000]
    features = to_recordlinkage_features(vectors)
    assert list(features.index.names) == [s.ROW_L, s.ROW_R]
    assert list(features.columns) == [c.name for c in COMPARISONS]
    truth = features.index[is_match]

    def quality(found: Any) -> tuple[float, float]:
        hits = len(set(found) & set(truth))
        return hits / len(found), hits / len(truth)

    ecm = recordlinkage.ECMClassifier(init="jaro", binarize=None)
    precision, recall = quality(ecm.fit_predict(agreement(features)))
    assert precision > 0.95 and recall > 0.95
    binary = one_hot(features)
    assert "name_1" in binary.columns and "name_0" not in binary.columns
    logistic = recordlinkage.LogisticRegressionClassifier()
    logistic.fit(binary, truth)
    precision, recall = quality(logistic.predict(binary))
    assert precision > 0.95 and recall > 0.95


def test_recordlinkage_compare_feature() -> None:
    recordlinkage = pytest.importorskip("recordlinkage")
    import pandas as pd

    frame = records([COMMON, RARE, person("张伟", "张", "zhang wei", dt.date(1985, 3, 2), "M")])
    pair_index = pd.MultiIndex.from_arrays([[0, 0, 1], [1, 2, 2]])
    compare = recordlinkage.Compare()
    comps: list[Comparison] = [NameComparison(), DobComparison()]
    for c in comps:
        compare.add(RecordLinkageFeature(c, schema=frame.schema))
    features = compare.compute(pair_index, frame.to_pandas())
    ours = comparison_vectors(frame, pairs([0, 0, 1], [1, 2, 2]), comps)
    for c in comps:
        assert features[c.name].tolist() == ours[s.GAMMA_PREFIX + c.name].to_list()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["张伟", "王芳", "李娜", None]), min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=20),
    st.sets(st.sampled_from(["张伟", "王芳", "李娜"])),
)
def test_term_frequency_lookup_alike_for_few_and_many_records(
    names: list[str | None], index_pairs: list[tuple[int, int]], known: set[str]
) -> None:
    # a service call's few records are looked up in Python, a batch's joined in polars
    import linkage.model as model_module

    records = pl.DataFrame({s.NAME_NORM: names}, schema={s.NAME_NORM: pl.String}).with_row_index(
        s.ROW_ID
    )
    n = records.height
    pairs = pl.DataFrame(
        {s.ROW_L: [a % n for a, _ in index_pairs], s.ROW_R: [b % n for _, b in index_pairs]},
        schema={s.ROW_L: pl.UInt32, s.ROW_R: pl.UInt32},
    )
    table = term_frequencies(records, s.NAME_NORM).filter(pl.col(s.NAME_NORM).is_in(list(known)))
    few = model_module._tf_u(records, pairs, s.NAME_NORM, table)
    assert records.height <= model_module._FEW_RECORDS
    many = pl.concat(
        [records.drop(s.ROW_ID)] * (model_module._FEW_RECORDS // n + 1)
    ).with_row_index(s.ROW_ID)
    joined = model_module._tf_u(many, pairs, s.NAME_NORM, table)
    assert np.array_equal(few, joined, equal_nan=True)
    for k, (a, b) in enumerate(zip(pairs[s.ROW_L], pairs[s.ROW_R], strict=True)):
        shared = names[a] is not None and names[a] == names[b] and names[a] in known
        assert math.isnan(few[k]) != shared
