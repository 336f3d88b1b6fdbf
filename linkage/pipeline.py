"""The batch linkage job: department extracts in, person identities out.

``run_job`` chains the stages of ARCHITECTURE.md — read, normalize, block,
compare, train, score, cluster, reconcile with the identity store, write — and
checks at the end that every input row landed either in the crosswalk or in
the rejects.  The CLI (``linkage run``) and the Python API call this one
function; neither reimplements a stage.

Outputs in the output directory (see :data:`OUTPUT_FILES`)::

    crosswalk.parquet   source, record_id, person_id, match_probability
    persons.parquet     one row per person: canonical values, records, sources
    rejects.parquet     source, record_id, input_row, reason (rows that cannot be linked)
    review.parquet      uncertain pairs (and pairs cut by constraints), both records side by side
    model.json          the Fellegi-Sunter model (versioned): trained, or the one given
    records.parquet     the normalized records (for ``linkage explain``)
    edges.parquet       the pairs that joined (or were cut from) each person
    pairs.parquet       every scored candidate pair: row ids, rule, levels, weight, probability
    summary.json        counts and timings of the run
    report.html         a self-contained report (no network access needed)

The train stage has four outcomes:

* a model is given (``--model PATH`` or the job file's ``model``): it is
  checked against the job's comparisons before any data is read
  (:class:`~linkage.model.ModelMismatchError` names what differs) and scores
  the pairs as it is; the job file's ``[thresholds]``, when present, replace
  the model's.  Batches under :data:`REUSED_TF_MIN_RECORDS` linkable records
  are scored without term-frequency adjustment: a name's frequency in a
  handful of records says nothing about how common it is.
* too few to train (fewer than ``training.min_records`` linkable records, or
  no candidate pair), and the identity store (``--store``, or the default one
  an earlier run left in the output directory) holds a model of these
  comparisons: that model scores the pairs, as a given one would.
* too few to train and no such model: nothing is linked, every record is its
  own person, candidate pairs go to review as ``untrained``, and model.json
  holds an ``untrained`` placeholder (never saved to the store; ``--model``
  refuses it).  The run warns and still writes every output; an empty input
  is such a run.
* otherwise EM trains a model on the candidate pairs (:func:`linkage.em.train`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from blocking import BlockingRule, add_blocking_keys, generate_pairs
from linkage.clustering import CUT_REASON, ClusterResult, cluster
from linkage.comparisons import Comparison, comparison_vectors
from linkage.config import JobConfig
from linkage.em import train, untrained_model
from linkage.io import concat_sources, read_source
from linkage.model import (
    TF_VALUE,
    FSModel,
    ModelMismatchError,
    check_model_matches,
    load_model,
    score,
)
from linkage.presets import preset_comparisons, rules_for_config
from linkage.store import IdentityStore
from normalizers import schema as s
from normalizers.errors import LinkageError
from normalizers.frame import normalize_frame, reason_counts

log = logging.getLogger(__name__)

CROSSWALK: Final = "crosswalk.parquet"
PERSONS: Final = "persons.parquet"
REJECTS: Final = "rejects.parquet"
REVIEW: Final = "review.parquet"
MODEL: Final = "model.json"
RECORDS: Final = "records.parquet"
EDGES: Final = "edges.parquet"
PAIRS: Final = "pairs.parquet"
SUMMARY: Final = "summary.json"
REPORT: Final = "report.html"
OUTPUT_FILES: Final = (
    CROSSWALK, PERSONS, REJECTS, REVIEW, MODEL, RECORDS, EDGES, PAIRS, SUMMARY, REPORT,
)

INPUT_ROW: Final = "input_row"  # rejects: 0-based position of the row in the stacked inputs
REASON: Final = "reason"
EDGE_KIND: Final = "edge"  # edges.parquet: "kept" or "cut"

REUSED_TF_MIN_RECORDS: Final = 1000
"""A given model scores smaller batches without term-frequency adjustment."""
UNTRAINED: Final = "untrained"  # review.parquet "why" of pairs found when no model could be trained

STAGES: Final = ("read", "normalize", "block", "compare", "train", "score", "cluster", "identify", "write")

StageCallback = Callable[[str, str], None]
"""``(stage, message)``: called when a stage starts (message "") and ends (message: its counts)."""

# Raw columns shown side by side in review.parquet
_REVIEW_COLUMNS: Final = (
    s.SOURCE, s.RECORD_ID, s.NAME, s.NAME_LATIN, s.ID_NUMBER, s.BIRTH_DATE, s.SEX, s.PHONE, s.ADDRESS,
)


class AccountingError(LinkageError):
    """Rows went missing: crosswalk + rejects do not add up to the input rows."""


@dataclass(frozen=True)
class RunResult:
    """What a run produced, with counts for the CLI and the report."""

    out_dir: Path
    run_id: int
    input_rows: int
    linked_rows: int
    rejected_rows: int
    persons: int
    candidate_pairs: int
    review_pairs: int
    timings: dict[str, float]
    blocking_counts: pl.DataFrame
    cluster_summary: dict[str, Any]
    events: dict[str, int]
    model: FSModel
    reasons: pl.DataFrame = field(repr=False)
    model_source: str | None = None  # where a given model came from; None: trained (or untrained)
    warnings: tuple[str, ...] = ()

    @property
    def accounting_line(self) -> str:
        return (
            f"{self.input_rows:,} input rows = {self.linked_rows:,} linked to "
            f"{self.persons:,} persons + {self.rejected_rows:,} rejected"
        )


def read_inputs(inputs: Sequence[Path], config: JobConfig) -> pl.DataFrame:
    """Stack the job's sources: files named on the command line, then the job file's sources."""
    frames = [read_source(path) for path in inputs]
    frames += [
        read_source(
            src.path, name=src.name, columns=src.columns, encoding=src.encoding,
            file_format=src.format,
        )
        for src in config.sources
    ]
    return concat_sources(frames)


def run_job(
    inputs: Sequence[Path],
    out_dir: Path,
    config: JobConfig | None = None,
    *,
    store_url: str | None = None,
    on_stage: StageCallback | None = None,
    rules: Sequence[BlockingRule] | None = None,
    comparisons: Sequence[Comparison] | None = None,
    model: str | Path | FSModel | None = None,
) -> RunResult:
    """Run the whole job and write every output to ``out_dir``.

    ``model`` (else the job file's ``model``) is a trained model.json, or an
    FSModel, to score with instead of training (see the module docstring).
    Raises :class:`AccountingError` if any input row is neither linked nor
    rejected; input and configuration problems (an incompatible model
    included) raise their own LinkageErrors before any output is written.
    """
    config = config or JobConfig()
    note = on_stage or (lambda _stage, _message: None)
    timings: dict[str, float] = {}
    out_dir = Path(out_dir)
    warnings: list[str] = []
    comps = tuple(comparisons) if comparisons is not None else preset_comparisons(config.preset)
    given, model_source = _given_model(model if model is not None else config.model, comps, config)

    def stage(name: str) -> _Stage:
        return _Stage(name, note, timings)

    with stage("read") as st:
        raw = read_inputs(inputs, config)
        st.done(f"{raw.height:,} rows from {raw[s.SOURCE].n_unique():,} sources")
    out_dir.mkdir(parents=True, exist_ok=True)

    with stage("normalize") as st:
        records = normalize_frame(raw, min_birth_year=config.normalize.min_birth_year)
        del raw
        rejected_mask = pl.col(s.RECORD_REASON).is_not_null()
        rejects = records.filter(rejected_mask).select(
            s.SOURCE, s.RECORD_ID, pl.col(s.ROW_ID).alias(INPUT_ROW), pl.col(s.RECORD_REASON).alias(REASON)
        )
        linkable = records.filter(~rejected_mask)
        st.done(f"{linkable.height:,} linkable, {rejects.height:,} rejected")

    with stage("block") as st:
        block_rules = tuple(rules) if rules is not None else rules_for_config(config)
        keyed = add_blocking_keys(records, columns=_key_columns(block_rules))
        blocked = generate_pairs(keyed, block_rules)
        pairs = blocked.pairs
        st.done(f"{pairs.height:,} candidate pairs from {len(block_rules)} rules")

    with stage("compare") as st:
        vectors = comparison_vectors(keyed, pairs, comps)
        st.done(f"{vectors.height:,} comparison vectors x {len(comps)} comparisons")

    with stage("train") as st:
        min_records = config.training.min_records
        if given is not None:
            fitted = given
            st.done(f"reused model from {model_source}")
        elif (linkable.height < min_records or vectors.height == 0) and (
            stored := _store_model(store_url or config.store, out_dir, comps, config)
        ) is not None:
            # too few to train, but the store holds a model of these comparisons: a small
            # batch added to an earlier run is scored as that run was
            fitted, model_source = stored
            st.done(f"too few records to train: reused {model_source}")
        elif linkable.height < min_records or vectors.height == 0:
            fitted = untrained_model(
                comps, records=linkable.height, pairs=vectors.height,
                match_threshold=config.thresholds.match, review_threshold=config.thresholds.review,
            )
            warnings.append(
                f"no model trained: {linkable.height:,} linkable records and {vectors.height:,} "
                f"candidate pairs (training needs at least {min_records} records and one pair); "
                "nothing was linked, every record is its own person"
                + (f"; its {vectors.height:,} candidate pairs are in review"
                   if vectors.height else "")
                + ". Give a trained model (--model DIR/model.json), or a store an earlier run "
                "saved one in (--store), to link a small batch."
            )
            log.info("%s", warnings[-1])  # the CLI prints RunResult.warnings
            st.done("not trained: too few records")
        else:
            fitted = train(
                vectors, linkable, comps,
                u_pairs=config.training.u_pairs, seed=config.training.seed,
                max_iter=config.training.max_em_iterations,
                match_threshold=config.thresholds.match, review_threshold=config.thresholds.review,
            )
            st.done(f"EM {fitted.training.em_iterations} iterations, prior {fitted.prior:.3g}")
    trained = fitted.training.method != UNTRAINED

    with stage("score") as st:
        if trained:
            tf_tables = _no_term_frequencies(linkable, fitted) if (
                model_source is not None and linkable.height < REUSED_TF_MIN_RECORDS
            ) else None
            scored = score(vectors, linkable, fitted, tf_tables=tf_tables)
        else:
            scored = vectors.with_columns(
                pl.lit(None, dtype=pl.Float64).alias(s.MATCH_WEIGHT),
                pl.lit(None, dtype=pl.Float64).alias(s.MATCH_PROBABILITY),
            )
        del vectors
        above = int((scored[s.MATCH_PROBABILITY] >= fitted.match_threshold).sum())
        st.done(f"{above:,} pairs at or above {fitted.match_threshold}")

    with stage("cluster") as st:
        clustered = cluster(
            linkable, scored if trained else scored.clear(), threshold=fitted.match_threshold,
            max_cluster_size=config.clustering.max_cluster_size,
        )
        st.done(f"{clustered.n_clusters:,} clusters, {clustered.components_broken:,} broken by constraints")

    with stage("identify") as st:
        url = store_url or config.store or f"sqlite:///{(out_dir / 'identity.db').resolve()}"
        with IdentityStore.open(url) as store:
            run_id = store.begin_run(config)
            try:
                clusters = linkable.select(s.ROW_ID, s.SOURCE, s.RECORD_ID, s.ID_KEY).join(
                    clustered.clusters, on=s.ROW_ID, how="left"
                )
                crosswalk, events = store.reconcile(clusters.select(s.SOURCE, s.RECORD_ID, s.CLUSTER_ID))
                crosswalk = clusters.join(crosswalk, on=[s.SOURCE, s.RECORD_ID], how="left")
                persons = _persons(linkable, crosswalk)
                store.save_run(
                    run_id,
                    crosswalk.select(s.SOURCE, s.RECORD_ID, s.PERSON_ID, s.MATCH_PROBABILITY, s.ID_KEY),
                    persons, events, fitted.to_json() if trained else None,
                    records_frame=linkable.select(pl.col(c).cast(pl.String) for c in s.RAW_COLUMNS),
                )
                store.finish_run(run_id)
            except BaseException:
                store.finish_run(run_id, status="failed")
                raise
        event_counts = (
            {k: int(v) for k, v in events.group_by("kind").len().iter_rows()} if events.height else {}
        )
        st.done(f"{persons.height:,} persons; events {event_counts or 'none'}")

    with stage("write") as st:
        review = _review_pairs(records, scored, clustered, fitted, untrained=not trained)
        _write_outputs(out_dir, records, crosswalk, persons, rejects, review, clustered, fitted)
        scored.write_parquet(out_dir / PAIRS)
        linked = crosswalk.height
        if linked + rejects.height != records.height:
            raise AccountingError(
                f"row accounting failed: {records.height:,} input rows but {linked:,} linked "
                f"+ {rejects.height:,} rejected"
            )
        st.done(f"{len(OUTPUT_FILES)} files in {out_dir}")

    result = RunResult(
        out_dir=out_dir, run_id=run_id, input_rows=records.height, linked_rows=linked,
        rejected_rows=rejects.height, persons=persons.height, candidate_pairs=pairs.height,
        review_pairs=review.height, timings=timings, blocking_counts=blocked.counts,
        cluster_summary=clustered.summary(), events=event_counts, model=fitted,
        reasons=reason_counts(records), model_source=model_source, warnings=tuple(warnings),
    )
    _write_summary(out_dir, result)
    from linkage.report import write_report

    write_report(out_dir, result, scored=scored, persons=persons)
    return result


class _Stage:
    """Times one stage and reports its start and end through the callback."""

    def __init__(self, name: str, note: StageCallback, timings: dict[str, float]) -> None:
        self.name, self._note, self._timings = name, note, timings
        self._message = ""

    def __enter__(self) -> _Stage:
        self._started = time.perf_counter()
        self._note(self.name, "")
        return self

    def done(self, message: str) -> None:
        self._message = message

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._timings[self.name] = time.perf_counter() - self._started
        if exc_type is None:
            log.info("%s: %s (%.2f s)", self.name, self._message, self._timings[self.name])
            self._note(self.name, self._message)


def _given_model(
    model: str | Path | FSModel | None, comparisons: Sequence[Comparison], config: JobConfig
) -> tuple[FSModel | None, str | None]:
    """The model to score with instead of training, checked against the job; (None, None) if none.

    The job file's ``[thresholds]``, when it has that table, replace the model's.
    """
    if model is None:
        return None, None
    if isinstance(model, FSModel):
        given, origin = model, "the given model"
    else:
        given, origin = load_model(model), str(model)
    check_model_matches(given, comparisons, origin=f"model {origin}")
    if "thresholds" in config.model_fields_set:
        given = given.with_thresholds(
            match=config.thresholds.match, review=config.thresholds.review
        )
    return given, origin


def _store_model(
    store_url: str | None, out_dir: Path, comparisons: Sequence[Comparison], config: JobConfig
) -> tuple[FSModel, str] | None:
    """The identity store's latest model, if there is a store (given, or the default one an
    earlier run left in ``out_dir``) and its model fits the job's comparisons; else None."""
    default = out_dir / "identity.db"
    if store_url is None and not default.exists():
        return None
    url = store_url or f"sqlite:///{default.resolve()}"
    with IdentityStore.open(url) as store:
        stored = store.latest_model()
    if stored is None:
        return None
    model = FSModel.from_json(stored.model_json)
    try:
        check_model_matches(model, comparisons, origin="the store's model")
    except ModelMismatchError as exc:
        log.warning("the store's model does not fit this job, not used: %s", exc)
        return None
    if "thresholds" in config.model_fields_set:
        model = model.with_thresholds(match=config.thresholds.match, review=config.thresholds.review)
    return model, f"the store's model (saved {stored.created_at:%Y-%m-%d %H:%M} UTC)"


