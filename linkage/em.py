"""Training the Fellegi-Sunter model.

``u`` comes from uniformly random record pairs (nearly all non-matches), with
Laplace smoothing so that no level is impossible; it then stays FIXED while
expectation-maximisation over the candidate pairs estimates ``m`` and the
prior, as Splink does.  Fixing u removes most of EM's freedom to converge on
some other latent class (households, namesakes) instead of "same person".

The prior goes with u: both describe two records drawn at random, so the
prior is P(match) for a random pair of linkable records, estimated as the
expected number of matches among the candidates over all n(n-1)/2 pairs
(divided by the blocking recall, 1 unless told).  Pairing random-pair u with
the share of matches among candidate pairs would count the blocking evidence
twice: candidates already agree on a blocking key, and the Bayes factors count
that agreement again.  EM then drifts to "every candidate is a match"
(namesakes, twins and parent-child pairs included).

EM runs on the distinct gamma patterns with their counts, so its cost does not
depend on the number of pairs.  Each M-step keeps every level's weight
log2(m/u) within bounds: the strongest agreement level is never evidence
against a match, the last (disagreement) level never evidence for one, and
comparisons add their own (two different resident IDs: at most -10 bits).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import polars as pl

from linkage.comparisons import (
    Comparison,
    WeightBounds,
    check_comparisons,
    comparison_vectors,
    default_comparisons,
    gamma_columns,
)
from linkage.model import FSModel, TrainingInfo, comparison_params
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError

log = logging.getLogger(__name__)

U_RULE = "random"
"""RULE value of the random pairs used to estimate u."""

_LAMBDA_RANGE = (1e-9, 1.0 - 1e-9)


# --------------------------------------------------------------------- u


def _linkable_row_ids(records: pl.DataFrame) -> np.ndarray:
    if s.ROW_ID not in records.columns:
        raise SchemaError(f"records: expected a {s.ROW_ID!r} column")
    frame = records
    if s.RECORD_REASON in frame.columns:
        frame = frame.filter(pl.col(s.RECORD_REASON).is_null())
    return frame[s.ROW_ID].cast(pl.Int64).to_numpy()


def random_pairs(
    records: pl.DataFrame, *, max_pairs: int = 1_000_000, seed: int = 0
) -> pl.DataFrame:
    """Uniformly random distinct pairs of linkable records (all pairs when there are few).

    Sampled with replacement; ROW_L < ROW_R; RULE is ``"random"``.
    """
    if max_pairs < 1:
        raise ConfigError(f"max_pairs: expected a positive integer (got {max_pairs!r})")
    ids = _linkable_row_ids(records)
    n = ids.size
    if n < 2:
        raise ConfigError("records: at least 2 linkable records are needed to estimate u")
    if n * (n - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        i = rng.integers(0, n, size=max_pairs)
        j = rng.integers(0, n - 1, size=max_pairs)
        j = j + (j >= i)  # uniform over the other n-1 records
        i, j = np.minimum(i, j), np.maximum(i, j)
    return pl.DataFrame(
        {
            s.ROW_L: pl.Series(ids[i], dtype=pl.UInt32),
            s.ROW_R: pl.Series(ids[j], dtype=pl.UInt32),
            s.RULE: pl.repeat(U_RULE, i.size, eager=True, dtype=pl.String),
        }
    )


def level_counts(
    vectors: pl.DataFrame, comparison: Comparison, weights: np.ndarray | None = None
) -> np.ndarray:
    """How many pairs (or how much weight) fall in each level of ``comparison``."""
    col = s.GAMMA_PREFIX + comparison.name
    if col not in vectors.columns:
        raise SchemaError(f"vectors: missing column {col!r}")
    gamma = vectors[col].cast(pl.Int64).fill_null(0).to_numpy()
    return np.bincount(gamma, weights=weights, minlength=len(comparison.levels)).astype(np.float64)


def _smoothed(counts: np.ndarray) -> list[float]:
    """Laplace-smoothed distribution over the non-null levels; 1.0 for the null level."""
    nonnull = counts[1:] + 1.0
    return [1.0, *(nonnull / nonnull.sum()).tolist()]


def estimate_u(
    records: pl.DataFrame,
    comparisons: Iterable[Comparison] | None = None,
    *,
    max_pairs: int = 1_000_000,
    seed: int = 0,
) -> dict[str, list[float]]:
    """u per comparison (aligned with its levels, null = 1.0) from random record pairs."""
    comps = check_comparisons(default_comparisons() if comparisons is None else comparisons)
    pairs = random_pairs(records, max_pairs=max_pairs, seed=seed)
    vectors = comparison_vectors(records, pairs, comps)
    return {c.name: _smoothed(level_counts(vectors, c)) for c in comps}


# -------------------------------------------------------------------- EM


def _bounds(comparison: Comparison, extra: WeightBounds | None) -> dict[int, tuple[float, float]]:
    """Level index -> (low, high) bound on log2(m/u), defaults first, then the comparison's."""
    labels = comparison.levels
    merged: dict[str, tuple[float | None, float | None]] = {
        labels[1]: (0.0, None),
        labels[-1]: (None, 0.0),
    }
    merged.update(comparison.weight_bounds)
    merged.update(extra or {})
    out = {}
    for label, (lo, hi) in merged.items():
        if label not in labels[1:]:
            raise ConfigError(f"bounds of comparison {comparison.name}: unknown level {label!r}")
        out[labels.index(label)] = (-np.inf if lo is None else lo, np.inf if hi is None else hi)
    return out


