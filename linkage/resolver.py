"""Resolve records against the identity store in memory: the engine of the resolve-identity service.

A :class:`Resolver` indexes every stored record once (normalized with
:func:`normalizers.frame.normalize_frame`, keyed with
:func:`blocking.add_blocking_keys` and the run's blocking rules) and then answers
queries with the batch job's own stages on a small frame: the query rows and the
stored records they share a block with are compared by
:func:`linkage.comparisons.comparison_vectors` and scored by
:func:`linkage.model.score` with the stored model.  No comparison is
reimplemented here; only the blocking lookup differs in form, not in meaning.

The index, per blocking rule, is a sorted array of 64-bit hashes of the rule's
key (list columns exploded, as blocking does) beside the row positions carrying
it: a query key finds its block with two ``np.searchsorted`` calls.  A block
over the rule's ``max_block_size`` yields no candidates, as in the batch job,
counting the query itself as a member of the block (it would be one in a batch
run).  Blocks already over the cap in the index keep only their hash, not their
rows.

Records added by :meth:`Resolver.ingest` go to small append-only *segments*
beside the base index (compacted into one when there are many), so an ingest
never copies the million-row index.  Merges re-point person codes through a
small alias map.  Readers work on an immutable snapshot that an ingest swaps in
atomically after the store has accepted its writes: ``resolve`` needs no lock
and may run on many threads while one ``ingest`` (serialized by a lock) runs.

Ingest follows the batch job's clustering rules, one record at a time in
request order: a record joins every person it matches at or above the match
threshold that the ID constraints allow (never two different checked lifelong
IDs in one person), strongest first, merging them; a record that fits two
persons the constraints keep apart almost equally well joins neither.

Term frequencies (the name comparison's ``exact`` level) are counted once over
the indexed records, as the batch job counts them over its run; records
ingested later do not shift them until the next start.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import polars as pl

from blocking import BlockingRule
from blocking.keys import DERIVED_KEYS, add_blocking_keys, id_keys_of
from blocking.latin_keys import (
    KEY_ADDRESS_NUMBERS,
    KEY_ADDRESS_WORDS,
    KEY_LATIN_NAME,
    KEY_LATIN_TOKENS,
    LATIN_KEYS,
    latin_name_key_of,
)
from linkage._similarity import SCALAR_PAIRS, RowView
from linkage.clustering import (
    AMBIGUOUS,
    DEFAULT_AMBIGUITY_MARGIN,
    Constraint,
    RowIndex,
    default_constraints,
)
from linkage.comparisons import ConditionComparison, comparison_vectors
from linkage.config import JobConfig
from linkage.identities import (
    EVENT_KIND,
    EVENT_REASON,
    EVENT_RECORDS,
    EVENT_SCHEMA,
    RELATED_IDS,
    EventKind,
    derive_person_id,
)
from linkage.latin import LATIN_COMPARISONS
from linkage.model import (
    TF_VALUE,
    ComparisonParams,
    FSModel,
    check_model_matches,
    explain_pair,
    match_weights,
    probability,
    score,
    term_frequencies,
)
from linkage.presets import DEFAULT_PRESET, preset_rules, rules_for_config
from linkage.store import IdentityStore, IngestBatch, StoreError
from normalizers import schema as s
from normalizers._vector import POLARS_WHITE_SPACE
from normalizers.dates import MIN_YEAR
from normalizers.errors import ConfigError, SchemaError
from normalizers.frame import normalize_frame, normalize_record
from normalizers.reasons import Reason

log = logging.getLogger(__name__)

__all__ = ["Candidate", "IngestDecision", "IngestDelta", "Resolution", "Resolver"]

Status = Literal["known", "match", "review", "no_match", "rejected"]
Action = Literal["exists", "attached", "created", "merged", "rejected"]

SCALAR_KEYS: Final = 32
"""Query batches up to this size are keyed in Python (Resolver._rule_keys_1); larger ones by
polars, whose ~2 ms fixed cost then pays off."""
SCALAR_BATCH: Final = 200
"""Batches up to this size are normalized record by record (normalize_record, ~0.2 ms each);
larger ones by normalize_frame, whose ~50 ms fixed cost then pays off."""
MAX_SEGMENTS: Final = 16
"""Ingested segments beyond this are compacted into one (their arrays merged, not recomputed)."""
INGEST_REASON: Final = "service ingest"

_ID_KEY_COLUMNS: Final = (s.KEY_ID_CANDIDATES, s.KEY_ID_MASK)
_RAW_FIELDS: Final = tuple(c for c in s.RAW_COLUMNS if c not in s.KEY_COLUMNS)
_ID_INPUTS: Final = (s.ID_KIND, s.ID_NORM, s.ID_KEY, s.ID_MASK_PATTERN, s.ID_REPAIRS)
_CONSTRAINT_COLUMNS: Final = (
    s.ID_KIND,
    s.ID_CHECKED,
    s.ID_OWN,
    s.ID_CLEAN,
    s.ID_REASON,
    s.ID_MASK_PATTERN,
    s.BIRTH_DATE_NORM,
)
"""The columns the clustering constraints read (default_constraints)."""

State = tuple[Any, ...]
"""A person's or record's state under each constraint, as clustering keeps it (None: nothing)."""

_DERIVED_INPUTS: Final = {  # the normalized columns add_blocking_keys builds each derived key from
    s.KEY_ID_CANDIDATES: _ID_INPUTS,
    s.KEY_ID_MASK: _ID_INPUTS,
    KEY_LATIN_NAME: (s.NAME_LATIN_NORM,),
    KEY_LATIN_TOKENS: (s.NAME_LATIN_NORM,),
    KEY_ADDRESS_NUMBERS: (s.ADDRESS,),
    KEY_ADDRESS_WORDS: (s.ADDRESS,),
}
_QUERY_SOURCE: Final = "\x00query"  # stands in for a query's missing key while normalizing
_KEY_SEPARATOR: Final = "\x1f"  # joins a rule's key parts (unit separator: in no normalized value)


# ------------------------------------------------------------------ results
@dataclass(frozen=True, slots=True)
class Candidate:
    """A person proposed for a query, with its best-scoring record."""

    person_id: str
    probability: float
    match_weight: float
    source: str
    record_id: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """The answer for one query row.

    ``status``: ``known`` (the record itself is indexed, same fields: its
    person, probability 1.0), ``match`` (best person at or above the model's
    match threshold), ``review`` (from the review threshold), ``no_match`` or
    ``rejected`` (nothing linkable; ``reason`` says why).  ``person_id`` is set
    for known and match only.  ``candidates``: the top-k persons by their best
    record's match weight, best first.  ``explanation`` (on request), for the
    best candidate's record: ``{"name": "prior", "level": None, "weight": log2
    prior odds, "prior": p}``, then per comparison ``{"name", "level" (label),
    "weight"}``, then ``{"name": "identity_cap", ...}`` when the weight was
    capped for want of identity evidence; the weights add up to the
    candidate's ``match_weight``.
    """

    status: Status
    person_id: str | None
    probability: float | None
    candidates: tuple[Candidate, ...]
    reason: str | None = None
    explanation: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True, slots=True)
class IngestDecision:
    """What ingest did with one row.

    ``action``: ``exists`` (the key was already indexed; nothing changed),
    ``attached`` (to an existing person, or one an earlier row of the request
    created), ``created``, ``merged`` (attached, and the persons in ``merged``
    were merged into ``person_id``) or ``rejected`` (``reason`` says why).
    ``probability``: of the link that placed the record (1.0 for exists, None
    for created).  A created record may carry ``reason`` ``"ambiguous"``: it
    fits two persons the ID constraints keep apart, so it joined neither.
    """

    source: str
    record_id: str
    action: Action
    person_id: str | None
    probability: float | None
    merged: tuple[str, ...] = ()
    reason: str | None = None


# -------------------------------------------------------------------- index
@dataclass(frozen=True, slots=True, eq=False)
class _RuleIndex:
    """One rule's blocks in one segment: sorted key hashes, their rows, and the blocks over the cap."""

    hashes: np.ndarray  # uint64, sorted
    rows: np.ndarray  # uint32 positions in the segment, aligned with hashes
    oversized: np.ndarray  # uint64, sorted: keys whose block alone exceeds the cap


@dataclass(frozen=True, slots=True, eq=False)
class _Segment:
    """Immutable block of indexed records: the base index or one ingest's records."""

    frame: pl.DataFrame  # the kept columns (comparisons, keys, checked IDs), one chunk each
    offset: int  # global row number of the first row
    persons: np.ndarray  # int64 person code per row
    rules: tuple[_RuleIndex, ...]
    key_hashes: np.ndarray  # uint64 sorted hashes of (source, record_id)
    key_rows: np.ndarray  # uint32 positions aligned with key_hashes
    raw_hashes: np.ndarray  # uint64 per row: hash of the raw fields besides the key

    @property
    def height(self) -> int:
        return self.frame.height