def _no_term_frequencies(records: pl.DataFrame, model: FSModel) -> dict[str, pl.DataFrame]:
    """Empty frequency tables for the model's TF columns: score with the levels' own u."""
    return {
        c.tf.column: pl.DataFrame(
            schema={c.tf.column: records.schema[c.tf.column], TF_VALUE: pl.Float64}
        )
        for c in model.comparisons
        if c.tf is not None and c.tf.column in records.columns
    }


def _key_columns(rules: Sequence[BlockingRule]) -> set[str] | None:
    """The columns the rules block on (so only those derived keys are built); None if unknown."""
    if not all(hasattr(rule, "columns") for rule in rules):
        return None
    return {column for rule in rules for column in rule.columns}


def _persons(records: pl.DataFrame, crosswalk: pl.DataFrame) -> pl.DataFrame:
    """One row per person: the most frequent value of each canonical field among its records.

    The person's ID number is the most frequent valid one among records whose
    own birth date agrees with it (a child's record carrying a guardian's ID
    must not give the child the guardian's number).
    """
    joined = records.select(
        s.SOURCE, s.RECORD_ID, s.NAME_NORM, s.NAME_LATIN_NORM, s.ID_KIND, s.ID_NORM, s.DOB, s.SEX_BEST,
        s.BIRTH_DATE_NORM, s.ID_BIRTH_DATE,
    ).join(crosswalk.select(s.SOURCE, s.RECORD_ID, s.PERSON_ID), on=[s.SOURCE, s.RECORD_ID])
    own_id = pl.col(s.BIRTH_DATE_NORM).is_null() | (pl.col(s.BIRTH_DATE_NORM) == pl.col(s.ID_BIRTH_DATE))
    trusted_id = pl.when(own_id.fill_null(True)).then(pl.col(s.ID_NORM))
    trusted_kind = pl.when(own_id.fill_null(True) & pl.col(s.ID_NORM).is_not_null()).then(pl.col(s.ID_KIND))

    def mode(expr: pl.Expr, name: str) -> pl.LazyFrame:
        # per person, the most frequent non-null value; ties go to the smallest, so reruns
        # agree.  One grouping by (person, value) rather than a mode per group: a list
        # operation per person costs seconds at a million records.
        return (
            joined.lazy()
            .select(s.PERSON_ID, expr.alias(name))
            .drop_nulls(name)
            .group_by(s.PERSON_ID, name)
            .len()
            .filter(pl.col("len") == pl.col("len").max().over(s.PERSON_ID))
            .group_by(s.PERSON_ID)
            .agg(pl.col(name).min())
        )

    persons = joined.lazy().group_by(s.PERSON_ID).agg(
        pl.len().alias("records"),
        pl.col(s.SOURCE).n_unique().alias("sources"),
        pl.col(s.SOURCE).unique().sort().alias("source_list"),
    )
    fields = (
        (pl.col(s.NAME_NORM), s.NAME_NORM),
        (pl.col(s.NAME_LATIN_NORM), s.NAME_LATIN_NORM),
        (trusted_id, s.ID_NORM),
        (trusted_kind, s.ID_KIND),
        (pl.col(s.DOB), s.DOB),
        (pl.col(s.SEX_BEST), s.SEX_BEST),
    )
    for expr, name in fields:
        persons = persons.join(mode(expr, name), on=s.PERSON_ID, how="left")
    order = [s.PERSON_ID, *(name for _, name in fields), "records", "sources", "source_list"]
    return persons.select(order).sort(s.PERSON_ID).collect()