def _project(m: np.ndarray, u: np.ndarray, bounds: Mapping[int, tuple[float, float]]) -> np.ndarray:
    """Closest-in-spirit m (sums to 1 over non-null levels) whose weights respect ``bounds``.

    Violating levels are pinned to their bound and the free levels rescaled to
    the remaining mass, until nothing is violated.  Index 0 (null) is untouched.
    """
    m = m.copy()
    k = m.size
    pinned: dict[int, float] = {}
    for _ in range(k):
        free = [i for i in range(1, k) if i not in pinned]
        rest = 1.0 - sum(pinned.values())
        mass = m[free].sum()
        if free:
            m[free] = m[free] * (rest / mass) if mass > 0 else rest / len(free)
        for i, v in pinned.items():
            m[i] = v
        moved = False
        for i in free:
            lo, hi = bounds.get(i, (-np.inf, np.inf))
            low, high = u[i] * 2.0**lo, u[i] * 2.0**hi
            if m[i] < low:
                pinned[i], moved = min(low, 1.0), True
            elif m[i] > high:
                pinned[i], moved = high, True
        if not moved:
            break
    m[0] = 1.0
    return m


def initial_m(comparison: Comparison) -> np.ndarray:
    """A starting m: the strongest agreement most likely, each weaker level a third as likely."""
    k = len(comparison.levels)
    m = np.array([1.0] + [3.0 ** -(i - 1) for i in range(1, k)])
    m[1:] /= m[1:].sum()
    return m


def _patterns(vectors: pl.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    missing = [c for c in columns if c not in vectors.columns]
    if missing:
        raise SchemaError(f"vectors: missing columns {missing}")
    if vectors.height == 0:
        raise ConfigError("vectors: no candidate pairs to train on")
    # sorted: the same vectors give bit-identical sums, hence the same model.json
    grouped = vectors.group_by(list(columns)).agg(pl.len().alias("__count")).sort(list(columns))
    gammas = grouped.select([pl.col(c).cast(pl.Int64).fill_null(0) for c in columns]).to_numpy()
    return gammas, grouped["__count"].cast(pl.Float64).to_numpy()


def _posterior(
    gammas: np.ndarray, prior: float, m: Sequence[np.ndarray], u: Sequence[np.ndarray]
) -> np.ndarray:
    score = np.full(gammas.shape[0], np.log(prior) - np.log1p(-prior))
    for k in range(gammas.shape[1]):
        score += np.log(m[k])[gammas[:, k]] - np.log(u[k])[gammas[:, k]]
    return 0.5 * (1.0 + np.tanh(0.5 * score))  # logistic, overflow-free


def run_em(
    gammas: np.ndarray,
    counts: np.ndarray,
    u: Sequence[np.ndarray],
    m_init: Sequence[np.ndarray],
    prior_init: float,
    bounds: Sequence[Mapping[int, tuple[float, float]]],
    *,
    population: float | None = None,
    max_iter: int = 50,
    tol: float = 1e-5,
) -> tuple[list[np.ndarray], float, int, bool]:
    """EM for m and the prior with u fixed, on distinct patterns ``gammas`` (P x K) with ``counts``.

    ``population`` is the number of pairs the prior refers to (default: the
    patterns' total count, i.e. the prior is the match share of these pairs).
    Converged when no m moves by more than ``tol`` and the prior by more than
    ``tol`` relative to itself.  Returns (m per comparison, prior, iterations,
    converged).
    """
    m = [
        _project(np.asarray(mk, dtype=np.float64), uk, b)
        for mk, uk, b in zip(m_init, u, bounds, strict=True)
    ]
    prior = float(np.clip(prior_init, *_LAMBDA_RANGE))
    total = float(counts.sum()) if population is None else float(population)
    for iteration in range(1, max_iter + 1):
        weight = counts * _posterior(gammas, prior, m, u)
        new_prior = float(np.clip(weight.sum() / total, *_LAMBDA_RANGE))
        new_m = []
        for k, mk in enumerate(m):
            level_mass = np.bincount(gammas[:, k], weights=weight, minlength=mk.size)
            nonnull = level_mass[1:] + 1.0  # Laplace: no level becomes impossible for matches
            candidate = np.concatenate([[1.0], nonnull / nonnull.sum()])
            new_m.append(_project(candidate, u[k], bounds[k]))
        delta = max(
            [abs(new_prior - prior) / prior]
            + [float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)]
        )
        m, prior = new_m, new_prior
        log.debug("EM iteration %d: prior %.3g, max change %.2e", iteration, prior, delta)
        if delta < tol:
            return m, prior, iteration, True
    return m, prior, max_iter, False


