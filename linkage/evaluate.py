"""Accuracy of a predicted crosswalk against a ground truth, from cluster sizes alone.

Inputs
------
``truth``
    One row per record: :data:`~normalizers.schema.SOURCE`,
    :data:`~normalizers.schema.RECORD_ID` (unique together, non-null) and
    :data:`PERSON_ID` (non-null; records of one person share it).  Optional
    planted traps:

    * :data:`HARD_CASE` names the kind of trap a record was planted in
      (``"twins"``, ``"same_name_birthday"``, ``"parent_child"``,
      ``"recycled_phone"``, ``"guardian_id"`` ...); null or empty means none.
      One kind per record.
    * :data:`HARD_GROUP` identifies one planted pair or group: the records
      sharing it belong to *different* persons that a linker could wrongly
      merge (a group may mix kinds, e.g. a parent's ``parent_child`` records
      and the child's ``guardian_id`` record).  Without the column, all the
      records of one kind form a single group, which overstates the number of
      planted pairs (every distinct-person pair of that kind counts), so a
      generator should write ``hard_group``.  Records with a null
      ``hard_group`` are then not counted.

``pred``
    The crosswalk: one row per record, ``SOURCE``, ``RECORD_ID``, ``PERSON_ID``.
    The two ``person_id`` columns are separate namespaces of any dtype.  A truth
    record absent from ``pred`` (or with a null ``person_id`` there) is scored as
    a singleton cluster and counted in ``missing_from_pred``; a ``pred`` record
    absent from the truth is counted in ``pred_not_in_truth`` and otherwise
    ignored.

``candidate_pairs`` (optional)
    The pairs a blocker proposed, either by record key (:data:`SOURCE_L`,
    :data:`RECORD_ID_L`, :data:`SOURCE_R`, :data:`RECORD_ID_R`) or, faster, by
    0-based row number in ``truth`` (:data:`LEFT_ROW`, :data:`RIGHT_ROW`, integers
    or digit strings: the blocking stage's row ids, when ``truth`` is the
    normalized record frame with its person ids); row numbers win when both are
    present.  Order within
    a pair and duplicates do not matter; self-pairs are dropped, and so are
    rows with a key not in the truth or a row number out of range (counted in
    ``unknown_key_pairs``).

Metrics
-------
Every count comes from the contingency table of (true person, predicted
cluster) sizes, never from enumerating pairs: with ``n_t``, ``n_p`` and
``n_tp`` the sizes of a record's true person, predicted cluster and their
intersection, a cluster of ``n`` records holds ``C(n, 2)`` pairs and

* pairwise: correct = Σ C(n_tp, 2), predicted = Σ C(n_p, 2), true = Σ C(n_t, 2);
  precision = correct / predicted, recall = correct / true.  By convention
  precision is 1.0 when nothing is predicted linked, recall is 1.0 when the
  truth has no pairs, and F1 is 0.0 when both are 0.
* B-cubed (Bagga & Baldwin): the mean over records of n_tp / n_p (precision)
  and n_tp / n_t (recall); F1 of the two means.  1.0 on an empty truth.
* per source ``s``: the pairwise numbers restricted to pairs with at least one
  record from ``s``, i.e. Σ C(n, 2) - C(n - n_s, 2) per cluster, which asks
  "how right are the links that touch this department's records".
* per hard-case kind: planted pairs = distinct-person pairs within a group;
  merged pairs = those whose two records share a predicted cluster;
  merge rate = merged / planted (0.0 when nothing was planted).
* blocking: recall = true pairs among the candidates / all true pairs;
  pair quality = true pairs among the candidates / candidates;
  reduction ratio = 1 - candidates / C(records, 2).

For a credit database a false merge (two people sharing one credit identity)
costs more than a missed link, so the report also gives the false-merge pair
count and the number of predicted clusters holding more than one true person.

Exactness and speed: record keys are matched exactly (by a 64-bit hash join
whose matches are confirmed on the strings).  Person ids, and the (person,
cluster, source) combinations whose sizes are counted, are grouped by 64-bit
hashes so that every size is one integer grouping: a count could only be off if
two distinct ids or combinations shared a hash, a chance below N² / 2⁶⁴ for N
records (about 3·10⁻⁷ at 2.5 million), and then by the few records involved.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from io import StringIO
from typing import Any, Final

import polars as pl
from rich.console import Console
from rich.table import Table

from normalizers.errors import SchemaError
from normalizers.schema import (
    HARD_CASE,
    HARD_GROUP,
    KEY_COLUMNS,
    PERSON_ID,
    RECORD_ID,
    ROW_L,
    ROW_R,
    SOURCE,
)

log = logging.getLogger(__name__)

SOURCE_L: Final = "source_l"  # candidate pair, left record
RECORD_ID_L: Final = "record_id_l"
SOURCE_R: Final = "source_r"  # candidate pair, right record
RECORD_ID_R: Final = "record_id_r"
LEFT_ROW: Final = ROW_L  # candidate pair by 0-based row number in the truth (the pipeline's row ids)
RIGHT_ROW: Final = ROW_R

# private working columns
_T, _P, _S = "_t", "_p", "_s"  # true person code, predicted cluster code, source
_N_T, _N_P, _N_TP = "_n_t", "_n_p", "_n_tp"  # sizes of a record's clusters
_N_TS, _N_PS, _N_TPS = "_n_ts", "_n_ps", "_n_tps"  # ... within the record's source
_PLACED = "_placed"  # the record has a cluster in pred
_ROW = "_row"  # row number in the truth
_KEY_ROW = "_key_row"  # row number in another frame matched to the truth
_SINGLETON_SEED: Final = 0x5EED  # hashes row numbers into codes of unplaced records
_HASH = "_hash"


# ------------------------------------------------------------------ results
def _ratio(numerator: float, denominator: float, empty: float) -> float:
    return float(numerator / denominator) if denominator else empty


def _f1(precision: float, recall: float) -> float:
    total = precision + recall
    return 2 * precision * recall / total if total else 0.0


@dataclass(frozen=True, slots=True)
class PairwiseScores:
    """Pair counts and the precision/recall/F1 they imply (conventions in the module doc)."""

    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    false_merge_pairs: int  # predicted together, different persons
    missed_pairs: int  # same person, predicted apart
    precision: float
    recall: float
    f1: float

    @classmethod
    def from_counts(
        cls, true_pairs: int, predicted_pairs: int, correct_pairs: int
    ) -> PairwiseScores:
        precision = _ratio(correct_pairs, predicted_pairs, 1.0)
        recall = _ratio(correct_pairs, true_pairs, 1.0)
        return cls(
            true_pairs=true_pairs,
            predicted_pairs=predicted_pairs,
            correct_pairs=correct_pairs,
            false_merge_pairs=predicted_pairs - correct_pairs,
            missed_pairs=true_pairs - correct_pairs,
            precision=precision,
            recall=recall,
            f1=_f1(precision, recall),
        )


@dataclass(frozen=True, slots=True)
class BCubedScores:
    """Record-averaged precision and recall (B-cubed) and their F1."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class SourceScores:
    """One source's records and the pairwise scores of the pairs touching them."""

    source: str
    records: int
    missing_from_pred: int
    pairwise: PairwiseScores