def _review_pairs(
    records: pl.DataFrame,
    scored: pl.DataFrame,
    clustered: ClusterResult,
    model: FSModel,
    *,
    untrained: bool = False,
) -> pl.DataFrame:
    """Pairs in the uncertain band plus pairs cut by constraints, both records side by side.

    ``untrained``: no model scored the pairs, so every candidate pair is for review.
    """
    if untrained:
        band = scored.select(
            s.ROW_L, s.ROW_R, s.RULE, s.MATCH_WEIGHT, s.MATCH_PROBABILITY,
            pl.lit(UNTRAINED).alias("why"),
        )
    else:
        band = scored.filter(
            (pl.col(s.MATCH_PROBABILITY) >= model.review_threshold)
            & (pl.col(s.MATCH_PROBABILITY) < model.match_threshold)
        ).select(s.ROW_L, s.ROW_R, s.RULE, s.MATCH_WEIGHT, s.MATCH_PROBABILITY,
                 pl.lit("uncertain").alias("why"))
    cut = clustered.cut_edges.select(
        s.ROW_L, s.ROW_R, s.RULE, s.MATCH_WEIGHT, s.MATCH_PROBABILITY,
        pl.col(CUT_REASON).alias("why"),
    )
    pairs = pl.concat([band, cut], how="vertical_relaxed")
    side = records.select(s.ROW_ID, *_REVIEW_COLUMNS)
    left = side.rename({c: f"{c}_l" for c in _REVIEW_COLUMNS} | {s.ROW_ID: s.ROW_L})
    right = side.rename({c: f"{c}_r" for c in _REVIEW_COLUMNS} | {s.ROW_ID: s.ROW_R})
    return (
        pairs.join(left, on=s.ROW_L, how="left")
        .join(right, on=s.ROW_R, how="left")
        .sort(s.MATCH_PROBABILITY, descending=True)
    )


