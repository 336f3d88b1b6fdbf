"""The Fellegi-Sunter model: a versioned file of m/u probabilities, and scoring with it.

A pair's match weight is ``log2(prior / (1 - prior)) + sum_k log2(m_k / u_k)``
over its comparison levels, where ``m`` is the probability of the level among
true matches, ``u`` among non-matches, and ``prior`` the probability that two
records drawn at random are the same person: u describes random pairs, so the
prior must too (see :mod:`linkage.em`).  The null level has ``m = u = 1``.

Term-frequency adjustment (names): for a pair at a comparison's ``tf_level``
whose records share the value ``v`` of ``tf_column``, ``u`` is replaced by
``max(f(v), u_level)``, ``f(v)`` being the share of linkable records with a
non-null value that carry ``v``.  Agreeing on a common name (张伟) therefore
weighs less than the level's average; agreeing on a rare one never weighs more,
because frequencies counted in one extract understate how common a name is in
the population.

The model file (:meth:`FSModel.to_json`) is the contract between training and
serving; it also stores each comparison's definition, so serving rebuilds
exactly the comparisons the model was trained with.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from linkage.comparisons import (
    NULL_LEVEL,
    Comparison,
    comparison_from_dict,
    comparison_vectors,
    record_positions,
)
from normalizers import schema as s
from normalizers.errors import ConfigError, InputFileError, SchemaError

SCHEMA_VERSION = 1
TF_VALUE = "tf"
"""Column of a term-frequency table holding the relative frequency of the value."""

_SUM_TOLERANCE = 1e-6
_Frozen = ConfigDict(frozen=True, extra="forbid")


class LevelParams(BaseModel):
    """One comparison level: label, m = P(level | match), u = P(level | non-match).

    Both are conditional on the level not being null; the null level has m = u = 1.
    """

    model_config = _Frozen

    label: str
    m: float = Field(gt=0.0, le=1.0)
    u: float = Field(gt=0.0, le=1.0)

    @property
    def weight(self) -> float:
        """log2(m / u): the level's contribution to the match weight (before TF)."""
        return math.log2(self.m / self.u)


class TermFrequency(BaseModel):
    """Which level's u is replaced by the frequency of which record column's value."""

    model_config = _Frozen

    column: str
    level: str


class ComparisonParams(BaseModel):
    """A comparison's definition and its trained level probabilities."""

    model_config = _Frozen

    name: str
    definition: dict[str, Any]
    levels: tuple[LevelParams, ...]
    tf: TermFrequency | None = None
    identity_levels: tuple[str, ...] = ()
    veto_levels: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> ComparisonParams:
        if len(self.levels) < 3 or self.levels[0].label != NULL_LEVEL:
            raise ValueError(
                f"comparison {self.name}: levels must start with 'null' and have at least 3"
            )
        if self.levels[0].m != 1.0 or self.levels[0].u != 1.0:
            raise ValueError(f"comparison {self.name}: the null level must have m = u = 1")
        labels = [lv.label for lv in self.levels]
        if len(set(labels)) != len(labels):
            raise ValueError(f"comparison {self.name}: level labels must be unique")
        for which in ("m", "u"):
            total = sum(getattr(lv, which) for lv in self.levels[1:])
            if abs(total - 1.0) > _SUM_TOLERANCE:
                raise ValueError(
                    f"comparison {self.name}: {which} of the non-null levels sums to "
                    f"{total:.6f}, not 1"
                )
        unknown = (set(self.identity_levels) | set(self.veto_levels)) - set(labels[1:])
        if unknown:
            raise ValueError(
                f"comparison {self.name}: identity/veto levels {sorted(unknown)} are not levels"
            )
        if self.tf is not None and self.tf.level not in labels[1:]:
            raise ValueError(
                f"comparison {self.name}: tf level {self.tf.level!r} is not one of its levels"
            )
        return self

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(lv.label for lv in self.levels)

    def weights(self) -> np.ndarray:
        """log2(m/u) per level index (0 for the null level)."""
        return np.array([0.0] + [lv.weight for lv in self.levels[1:]], dtype=np.float64)