def train(
    vectors: pl.DataFrame,
    records: pl.DataFrame | None,
    comparisons: Iterable[Comparison] | None = None,
    *,
    u: Mapping[str, Sequence[float]] | None = None,
    total_pairs: int | None = None,
    blocking_recall: float = 1.0,
    max_iter: int = 100,
    tol: float = 1e-5,
    u_pairs: int = 1_000_000,
    seed: int = 0,
    candidate_match_share: float = 0.5,
    bounds: Mapping[str, WeightBounds] | None = None,
    match_threshold: float = 0.99,
    review_threshold: float = 0.5,
) -> FSModel:
    """Fit m and the prior by EM on candidate-pair ``vectors``, u fixed.

    ``u`` (per comparison, aligned with its levels) defaults to
    :func:`estimate_u` on ``records`` with ``u_pairs`` random pairs.  The prior
    is per random pair: ``total_pairs`` defaults to n(n-1)/2 over the linkable
    records (without records, to the number of vectors: the prior is then the
    match share of the vectors themselves, as for simulated data).
    ``candidate_match_share`` is EM's starting guess of the share of candidates
    that match.  ``bounds`` adds per comparison name {level label: (low, high)}
    limits on log2(m/u).
    """
    comps = check_comparisons(default_comparisons() if comparisons is None else comparisons)
    if not 0.0 < blocking_recall <= 1.0:
        raise ConfigError(f"blocking_recall: expected a number in (0, 1] (got {blocking_recall!r})")
    if not 0.0 < candidate_match_share < 1.0:
        raise ConfigError(
            f"candidate_match_share: expected a number in (0, 1) (got {candidate_match_share!r})"
        )
    if u is None:
        if records is None:
            raise ConfigError("train: records are needed to estimate u (or pass u=)")
        u = estimate_u(records, comps, max_pairs=u_pairs, seed=seed)
        sampled: int | None = min(u_pairs, _pair_count(records))
    else:
        sampled = None
    if total_pairs is None:
        total_pairs = vectors.height if records is None else _pair_count(records)
    if total_pairs < vectors.height:
        raise ConfigError(
            f"total_pairs: expected at least the {vectors.height} candidate pairs "
            f"(got {total_pairs})"
        )
    u_arrays = [_u_array(c, u) for c in comps]
    level_bounds = [_bounds(c, (bounds or {}).get(c.name)) for c in comps]
    gammas, counts = _patterns(vectors, gamma_columns(comps))
    population = total_pairs * blocking_recall
    m, prior, iterations, converged = run_em(
        gammas,
        counts,
        u_arrays,
        [initial_m(c) for c in comps],
        candidate_match_share * vectors.height / population,
        level_bounds,
        population=population,
        max_iter=max_iter,
        tol=tol,
    )
    if not converged:
        log.warning("EM did not converge in %d iterations; consider a larger max_iter", max_iter)
    expected = float((counts * _posterior(gammas, prior, m, u_arrays)).sum())
    info = TrainingInfo(
        method="em",
        records=0 if records is None else _linkable_row_ids(records).size,
        pairs=vectors.height,
        patterns=int(gammas.shape[0]),
        total_pairs=total_pairs,
        blocking_recall=blocking_recall,
        candidate_match_share=expected / vectors.height,
        u_pairs=sampled,
        em_iterations=iterations,
        converged=converged,
        seed=seed,
    )
    return _model(comps, m, u_arrays, prior, info, match_threshold, review_threshold)