@dataclass(frozen=True, slots=True, eq=False)
class _Snapshot:
    """What a reader sees: replaced as a whole by ingest, never mutated."""

    segments: tuple[_Segment, ...]
    size: int  # indexed records
    person_codes: int  # codes issued: base persons + persons created by ingest
    merged_into: Mapping[int, int]  # merged-away code -> survivor code (chains resolved)
    absorbed: Mapping[int, frozenset[int]]  # survivor code -> codes merged into it
    alias_from: np.ndarray  # sorted keys of merged_into, for vectorized re-pointing
    alias_to: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class IngestDelta:
    """What one ingest changed in the index (picklable): the persons it created (their IDs,
    in code order), the merges (merged-away code, survivor code) and its records."""

    new_ids: tuple[str, ...]
    merges: tuple[tuple[int, int], ...]
    segment: _Segment


@dataclass(frozen=True, slots=True, eq=False)
class _Queries:
    """Normalized query rows and what resolve/ingest need besides the frame."""

    frame: pl.DataFrame  # the full normalized schema
    sources: list[str | None]
    record_ids: list[str | None]
    reasons: list[str | None]
    key_hashes: np.ndarray  # hash of (source, record_id); meaningful only where both are present


@dataclass(frozen=True, slots=True, eq=False)
class _Scored:
    """Scored pairs (query position, global row) and the small frame they were compared on."""

    queries: np.ndarray  # int64 query position per pair
    rows: np.ndarray  # int64 global row per pair
    weights: np.ndarray
    probabilities: np.ndarray
    frame: pl.DataFrame | None  # query rows, then the candidate rows (None: not kept)
    frame_rows: np.ndarray  # frame position of each pair's candidate
    tf_tables: dict[str, pl.DataFrame]