class TrainingInfo(BaseModel):
    """How the model was obtained: for the report and for reproducing it."""

    model_config = _Frozen

    method: Literal["em", "supervised", "given", "untrained"]
    records: int = Field(ge=0, description="linkable records")
    pairs: int = Field(ge=0, description="candidate (or labelled) pairs trained on")
    patterns: int = Field(ge=0, description="distinct comparison vectors among them")
    total_pairs: int | None = Field(default=None, ge=0, description="pairs the prior refers to")
    blocking_recall: float = Field(default=1.0, gt=0.0, le=1.0)
    candidate_match_share: float | None = Field(
        default=None, ge=0.0, le=1.0, description="expected share of matches among the candidates"
    )
    u_pairs: int | None = Field(default=None, description="random pairs u was estimated from")
    em_iterations: int = Field(default=0, ge=0)
    converged: bool = True
    seed: int | None = None


class FSModel(BaseModel):
    """A trained Fellegi-Sunter model (model.json).  Frozen; serialize with :meth:`to_json`."""

    model_config = _Frozen

    schema_version: Literal[1] = SCHEMA_VERSION
    prior: float = Field(gt=0.0, lt=1.0, description="P(match) for two records drawn at random")
    match_threshold: float = Field(default=0.99, gt=0.0, lt=1.0)
    review_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    require_identity_evidence: bool = Field(
        default=True,
        description=(
            "cap at the review threshold pairs with no identity agreement (no comparison at one of "
            "its identity_levels) or with a veto (a comparison at one of its veto_levels): birth "
            "date, phone and address agree within households, and Fellegi-Sunter's independence "
            "assumption would add them up into a link"
        ),
    )
    comparisons: tuple[ComparisonParams, ...]
    training: TrainingInfo

    @model_validator(mode="after")
    def _check(self) -> FSModel:
        if self.review_threshold > self.match_threshold:
            raise ValueError(
                f"review_threshold ({self.review_threshold}) must not exceed match_threshold "
                f"({self.match_threshold})"
            )
        names = [c.name for c in self.comparisons]
        if len(set(names)) != len(names):
            raise ValueError("comparison names must be unique")
        return self

    # ------------------------------------------------------------ access
    @property
    def prior_weight(self) -> float:
        """log2 prior odds: the match weight of a pair about which nothing is known."""
        return math.log2(self.prior / (1.0 - self.prior))

    def comparison(self, name: str) -> ComparisonParams:
        for c in self.comparisons:
            if c.name == name:
                return c
        raise KeyError(name)

    def build_comparisons(
        self, registry: Mapping[str, type] | None = None
    ) -> tuple[Comparison, ...]:
        """The comparison objects this model was trained with, rebuilt from their definitions."""
        return tuple(
            comparison_from_dict(c.definition, registry=registry) for c in self.comparisons
        )

    def with_thresholds(
        self, *, match: float | None = None, review: float | None = None
    ) -> FSModel:
        """A copy with other decision thresholds (validated)."""
        data = self.model_dump()
        if match is not None:
            data["match_threshold"] = match
        if review is not None:
            data["review_threshold"] = review
        return _validate(data)

    @property
    def identity_cap_weight(self) -> float:
        """The highest match weight of a pair without identity evidence: the review threshold's."""
        return math.log2(self.review_threshold / (1.0 - self.review_threshold))

    # ------------------------------------------------------------- files
    def to_json(self, *, indent: int | None = 2) -> str:
        """The model as JSON text (model.json)."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> FSModel:
        """Load model.json; a file of another schema version fails with a migration hint."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"model.json: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError("model.json: expected a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            if (
                isinstance(version, int)
                and not isinstance(version, bool)
                and version > SCHEMA_VERSION
            ):
                hint = "it was written by a newer chengxin-linkage: upgrade to read it"
            else:
                hint = "retrain (linkage.em.train) to write a current model file"
            raise ModelMismatchError(
                f"model.json: schema_version: expected {SCHEMA_VERSION} (got {version!r}); {hint}"
            )
        return _validate(data)


class ModelMismatchError(ConfigError):
    """A model file cannot score this job: another schema version, an untrained model, or
    comparisons (names, levels, definitions) other than the job's.  The message names the
    difference."""