def untrained_model(
    comparisons: Iterable[Comparison] | None = None,
    *,
    records: int = 0,
    pairs: int = 0,
    match_threshold: float = 0.99,
    review_threshold: float = 0.5,
) -> FSModel:
    """A placeholder model for a run with too few records to train one (method ``"untrained"``).

    It holds EM's starting m (:func:`initial_m`, within the weight bounds) and
    uniform u, so that model.json keeps its schema; it is never used to link
    (the batch job makes every record its own person) and :func:`linkage.model.load_model`
    refuses it.
    """
    comps = check_comparisons(default_comparisons() if comparisons is None else comparisons)
    u = [np.array([1.0] + [1.0 / (len(c.levels) - 1)] * (len(c.levels) - 1)) for c in comps]
    m = [_project(initial_m(c), uk, _bounds(c, None)) for c, uk in zip(comps, u, strict=True)]
    info = TrainingInfo(
        method="untrained", records=records, pairs=pairs, patterns=0, em_iterations=0,
        converged=False,
    )
    return _model(comps, m, u, 0.5, info, match_threshold, review_threshold)


def train_supervised(
    vectors: pl.DataFrame,
    labels: pl.Series | Sequence[bool] | np.ndarray,
    comparisons: Iterable[Comparison] | None = None,
    *,
    u: Mapping[str, Sequence[float]] | None = None,
    total_pairs: int | None = None,
    match_threshold: float = 0.99,
    review_threshold: float = 0.5,
) -> FSModel:
    """m (and u, and the prior) by counting levels over labelled pairs, Laplace-smoothed.

    ``labels`` is true for the pairs that are the same person, aligned with
    ``vectors``.  Without ``u``, u is counted among the labelled non-matches and
    the prior is the match share of the labelled pairs: a model of those pairs.
    With random-pair ``u`` (from :func:`estimate_u`), pass ``total_pairs`` (all
    pairs of the records, n(n-1)/2) so that the prior is per random pair too.
    """
    comps = check_comparisons(default_comparisons() if comparisons is None else comparisons)
    is_match = np.asarray(
        pl.Series(labels).cast(pl.Boolean).fill_null(False).to_numpy(), dtype=bool
    )
    if is_match.size != vectors.height:
        raise ConfigError(
            f"labels: expected {vectors.height} values, one per pair (got {is_match.size})"
        )
    if vectors.height == 0:
        raise ConfigError("vectors: no labelled pairs to train on")
    n_match = int(is_match.sum())
    if n_match == 0 or n_match == is_match.size:
        raise ConfigError("labels: need both matching and non-matching pairs")
    if u is not None and total_pairs is None:
        raise ConfigError(
            "total_pairs: needed with random-pair u, so that the prior is per random pair"
        )
    population = is_match.size if total_pairs is None else total_pairs
    if population < is_match.size:
        raise ConfigError(f"total_pairs: expected at least the {is_match.size} labelled pairs")
    m_arrays, u_arrays = [], []
    for c in comps:
        m_arrays.append(np.array(_smoothed(level_counts(vectors, c, is_match.astype(float)))))
        if u is None:
            u_arrays.append(
                np.array(_smoothed(level_counts(vectors, c, (~is_match).astype(float))))
            )
        else:
            u_arrays.append(_u_array(c, u))
    prior = float(np.clip(n_match / population, *_LAMBDA_RANGE))
    gammas, _ = _patterns(vectors, gamma_columns(comps))
    info = TrainingInfo(
        method="supervised",
        records=0,
        pairs=vectors.height,
        patterns=int(gammas.shape[0]),
        total_pairs=population,
        candidate_match_share=n_match / is_match.size,
        u_pairs=None,
    )
    return _model(comps, m_arrays, u_arrays, prior, info, match_threshold, review_threshold)


def _pair_count(records: pl.DataFrame) -> int:
    n = _linkable_row_ids(records).size
    return n * (n - 1) // 2


def _u_array(comparison: Comparison, u: Mapping[str, Sequence[float]]) -> np.ndarray:
    if comparison.name not in u:
        raise ConfigError(f"u: missing comparison {comparison.name!r}")
    arr = np.asarray(u[comparison.name], dtype=np.float64)
    if arr.size != len(comparison.levels) or np.any(arr[1:] <= 0):
        raise ConfigError(
            f"u[{comparison.name!r}]: expected {len(comparison.levels)} positive values, "
            "one per level"
        )
    arr = arr.copy()
    arr[0] = 1.0
    arr[1:] /= arr[1:].sum()
    return arr


def _model(
    comps: Sequence[Comparison],
    m: Sequence[np.ndarray],
    u: Sequence[np.ndarray],
    prior: float,
    info: TrainingInfo,
    match_threshold: float,
    review_threshold: float,
) -> FSModel:
    params = tuple(comparison_params(c, mk, uk) for c, mk, uk in zip(comps, m, u, strict=True))
    try:
        return FSModel(
            prior=prior,
            match_threshold=match_threshold,
            review_threshold=review_threshold,
            comparisons=params,
            training=info,
        )
    except ValueError as exc:
        raise ConfigError(f"model: {exc}") from None