def _write_outputs(
    out_dir: Path,
    records: pl.DataFrame,
    crosswalk: pl.DataFrame,
    persons: pl.DataFrame,
    rejects: pl.DataFrame,
    review: pl.DataFrame,
    clustered: ClusterResult,
    model: FSModel,
) -> None:
    crosswalk.select(s.SOURCE, s.RECORD_ID, s.PERSON_ID, s.MATCH_PROBABILITY).write_parquet(
        out_dir / CROSSWALK
    )
    persons.write_parquet(out_dir / PERSONS)
    rejects.write_parquet(out_dir / REJECTS)
    review.write_parquet(out_dir / REVIEW)
    (out_dir / MODEL).write_text(model.to_json(), encoding="utf-8")
    records.join(crosswalk.select(s.ROW_ID, s.PERSON_ID), on=s.ROW_ID, how="left").write_parquet(
        out_dir / RECORDS
    )
    kept = clustered.kept_edges.with_columns(pl.lit("kept").alias(EDGE_KIND))
    cut = clustered.cut_edges.with_columns(pl.lit("cut").alias(EDGE_KIND))
    pl.concat([kept, cut], how="diagonal_relaxed").write_parquet(out_dir / EDGES)


def _write_summary(out_dir: Path, result: RunResult) -> None:
    summary = {
        "run_id": result.run_id,
        "input_rows": result.input_rows,
        "linked_rows": result.linked_rows,
        "rejected_rows": result.rejected_rows,
        "persons": result.persons,
        "candidate_pairs": result.candidate_pairs,
        "review_pairs": result.review_pairs,
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "clusters": result.cluster_summary,
        "events": result.events,
        "blocking": result.blocking_counts.to_dicts(),
        "thresholds": {"match": result.model.match_threshold, "review": result.model.review_threshold},
        "model": {"method": result.model.training.method, "source": result.model_source},
        "warnings": list(result.warnings),
    }
    (out_dir / SUMMARY).write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str),
                                   encoding="utf-8")