def load_model(path: str | Path) -> FSModel:
    """Read a model.json written by an earlier run (``linkage run --model PATH``).

    A missing or unreadable file raises InputFileError; a file of another schema
    version, or one a run wrote without training, raises ModelMismatchError.
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"model {path}: no such file") from None
    except OSError as exc:
        raise InputFileError(f"model {path}: cannot read: {exc}") from None
    try:
        model = FSModel.from_json(text)
    except ConfigError as exc:
        kind = ModelMismatchError if isinstance(exc, ModelMismatchError) else ConfigError
        raise kind(f"model {path}: {str(exc).removeprefix('model.json: ')}") from None
    if model.training.method == "untrained":
        raise ModelMismatchError(
            f"model {path}: untrained (its run had too few records to train); "
            "give the model.json of a run that trained one"
        )
    return model


def check_model_matches(
    model: FSModel, comparisons: Iterable[Comparison], *, origin: str = "model"
) -> None:
    """Raise ModelMismatchError unless ``model`` was trained with exactly these comparisons.

    Names and order, level labels and the comparisons' definitions must all
    agree: the same gamma vector must mean the same thing to the model and the job.
    """
    comps = tuple(comparisons)
    have, want = [c.name for c in model.comparisons], [c.name for c in comps]
    if have != want:
        missing = [n for n in want if n not in have]
        extra = [n for n in have if n not in want]
        detail = []
        if missing:
            detail.append(f"job comparisons the model lacks: {missing}")
        if extra:
            detail.append(f"model comparisons the job lacks: {extra}")
        if not detail:
            detail.append(f"order differs: model {have}, job {want}")
        raise ModelMismatchError(f"{origin}: comparisons differ ({'; '.join(detail)})")
    for params, comp in zip(model.comparisons, comps, strict=True):
        if params.labels != tuple(comp.levels):
            raise ModelMismatchError(
                f"{origin}: comparison {comp.name}: levels differ "
                f"(model {list(params.labels)}, job {list(comp.levels)})"
            )
        ours = _plain(comp.to_dict())
        registry = {type(comp).__name__: type(comp)}
        try:  # rebuilt, so that an option added since the model was written reads as its default
            theirs = _plain(comparison_from_dict(params.definition, registry=registry).to_dict())
        except (ConfigError, TypeError, ValueError):
            theirs = _plain(params.definition)
        if ours != theirs:
            keys = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
            shown = ", ".join(f"{k}: model {theirs.get(k)!r}, job {ours.get(k)!r}" for k in keys)
            raise ModelMismatchError(
                f"{origin}: comparison {comp.name}: definition differs ({shown})"
            )


def _plain(definition: Mapping[str, Any]) -> Any:
    """A definition as JSON would hold it (tuples as lists), for comparing."""
    return json.loads(json.dumps(definition, default=str))


def _validate(data: Mapping[str, Any]) -> FSModel:
    try:
        return FSModel.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "model"
        raise ConfigError(f"model.json: {where}: {err['msg']}") from None


def comparison_params(
    comparison: Comparison, m: Iterable[float], u: Iterable[float]
) -> ComparisonParams:
    """Pack one comparison's level probabilities (aligned with its levels; index 0 = null, 1.0)."""
    m_list, u_list = [float(x) for x in m], [float(x) for x in u]
    if len(m_list) != len(comparison.levels) or len(u_list) != len(comparison.levels):
        raise ConfigError(
            f"comparison {comparison.name}: expected {len(comparison.levels)} m and u values "
            f"(got {len(m_list)} and {len(u_list)})"
        )
    levels = [LevelParams(label=NULL_LEVEL, m=1.0, u=1.0)]
    levels += [
        LevelParams(label=lb, m=mv, u=uv)
        for lb, mv, uv in zip(comparison.levels[1:], m_list[1:], u_list[1:], strict=True)
    ]
    tf = None
    if comparison.tf_column is not None and comparison.tf_level is not None:
        tf = TermFrequency(column=comparison.tf_column, level=comparison.tf_level)
    try:
        return ComparisonParams(
            name=comparison.name,
            definition=comparison.to_dict(),
            levels=tuple(levels),
            tf=tf,
            identity_levels=tuple(getattr(comparison, "identity_levels", ())),
            veto_levels=tuple(getattr(comparison, "veto_levels", ())),
        )
    except ValidationError as exc:
        raise ConfigError(f"comparison {comparison.name}: {exc.errors()[0]['msg']}") from None