@dataclass(frozen=True, slots=True)
class HardCaseScores:
    """How often one kind of planted trap was wrongly merged."""

    kind: str
    records: int
    planted_pairs: int
    merged_pairs: int
    merge_rate: float


@dataclass(frozen=True, slots=True)
class BlockingScores:
    """How many true pairs survived blocking, and at what cost."""

    candidate_pairs: int  # distinct pairs of two different truth records
    unknown_key_pairs: int  # input rows dropped: a key not in the truth
    true_pairs_found: int
    true_pairs: int
    recall: float
    pair_quality: float
    reduction_ratio: float


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Everything :func:`evaluate` measures; ``to_dict()`` is the JSON form."""

    truth_records: int
    pred_records: int
    missing_from_pred: int
    pred_not_in_truth: int
    true_persons: int
    predicted_persons: int  # clusters over truth records, missing ones as singletons
    overmerged_clusters: int  # predicted clusters holding more than one true person
    split_persons: int  # true persons spread over more than one predicted cluster
    pairwise: PairwiseScores
    bcubed: BCubedScores
    by_source: tuple[SourceScores, ...]
    hard_cases: tuple[HardCaseScores, ...]
    blocking: BlockingScores | None

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts, lists, numbers and strings, ready for ``json.dumps``."""
        out = asdict(self)
        out["by_source"] = list(out["by_source"])
        out["hard_cases"] = list(out["hard_cases"])
        return out