# ----------------------------------------------------------------- resolver
class Resolver:
    """Resolve and ingest records against an in-memory index of the store's records.

    ``records`` has the raw canonical columns and PERSON_ID (what
    ``IdentityStore.load_records`` returns).  ``rules`` default to the preset
    rules matching the model's comparisons; ``min_birth_year`` must be the run's
    (``[normalize] min_birth_year``) so that records normalize as they did in
    the batch; ``reserved_ids`` are person IDs never to issue (merged-away,
    retired).
    """

    def __init__(
        self,
        records: pl.DataFrame,
        model: FSModel,
        *,
        rules: Sequence[BlockingRule] | None = None,
        min_birth_year: int = MIN_YEAR,
        reserved_ids: Iterable[str] = (),
    ) -> None:
        missing = [c for c in (s.SOURCE, s.RECORD_ID, s.PERSON_ID) if c not in records.columns]
        if missing:
            raise SchemaError(f"records: missing column(s) {missing}")
        self._model = model
        self._comparisons = model.build_comparisons()
        # a model trained before a comparison gained a level would score its gammas wrong
        # (or fail on every request reaching the new level): refuse it at start-up
        check_model_matches(model, self._comparisons, origin="stored model")
        self._rules = tuple(rules) if rules is not None else _default_rules(model)
        names = [r.name for r in self._rules]
        if len(set(names)) != len(names):
            raise ConfigError(f"rules: expected distinct rule names (got {names})")
        self._min_birth_year = min_birth_year
        self._reserved = frozenset(reserved_ids)
        self._compare_columns = list(
            dict.fromkeys(c for comp in self._comparisons for c in comp.columns)
        )
        # every comparison can decide a few pairs from dicts (Conditions.scalar)
        self._twins = all(
            isinstance(comp, ConditionComparison) and comp.conditions().scalar is not None
            for comp in self._comparisons
        )
        tf_columns = [c.tf.column for c in model.comparisons if c.tf is not None]
        self._tf_columns = [c for c in dict.fromkeys(tf_columns) if c not in self._compare_columns]
        self._derived = sorted({c for r in self._rules for c in r.columns} & set(DERIVED_KEYS))
        # what an indexed record needs to be compared, keyed again (ingest re-checks
        # the records of a person it would merge) and constrained
        rule_inputs = [c for r in self._rules for c in r.columns if c not in DERIVED_KEYS]
        rule_inputs += [c for key in self._derived for c in _DERIVED_INPUTS[key]]
        self._kept = list(
            dict.fromkeys(
                [
                    *self._compare_columns,
                    *self._tf_columns,
                    *rule_inputs,
                    s.SOURCE,
                    s.RECORD_ID,
                    *_CONSTRAINT_COLUMNS,
                    s.RECORD_REASON,
                ]
            )
        )
        self._gathered = [
            *dict.fromkeys([*self._compare_columns, *self._tf_columns]),
            s.SOURCE,
            s.RECORD_ID,
        ]
        self._rule_groups: dict[tuple[str, ...], list[int]] = {}  # filled once the schema is known
        self._key_types: dict[str, pl.DataType] = {}
        self._key_plans: list[tuple[tuple[str, ...], list[str], list[pl.Expr]]] = []
        # the batch job's automatic constraints, judged as clustering judges them
        self._constraints: tuple[Constraint, ...] = default_constraints()

        started = time.perf_counter()
        normalized = normalize_frame(_conformed(records), min_birth_year=min_birth_year)
        normalize_seconds = time.perf_counter() - started
        self._schema = {c: t for c, t in normalized.schema.items() if c != s.ROW_ID}
        # allows/merge depend on the rule, not on the frame bound: judge with unbound-sized ones
        empty = pl.DataFrame(schema={c: self._schema[c] for c in _CONSTRAINT_COLUMNS})
        nowhere = RowIndex(pl.Series([], dtype=pl.Int64))
        self._judges = tuple(c.bind(empty, nowhere) for c in self._constraints)
        self._no_state: State = (None,) * len(self._constraints)
        person_ids = records.get_column(s.PERSON_ID).cast(pl.String)
        if person_ids.null_count():
            raise SchemaError(f"records: {person_ids.null_count()} rows without a {s.PERSON_ID}")
        self._base_persons = person_ids.unique().sort()
        codes = self._base_persons.search_sorted(person_ids).cast(pl.Int64).to_numpy()
        self._n_base = self._base_persons.len()
        # base records by person (CSR): the rows of a person for the constraint checks
        self._by_person = np.argsort(codes, kind="stable").astype(np.int64)
        self._person_starts = np.searchsorted(codes[self._by_person], np.arange(self._n_base + 1))
        self._tf = self._term_frequencies(normalized)
        keyed = self._keyed(normalized)
        self._key_types = {c: keyed.schema[c] for c in self._derived}
        for i, rule in enumerate(self._rules):
            missing = [c for c in rule.columns if c not in keyed.columns]
            if missing:
                raise SchemaError(
                    f"blocking rule {rule.name!r}: column {missing[0]!r} missing from the records"
                )
            lists = tuple(c for c in rule.columns if isinstance(keyed.schema[c], pl.List))
            self._rule_groups.setdefault(lists, []).append(i)
        # the expressions are the same for every query: built once
        for lists, members in self._rule_groups.items():
            columns = list(dict.fromkeys(c for i in members for c in self._rules[i].columns))
            keys = [(_key_expr(self._rules[i].columns), i) for i in members]
            select = [
                pl.col(s.ROW_ID).cast(pl.Int64),
                *(key.is_not_null().alias(f"v{i}") for key, i in keys),
                *(key.hash().alias(f"h{i}") for key, i in keys),
            ]
            self._key_plans.append((lists, columns, select))
        # A few query rows are keyed in Python (blocking.keys.id_keys_of and the casts of
        # _key_expr, twinned) when every stored rule column is text or a date, plain or in
        # a list, and the derived keys are ID keys or Latin ones (used only when absent).
        stored_columns = {c for r in self._rules for c in r.columns if c not in DERIVED_KEYS}
        self._list_columns = frozenset(
            c for r in self._rules for c in r.columns if isinstance(keyed.schema[c], pl.List)
        )
        self._scalar_keys = all(
            keyed.schema[c] in (pl.String, pl.Date, pl.List(pl.String)) for c in stored_columns
        ) and all(c in _ID_KEY_COLUMNS or c in LATIN_KEYS for c in self._derived)
        self._key_inputs = list(
            dict.fromkeys(
                [*sorted(stored_columns), *(c for d in self._derived for c in _DERIVED_INPUTS[d])]
            )
        )
        base = self._segment(normalized, codes, offset=0, rule_keys=self._rule_keys(keyed))
        del keyed
        del normalized
        self._new_ids: list[str] = []  # IDs of persons created by ingest, code n_base + i
        self._new_id_set: set[str] = set()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[IngestDelta], None]] = []
        self._snapshot = _Snapshot(
            segments=(base,),
            size=base.height,
            person_codes=self._n_base,
            merged_into={},
            absorbed={},
            alias_from=np.empty(0, np.int64),
            alias_to=np.empty(0, np.int64),
        )
        log.info(
            "resolver index: %d records, %d persons, %d rules in %.1fs (normalize %.1fs); "
            "%.0f MB of columns, %.0f MB of key arrays",
            base.height,
            self._n_base,
            len(self._rules),
            time.perf_counter() - started,
            normalize_seconds,
            base.frame.estimated_size() / 1e6,
            sum(i.hashes.nbytes + i.rows.nbytes + i.oversized.nbytes for i in base.rules) / 1e6,
        )

    # ------------------------------------------------------------ building
    @classmethod
    def from_store(cls, store: IdentityStore) -> Resolver:
        """A resolver over the store's active records, with its latest model and run configuration.

        Raises StoreError when the store holds no model (no batch run saved one yet).
        """
        stored = store.latest_model()
        if stored is None:
            raise StoreError(
                "the store holds no model: run the batch job (linkage run) into it first"
            )
        model = FSModel.from_json(stored.model_json)
        config_json = store.latest_run_config()
        rules: tuple[BlockingRule, ...] | None = None
        min_birth_year = MIN_YEAR
        if config_json:
            config = JobConfig.from_dict(json.loads(config_json), origin="stored run config")
            rules = rules_for_config(config)
            min_birth_year = config.normalize.min_birth_year
        return cls(
            store.load_records(),
            model,
            rules=rules,
            min_birth_year=min_birth_year,
            reserved_ids=store.reserved_ids(),
        )

    def _term_frequencies(
        self, normalized: pl.DataFrame
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per TF column: sorted hashes of its values and their frequencies among the indexed records."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for comp in self._model.comparisons:
            if comp.tf is None or comp.tf.column in out:
                continue
            table = term_frequencies(normalized, comp.tf.column)
            hashes = table.select(pl.col(comp.tf.column).hash()).to_series().to_numpy()
            order = np.argsort(hashes)
            out[comp.tf.column] = (hashes[order], table.get_column(TF_VALUE).to_numpy()[order])
        return out

    def _rule_keys(
        self, keyed: pl.DataFrame, *, distinct: bool = True
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per rule: (row, key hash) of every key of the linkable rows of ``keyed`` (ROW_ID = position).

        The keys are those of :meth:`BlockingRule.key_frame` (list columns'
        elements exploded, keys with a null part dropped), each hashed as its
        parts joined into one string.  Rules sharing their list columns are keyed
        in one pass, all passes in one polars call: a query pays one call, not a
        few per rule.  ``distinct=False`` keeps a list's repeated elements (a
        query's pairs are deduplicated anyway); an index must not count a
        record twice in a block.
        """
        if keyed.get_column(s.RECORD_REASON).null_count() < keyed.height:
            keyed = keyed.filter(pl.col(s.RECORD_REASON).is_null())
        plans = []
        for lists, columns, keys in self._key_plans:
            plan = keyed.lazy().select(s.ROW_ID, *columns)
            for column in lists:
                if distinct:
                    plan = plan.with_columns(pl.col(column).list.unique())
                plan = plan.explode(column)
            plans.append(plan.select(keys))
        out: list[tuple[np.ndarray, np.ndarray]] = [
            (np.empty(0, np.int64), np.empty(0, np.uint64)) for _ in self._rules
        ]
        for (_, members), frame in zip(
            self._rule_groups.items(), pl.collect_all(plans), strict=True
        ):
            rows = frame.get_column(s.ROW_ID).to_numpy()
            for i in members:
                valid = frame.get_column(f"v{i}").to_numpy()
                out[i] = (rows[valid], frame.get_column(f"h{i}").to_numpy()[valid])
        return out

    def _query_rule_keys(
        self, frame: pl.DataFrame, picked: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per rule: (query position, key hash) of every key of the query rows ``picked``."""
        if not picked.size:
            return [(np.empty(0, np.int64), np.empty(0, np.uint64)) for _ in self._rules]
        if picked.size < frame.height:
            frame = frame[pl.Series(picked, dtype=pl.UInt32)]
        keys = None
        if self._scalar_keys and frame.height <= SCALAR_KEYS:
            keys = self._rule_keys_1(_columns(frame, self._key_inputs).to_dicts())
        if keys is None:
            keys = self._rule_keys(self._keyed(frame), distinct=False)
        return [(picked[rows], hashes) for rows, hashes in keys]

    def _rule_keys_1(
        self, rows: list[dict[str, Any]]
    ) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """:meth:`_rule_keys` (``distinct=False``) of a few rows, in Python: the scalar twin.

        None when a row carries what the twin does not build (the Latin token and
        address keys): the polars path keys those rows.
        """
        absent = [c for c in self._derived if c in LATIN_KEYS and c != KEY_LATIN_NAME]
        if any(row[c] is not None for row in rows for k in absent for c in _DERIVED_INPUTS[k]):
            return None
        id_keys = any(c in _ID_KEY_COLUMNS for c in self._derived)
        latin_name = KEY_LATIN_NAME in self._derived
        texts: list[str] = []
        owners: list[tuple[int, int]] = []  # (rule, row) of each key
        for q, row in enumerate(rows):
            if id_keys:
                row.update(id_keys_of(row))
            if latin_name:
                row[KEY_LATIN_NAME] = latin_name_key_of(row[s.NAME_LATIN_NORM])
            for c in absent:
                row[c] = None
            for i, rule in enumerate(self._rules):
                choices = [
                    (row[c] or (None,)) if c in self._list_columns else (row[c],)
                    for c in rule.columns
                ]
                for parts in itertools.product(*choices):
                    if any(p is None for p in parts):
                        continue  # a null part: no key under this rule
                    texts.append(_KEY_SEPARATOR.join(_as_text(p) for p in parts))
                    owners.append((i, q))
        hashes = pl.Series(texts, dtype=pl.String).hash().to_numpy()
        rule_of = np.array([i for i, _ in owners], dtype=np.int64)
        row_of = np.array([q for _, q in owners], dtype=np.int64)
        return [(row_of[rule_of == i], hashes[rule_of == i]) for i in range(len(self._rules))]

    def _keyed(self, normalized: pl.DataFrame) -> pl.DataFrame:
        """The rules' derived key columns added and ROW_ID set to positions.

        A derived key whose source column is null in every row is null (or
        empty) in every row (blocking.latin_keys): most queries carry no Latin
        name, and skipping those keys saves a millisecond per query.
        """
        if s.ROW_ID in normalized.columns:
            normalized = normalized.drop(s.ROW_ID)
        derived = self._derived
        absent = []
        if self._key_types and normalized.height <= SCALAR_BATCH:
            empty = {
                c
                for c in derived
                if c in LATIN_KEYS
                and all(
                    normalized.get_column(source).null_count() == normalized.height
                    for source in _DERIVED_INPUTS[c]
                )
            }
            absent = [c for c in derived if c in empty]
            derived = [c for c in derived if c not in empty]
        keyed = add_blocking_keys(normalized, columns=derived) if derived else normalized
        if absent:
            keyed = keyed.with_columns(
                pl.lit([], self._key_types[c]).alias(c)
                if isinstance(self._key_types[c], pl.List)
                else pl.lit(None, self._key_types[c]).alias(c)
                for c in absent
            )
        return keyed.with_row_index(s.ROW_ID)

    def _segment(
        self,
        normalized: pl.DataFrame,
        persons: np.ndarray,
        *,
        offset: int,
        rule_keys: list[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> _Segment:
        if rule_keys is None:
            rule_keys = self._rule_keys(self._keyed(normalized))
        rules = tuple(
            _rule_index(rows, hashes, rule.max_block_size)
            for rule, (rows, hashes) in zip(self._rules, rule_keys, strict=True)
        )
        key_hashes, key_rows = _record_keys(normalized)
        return _Segment(
            frame=normalized.select(self._kept).rechunk(),
            offset=offset,
            persons=np.asarray(persons, dtype=np.int64),
            rules=rules,
            key_hashes=key_hashes,
            key_rows=key_rows,
            raw_hashes=_raw_hashes(normalized),
        )

    # ---------------------------------------------------------- properties
    @property
    def model(self) -> FSModel:
        return self._model

    @property
    def rules(self) -> tuple[BlockingRule, ...]:
        return self._rules

    @property
    def size(self) -> int:
        """Records indexed (the store's records plus those ingested since)."""
        return self._snapshot.size

    @property
    def min_birth_year(self) -> int:
        """Birth dates before this year are out of range (the run's normalize setting)."""
        return self._min_birth_year

    @property
    def persons(self) -> int:
        """Active persons: indexed and created ones, less those merged away."""
        snap = self._snapshot
        return snap.person_codes - len(snap.merged_into)

    # ------------------------------------------------------------- resolve
    def resolve(
        self, rows: Sequence[Mapping[str, Any]], *, top_k: int = 5, explain: bool = False
    ) -> list[Resolution]:
        """Resolve each row (canonical raw fields; SOURCE and RECORD_ID optional) to a person.

        A row whose (source, record_id) is indexed with the same raw fields is
        ``known``: its person, probability 1.0.  Otherwise the model decides:
        ``match`` at or above the match threshold, ``review`` from the review
        threshold, else ``no_match``; rows with nothing linkable are
        ``rejected``.  Read-only; safe to call from many threads.
        """
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ConfigError(f"top_k: expected a positive integer (got {top_k!r})")
        snap = self._snapshot
        if not rows:
            return []
        queries = self._normalize(rows, resolve=True)
        linkable = np.array([r is None for r in queries.reasons], dtype=bool)
        known = self._known(snap, queries, linkable)
        scored = self._score(
            snap.segments, queries, linkable, forced=known, extra=1, keep_frame=explain
        )
        return self._resolutions(snap, queries, scored, known, top_k=top_k, explain=explain)

    def _known(self, snap: _Snapshot, queries: _Queries, linkable: np.ndarray) -> dict[int, int]:
        """Query position -> global row of the indexed record with its key and equal raw fields."""
        found = self._find_keys(snap.segments, queries, np.flatnonzero(linkable))
        if not found:
            return {}
        raw_fields = _columns(queries.frame, _RAW_FIELDS)
        if list(found) != list(range(raw_fields.height)):
            raw_fields = raw_fields[pl.Series(list(found), dtype=pl.UInt32)]
        raw = _raw_hashes(raw_fields)
        out: dict[int, int] = {}
        for (q, row), h in zip(found.items(), raw.tolist(), strict=True):
            seg, local = _locate(snap.segments, row)
            if int(seg.raw_hashes[local]) == h:
                out[q] = row
        return out

    def _find_keys(
        self, segments: Sequence[_Segment], queries: _Queries, positions: np.ndarray
    ) -> dict[int, int]:
        """Query position -> global row of the indexed record with the same (source, record_id)."""
        positions = np.array(
            [
                q
                for q in positions
                if queries.sources[q] is not None and queries.record_ids[q] is not None
            ],
            dtype=np.int64,
        )
        out: dict[int, int] = {}
        if not positions.size:
            return out
        wanted = queries.key_hashes[positions]
        for seg in segments:
            pos = np.minimum(
                np.searchsorted(seg.key_hashes, wanted), max(seg.key_hashes.size - 1, 0)
            )
            hit = seg.key_hashes[pos] == wanted if seg.key_hashes.size else pos < 0
            if not hit.any():
                continue
            local = seg.key_rows[pos[hit]]
            stored = _columns(seg.frame, (s.SOURCE, s.RECORD_ID))[pl.Series(local, dtype=pl.UInt32)]
            for q, row, key in zip(
                positions[hit].tolist(), local.tolist(), stored.iter_rows(), strict=True
            ):
                # a hash is not a proof: compare the strings
                if key == (queries.sources[q], queries.record_ids[q]):
                    out[q] = seg.offset + row
        return out

    def _resolutions(
        self,
        snap: _Snapshot,
        queries: _Queries,
        scored: _Scored,
        known: Mapping[int, int],
        *,
        top_k: int,
        explain: bool,
    ) -> list[Resolution]:
        model = self._model
        persons = self._canonical(snap, _persons_of(snap.segments, scored.rows))
        # best record per (query, person): sort by query, person, weight (desc), row
        order = np.lexsort((scored.rows, -scored.weights, persons, scored.queries))
        q_sorted, p_sorted = scored.queries[order], persons[order]
        first = np.ones(order.size, dtype=bool)
        first[1:] = (q_sorted[1:] != q_sorted[:-1]) | (p_sorted[1:] != p_sorted[:-1])
        best = order[first]
        # then persons of each query by weight (desc), the first top_k (+1: a known
        # record's own person may be among them and goes first anyway)
        best = best[np.lexsort((scored.rows[best], -scored.weights[best], scored.queries[best]))]
        starts = np.searchsorted(scored.queries[best], scored.queries[best])
        best = best[np.arange(best.size) - starts <= top_k]
        bounds = np.searchsorted(scored.queries[best], np.arange(len(queries.reasons) + 1))
        keys = self._row_keys(snap, scored.rows[best])
        ids = self._person_ids(snap, persons[best])
        known_q = np.fromiter(known.keys(), dtype=np.int64, count=len(known))
        known_rows = np.fromiter(known.values(), dtype=np.int64, count=len(known))
        own_ids = self._person_ids(
            snap, self._canonical(snap, _persons_of(snap.segments, known_rows))
        )
        own_keys = self._row_keys(snap, known_rows)
        # pairs are sorted by (query, row): find each known record's own pair
        span = np.int64(max(int(scored.rows.max(initial=0)), int(known_rows.max(initial=0))) + 1)
        own_pairs = np.searchsorted(
            scored.queries * span + scored.rows, known_q * span + known_rows
        )
        own = {q: k for k, q in enumerate(known_q.tolist())}
        out: list[Resolution] = []
        for q, reason in enumerate(queries.reasons):
            if reason is not None:
                out.append(Resolution("rejected", None, None, (), reason=reason))
                continue
            picks = range(int(bounds[q]), int(bounds[q + 1]))
            candidates = [
                Candidate(
                    ids[i],
                    float(scored.probabilities[best[i]]),
                    float(scored.weights[best[i]]),
                    *keys[i],
                )
                for i in picks
            ]
            chosen = best[picks[0]] if picks else None
            if q in own:
                # the record itself: its person first, with the weight of the record against itself
                k = own[q]
                chosen = int(own_pairs[k])
                person_id: str | None = own_ids[k]
                rest = [c for c in candidates if c.person_id != person_id]
                mine = Candidate(own_ids[k], 1.0, float(scored.weights[chosen]), *own_keys[k])
                candidates = [mine, *rest]
                status: Status = "known"
                probability: float | None = 1.0
            elif candidates:
                probability = candidates[0].probability
                if probability >= model.match_threshold:
                    status, person_id = "match", candidates[0].person_id
                else:
                    status = "review" if probability >= model.review_threshold else "no_match"
                    person_id = None
            else:
                status, person_id, probability = "no_match", None, None
            explanation = None
            if explain and chosen is not None:
                explanation = self._explain(scored, int(chosen))
            out.append(
                Resolution(
                    status,
                    person_id,
                    probability,
                    tuple(candidates[:top_k]),
                    explanation=explanation,
                )
            )
        return out

    def _explain(self, scored: _Scored, pair: int) -> tuple[dict[str, Any], ...]:
        """The prior, each comparison's level and weight, and the identity cap when it applied."""
        assert scored.frame is not None, "explanations need the compared records' frame"
        e = explain_pair(
            scored.frame,
            int(scored.queries[pair]),
            int(scored.frame_rows[pair]),
            self._model,
            tf_tables=scored.tf_tables,
        )
        terms: list[dict[str, Any]] = [
            {"name": "prior", "level": None, "weight": e.prior_weight, "prior": e.prior}
        ]
        terms += [{"name": t.comparison, "level": t.label, "weight": t.weight} for t in e.terms]
        if e.capped:
            uncapped = e.prior_weight + sum(t.weight for t in e.terms)
            terms.append(
                {
                    "name": "identity_cap",
                    "level": "no identity evidence or a veto",
                    "weight": e.match_weight - uncapped,
                }
            )
        return tuple(terms)

    # --------------------------------------------------------- the pipeline
    def _normalize(self, rows: Sequence[Mapping[str, Any]], *, resolve: bool) -> _Queries:
        """Normalize rows exactly as the batch job does; for resolve, a missing key rejects nothing."""
        raws = [{c: _text(row.get(c)) for c in s.RAW_COLUMNS} for row in rows]
        sources = [r[s.SOURCE] for r in raws]
        record_ids = [r[s.RECORD_ID] for r in raws]
        if resolve:
            # the key only traces a record back; a query need not have one
            raws = [{**r, s.SOURCE: _QUERY_SOURCE, s.RECORD_ID: str(i)} for i, r in enumerate(raws)]
        if len(raws) <= SCALAR_BATCH:
            done = [normalize_record(r, min_birth_year=self._min_birth_year) for r in raws]
            for d, source, record_id in zip(done, sources, record_ids, strict=True):
                d[s.SOURCE], d[s.RECORD_ID] = source, record_id
            frame = pl.from_dicts(done, schema=self._schema)
        else:
            frame = normalize_frame(
                pl.DataFrame(raws, schema={c: pl.String for c in s.RAW_COLUMNS}),
                min_birth_year=self._min_birth_year,
            ).drop(s.ROW_ID)
            if frame.schema != self._schema:
                frame = frame.select(pl.col(c).cast(t) for c, t in self._schema.items())
            frame = frame.with_columns(
                pl.Series(s.SOURCE, sources, dtype=pl.String),
                pl.Series(s.RECORD_ID, record_ids, dtype=pl.String),
            )
        reasons = frame.get_column(s.RECORD_REASON).to_list()
        if not resolve:
            # the first row of a key is linked, later ones rejected, as in the batch job
            # (normalize_record cannot see the other rows)
            seen: set[tuple[str | None, str | None]] = set()
            for i, key in enumerate(zip(sources, record_ids, strict=True)):
                if reasons[i] == Reason.RECORD_MISSING_KEY.value:
                    continue
                if key in seen:
                    reasons[i] = Reason.RECORD_DUPLICATE_KEY.value
                seen.add(key)
        return _Queries(
            frame=frame,
            sources=sources,
            record_ids=record_ids,
            reasons=reasons,
            key_hashes=_key_hashes(frame),
        )

    def _lookup(
        self,
        segments: Sequence[_Segment],
        rule_keys: list[tuple[np.ndarray, np.ndarray]],
        *,
        extra: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(query position, global row) of every record sharing a block with a query, each once.

        A block counts its records over all segments, plus ``extra`` for the
        query itself when it is not in a segment; over the cap it yields nothing.
        """
        found_q: list[np.ndarray] = []
        found_rows: list[np.ndarray] = []
        for r, (rule, (queries, hashes)) in enumerate(zip(self._rules, rule_keys, strict=True)):
            if not hashes.size:
                continue
            total = np.zeros(hashes.size, dtype=np.int64)
            over = np.zeros(hashes.size, dtype=bool)
            bounds = []
            for seg in segments:
                index = seg.rules[r]
                lo = np.searchsorted(index.hashes, hashes, side="left")
                hi = np.searchsorted(index.hashes, hashes, side="right")
                total += hi - lo
                if index.oversized.size:
                    over |= _member(index.oversized, hashes)
                bounds.append((lo, hi))
            keep = ~over & (total > 0) & (total + extra <= rule.max_block_size)
            if not keep.any():
                continue
            for seg, (lo, hi) in zip(segments, bounds, strict=True):
                owner, pos = _expand(lo[keep], hi[keep])
                if pos.size:
                    found_q.append(queries[keep][owner])
                    found_rows.append(seg.offset + seg.rules[r].rows[pos].astype(np.int64))
        if not found_q:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        q = np.concatenate(found_q)
        rows = np.concatenate(found_rows)
        span = np.int64(rows.max()) + 1
        code = np.unique(q * span + rows)  # a pair found by several rules or keys counts once
        return code // span, code % span

    def _score(
        self,
        segments: Sequence[_Segment],
        queries: _Queries,
        linkable: np.ndarray,
        *,
        forced: Mapping[int, int] | None = None,
        extra: int,
        rule_keys: list[tuple[np.ndarray, np.ndarray]] | None = None,
        before_self: int | None = None,
        keep_frame: bool = False,
    ) -> _Scored:
        """Block the linkable queries against ``segments``, compare and score every pair.

        ``forced`` adds (query, row) pairs blocking may not find (a known
        record's own row).  With ``before_self`` (the offset of a segment
        holding the queries themselves, in order), a query pairs only with the
        queries before it there.  ``keep_frame``: keep the compared records'
        frame (explanations need it); a call's few pairs are otherwise scored
        from dicts (:meth:`_few_pair_weights`), with no frame built.
        """
        if rule_keys is None:
            rule_keys = self._query_rule_keys(queries.frame, np.flatnonzero(linkable))
        q, rows = self._lookup(segments, rule_keys, extra=extra)
        if before_self is not None:
            own = rows >= before_self
            keep = ~own | (rows - before_self < q)
            q, rows = q[keep], rows[keep]
        if forced:
            extra_q = np.fromiter(forced.keys(), dtype=np.int64)
            extra_rows = np.fromiter(forced.values(), dtype=np.int64)
            span = np.int64(max(int(rows.max(initial=0)), int(extra_rows.max())) + 1)
            code = np.unique(np.concatenate([q * span + rows, extra_q * span + extra_rows]))
            q, rows = code // span, code % span
        n_queries = queries.frame.height
        unique_rows, inverse = np.unique(rows, return_inverse=True)
        frame_rows = n_queries + inverse.astype(np.int64)
        if 0 < q.size < SCALAR_PAIRS and self._twins and not keep_frame:
            weights = self._few_pair_weights(segments, queries, q, unique_rows, inverse)
            return _Scored(q, rows, weights, probability(weights), None, frame_rows, {})
        parts = [_columns(queries.frame, self._gathered)]
        bounds = np.searchsorted(unique_rows, [seg.offset for seg in segments] + [2**62])
        for k, seg in enumerate(segments):
            local = unique_rows[bounds[k] : bounds[k + 1]] - seg.offset
            if local.size:
                parts.append(_columns(seg.frame, self._gathered)[pl.Series(local, dtype=pl.UInt32)])
        frame = pl.concat(parts, how="vertical").with_row_index(s.ROW_ID)
        pairs = pl.DataFrame(
            [
                pl.Series(s.ROW_L, q.astype(np.uint32)),
                pl.Series(s.ROW_R, frame_rows.astype(np.uint32)),
            ]
        )
        tf_tables = self._tf_tables(frame, n_queries)
        if pairs.height:
            vectors = comparison_vectors(frame, pairs, self._comparisons)
            scored = score(vectors, frame, self._model, tf_tables=tf_tables)
            weights = scored.get_column(s.MATCH_WEIGHT).to_numpy()
            probabilities = scored.get_column(s.MATCH_PROBABILITY).to_numpy()
        else:
            weights = probabilities = np.empty(0, dtype=np.float64)
        return _Scored(q, rows, weights, probabilities, frame, frame_rows, tf_tables)

    def _few_pair_weights(
        self,
        segments: Sequence[_Segment],
        queries: _Queries,
        q: np.ndarray,
        unique_rows: np.ndarray,
        inverse: np.ndarray,
    ) -> np.ndarray:
        """Match weights of a call's few (query, stored record) pairs, the records as dicts end
        to end: each comparison's scalar twins (what comparison_vectors uses for so few pairs)
        and the model's match_weights, with no polars frame built per step."""
        query_rows = _columns(queries.frame, self._gathered).to_dicts()
        stored_rows = _gather(segments, unique_rows, self._gathered).to_dicts()
        lefts = [query_rows[i] for i in q.tolist()]
        rights = [stored_rows[j] for j in inverse.tolist()]
        levels = [
            comp.decide(RowView(lefts, rights, comp.conditions()))  # type: ignore[attr-defined]
            for comp in self._comparisons
        ]

        def frequency(comp: ComparisonParams, idx: np.ndarray) -> np.ndarray:
            # the indexed records' frequency of the value both records of a pair share
            assert comp.tf is not None
            column = comp.tf.column
            out = np.full(idx.size, np.nan)
            shared = [
                (k, lefts[i][column])
                for k, i in enumerate(idx.tolist())
                if lefts[i][column] is not None and lefts[i][column] == rights[i][column]
            ]
            if shared:
                hashes, freqs = self._tf[column]
                h = pl.Series([v for _, v in shared], dtype=self._schema[column]).hash().to_numpy()
                pos = np.minimum(np.searchsorted(hashes, h), max(hashes.size - 1, 0))
                hit = (hashes[pos] == h) if hashes.size else np.zeros(h.size, dtype=bool)
                at = np.array([k for k, _ in shared], dtype=np.int64)
                out[at[hit]] = freqs[pos[hit]]
            return out

        return match_weights(self._model, levels, frequency)

    def _score_indexed(self, snap: _Snapshot, rows: np.ndarray) -> _Scored:
        """Indexed records (global ``rows``) scored against the index like queries, minus
        each record's pair with itself (its own blocks already count it)."""
        frame = _gather(snap.segments, rows, self._kept)
        queries = _Queries(
            frame=frame,
            sources=frame.get_column(s.SOURCE).to_list(),
            record_ids=frame.get_column(s.RECORD_ID).to_list(),
            reasons=[None] * frame.height,
            key_hashes=np.zeros(frame.height, dtype=np.uint64),
        )
        scored = self._score(snap.segments, queries, np.ones(frame.height, bool), extra=0)
        other = scored.rows != rows[scored.queries]
        return dataclasses.replace(
            scored,
            queries=scored.queries[other],
            rows=scored.rows[other],
            weights=scored.weights[other],
            probabilities=scored.probabilities[other],
            frame_rows=scored.frame_rows[other],
        )

    def _tf_tables(self, frame: pl.DataFrame, queries: int) -> dict[str, pl.DataFrame]:
        """The indexed records' frequencies of the queries' values (the first ``queries`` rows).

        A frequency only counts where both records share the value, so a
        query's values are all that is needed: a few rows, not the whole table.
        """
        out = {}
        for column, (hashes, freqs) in self._tf.items():
            head = frame.get_column(column).head(queries)
            # distinct values in Python: a query's few values, and no polars query per step
            distinct = list(dict.fromkeys(v for v in head.to_list() if v is not None))
            values = pl.Series(column, distinct, dtype=head.dtype)
            h = values.hash().to_numpy()
            pos = np.minimum(np.searchsorted(hashes, h), max(hashes.size - 1, 0))
            hit = (hashes[pos] == h) if hashes.size else np.zeros(h.size, dtype=bool)
            kept = [v for v, keep in zip(distinct, hit.tolist(), strict=True) if keep]
            out[column] = pl.DataFrame(
                {column: pl.Series(column, kept, dtype=head.dtype), TF_VALUE: freqs[pos[hit]]},
                schema={column: frame.schema[column], TF_VALUE: pl.Float64},
            )
        return out

    # -------------------------------------------------------------- persons
    @staticmethod
    def _canonical(snap: _Snapshot, codes: np.ndarray) -> np.ndarray:
        """Person codes re-pointed through merges."""
        if not snap.alias_from.size or not codes.size:
            return codes
        pos = np.minimum(np.searchsorted(snap.alias_from, codes), snap.alias_from.size - 1)
        hit = snap.alias_from[pos] == codes
        out = codes.copy()
        out[hit] = snap.alias_to[pos[hit]]
        return out

    def _person_ids(self, snap: _Snapshot, codes: np.ndarray) -> list[str]:
        base = codes < self._n_base
        out: list[str] = [""] * codes.size
        if base.any():
            found = self._base_persons[pl.Series(codes[base], dtype=pl.UInt32)].to_list()
            for i, pid in zip(np.flatnonzero(base).tolist(), found, strict=True):
                out[i] = pid
        for i in np.flatnonzero(~base).tolist():
            out[i] = self._new_ids[int(codes[i]) - self._n_base]
        return out

    @staticmethod
    def _row_keys(snap: _Snapshot, rows: np.ndarray) -> list[tuple[str, str]]:
        """(source, record_id) of global rows, in order."""
        if not rows.size:
            return []
        return list(_gather(snap.segments, rows, [s.SOURCE, s.RECORD_ID]).iter_rows())

    def _person_rows(
        self, snap: _Snapshot, codes: Iterable[int]
    ) -> list[tuple[_Segment, np.ndarray, np.ndarray]]:
        """Per segment: the rows of the persons ``codes`` (merged-in persons included) and
        the person each row belongs to."""
        owner = {m: c for c in codes for m in (c, *snap.absorbed.get(c, ()))}
        if not owner:
            return []
        members = np.fromiter(owner, dtype=np.int64, count=len(owner))
        owners = np.fromiter(owner.values(), dtype=np.int64, count=len(owner))
        out = []
        base = members < self._n_base
        if base.any():
            starts = self._person_starts[members[base]]
            ends = self._person_starts[members[base] + 1]
            which, positions = _expand(starts, ends)
            out.append((snap.segments[0], self._by_person[positions], owners[base][which]))
        order = np.argsort(members)
        for seg in snap.segments[1:]:
            rows = np.flatnonzero(np.isin(seg.persons, members))
            if rows.size:
                found = order[np.searchsorted(members[order], seg.persons[rows])]
                out.append((seg, rows, owners[found]))
        return out

    def _checked_ids(self, snap: _Snapshot, codes: Iterable[int]) -> dict[int, State]:
        """Per person: the joint constraint state of its records (its checked IDs and the
        unverified numbers that must stay within a typo of them)."""
        found: dict[int, State] = {c: self._no_state for c in codes}
        for seg, rows, owners in self._person_rows(snap, found):
            part = _columns(seg.frame, _CONSTRAINT_COLUMNS)[pl.Series(rows, dtype=pl.UInt32)]
            for row, state in enumerate(self._states(part)):
                owner = int(owners[row])
                found[owner] = self._merge(found[owner], state)
        return found

    def _states(self, frame: pl.DataFrame) -> list[State]:
        """Per row of ``frame``: its state under each constraint (None: nothing to say)."""
        index = RowIndex(pl.Series(np.arange(frame.height, dtype=np.int64)))
        positions = np.arange(frame.height)
        per_rule = [c.bind(frame, index).initial_states(positions) for c in self._constraints]
        return list(zip(*per_rule, strict=True)) if per_rule else [()] * frame.height

    def _allows(self, a: State, b: State) -> bool:
        """The clustering rule: may two persons with these states be one?"""
        return all(j.allows(x, y) for j, x, y in zip(self._judges, a, b, strict=True))

    def _merge(self, a: State, b: State) -> State:
        return tuple(j.merge(x, y) for j, x, y in zip(self._judges, a, b, strict=True))

    # --------------------------------------------------------------- ingest
    def ingest(
        self, rows: Sequence[Mapping[str, Any]], store: IdentityStore | None
    ) -> list[IngestDecision]:
        """Link new records: attach each to its best person, merge persons it joins, or create one.

        A row whose (source, record_id) is already indexed is ``exists`` and
        changes nothing, even if its fields differ: corrections go through the
        batch job, which re-links every record.  Other rows are scored against
        the index and against the earlier rows of the same request; a row joins
        every person at or above the match threshold that the ID constraints
        allow (never two different checked lifelong IDs in one person), strongest
        first; several such persons are merged into the strongest (a person that
        already existed outlives one created by this request).  The decisions
        are written through ``store.apply_ingest`` (when a store is given) and
        only then applied to the index.
        """
        with self._lock:
            snap = self._snapshot
            if not rows:
                return []
            queries = self._normalize(rows, resolve=False)
            reasons = list(queries.reasons)
            missing = {q for q, r in enumerate(reasons) if r == Reason.RECORD_MISSING_KEY.value}
            candidates = np.array(
                [
                    q
                    for q, r in enumerate(reasons)
                    if r is None or (r != Reason.RECORD_DUPLICATE_KEY.value and q not in missing)
                ],
                dtype=np.int64,
            )
            existing = self._find_keys(snap.segments, queries, candidates)
            fresh = np.array(
                [q for q in range(len(reasons)) if reasons[q] is None and q not in existing],
                dtype=np.int64,
            )
            plan = _Plan(self, snap, queries, fresh)
            if fresh.size:
                plan.decide()
            decisions = self._decisions(snap, queries, reasons, existing, plan)
            if not fresh.size:
                return decisions
            batch = plan.batch()
            if store is not None:
                store.apply_ingest(batch)
            delta = IngestDelta(
                tuple(plan.new_ids),
                tuple(plan.merges),
                dataclasses.replace(plan.segment, persons=plan.final_codes()),
            )
            self._apply(snap, delta)
            for listener in self._listeners:
                listener(delta)
            log.info(
                "ingest: %d new record(s), %d new person(s), %d merge(s)",
                fresh.size,
                len(plan.new_codes),
                len(plan.merges),
            )
            return decisions

    def _decisions(
        self,
        snap: _Snapshot,
        queries: _Queries,
        reasons: list[str | None],
        existing: Mapping[int, int],
        plan: _Plan,
    ) -> list[IngestDecision]:
        rows = np.fromiter(existing.values(), dtype=np.int64, count=len(existing))
        owners = dict(
            zip(
                existing,
                self._person_ids(snap, self._canonical(snap, _persons_of(snap.segments, rows))),
                strict=True,
            )
        )
        if plan.fresh.size:  # every person ID the decisions name, in one lookup
            plan.person_ids(
                [*plan.final_codes().tolist(), *(c for m in plan.merged.values() for c in m)]
            )
        out: list[IngestDecision] = []
        for q, reason in enumerate(reasons):
            source, record_id = queries.sources[q] or "", queries.record_ids[q] or ""
            if q in owners:
                out.append(IngestDecision(source, record_id, "exists", owners[q], 1.0))
            elif reason is not None:
                out.append(IngestDecision(source, record_id, "rejected", None, None, reason=reason))
            else:
                out.append(plan.decision(q, source, record_id))
        return out

    def add_listener(self, listener: Callable[[IngestDelta], None]) -> None:
        """Call ``listener`` with each ingest's :class:`IngestDelta`, once it is applied here
        (inside the ingest, before it returns): how replicas in other processes follow."""
        self._listeners.append(listener)

    def apply_delta(self, delta: IngestDelta) -> None:
        """Apply another resolver's ingest (a replica's side of :meth:`add_listener`).

        The two must have been built from the same store state and have applied
        the same deltas in order: the delta's records start at this index's size.
        """
        with self._lock:
            snap = self._snapshot
            if delta.segment.offset != snap.size:
                raise ConfigError(
                    f"delta: its records start at row {delta.segment.offset}, "
                    f"this index holds {snap.size}: replicas diverged"
                )
            self._apply(snap, delta)

    def _apply(self, snap: _Snapshot, delta: IngestDelta) -> None:
        """Publish a new snapshot with the delta's records, persons and merges."""
        self._new_ids.extend(delta.new_ids)
        self._new_id_set.update(delta.new_ids)
        merged_into = dict(snap.merged_into)
        absorbed = {k: set(v) for k, v in snap.absorbed.items()}
        for gone, survivor in delta.merges:
            for k, v in merged_into.items():
                if v == gone:
                    merged_into[k] = survivor
            merged_into[gone] = survivor
            absorbed.setdefault(survivor, set()).update({gone, *absorbed.pop(gone, set())})
        segment = delta.segment
        segments = (*snap.segments, segment)
        if len(segments) - 1 > MAX_SEGMENTS:
            segments = (segments[0], _merge_segments(segments[1:], self._rules))
        alias_from = np.array(sorted(merged_into), dtype=np.int64)
        self._snapshot = _Snapshot(
            segments=segments,
            size=snap.size + segment.height,
            person_codes=snap.person_codes + len(delta.new_ids),
            merged_into=merged_into,
            absorbed={k: frozenset(v) for k, v in absorbed.items()},
            alias_from=alias_from,
            alias_to=np.array([merged_into[k] for k in alias_from.tolist()], dtype=np.int64),
        )

    def _id_taken(self, pid: str) -> bool:
        if pid in self._reserved or pid in self._new_id_set:
            return True
        pos = int(self._base_persons.search_sorted(pid))
        return pos < self._n_base and self._base_persons[pos] == pid


class _Plan:
    """One ingest request's decisions, made row by row on a working copy of the persons."""

    def __init__(self, resolver: Resolver, snap: _Snapshot, queries: _Queries, fresh: np.ndarray):
        self.r = resolver
        self.snap = snap
        self.queries = queries
        self.fresh = fresh  # query positions of the rows to add, in request order
        self.assigned: dict[int, int] = {}  # query position -> person code (before final aliasing)
        self.action: dict[int, Action] = {}
        self.probability: dict[int, float | None] = {}
        self.merged: dict[int, list[int]] = {}  # query position -> existing codes it merged away
        self.alias: dict[int, int] = {}  # codes merged during this request -> survivor
        self.merges: list[tuple[int, int]] = []  # (merged-away existing code, final survivor code)
        self.state: dict[int, State] = {}
        self.provisional: list[int] = []  # codes created by this request, in creation order
        self.creator: dict[int, int] = {}  # provisional code -> the query position that created it
        # provisional code -> probability of the link that joined it to another person
        self.absorbed_by: dict[int, float] = {}
        self.ambiguous: set[int] = set()  # query positions left alone between two persons
        self.next_code = snap.person_codes
        self.new_codes: dict[int, int] = {}
        self.new_ids: list[str] = []
        self.ids: dict[int, str] = {}  # final person code -> person ID, filled as asked
        frame = (
            queries.frame[pl.Series(fresh, dtype=pl.UInt32)]
            if fresh.size
            else queries.frame.clear()
        )
        self.frame = frame
        keyed = resolver._keyed(frame)
        self.rule_keys = resolver._rule_keys(keyed)
        self.segment = resolver._segment(
            frame,
            np.full(frame.height, -1, dtype=np.int64),
            offset=snap.size,
            rule_keys=self.rule_keys,
        )

    def resolve(self, code: int) -> int:
        while code in self.alias:
            code = self.alias[code]
        return code

    def checked(self, code: int) -> State:
        if code not in self.state:
            self.state.update(self.r._checked_ids(self.snap, [code]))
        return self.state[code]

    def decide(self) -> None:
        r, snap = self.r, self.snap
        n = self.fresh.size
        local = _Queries(
            frame=self.frame,
            sources=[self.queries.sources[q] for q in self.fresh.tolist()],
            record_ids=[self.queries.record_ids[q] for q in self.fresh.tolist()],
            reasons=[None] * n,
            key_hashes=self.queries.key_hashes[self.fresh],
        )
        segments = (*snap.segments, self.segment)
        scored = r._score(
            segments,
            local,
            np.ones(n, dtype=bool),
            extra=0,
            rule_keys=self.rule_keys,
            before_self=snap.size,
        )
        own = scored.rows >= snap.size
        index_codes = np.full(scored.rows.size, -1, dtype=np.int64)
        if (~own).any():
            index_codes[~own] = r._canonical(snap, _persons_of(snap.segments, scored.rows[~own]))
        # the checked IDs of every indexed person a row may join, read in one pass
        above = ~own & (scored.probabilities >= r.model.match_threshold)
        self.state.update(r._checked_ids(snap, np.unique(index_codes[above]).tolist()))
        order = np.lexsort((-scored.weights, scored.queries))
        bounds = np.searchsorted(scored.queries[order], np.arange(n + 1))
        threshold = r.model.match_threshold
        row_states = r._states(_columns(self.frame, _CONSTRAINT_COLUMNS))
        for i in range(n):
            q = int(self.fresh[i])
            best: dict[int, tuple[float, float]] = {}  # person -> (weight, probability)
            links: dict[int, float] = {}  # indexed row -> weight of its edge to this row
            for k in order[bounds[i] : bounds[i + 1]].tolist():
                if scored.probabilities[k] < threshold:
                    break  # sorted by weight: the rest are below too
                if own[k]:
                    earlier = int(self.fresh[scored.rows[k] - snap.size])
                    if earlier in self.ambiguous:
                        continue  # left alone, as clustering cuts all its edges
                    person = self.assigned[earlier]
                else:
                    person = int(index_codes[k])
                    links[int(scored.rows[k])] = float(scored.weights[k])
                person = self.resolve(person)
                if person not in best:
                    best[person] = (float(scored.weights[k]), float(scored.probabilities[k]))
            own_state = row_states[i]
            state = own_state
            accepted: list[int] = []
            for person, (weight, _) in best.items():  # strongest first (insertion order)
                other = self.checked(person)
                if r._allows(state, other):
                    state = r._merge(state, other)
                    accepted.append(person)
                elif (
                    accepted
                    and r._allows(own_state, other)
                    and weight >= best[accepted[0]][0] - DEFAULT_AMBIGUITY_MARGIN
                ):
                    # the record fits two persons the constraints keep apart, almost
                    # equally well: as in clustering, it is linked to neither
                    accepted = []
                    self.ambiguous.add(q)
                    break
            if not accepted:
                code = self.next_code
                self.next_code += 1
                self.provisional.append(code)
                self.creator[code] = q
                self.assigned[q], self.action[q], self.probability[q] = code, "created", None
                self.state[code] = own_state
                continue
            if len(accepted) > 1:
                accepted, state = self.settle(accepted, own_state, links)
            existing = [p for p in accepted if p < snap.person_codes]
            survivor = existing[0] if existing else accepted[0]
            self.assigned[q] = survivor
            self.probability[q] = best[accepted[0]][1]
            self.action[q] = "attached"
            for other in accepted:
                if other == survivor:
                    continue
                self.alias[other] = survivor
                if other < snap.person_codes:
                    self.merges.append((other, survivor))
                    self.merged.setdefault(q, []).append(other)
                    self.action[q] = "merged"
                else:
                    self.absorbed_by[other] = best[other][1]
            self.state[survivor] = state
        # merges in final form: every merged-away code points at its last survivor
        self.merges = [(gone, self.resolve(survivor)) for gone, survivor in self.merges]
        taken: set[str] = set()
        for code in self.provisional:
            if self.resolve(code) != code:
                continue
            q = self.creator[code]
            source, record_id = self.queries.sources[q] or "", self.queries.record_ids[q] or ""
            counter = 0
            pid = derive_person_id(source, record_id)
            while pid in taken or r._id_taken(pid):
                counter += 1
                pid = derive_person_id(source, record_id, counter)
            taken.add(pid)
            self.new_codes[code] = snap.person_codes + len(self.new_ids)
            self.new_ids.append(pid)

    def settle(
        self,
        accepted: list[int],
        own_state: State,
        links: Mapping[int, float],
    ) -> tuple[list[int], State]:
        """The persons a row may merge, and their joint checked IDs.

        A person merged by a new record keeps out if one of its records would
        then be ambiguous, as clustering would judge it: it fits another person
        the merged one's IDs now keep apart (its own ID would be allowed there)
        almost as well as its strongest edge into the merged person.  That is a
        record the batch job left alone between two persons: the new record must
        not settle the question.  ``links``: the row's edges to indexed rows.
        """
        snap = self.snap
        group = list(accepted)
        while True:
            state = own_state
            for person in group:
                state = self.r._merge(state, self.checked(person))
            doubtful = [
                p for p in group[1:] if p < snap.person_codes and self.torn(p, group, state, links)
            ]
            if not doubtful:
                return group, state
            group = [p for p in group if p not in doubtful]

    def torn(
        self,
        person: int,
        group: list[int],
        state: State,
        links: Mapping[int, float],
    ) -> bool:
        """Whether a record of ``person`` would be ambiguous in the merge of ``group`` (see settle)."""
        r, snap = self.r, self.snap
        rows = np.concatenate(
            [seg.offset + local for seg, local, _ in r._person_rows(snap, [person])]
        )
        scored = r._score_indexed(snap, rows)
        threshold = r.model.match_threshold
        strong = scored.probabilities >= threshold
        persons = r._canonical(snap, _persons_of(snap.segments, scored.rows))
        members = set(group)
        own = r._states(_gather(snap.segments, rows, list(_CONSTRAINT_COLUMNS)))
        for j, row in enumerate(rows.tolist()):
            mine = scored.queries == j
            kept = [links.get(row, -np.inf)]
            cut = []
            for k in np.flatnonzero(mine & strong).tolist():
                other = self.resolve(int(persons[k]))
                if other in members:
                    kept.append(float(scored.weights[k]))
                else:
                    cut.append((other, float(scored.weights[k])))
            best_kept = max(kept)
            if not np.isfinite(best_kept):
                continue
            record_state = own[j]
            for other, weight in cut:
                if weight < best_kept - DEFAULT_AMBIGUITY_MARGIN:
                    continue
                theirs = self.checked(other)
                if not r._allows(state, theirs) and r._allows(record_state, theirs):
                    return True
        return False

    def final_code(self, q: int) -> int:
        code = self.resolve(self.assigned[q])
        return self.new_codes.get(code, code)

    def final_codes(self) -> np.ndarray:
        return np.array([self.final_code(int(q)) for q in self.fresh], dtype=np.int64)

    def person_id(self, code: int) -> str:
        if code not in self.ids:
            self.ids.update(self.person_ids([code]))
        return self.ids[code]

    def person_ids(self, codes: Iterable[int]) -> dict[int, str]:
        """Person IDs of final codes (existing or new), looked up in one pass."""
        wanted = np.array(sorted(set(codes) - set(self.ids)), dtype=np.int64)
        old = wanted[wanted < self.snap.person_codes]
        self.ids.update(zip(old.tolist(), self.r._person_ids(self.snap, old), strict=True))
        for code in wanted[wanted >= self.snap.person_codes].tolist():
            self.ids[code] = self.new_ids[code - self.snap.person_codes]
        return self.ids

    def outcome(self, q: int) -> tuple[Action, float | None]:
        """The row's final action and link probability, once the whole request is decided."""
        if self.action[q] == "created" and self.resolve(self.assigned[q]) != self.assigned[q]:
            # a later row of the request joined the person this row created to another
            return "attached", self.absorbed_by.get(self.assigned[q])
        return self.action[q], self.probability[q]

    def decision(self, q: int, source: str, record_id: str) -> IngestDecision:
        action, probability = self.outcome(q)
        merged = tuple(self.person_id(c) for c in self.merged.get(q, ()))
        return IngestDecision(
            source,
            record_id,
            action,
            self.person_id(self.final_code(q)),
            probability,
            merged=merged,
            reason=AMBIGUOUS if q in self.ambiguous else None,
        )

    def batch(self) -> IngestBatch:
        """The store's IngestBatch for this plan."""
        q = self.fresh.tolist()
        codes = self.final_codes()
        known = self.person_ids(codes.tolist())
        person_ids = [known[int(c)] for c in codes]
        probabilities = [self.outcome(pos)[1] for pos in q]
        frame = self.frame
        records = frame.select(s.RAW_COLUMNS)
        crosswalk = (
            frame.select(s.SOURCE, s.RECORD_ID, s.ID_KEY)
            .with_columns(
                pl.Series(s.PERSON_ID, person_ids, dtype=pl.String),
                pl.Series(s.MATCH_PROBABILITY, probabilities, dtype=pl.Float64),
            )
            .select(s.SOURCE, s.RECORD_ID, s.PERSON_ID, s.MATCH_PROBABILITY, s.ID_KEY)
        )
        position = {pos: i for i, pos in enumerate(q)}
        creators = [position[self.creator[c]] for c in self.new_codes]
        own_id = pl.col(s.ID_OWN).is_not_null()
        new_persons = frame[pl.Series(creators, dtype=pl.UInt32)].select(
            pl.Series(s.PERSON_ID, self.new_ids, dtype=pl.String),
            s.NAME_NORM,
            s.NAME_LATIN_NORM,
            pl.when(own_id).then(pl.col(s.ID_KIND)).alias(s.ID_KIND),
            pl.when(own_id).then(pl.col(s.ID_NORM)).alias(s.ID_NORM),
            s.DOB,
            s.SEX_BEST,
        )
        counts = pl.Series(person_ids, dtype=pl.String).value_counts()
        per_person = dict(counts.iter_rows())
        events = [
            {
                EVENT_KIND: EventKind.CREATE.value,
                s.PERSON_ID: pid,
                RELATED_IDS: [],
                EVENT_RECORDS: per_person.get(pid, 0),
                EVENT_REASON: f"{INGEST_REASON}: new person, no known person matched",
            }
            for pid in self.new_ids
        ]
        merges = []
        for gone, survivor in self.merges:
            gone_id, survivor_id = self.person_id(gone), self.person_id(survivor)
            records_of = sum(rows.size for _, rows, _ in self.r._person_rows(self.snap, [gone]))
            merges.append((gone_id, survivor_id))
            events.append(
                {
                    EVENT_KIND: EventKind.MERGE.value,
                    s.PERSON_ID: gone_id,
                    RELATED_IDS: [survivor_id],
                    EVENT_RECORDS: records_of,
                    EVENT_REASON: f"{INGEST_REASON}: merged into {survivor_id}: a new record matched "
                    "both persons",
                }
            )
        return IngestBatch(
            records=records,
            crosswalk=crosswalk,
            new_persons=new_persons,
            merges=merges,
            events=pl.DataFrame(events, schema=EVENT_SCHEMA),
        )


# ------------------------------------------------------------------ helpers
def _default_rules(model: FSModel) -> tuple[BlockingRule, ...]:
    """The preset rules matching the model's comparisons (Latin-script comparisons: latin)."""
    kinds = {c.definition.get("type") for c in model.comparisons}
    return preset_rules("latin" if kinds & set(LATIN_COMPARISONS) else DEFAULT_PRESET)


def _conformed(records: pl.DataFrame) -> pl.DataFrame:
    return records.select(
        pl.col(c).cast(pl.String) if c in records.columns else pl.lit(None, pl.String).alias(c)
        for c in s.RAW_COLUMNS
    )


def _as_text(value: Any) -> str:
    """A key part as ``cast(pl.String)`` writes it (text or a date: see Resolver._scalar_keys)."""
    return value if isinstance(value, str) else value.isoformat()  # type: ignore[no-any-return]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _key_expr(columns: Sequence[str]) -> pl.Expr:
    """A rule's key as one string, null when a part is null (such a row has no key under the rule)."""
    return pl.concat_str([pl.col(c).cast(pl.String) for c in columns], separator=_KEY_SEPARATOR)


def _raw_hashes(frame: pl.DataFrame) -> np.ndarray:
    """Per row, a hash of the raw fields besides the key (blank counts as missing): a known
    record is one whose key is indexed with the same hash.

    A few rows are blanked in Python (a polars query over every field costs ~1 ms per
    call), many in polars; either way the hash is polars' ``hash_rows`` of the same columns.
    """
    if frame.height <= SCALAR_BATCH:
        columns = [
            pl.Series(
                c,
                [
                    v if v is not None and v.strip(POLARS_WHITE_SPACE) else None
                    for v in frame[c].to_list()
                ],
                dtype=pl.String,
            )
            for c in _RAW_FIELDS
        ]
    else:
        columns = frame.select(
            pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c)).alias(c) for c in _RAW_FIELDS
        ).get_columns()
    return pl.DataFrame(columns).hash_rows().to_numpy()


def _key_hashes(frame: pl.DataFrame) -> np.ndarray:
    """Per row, a hash of (source, record_id); meaningful only where both are present."""
    return _columns(frame, (s.SOURCE, s.RECORD_ID)).hash_rows().to_numpy()


def _record_keys(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Sorted hashes of (source, record_id) of the rows that have both, and those rows."""
    hashes = _key_hashes(frame)
    present = (
        frame.select(pl.col(s.SOURCE).is_not_null() & pl.col(s.RECORD_ID).is_not_null())
        .to_series()
        .to_numpy()
    )
    rows = np.flatnonzero(present)
    order = np.argsort(hashes[rows], kind="stable")
    return hashes[rows][order], rows[order].astype(np.uint32)


def _rule_index(rows: np.ndarray, hashes: np.ndarray, cap: int) -> _RuleIndex:
    order = np.argsort(hashes, kind="stable")
    hashes, rows = hashes[order], rows[order]
    if not hashes.size:
        return _RuleIndex(hashes, rows.astype(np.uint32), np.empty(0, np.uint64))
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    sizes = np.diff(np.r_[starts, hashes.size])
    over = sizes > cap
    within = np.repeat(~over, sizes)
    return _RuleIndex(hashes[within], rows[within].astype(np.uint32), hashes[starts[over]])


def _merge_segments(segments: Sequence[_Segment], rules: Sequence[BlockingRule]) -> _Segment:
    """One segment holding ``segments`` (consecutive), from their arrays: no key is recomputed."""
    offset = segments[0].offset
    shifts = [seg.offset - offset for seg in segments]
    merged_rules = []
    for r, rule in enumerate(rules):
        hashes = np.concatenate([seg.rules[r].hashes for seg in segments])
        rows = np.concatenate(
            [
                seg.rules[r].rows.astype(np.int64) + d
                for seg, d in zip(segments, shifts, strict=True)
            ]
        )
        index = _rule_index(rows, hashes, rule.max_block_size)
        over = np.unique(
            np.concatenate([index.oversized, *(seg.rules[r].oversized for seg in segments)])
        )
        if over.size:
            keep = ~_member(over, index.hashes)
            index = _RuleIndex(index.hashes[keep], index.rows[keep], over)
        merged_rules.append(index)
    key_hashes = np.concatenate([seg.key_hashes for seg in segments])
    key_rows = np.concatenate(
        [seg.key_rows.astype(np.int64) + d for seg, d in zip(segments, shifts, strict=True)]
    )
    order = np.argsort(key_hashes, kind="stable")
    return _Segment(
        frame=pl.concat([seg.frame for seg in segments]).rechunk(),
        offset=offset,
        persons=np.concatenate([seg.persons for seg in segments]),
        rules=tuple(merged_rules),
        key_hashes=key_hashes[order],
        key_rows=key_rows[order].astype(np.uint32),
        raw_hashes=np.concatenate([seg.raw_hashes for seg in segments]),
    )


def _member(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    pos = np.minimum(np.searchsorted(sorted_values, values), sorted_values.size - 1)
    return sorted_values[pos] == values


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi): the owning range of each position, and the positions, flattened."""
    n = hi - lo
    owner = np.repeat(np.arange(n.size), n)
    first = np.cumsum(n) - n
    return owner, lo[owner] + (np.arange(owner.size) - first[owner])


def _locate(segments: Sequence[_Segment], row: int) -> tuple[_Segment, int]:
    for seg in segments:
        if seg.offset <= row < seg.offset + seg.height:
            return seg, row - seg.offset
    raise IndexError(row)


def _columns(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """``frame.select(columns)`` without a polars query (~0.1 ms each, whatever the size)."""
    return pl.DataFrame([frame.get_column(c) for c in columns])


def _gather(segments: Sequence[_Segment], rows: np.ndarray, columns: Sequence[str]) -> pl.DataFrame:
    """``columns`` of the segments' frames at global ``rows``, in that order."""
    parts, where = [], []
    for seg in segments:
        inside = np.flatnonzero((rows >= seg.offset) & (rows < seg.offset + seg.height))
        if inside.size:
            local = pl.Series(rows[inside] - seg.offset, dtype=pl.UInt32)
            parts.append(_columns(seg.frame, columns)[local])
            where.append(inside)
    if not parts:
        return segments[0].frame.select(columns).clear()
    if len(parts) == 1:  # one segment: already in order (flatnonzero is sorted)
        return parts[0]
    frame = pl.concat(parts)
    order = np.argsort(np.concatenate(where), kind="stable")
    return frame[pl.Series(order, dtype=pl.UInt32)]


def _persons_of(segments: Sequence[_Segment], rows: np.ndarray) -> np.ndarray:
    """Person code of each global row (before merges)."""
    out = np.empty(rows.size, dtype=np.int64)
    for seg in segments:
        inside = (rows >= seg.offset) & (rows < seg.offset + seg.height)
        if inside.any():
            out[inside] = seg.persons[rows[inside] - seg.offset]
    return out