# ---------------------------------------------------------------- scoring


def term_frequencies(records: pl.DataFrame, column: str) -> pl.DataFrame:
    """Relative frequency (``tf``) of each non-null value of ``column`` among linkable records."""
    if column not in records.columns:
        raise SchemaError(f"records: missing column {column!r} needed for term frequencies")
    frame = records
    if s.RECORD_REASON in frame.columns:
        frame = frame.filter(pl.col(s.RECORD_REASON).is_null())
    values = frame.select(pl.col(column)).drop_nulls()
    total = max(values.height, 1)
    return values.group_by(column).agg((pl.len() / total).cast(pl.Float64).alias(TF_VALUE))


_FEW_RECORDS: Final = 256
"""Term frequencies of pairs among at most this many records (and values) are looked up in
Python."""


def _tf_u(
    records: pl.DataFrame,
    pairs: pl.DataFrame,
    column: str,
    table: pl.DataFrame,
) -> np.ndarray:
    """f(v) for each pair whose two records share the value v of ``column``; NaN otherwise."""
    out = np.full(pairs.height, np.nan)
    if pairs.height == 0:
        return out
    if column not in records.columns:
        raise SchemaError(f"records: missing column {column!r} needed for term frequencies")
    left_pos = record_positions(records, pairs[s.ROW_L])
    right_pos = record_positions(records, pairs[s.ROW_R])
    if records.height <= _FEW_RECORDS and table.height <= _FEW_RECORDS:
        # a service call's few records: a dict lookup per pair, not a join (a polars query
        # costs a fixed fraction of a millisecond); a null value joins nothing either way
        values = records.get_column(column).to_list()
        freq_of = dict(
            zip(
                table.get_column(column).to_list(),
                table.get_column(TF_VALUE).to_list(),
                strict=True,
            )
        )
        for k, (i, j) in enumerate(zip(left_pos.to_list(), right_pos.to_list(), strict=True)):
            value = values[i]
            if value is not None and value == values[j] and value in freq_of:
                out[k] = freq_of[value]
        return out
    # Per record: an integer code of its value and the value's frequency; pairs then gather
    # numbers only, never strings.
    coded = table.select(pl.col(column), pl.col(TF_VALUE)).with_row_index("__code")
    per_record = (
        records.select(column).join(coded, on=column, how="left", maintain_order="left").rechunk()
    )
    # NumPy from here (a null code is NaN, equal to nothing): a polars query per step costs
    # a fixed ~0.1 ms that the service pays on every call
    codes = per_record.get_column("__code").cast(pl.Float64)
    same = codes[left_pos].to_numpy() == codes[right_pos].to_numpy()
    freq = per_record.get_column(TF_VALUE)[left_pos].cast(pl.Float64).to_numpy()
    out[same] = freq[same]
    return out


TfFrequency = Callable[["ComparisonParams", np.ndarray], np.ndarray]
"""(comparison, positions of the pairs at its term-frequency level) -> the relative frequency of
the value each of those pairs shares (NaN where it shares none known)."""


def _levels(vectors: pl.DataFrame, model: FSModel) -> list[np.ndarray]:
    """Each model comparison's gamma column as an array (a missing level counts as null)."""
    out = []
    for comp in model.comparisons:
        col = s.GAMMA_PREFIX + comp.name
        if col not in vectors.columns:
            raise SchemaError(f"vectors: missing column {col!r} of comparison {comp.name}")
        series = vectors[col]
        if series.null_count():
            series = series.fill_null(0)
        out.append(series.to_numpy())
    return out


def _vector_tf(
    vectors: pl.DataFrame,
    records: pl.DataFrame | None,
    tf_tables: Mapping[str, pl.DataFrame] | None,
) -> TfFrequency | None:
    """Frequencies for the pairs of ``vectors`` from the values in ``records``."""
    if records is None:
        return None

    def frequency(comp: ComparisonParams, idx: np.ndarray) -> np.ndarray:
        assert comp.tf is not None
        tf_table = (tf_tables or {}).get(comp.tf.column)
        if tf_table is None:
            tf_table = term_frequencies(records, comp.tf.column)
        ends = pl.DataFrame([vectors.get_column(s.ROW_L), vectors.get_column(s.ROW_R)])[
            pl.Series(idx, dtype=pl.UInt32)
        ]
        return _tf_u(records, ends, comp.tf.column, tf_table)

    return frequency