# ------------------------------------------------------------------ inputs
def _require(frame: pl.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(f"{name}: missing column(s) {missing} (has {frame.columns})")


def _require_non_null(frame: pl.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    for column in columns:
        nulls = frame.get_column(column).null_count()
        if nulls:
            raise SchemaError(
                f"{name}: column {column!r} has {nulls:,} null value(s); expected none"
            )


def _keys(frame: pl.DataFrame, source: str, record_id: str) -> pl.DataFrame:
    """The record key of each row as two string columns named SOURCE and RECORD_ID."""
    return frame.select(
        pl.col(source).cast(pl.String).alias(SOURCE),
        pl.col(record_id).cast(pl.String).alias(RECORD_ID),
    )


def _key_hash(keys: pl.DataFrame) -> pl.Series:
    return keys.select(pl.struct(*KEY_COLUMNS).hash().alias(_HASH)).to_series()


def _check_unique_keys(keys: pl.DataFrame, name: str, hashes: pl.Series) -> bool:
    """Raise on duplicate keys; return False when hashes collide between distinct keys."""
    if hashes.n_unique() == keys.height:
        return True
    suspects = keys.filter(hashes.is_duplicated())
    duplicated = suspects.filter(suspects.is_duplicated())
    if duplicated.height:
        examples = duplicated.unique(maintain_order=True).head(3).rows()
        raise SchemaError(
            f"{name}: ({SOURCE}, {RECORD_ID}) must be unique; "
            f"{duplicated.height:,} rows share a key, e.g. {examples}"
        )
    log.info("%s: record-key hash collision; matching keys by string join", name)
    return False


def _match_rows(
    index: pl.DataFrame, index_hash: pl.Series | None, keys: pl.DataFrame
) -> pl.DataFrame:
    """The rows of ``keys`` found in ``index``: columns _KEY_ROW (row in ``keys``)
    and _ROW (row in ``index``), in no particular order.

    Both frames come from :func:`_keys`, and ``index`` has unique keys.
    ``index_hash`` is its key hash when those hashes are unique too, else None
    (then the keys are joined as strings).
    """
    if index_hash is None:
        return (
            keys.lazy()
            .with_row_index(_KEY_ROW)
            .join(index.lazy().with_row_index(_ROW), on=list(KEY_COLUMNS), how="inner")
            .select(_KEY_ROW, _ROW)
            .collect()
        )
    matches = (
        _key_hash(keys)
        .to_frame()
        .lazy()
        .with_row_index(_KEY_ROW)
        .join(index_hash.to_frame().lazy().with_row_index(_ROW), on=_HASH, how="inner")
        .select(_KEY_ROW, _ROW)
        .collect()
    )
    # A hash match is a key match unless two keys collide: confirm on the strings.
    mine = keys[matches.get_column(_KEY_ROW)]
    theirs = index[matches.get_column(_ROW)]
    same = (mine.get_column(SOURCE) == theirs.get_column(SOURCE)) & (
        mine.get_column(RECORD_ID) == theirs.get_column(RECORD_ID)
    )
    return matches if same.all() else matches.filter(same)


def _lookup_rows(
    index: pl.DataFrame, index_hash: pl.Series | None, keys: pl.DataFrame
) -> pl.Series:
    """For each row of ``keys``, the row number in ``index`` with the same key, or null."""
    matches = _match_rows(index, index_hash, keys)
    return (
        pl.Series(_ROW, [], dtype=pl.UInt32)
        .extend_constant(None, keys.height)
        .scatter(matches.get_column(_KEY_ROW), matches.get_column(_ROW))
    )


# ------------------------------------------------------------------ evaluate
def evaluate(
    truth: pl.DataFrame,
    pred: pl.DataFrame,
    *,
    candidate_pairs: pl.DataFrame | None = None,
    by_source: bool = True,
) -> EvaluationReport:
    """Score a predicted crosswalk against the truth; see the module doc for the contract.

    Raises :class:`~normalizers.errors.SchemaError` when a required column is
    missing, a key or truth person id is null, or a key appears twice in one input.
    """
    _require(truth, "truth", (*KEY_COLUMNS, PERSON_ID))
    _require(pred, "pred", (*KEY_COLUMNS, PERSON_ID))
    _require_non_null(truth, "truth", (*KEY_COLUMNS, PERSON_ID))
    _require_non_null(pred, "pred", KEY_COLUMNS)
    if candidate_pairs is not None:
        _require(
            candidate_pairs,
            "candidate_pairs",
            (LEFT_ROW, RIGHT_ROW)
            if LEFT_ROW in candidate_pairs.columns
            else (SOURCE_L, RECORD_ID_L, SOURCE_R, RECORD_ID_R),
        )

    truth_keys = _keys(truth, SOURCE, RECORD_ID)
    truth_hash: pl.Series | None = _key_hash(truth_keys)
    if not _check_unique_keys(truth_keys, "truth", truth_hash):
        truth_hash = None
    pred_keys = _keys(pred, SOURCE, RECORD_ID)
    _check_unique_keys(pred_keys, "pred", _key_hash(pred_keys))

    # Each truth record gets the code of its predicted cluster; an unplaced one, a singleton code.
    matches = _match_rows(truth_keys, truth_hash, pred_keys)
    pred_person = pred.get_column(PERSON_ID)
    placed = matches.with_columns(
        pred_person.hash().gather(matches.get_column(_KEY_ROW)).alias(_P),
        pred_person.is_not_null().gather(matches.get_column(_KEY_ROW)).alias(_PLACED),
    ).filter(_PLACED)
    records = (
        truth.lazy()
        .select(
            pl.col(PERSON_ID).hash().alias(_T),
            pl.int_range(pl.len(), dtype=pl.UInt64).hash(_SINGLETON_SEED).alias(_P),
            pl.lit(False).alias(_PLACED),
            pl.col(SOURCE).cast(pl.String).alias(_S),
        )
        .collect()
    )
    rows = placed.get_column(_ROW)
    records = records.with_columns(
        records.get_column(_P).scatter(rows, placed.get_column(_P)),
        records.get_column(_PLACED).scatter(rows, True),
    )

    # One lazy plan: the per-record sizes are computed once and feed both aggregations.
    sized = _record_sizes(records, by_source=by_source)
    per_source, clusters = pl.collect_all(
        [
            _per_source_sums(sized, by_source=by_source),
            sized.select(
                pl.col(_T).n_unique().alias("true_persons"),
                pl.col(_P).n_unique().alias("predicted_persons"),
                pl.col(_P).filter(pl.col(_N_TP) < pl.col(_N_P)).n_unique().alias("overmerged"),
                pl.col(_T).filter(pl.col(_N_TP) < pl.col(_N_T)).n_unique().alias("split"),
            ),
        ]
    )
    counts = per_source.select(pl.col("true2", "pred2", "correct2", "b3p", "b3r").sum()).row(
        0, named=True
    )
    cluster_counts = clusters.row(0, named=True)
    true_pairs = int(counts["true2"] or 0) // 2

    return EvaluationReport(
        truth_records=truth.height,
        pred_records=pred.height,
        missing_from_pred=truth.height - placed.height,
        pred_not_in_truth=pred.height - matches.height,
        true_persons=cluster_counts["true_persons"],
        predicted_persons=cluster_counts["predicted_persons"],
        overmerged_clusters=cluster_counts["overmerged"],
        split_persons=cluster_counts["split"],
        pairwise=PairwiseScores.from_counts(
            true_pairs, int(counts["pred2"] or 0) // 2, int(counts["correct2"] or 0) // 2
        ),
        bcubed=_bcubed(float(counts["b3p"] or 0.0), float(counts["b3r"] or 0.0), truth.height),
        by_source=_source_scores(per_source) if by_source else (),
        hard_cases=_hard_case_scores(truth, records) if HARD_CASE in truth.columns else (),
        blocking=(
            None
            if candidate_pairs is None
            else _blocking_scores(
                truth_keys, truth_hash, records.get_column(_T), candidate_pairs, true_pairs
            )
        ),
    )


def _record_sizes(records: pl.DataFrame, *, by_source: bool) -> pl.LazyFrame:
    """Add, per record, the sizes of its true person, its predicted cluster and
    their intersection (and, with ``by_source``, of each within the record's source)."""

    def size(*keys: str) -> pl.Expr:
        # One hashed key groups faster than several columns.
        key = pl.col(keys[0]) if len(keys) == 1 else pl.struct(*keys).hash()
        return pl.len().over(key).cast(pl.Int64)

    columns = [size(_T).alias(_N_T), size(_P).alias(_N_P), size(_T, _P).alias(_N_TP)]
    if by_source:
        columns += [
            size(_T, _S).alias(_N_TS),
            size(_P, _S).alias(_N_PS),
            size(_T, _P, _S).alias(_N_TPS),
        ]
    return records.lazy().with_columns(columns)


def _per_source_sums(sized: pl.LazyFrame, *, by_source: bool) -> pl.LazyFrame:
    """Per source: records, unplaced records, twice the pair counts and the B-cubed sums.

    Σ over records of (n - 1) is twice the pairs of the clusters; within a source,
    Σ over its records of 2(n - 1) - (n_s - 1) is twice the pairs touching it.
    """

    def twice_touching(n: str, n_s: str) -> pl.Expr:
        return (2 * (pl.col(n) - 1) - (pl.col(n_s) - 1)).sum()

    aggs = [
        pl.len().alias("records"),
        pl.col(_PLACED).not_().sum().alias("missing"),
        (pl.col(_N_T) - 1).sum().alias("true2"),
        (pl.col(_N_P) - 1).sum().alias("pred2"),
        (pl.col(_N_TP) - 1).sum().alias("correct2"),
        (pl.col(_N_TP) / pl.col(_N_P)).sum().alias("b3p"),
        (pl.col(_N_TP) / pl.col(_N_T)).sum().alias("b3r"),
    ]
    if by_source:
        aggs += [
            twice_touching(_N_T, _N_TS).alias("true2_s"),
            twice_touching(_N_P, _N_PS).alias("pred2_s"),
            twice_touching(_N_TP, _N_TPS).alias("correct2_s"),
        ]
    return sized.group_by(_S).agg(aggs).sort(_S)


def _source_scores(per_source: pl.DataFrame) -> tuple[SourceScores, ...]:
    return tuple(
        SourceScores(
            source=row[_S],
            records=int(row["records"]),
            missing_from_pred=int(row["missing"]),
            pairwise=PairwiseScores.from_counts(
                int(row["true2_s"]) // 2, int(row["pred2_s"]) // 2, int(row["correct2_s"]) // 2
            ),
        )
        for row in per_source.iter_rows(named=True)
    )


def _bcubed(precision_sum: float, recall_sum: float, records: int) -> BCubedScores:
    precision = _ratio(precision_sum, records, 1.0)
    recall = _ratio(recall_sum, records, 1.0)
    return BCubedScores(precision=precision, recall=recall, f1=_f1(precision, recall))


def _hard_case_scores(truth: pl.DataFrame, records: pl.DataFrame) -> tuple[HardCaseScores, ...]:
    """Planted distinct-person pairs per kind, and how many share a predicted cluster.

    With ``HARD_GROUP`` the pairs of different persons inside each group are
    enumerated (groups are a few records each); a pair whose two records carry
    different kinds counts under the rarer, more specific one (fewer records; ties by name) (``guardian_id``
    beside ``parent_child``: the record holding the parent's ID is the trap).
    """
    kind = pl.col(HARD_CASE).cast(pl.String)
    if HARD_GROUP not in truth.columns:
        return _hard_case_scores_by_kind(truth, records)
    planted = (
        pl.concat([truth.select(HARD_CASE, HARD_GROUP), records.select(_T, _P)], how="horizontal")
        .with_columns(kind)
        .filter(kind.is_not_null() & (kind != "") & pl.col(HARD_GROUP).is_not_null())
        .with_row_index("_i")
    )
    frequency = planted.group_by(HARD_CASE).len("_kind_records")
    pairs = (
        planted.join(planted, on=HARD_GROUP, suffix="_r")
        .filter((pl.col("_i") < pl.col("_i_r")) & (pl.col(_T) != pl.col(f"{_T}_r")))
        .join(frequency, on=HARD_CASE)
        .join(frequency.rename({HARD_CASE: f"{HARD_CASE}_r", "_kind_records": "_kind_records_r"}),
              on=f"{HARD_CASE}_r")
        .select(
            pl.when(
                (pl.col("_kind_records") < pl.col("_kind_records_r"))
                | (
                    (pl.col("_kind_records") == pl.col("_kind_records_r"))
                    & (pl.col(HARD_CASE) <= pl.col(f"{HARD_CASE}_r"))
                )
            )
            .then(pl.col(HARD_CASE)).otherwise(pl.col(f"{HARD_CASE}_r")).alias("_kind"),
            (pl.col(_P) == pl.col(f"{_P}_r")).alias("_merged"),
        )
        .group_by("_kind")
        .agg(pl.len().alias("planted"), pl.col("_merged").sum().alias("merged"))
    )
    rows = (
        frequency.join(pairs, left_on=HARD_CASE, right_on="_kind", how="left")
        .fill_null(0)
        .sort(HARD_CASE)
    )
    return tuple(
        HardCaseScores(
            kind=row[HARD_CASE],
            records=int(row["_kind_records"]),
            planted_pairs=int(row["planted"]),
            merged_pairs=int(row["merged"]),
            merge_rate=_ratio(int(row["merged"]), int(row["planted"]), 0.0),
        )
        for row in rows.iter_rows(named=True)
    )


def _hard_case_scores_by_kind(
    truth: pl.DataFrame, records: pl.DataFrame
) -> tuple[HardCaseScores, ...]:
    """Without groups, all records of one kind form one group (overstates planted pairs)."""
    kind = pl.col(HARD_CASE).cast(pl.String)
    planted = (
        pl.concat([truth.select(HARD_CASE), records.select(_T, _P)], how="horizontal")
        .lazy()
        .with_columns(kind)
        .filter(kind.is_not_null() & (kind != ""))
    )

    def size(*keys: str) -> pl.Expr:
        return pl.len().over(HARD_CASE, *keys).cast(pl.Int64)

    # Σ over a group's records of (n_g - n_gt) is twice its distinct-person pairs;
    # the same within each predicted cluster counts the merged ones.
    rows = (
        planted.select(
            HARD_CASE,
            (size() - size(_T)).alias("planted2"),
            (size(_P) - size(_P, _T)).alias("merged2"),
        )
        .group_by(HARD_CASE)
        .agg(pl.len().alias("records"), pl.col("planted2").sum(), pl.col("merged2").sum())
        .sort(HARD_CASE)
        .collect()
    )
    return tuple(
        HardCaseScores(
            kind=row[HARD_CASE],
            records=int(row["records"]),
            planted_pairs=int(row["planted2"]) // 2,
            merged_pairs=int(row["merged2"]) // 2,
            merge_rate=_ratio(int(row["merged2"]), int(row["planted2"]), 0.0),
        )
        for row in rows.iter_rows(named=True)
    )


def _candidate_rows(
    truth_keys: pl.DataFrame, truth_hash: pl.Series | None, candidate_pairs: pl.DataFrame
) -> tuple[pl.Series, pl.Series]:
    """Truth row numbers of both sides of each candidate pair (null: not in the truth)."""
    if LEFT_ROW in candidate_pairs.columns:
        n = truth_keys.height

        def in_range(column: str) -> pl.Series:
            dtype = candidate_pairs.schema[column]
            if not (dtype.is_integer() or dtype == pl.String):
                raise SchemaError(
                    f"candidate_pairs: {column!r} must hold integer row numbers (got {dtype})"
                )
            # Text files arrive as strings: digits are row numbers, anything else is unknown.
            rows = pl.col(column).cast(pl.Int64, strict=False)
            return candidate_pairs.select(
                pl.when(rows.is_between(0, n - 1)).then(rows).cast(pl.UInt64)
            ).to_series()

        return in_range(LEFT_ROW), in_range(RIGHT_ROW)
    return (
        _lookup_rows(truth_keys, truth_hash, _keys(candidate_pairs, SOURCE_L, RECORD_ID_L)),
        _lookup_rows(truth_keys, truth_hash, _keys(candidate_pairs, SOURCE_R, RECORD_ID_R)),
    )


def _blocking_scores(
    truth_keys: pl.DataFrame,
    truth_hash: pl.Series | None,
    true_codes: pl.Series,
    candidate_pairs: pl.DataFrame,
    true_pairs: int,
) -> BlockingScores:
    """Pairs completeness, pair quality and reduction ratio of the candidate pairs."""
    left, right = _candidate_rows(truth_keys, truth_hash, candidate_pairs)
    n = truth_keys.height
    known = pl.DataFrame(
        {"l": left, "r": right}, schema={"l": pl.UInt64, "r": pl.UInt64}
    ).drop_nulls()
    # An unordered pair of distinct rows as one integer: lo * n + hi.
    pairs = known.select(
        (pl.min_horizontal("l", "r") * n + pl.max_horizontal("l", "r")).alias("pair"),
        (pl.col("l") != pl.col("r")).alias("distinct"),
        (
            true_codes.gather(known.get_column("l")) == true_codes.gather(known.get_column("r"))
        ).alias("same"),
    ).filter("distinct")
    candidates = pairs.get_column("pair").n_unique()
    found = pairs.filter("same").get_column("pair").n_unique()
    return BlockingScores(
        candidate_pairs=candidates,
        unknown_key_pairs=candidate_pairs.height - known.height,
        true_pairs_found=found,
        true_pairs=true_pairs,
        recall=_ratio(found, true_pairs, 1.0),
        pair_quality=_ratio(found, candidates, 1.0),
        reduction_ratio=1.0 - _ratio(candidates, n * (n - 1) // 2, 0.0),
    )


# ------------------------------------------------------------------ rendering
def _prf(precision: float, recall: float, f1: float) -> str:
    return f"{precision:.4f} / {recall:.4f} / {f1:.4f}"


def report_table(report: EvaluationReport) -> Table:
    """The report as one rich table in sections: pairwise, B-cubed, records,
    blocking, per source, per hard case.  False merges lead the errors because
    they are what a credit database can least afford."""
    table = Table(title="Linkage evaluation", header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("detail")

    pair = report.pairwise
    table.add_row(
        "pairwise precision / recall / F1",
        _prf(pair.precision, pair.recall, pair.f1),
        f"pairs: true {pair.true_pairs:,}, predicted {pair.predicted_pairs:,}, "
        f"correct {pair.correct_pairs:,}",
    )
    table.add_row(
        "false-merge pairs",
        f"{pair.false_merge_pairs:,}",
        f"clusters holding >1 true person: {report.overmerged_clusters:,}",
    )
    table.add_row(
        "missed pairs",
        f"{pair.missed_pairs:,}",
        f"persons split over >1 cluster: {report.split_persons:,}",
    )
    bcubed = report.bcubed
    table.add_row(
        "B-cubed precision / recall / F1", _prf(bcubed.precision, bcubed.recall, bcubed.f1), ""
    )
    table.add_section()
    table.add_row(
        "truth records", f"{report.truth_records:,}", f"true persons: {report.true_persons:,}"
    )
    table.add_row(
        "predicted records",
        f"{report.pred_records:,}",
        f"predicted persons over truth records: {report.predicted_persons:,}",
    )
    table.add_row(
        "truth records missing from prediction",
        f"{report.missing_from_pred:,}",
        "scored as singletons",
    )
    table.add_row("predicted records not in truth", f"{report.pred_not_in_truth:,}", "ignored")

    if report.blocking is not None:
        block = report.blocking
        table.add_section()
        table.add_row(
            "blocking recall",
            f"{block.recall:.4f}",
            f"{block.true_pairs_found:,} of {block.true_pairs:,} true pairs",
        )
        table.add_row(
            "blocking pair quality",
            f"{block.pair_quality:.4f}",
            f"candidate pairs: {block.candidate_pairs:,}",
        )
        table.add_row(
            "blocking reduction ratio",
            f"{block.reduction_ratio:.6f}",
            f"rows with a key not in truth: {block.unknown_key_pairs:,}"
            if block.unknown_key_pairs
            else "",
        )

    if report.by_source:
        table.add_section()
        for source in report.by_source:
            scores = source.pairwise
            table.add_row(
                f"source {source.source}: P / R / F1",
                _prf(scores.precision, scores.recall, scores.f1),
                f"records {source.records:,}, false-merge pairs {scores.false_merge_pairs:,}",
            )

    if report.hard_cases:
        table.add_section()
        for case in report.hard_cases:
            table.add_row(
                f"hard case {case.kind}: merge rate",
                f"{case.merge_rate:.2%}",
                f"merged {case.merged_pairs:,} of {case.planted_pairs:,} planted pairs",
            )
    return table


def report_text(report: EvaluationReport, *, width: int = 120) -> str:
    """The table of :func:`report_table` as plain text, without colour codes."""
    buffer = StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, force_terminal=False, highlight=False
    )
    console.print(report_table(report))
    return buffer.getvalue()