def _weights(
    levels: Sequence[np.ndarray],
    model: FSModel,
    tf_frequency: TfFrequency | None,
    *,
    report_tf: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Per comparison: each pair's weight and (``report_tf``) the TF u used (NaN where none)."""
    weights: list[np.ndarray] = []
    tf_used: list[np.ndarray | None] = []
    for comp, gamma in zip(model.comparisons, levels, strict=True):
        table = comp.weights()
        if gamma.size and (gamma.min() < 0 or gamma.max() >= table.size):
            raise SchemaError(
                f"vectors: {s.GAMMA_PREFIX + comp.name} holds levels outside 0..{table.size - 1}"
            )
        w = table[gamma]
        used = None
        if comp.tf is not None and tf_frequency is not None:
            level = comp.labels.index(comp.tf.level)
            idx = np.flatnonzero(gamma == level)
            if idx.size:
                f = tf_frequency(comp, idx)
                params = comp.levels[level]
                u_adj = np.where(np.isnan(f), params.u, np.maximum(f, params.u))
                w[idx] = np.log2(params.m / u_adj)
                if report_tf:
                    used = np.full(gamma.size, np.nan)
                    used[idx] = np.where(np.isnan(f), np.nan, u_adj)
        weights.append(w)
        tf_used.append(used)
    return weights, tf_used


def match_weights(
    model: FSModel, levels: Sequence[np.ndarray], tf_frequency: TfFrequency | None = None
) -> np.ndarray:
    """Each pair's match weight from its level per comparison (``levels``: one array per model
    comparison, in order): the prior's log2 odds plus each level's weight, the TF level's u
    replaced by ``tf_frequency`` where it is higher, capped where there is no identity
    evidence.  :func:`score` computes it from a vectors frame; a caller holding the levels
    as arrays (the service, for a call's few pairs) calls it directly."""
    weights, _ = _weights(levels, model, tf_frequency)
    total = np.full(len(levels[0]) if levels else 0, model.prior_weight, dtype=np.float64)
    for w in weights:
        total += w
    capped = ~_identity(model, levels)
    np.minimum(total, model.identity_cap_weight, out=total, where=capped)
    return total


def probability(weight: np.ndarray) -> np.ndarray:
    """Match probability of a match weight (log2 odds): 1 / (1 + 2^-w)."""
    # 1 / (1 + 2^-w); beyond +-1000 bits the probability is 0 or 1 in float64 anyway
    return 1.0 / (1.0 + np.exp2(-np.clip(weight, -1000.0, 1000.0)))


def identity_evidence(vectors: pl.DataFrame, model: FSModel) -> np.ndarray:
    """Per pair: may it be linked automatically?

    Some comparison must sit at one of its identity levels, and none at one of
    its veto levels.  All true when the model does not require identity evidence.
    """
    return _identity(
        model, [vectors[s.GAMMA_PREFIX + c.name].to_numpy() for c in model.comparisons]
    )


def _identity(model: FSModel, levels: Sequence[np.ndarray]) -> np.ndarray:
    n = len(levels[0]) if levels else 0
    if not model.require_identity_evidence or not any(c.identity_levels for c in model.comparisons):
        return np.ones(n, dtype=bool)
    found = np.zeros(n, dtype=bool)
    vetoed = np.zeros(n, dtype=bool)
    for comp, gamma in zip(model.comparisons, levels, strict=True):
        if comp.identity_levels:
            found |= np.isin(gamma, [comp.labels.index(label) for label in comp.identity_levels])
        if comp.veto_levels:
            vetoed |= np.isin(gamma, [comp.labels.index(label) for label in comp.veto_levels])
    return found & ~vetoed


def score(
    vectors: pl.DataFrame,
    records: pl.DataFrame | None,
    model: FSModel,
    *,
    tf_tables: Mapping[str, pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """ScoredPairs: ``vectors`` + MATCH_WEIGHT (log2, prior included) + MATCH_PROBABILITY.

    ``records`` (the frame the vectors were computed from) supplies term
    frequencies and the values of TF columns; pass None to score without TF.
    ``tf_tables`` (column -> frame of value, ``tf``) overrides the frequencies,
    e.g. to score new records against a store's statistics.
    """
    levels = _levels(vectors, model)
    if levels:
        total = match_weights(model, levels, _vector_tf(vectors, records, tf_tables))
    else:  # a model without comparisons: the prior alone
        total = np.full(vectors.height, model.prior_weight, dtype=np.float64)
    stale = [c for c in (s.MATCH_WEIGHT, s.MATCH_PROBABILITY) if c in vectors.columns]
    return (vectors.drop(stale) if stale else vectors).hstack(
        [
            pl.Series(s.MATCH_WEIGHT, total, dtype=pl.Float64),
            pl.Series(s.MATCH_PROBABILITY, probability(total), dtype=pl.Float64),
        ]
    )


# ------------------------------------------------------------- explanation


@dataclass(frozen=True, slots=True)
class ExplanationTerm:
    """One comparison's contribution to a pair's match weight."""

    comparison: str
    level: int
    label: str
    m: float
    u: float
    u_tf: float | None  # the term-frequency u actually used, when it replaced u
    weight: float


@dataclass(frozen=True, slots=True)
class PairExplanation:
    """Why a pair scored as it did: the prior, then each comparison's weight (a waterfall)."""

    row_l: int
    row_r: int
    prior: float
    prior_weight: float
    terms: tuple[ExplanationTerm, ...]
    match_weight: float
    match_probability: float
    capped: bool = False  # no identity evidence: the weight was capped at the review threshold

    def to_frame(self) -> pl.DataFrame:
        """One row for the prior and one per comparison, with the running total."""
        rows = [
            {
                "comparison": "prior",
                "level": None,
                "label": None,
                "m": None,
                "u": None,
                "u_tf": None,
                "weight": self.prior_weight,
            }
        ]
        rows += [
            {
                "comparison": t.comparison,
                "level": t.level,
                "label": t.label,
                "m": t.m,
                "u": t.u,
                "u_tf": t.u_tf,
                "weight": t.weight,
            }
            for t in self.terms
        ]
        frame = pl.DataFrame(
            rows,
            schema={
                "comparison": pl.String,
                "level": pl.Int8,
                "label": pl.String,
                "m": pl.Float64,
                "u": pl.Float64,
                "u_tf": pl.Float64,
                "weight": pl.Float64,
            },
        )
        return frame.with_columns(pl.col("weight").cum_sum().alias("cumulative"))


def explain_pair(
    records: pl.DataFrame,
    row_l: int,
    row_r: int,
    model: FSModel,
    *,
    registry: Mapping[str, type] | None = None,
    tf_tables: Mapping[str, pl.DataFrame] | None = None,
) -> PairExplanation:
    """Compare two records (by row id) with the model's comparisons and explain the score."""
    pair = pl.DataFrame(
        {s.ROW_L: [row_l], s.ROW_R: [row_r], s.RULE: ["explain"]},
        schema={s.ROW_L: pl.UInt32, s.ROW_R: pl.UInt32, s.RULE: pl.String},
    )
    vectors = comparison_vectors(records, pair, model.build_comparisons(registry))
    weights, tf_used = _weights(
        _levels(vectors, model), model, _vector_tf(vectors, records, tf_tables), report_tf=True
    )
    terms = []
    for comp, w, used in zip(model.comparisons, weights, tf_used, strict=True):
        level = int(vectors[s.GAMMA_PREFIX + comp.name][0])
        params = comp.levels[level]
        u_tf = None if used is None or np.isnan(used[0]) else float(used[0])
        terms.append(
            ExplanationTerm(comp.name, level, params.label, params.m, params.u, u_tf, float(w[0]))
        )
    total = model.prior_weight + sum(t.weight for t in terms)
    capped = not bool(identity_evidence(vectors, model)[0]) and total > model.identity_cap_weight
    if capped:
        total = model.identity_cap_weight
    return PairExplanation(
        row_l=row_l,
        row_r=row_r,
        prior=model.prior,
        prior_weight=model.prior_weight,
        terms=tuple(terms),
        match_weight=total,
        match_probability=float(probability(np.array([total]))[0]),
        capped=capped,
    )
