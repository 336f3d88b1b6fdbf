"""Scored pairs -> clusters of records that belong to one person, under constraints.

The graph has one node per record and one edge per scored pair at or above the
match threshold; its connected components are the first proposal.  Chaining
makes components wrong in a recognizable way: ``A ~ B ~ C`` where A and C hold
two different valid resident IDs cannot be one person.  Such rules are
:class:`Constraint` objects (data, not special cases): distinct-value rules,
steward cannot-link and must-link decisions, and the cluster-size cap all enter
the same way.

Only the components that break a rule are re-clustered, Kruskal-style: their
edges are replayed strongest first (must-links before any scored edge) into a
union-find that refuses a union whose result would break a rule.  A violating
component is therefore cut at its weakest edges and no record is ever dropped.
The connected components are vectorized (scipy); the replay is a Python loop,
but only over the edges of violating components.

A record that fits two persons the rules keep apart is linked to neither: when
one of its edges was refused by a constraint (not the size cap) and weighs
within ``ambiguity_margin`` bits of its strongest kept edge, nothing says which
person it belongs to (a record with a name and a birth date only, between two
people of that name and birthday holding different resident IDs).  Such records
become singletons, their edges are cut with reason :data:`AMBIGUOUS` (they go to
clerical review), and the component is replayed without them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Protocol, runtime_checkable

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linkage._similarity import positions_differing
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError
from normalizers.reasons import Reason

log = logging.getLogger(__name__)

CUT_REASON: Final = "cut_reason"
"""Column of :attr:`ClusterResult.cut_edges`: the name of the constraint that refused the edge."""

AMBIGUOUS: Final = "ambiguous"
"""CUT_REASON of the edges of a record that fits two persons the constraints keep apart."""

DEFAULT_AMBIGUITY_MARGIN: Final = 3.0
"""Bits: a refused edge this close to a record's strongest kept edge makes the record ambiguous."""

MUST_LINK_RULE: Final = "must_link"
"""The :data:`schema.RULE` value of edges that come from a :class:`MustLink`, not from scoring."""

# ID kinds whose number is a lifelong personal number: two different valid ones
# in one cluster mean two people.  Passports and HK/Macau/Taiwan travel permits
# are reissued with new numbers, so they are not constrained.
_LIFELONG_ID_KINDS: Final = ("RESIDENT", "HMT_PERMIT", "FOREIGN_PR")


# ------------------------------------------------------------------ protocol
class RowIndex:
    """Maps record row ids to positions 0..n-1 of the records frame (row ids need not be dense)."""

    __slots__ = ("_dense", "_ids", "_order", "n")

    def __init__(self, row_ids: pl.Series) -> None:
        if row_ids.null_count():
            raise SchemaError(f"{s.ROW_ID}: null row ids in the records frame")
        ids = row_ids.cast(pl.Int64).to_numpy()
        self.n = len(ids)
        self._ids = ids
        self._dense = bool(self.n == 0 or (ids == np.arange(self.n)).all())
        self._order = None if self._dense else np.argsort(ids, kind="stable")
        if not self._dense and self.n > 1 and (np.diff(ids[self._order]) == 0).any():
            raise SchemaError(f"{s.ROW_ID}: duplicate row ids in the records frame")

    def positions(self, row_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of ``row_ids`` and a mask of those present in the frame."""
        row_ids = np.asarray(row_ids, dtype=np.int64)
        if self._dense:
            found = (row_ids >= 0) & (row_ids < self.n)
            return np.where(found, row_ids, 0), found
        sorted_ids = self._ids[self._order]
        at = np.clip(np.searchsorted(sorted_ids, row_ids), 0, max(self.n - 1, 0))
        found = sorted_ids[at] == row_ids if self.n else np.zeros(len(row_ids), bool)
        return self._order[at] if self.n else at, found

    def row_ids(self, positions: np.ndarray) -> np.ndarray:
        return self._ids[positions]


@runtime_checkable
class BoundConstraint(Protocol):
    """A constraint bound to one records frame: detects violations and judges unions.

    States are opaque per-record values, merged as records are unioned.  ``None``
    means "nothing to say": :meth:`allows` accepts it and ``merge(None, None)`` is
    None, so a rule whose records all start at None is skipped while replaying.
    The rule must be monotone: if two clusters may not be united, no clusters
    containing them may be either.
    """

    def violating(self, labels: np.ndarray) -> np.ndarray:
        """Component labels (one per record position given) whose components break the rule."""
        ...

    def must_edges(self) -> np.ndarray:
        """Edges (k x 2 positions) that must be in the graph whatever their score."""
        ...

    def initial_states(self, positions: np.ndarray) -> list[Any]:
        """The initial state of each record at ``positions``."""
        ...

    def allows(self, a: Any, b: Any) -> bool:
        """Whether two clusters with these states may become one."""
        ...

    def merge(self, a: Any, b: Any) -> Any:
        """The state of the union of two clusters (only called when allowed)."""
        ...


@runtime_checkable
class Constraint(Protocol):
    """A rule every cluster must obey; a frozen, declarative object.

    ``binds_must_link`` says whether the rule can refuse a steward's must-link
    (cannot-link decisions can; automatic rules cannot, since overriding them is
    what a must-link is for).
    """

    @property
    def name(self) -> str: ...

    @property
    def binds_must_link(self) -> bool: ...

    def bind(self, records: pl.DataFrame, index: RowIndex) -> BoundConstraint: ...


# --------------------------------------------------------------- constraints
def _no_edges() -> np.ndarray:
    return np.empty((0, 2), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class DistinctValues:
    """At most ``limit`` distinct non-null ``column`` values per cluster, among ``where`` rows.

    ``where`` maps column names to the value they must equal, e.g.
    ``DistinctValues(s.ID_NORM, where={s.ID_KIND: "RESIDENT"})``: a person holds
    one resident ID.  A union is refused when it would add a distinct value
    beyond what either side already holds (so a cluster a steward forced
    together with two IDs may still grow with records carrying one of them).
    """

    column: str
    where: Mapping[str, str] | tuple[tuple[str, str], ...] = ()
    limit: int = 1
    name: str = ""
    binds_must_link: bool = False

    def __post_init__(self) -> None:
        where = self.where.items() if isinstance(self.where, Mapping) else self.where
        object.__setattr__(self, "where", tuple(sorted((str(k), str(v)) for k, v in where)))
        if self.limit < 1:
            raise ConfigError(f"DistinctValues.limit: expected >= 1 (got {self.limit})")
        if not self.name:
            object.__setattr__(self, "name", f"distinct_{self.column}")

    def __repr__(self) -> str:
        return (
            f"DistinctValues({self.column!r}, where={dict(self.where)!r}, limit={self.limit}, "
            f"name={self.name!r}, binds_must_link={self.binds_must_link})"
        )

    def bind(self, records: pl.DataFrame, index: RowIndex) -> BoundConstraint:
        missing = [
            c for c in (self.column, *(k for k, _ in self.where)) if c not in records.columns
        ]
        if missing:
            raise SchemaError(f"constraint {self.name}: records frame lacks column(s) {missing}")
        condition = pl.col(self.column).is_not_null()
        for column, value in self.where:
            condition = condition & (pl.col(column).cast(pl.String) == value)
        values = records.select(pl.when(condition).then(pl.col(self.column))).to_series()
        return _BoundDistinct(values, self.limit)


class _BoundDistinct:
    """States: frozenset of the distinct values a cluster holds, or None for none."""

    __slots__ = ("_limit", "_values")

    def __init__(self, values: pl.Series, limit: int) -> None:
        self._values = values  # null where the row carries no constrained value
        self._limit = limit

    def violating(self, labels: np.ndarray) -> np.ndarray:
        if self._values.null_count() == len(self._values):
            return np.empty(0, dtype=labels.dtype)
        counts = (
            pl.DataFrame({"label": labels, "value": self._values})
            .drop_nulls()
            .unique()
            .group_by("label")
            .len()
            .filter(pl.col("len") > self._limit)
        )
        return counts["label"].to_numpy()

    def must_edges(self) -> np.ndarray:
        return _no_edges()

    def initial_states(self, positions: np.ndarray) -> list[frozenset[Any] | None]:
        values = self._values.gather(positions).to_list()
        return [None if v is None else frozenset((v,)) for v in values]

    def allows(self, a: frozenset[Any] | None, b: frozenset[Any] | None) -> bool:
        if a is None or b is None:
            return True
        return len(a | b) <= max(self._limit, len(a), len(b))

    def merge(self, a: frozenset[Any] | None, b: frozenset[Any] | None) -> frozenset[Any] | None:
        if a is None:
            return b
        return a if b is None else a | b


@dataclass(frozen=True, slots=True)
class LifelongIdsApart:
    """No cluster holds two numbers of one lifelong ID ``kind`` that no typo joins.

    :class:`DistinctValues` on ID_CHECKED keeps apart numbers that their check
    characters verified.  This rule covers the numbers no check character
    verified: a 15-digit resident ID (its 18-digit upgrade computes the check),
    a valid-looking number ending in ``000`` (possibly a spreadsheet's
    truncation) and a checksum-failing number.  Such a number may hide a typo,
    so it conflicts with another number of the kind only when their bodies (the
    first 17 characters, without the check character) differ in more than
    ``max_typo_positions`` places: 340802420801107 and 230602194208019357 are
    two people's numbers, whatever a typo could have done.  Numbers on a record
    whose own birth date contradicts them (a guardian's) do not count.
    """

    kind: str
    max_typo_positions: int = 2
    name: str = ""
    binds_must_link: bool = False

    _BODY: ClassVar[int] = 17

    def __post_init__(self) -> None:
        if not isinstance(self.max_typo_positions, int) or not 0 <= self.max_typo_positions <= 17:
            raise ConfigError(
                "LifelongIdsApart.max_typo_positions: expected an integer in 0..17, the body's "
                f"length (got {self.max_typo_positions!r})"
            )
        if not self.name:
            object.__setattr__(self, "name", f"{self.kind.lower()}_ids_apart")

    def bind(self, records: pl.DataFrame, index: RowIndex) -> BoundConstraint:
        needed = (s.ID_KIND, s.ID_CHECKED)
        missing = [c for c in needed if c not in records.columns]
        if missing:
            raise SchemaError(f"constraint {self.name}: records frame lacks column(s) {missing}")
        positions, bodies = self._bodies(records)
        return _BoundApart(positions, bodies, self.max_typo_positions)

    def _bodies(self, records: pl.DataFrame) -> tuple[np.ndarray, pl.DataFrame]:
        """The positions of the records holding a number of the kind, and their BODY and
        VERIFIED (sparse: few records hold a permit)."""
        kind = (records.get_column(s.ID_KIND).cast(pl.String) == self.kind).fill_null(False)
        # without ID_OWN (a frame of checked numbers only) the rule has nothing to add
        own_column = s.ID_OWN if s.ID_OWN in records.columns else s.ID_CHECKED
        own = records.get_column(own_column)
        checked = records.get_column(s.ID_CHECKED)
        has_own = np.flatnonzero((kind & own.is_not_null()).to_numpy())
        take = pl.Series(has_own, dtype=pl.UInt32)
        parts = [
            pl.DataFrame(
                {
                    "pos": has_own,
                    "body": own.gather(take)
                    .str.strip_prefix(f"{self.kind}:")
                    .str.slice(0, self._BODY),
                    "verified": checked.gather(take).is_not_null(),
                }
            )
        ]
        if {s.ID_CLEAN, s.ID_REASON}.issubset(records.columns):
            # a checksum failure has no key; its number counts when unmasked and the record's
            # own birth date (if any) is the one the number encodes.  Rare: checked on its rows.
            reason = records.get_column(s.ID_REASON)
            failed = kind & own.is_null() & (reason == Reason.ID_CHECKSUM_FAILED.value)
            if s.ID_MASK_PATTERN in records.columns:
                failed = failed & records.get_column(s.ID_MASK_PATTERN).is_null()
            rows = np.flatnonzero(failed.fill_null(False).to_numpy())
            if rows.size:
                cols = [c for c in (s.ID_CLEAN, s.BIRTH_DATE_NORM) if c in records.columns]
                sub = pl.DataFrame([records.get_column(c) for c in cols])
                sub = sub[pl.Series(rows, dtype=pl.UInt32)]
                written = pl.col(s.ID_CLEAN)
                fits = written.str.len_chars() == self._BODY + 1
                if s.BIRTH_DATE_NORM in sub.columns:
                    born = pl.col(s.BIRTH_DATE_NORM).dt.strftime("%Y%m%d")
                    fits = fits & (born.is_null() | (written.str.slice(6, 8) == born))
                found = sub.select(
                    pl.Series("pos", rows),
                    pl.when(fits).then(written.str.slice(0, self._BODY)).alias("body"),
                    pl.lit(False).alias("verified"),
                ).drop_nulls("body")
                parts.append(found)
        held = pl.concat(parts).drop_nulls("body").sort("pos")
        return held.get_column("pos").to_numpy(), held.select("body", "verified")


class _BoundApart:
    """States: frozenset of (body, verified) pairs a cluster holds, or None for none."""

    __slots__ = ("_bodies", "_limit", "_positions")

    def __init__(self, positions: np.ndarray, bodies: pl.DataFrame, limit: int) -> None:
        self._positions = positions  # ascending positions of the records holding a number
        self._bodies = bodies  # their BODY and VERIFIED
        self._limit = limit

    def _conflict(self, a: tuple[str, bool], b: tuple[str, bool]) -> bool:
        if a[1] and b[1]:
            return False  # both verified: DistinctValues' business
        x, y = a[0], b[0]
        return len(x) == len(y) and sum(p != q for p, q in zip(x, y)) > self._limit

    def violating(self, labels: np.ndarray) -> np.ndarray:
        held = self._bodies.with_columns(label=pl.Series(labels[self._positions]))
        # only components holding an unverified number can break this rule: most hold none
        doubtful = held.filter(~pl.col("verified")).get_column("label").unique()
        held = (
            held.filter(pl.col("label").is_in(doubtful.implode()))
            .unique(["label", "body", "verified"])
            .filter(pl.col("body").n_unique().over("label") > 1)
        )
        if held.is_empty():
            return np.empty(0, dtype=labels.dtype)
        pairs = held.join(held, on="label", suffix="_r").filter(
            (pl.col("body") < pl.col("body_r")) & ~(pl.col("verified") & pl.col("verified_r"))
        )
        differing = positions_differing(pairs["body"], pairs["body_r"])
        return np.unique(pairs["label"].to_numpy()[differing > self._limit]).astype(labels.dtype)

    def must_edges(self) -> np.ndarray:
        return _no_edges()

    def initial_states(self, positions: np.ndarray) -> list[frozenset[tuple[str, bool]] | None]:
        states: list[frozenset[tuple[str, bool]] | None] = [None] * len(positions)
        if not self._positions.size or not len(positions):
            return states
        at = np.minimum(np.searchsorted(self._positions, positions), self._positions.size - 1)
        found = np.flatnonzero(self._positions[at] == positions)
        part = self._bodies[pl.Series(at[found], dtype=pl.UInt32)]
        for k, body, verified in zip(found.tolist(), *part.get_columns(), strict=True):
            states[k] = frozenset(((body, verified),))
        return states

    def allows(
        self, a: frozenset[tuple[str, bool]] | None, b: frozenset[tuple[str, bool]] | None
    ) -> bool:
        if a is None or b is None:
            return True
        return not any(self._conflict(x, y) for x in a for y in b)

    def merge(
        self, a: frozenset[tuple[str, bool]] | None, b: frozenset[tuple[str, bool]] | None
    ) -> frozenset[tuple[str, bool]] | None:
        if a is None:
            return b
        return a if b is None else a | b


def _pairs(pairs: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out = []
    for pair in pairs:
        left, right = (int(v) for v in pair)
        if left != right:
            out.append((min(left, right), max(left, right)))
    return tuple(sorted(set(out)))


def _pair_positions(name: str, pairs: tuple[tuple[int, int], ...], index: RowIndex) -> np.ndarray:
    if not pairs:
        return _no_edges()
    arr = np.asarray(pairs, dtype=np.int64)
    left, found_l = index.positions(arr[:, 0])
    right, found_r = index.positions(arr[:, 1])
    found = found_l & found_r
    if not found.all():
        log.warning(
            "%s: %d pair(s) name records not in this run; ignored", name, int((~found).sum())
        )
    return np.stack([left[found], right[found]], axis=1)


@dataclass(frozen=True, slots=True)
class CannotLink:
    """Record pairs (row ids) that must end in different clusters: steward decisions, disputes."""

    pairs: tuple[tuple[int, int], ...] = ()
    name: str = "cannot_link"
    binds_must_link: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "pairs", _pairs(self.pairs))

    def bind(self, records: pl.DataFrame, index: RowIndex) -> BoundConstraint:
        return _BoundCannotLink(_pair_positions(self.name, self.pairs, index))


class _BoundCannotLink:
    """States: frozenset of tokens 2*k (left end of pair k) and 2*k+1 (right end)."""

    __slots__ = ("_ends", "_tokens")

    def __init__(self, ends: np.ndarray) -> None:
        self._ends = ends
        tokens: dict[int, set[int]] = {}
        for k, (left, right) in enumerate(ends.tolist()):
            tokens.setdefault(left, set()).add(2 * k)
            tokens.setdefault(right, set()).add(2 * k + 1)
        self._tokens = {pos: frozenset(t) for pos, t in tokens.items()}

    def violating(self, labels: np.ndarray) -> np.ndarray:
        if not len(self._ends):
            return np.empty(0, dtype=labels.dtype)
        left, right = labels[self._ends[:, 0]], labels[self._ends[:, 1]]
        return np.unique(left[left == right])

    def must_edges(self) -> np.ndarray:
        return _no_edges()

    def initial_states(self, positions: np.ndarray) -> list[frozenset[int] | None]:
        get = self._tokens.get
        return [get(p) for p in positions.tolist()]

    def allows(self, a: frozenset[int] | None, b: frozenset[int] | None) -> bool:
        if a is None or b is None:
            return True
        small, large = (a, b) if len(a) <= len(b) else (b, a)
        return not any((token ^ 1) in large for token in small)

    def merge(self, a: frozenset[int] | None, b: frozenset[int] | None) -> frozenset[int] | None:
        if a is None:
            return b
        return a if b is None else a | b


@dataclass(frozen=True, slots=True)
class MustLink:
    """Pairs of records (row ids) that belong together whatever their score: steward decisions."""

    pairs: tuple[tuple[int, int], ...] = ()
    name: str = MUST_LINK_RULE
    binds_must_link: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "pairs", _pairs(self.pairs))

    def bind(self, records: pl.DataFrame, index: RowIndex) -> BoundConstraint:
        return _BoundMustLink(_pair_positions(self.name, self.pairs, index))


class _BoundMustLink:
    """Adds edges; never refuses a union (the edges it adds are what it asks for)."""

    __slots__ = ("_edges",)

    def __init__(self, edges: np.ndarray) -> None:
        self._edges = edges

    def violating(self, labels: np.ndarray) -> np.ndarray:
        return np.empty(0, dtype=labels.dtype)

    def must_edges(self) -> np.ndarray:
        return self._edges

    def initial_states(self, positions: np.ndarray) -> list[None]:
        return [None] * len(positions)

    def allows(self, a: None, b: None) -> bool:
        return True

    def merge(self, a: None, b: None) -> None:
        return None


@dataclass(frozen=True, slots=True)
class MaxClusterSize:
    """No cluster larger than ``limit`` records (a guard against chains of weak links)."""

    limit: int = 200
    name: str = "max_cluster_size"
    binds_must_link: bool = False

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ConfigError(f"max_cluster_size: expected >= 1 (got {self.limit})")

    def bind(self, records: pl.DataFrame, index: RowIndex) -> BoundConstraint:
        return _BoundSize(self.limit)


class _BoundSize:
    __slots__ = ("_limit",)

    def __init__(self, limit: int) -> None:
        self._limit = limit

    def violating(self, labels: np.ndarray) -> np.ndarray:
        if not len(labels):
            return np.empty(0, dtype=labels.dtype)
        return np.flatnonzero(np.bincount(labels) > self._limit).astype(labels.dtype)

    def must_edges(self) -> np.ndarray:
        return _no_edges()

    def initial_states(self, positions: np.ndarray) -> list[int]:
        return [1] * len(positions)

    def allows(self, a: int, b: int) -> bool:
        return a + b <= self._limit

    def merge(self, a: int, b: int) -> int:
        return a + b


def default_constraints() -> tuple[Constraint, ...]:
    """One lifelong ID number per person, for each lifelong ID kind.

    Numbers verified by their own check character and held by the record's own
    holder (ID_CHECKED) must be equal; a number no check character verified (a
    15-digit number upgraded to 18, which could hide a typo) must be within a
    typo of the others (:class:`LifelongIdsApart`).  A guardian's number on a
    child's record is not the child's and does not count.
    """
    checked = tuple(
        DistinctValues(s.ID_CHECKED, where={s.ID_KIND: kind}, name=f"one_{kind.lower()}_id")
        for kind in _LIFELONG_ID_KINDS
    )
    return (*checked, *(LifelongIdsApart(kind) for kind in _LIFELONG_ID_KINDS))


# -------------------------------------------------------------------- result
@dataclass(frozen=True, slots=True, eq=False)
class ClusterResult:
    """Clusters of one run (ids not stable across runs) and how they were formed.

    ``clusters``: one row per record: ROW_ID, CLUSTER_ID (UInt32, numbered by
    each cluster's first record position), MATCH_PROBABILITY (the best
    probability over the record's kept edges; null for singletons).
    ``kept_edges``: ROW_L, ROW_R, MATCH_WEIGHT, MATCH_PROBABILITY, RULE of the
    edges inside clusters (must-links have RULE ``must_link``, weight +inf,
    probability 1).  ``cut_edges``: the same columns plus CUT_REASON, the edges at
    or above the threshold that constraints cut.
    """

    clusters: pl.DataFrame
    kept_edges: pl.DataFrame
    cut_edges: pl.DataFrame
    components: int
    components_reclustered: int
    components_broken: int
    violations: Mapping[str, int]
    oversized: tuple[int, ...]
    edges_ignored: int

    @property
    def n_clusters(self) -> int:
        return int(self.clusters[s.CLUSTER_ID].n_unique()) if self.clusters.height else 0

    def summary(self) -> dict[str, Any]:
        """Counts for the run report and logs (no personal data)."""
        return {
            "records": self.clusters.height,
            "clusters": self.n_clusters,
            "edges_kept": self.kept_edges.height,
            "edges_cut": self.cut_edges.height,
            "edges_ignored": self.edges_ignored,
            "components": self.components,
            "components_reclustered": self.components_reclustered,
            "components_broken": self.components_broken,
            "violations": dict(self.violations),
            "oversized": list(self.oversized),
        }


# --------------------------------------------------------------- clustering
_EDGE_SCHEMA: Final = {
    s.ROW_L: pl.UInt32,
    s.ROW_R: pl.UInt32,
    s.MATCH_WEIGHT: pl.Float64,
    s.MATCH_PROBABILITY: pl.Float64,
    s.RULE: pl.String,
}


def cluster(
    records: pl.DataFrame,
    scored_pairs: pl.DataFrame,
    *,
    threshold: float,
    constraints: Sequence[Constraint] = default_constraints(),
    max_cluster_size: int = 200,
    ambiguity_margin: float | None = DEFAULT_AMBIGUITY_MARGIN,
) -> ClusterResult:
    """Cluster ``records`` by the pairs of ``scored_pairs`` with MATCH_PROBABILITY >= ``threshold``.

    Every record gets a cluster, singletons included.  Components that break a
    constraint or exceed ``max_cluster_size`` (logged as a warning) are cut at
    their weakest edges; records that fit two persons the constraints keep apart
    (within ``ambiguity_margin`` bits; None: never) stay alone.  See the module
    docstring.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold: expected a probability in [0, 1] (got {threshold!r})")
    if ambiguity_margin is not None and not ambiguity_margin >= 0:
        raise ConfigError(
            f"ambiguity_margin: expected a number of bits >= 0 or None (got {ambiguity_margin!r})"
        )
    if s.ROW_ID not in records.columns:
        raise SchemaError(f"records frame lacks {s.ROW_ID}")
    missing = [
        c
        for c in (s.ROW_L, s.ROW_R, s.MATCH_WEIGHT, s.MATCH_PROBABILITY)
        if c not in scored_pairs.columns
    ]
    if missing:
        raise SchemaError(f"scored pairs lack column(s) {missing}")
    size_rule = MaxClusterSize(max_cluster_size)
    index = RowIndex(records[s.ROW_ID])
    rules: list[Constraint] = [*constraints, size_rule]
    bound = [rule.bind(records, index) for rule in rules]

    edges, ignored = _graph_edges(scored_pairs, threshold, index, bound)
    n = index.n
    left = edges["l"].to_numpy()
    right = edges["r"].to_numpy()
    if n:
        graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
        n_components, labels = connected_components(graph, directed=False)
        labels = labels.astype(np.int64)
    else:
        n_components, labels = 0, np.empty(0, dtype=np.int64)

    violations: dict[str, int] = {}
    bad: list[np.ndarray] = []
    for rule, b in zip(rules, bound):
        found = b.violating(labels)
        if len(found):
            violations[rule.name] = violations.get(rule.name, 0) + len(found)
            bad.append(found)
    oversized: tuple[int, ...] = ()
    if size_rule.name in violations:
        sizes = np.bincount(labels)
        oversized = tuple(sorted((int(v) for v in sizes[sizes > max_cluster_size]), reverse=True))
        log.warning(
            "%d component(s) exceed max_cluster_size=%d (largest %d records): cut at weakest edges",
            len(oversized),
            max_cluster_size,
            oversized[0],
        )
    reasons = np.full(len(left), -1, dtype=np.int16)  # index into rules of the refusing rule
    broken = 0
    redo = np.unique(np.concatenate(bad)) if bad else np.empty(0, dtype=np.int64)
    ambiguous = 0
    if len(redo):
        labels, reasons, broken, ambiguous = _recluster(
            labels, n_components, redo, edges, rules, bound, reasons,
            ambiguity_margin=ambiguity_margin, size_rule=size_rule.name,
        )
    if ambiguous:
        log.info("%d record(s) fit two persons the constraints keep apart: left alone", ambiguous)
    return _result(
        records[s.ROW_ID],
        labels,
        edges,
        reasons,
        [*(rule.name for rule in rules), AMBIGUOUS],
        components=n_components,
        reclustered=len(redo),
        broken=broken,
        violations=violations,
        oversized=oversized,
        ignored=ignored,
    )


def _graph_edges(
    scored_pairs: pl.DataFrame, threshold: float, index: RowIndex, bound: list[BoundConstraint]
) -> tuple[pl.DataFrame, int]:
    """Edges at or above the threshold plus must-link edges, as positions; and the count ignored."""
    rule = (
        pl.col(s.RULE).cast(pl.String)
        if s.RULE in scored_pairs.columns
        else pl.lit(None, pl.String)
    )
    scored = scored_pairs.filter(pl.col(s.MATCH_PROBABILITY) >= threshold).select(
        pl.col(s.ROW_L).cast(pl.Int64),
        pl.col(s.ROW_R).cast(pl.Int64),
        pl.col(s.MATCH_WEIGHT).cast(pl.Float64),
        pl.col(s.MATCH_PROBABILITY).cast(pl.Float64),
        rule.alias(s.RULE),
    )
    lpos, lfound = index.positions(scored[s.ROW_L].to_numpy())
    rpos, rfound = index.positions(scored[s.ROW_R].to_numpy())
    found = lfound & rfound
    ignored = int((~found).sum())
    if ignored:
        log.warning("%d scored pair(s) name records not in the records frame; ignored", ignored)
    scored = scored.with_columns(l=pl.Series(lpos), r=pl.Series(rpos), must=pl.lit(False)).filter(
        pl.Series(found)
    )
    must = np.concatenate([b.must_edges() for b in bound]) if bound else _no_edges()
    if len(must):
        must = np.unique(np.sort(must, axis=1), axis=0)
        must_frame = pl.DataFrame({"l": must[:, 0], "r": must[:, 1]}).with_columns(
            pl.Series(s.ROW_L, index.row_ids(must[:, 0])),
            pl.Series(s.ROW_R, index.row_ids(must[:, 1])),
            pl.lit(float("inf")).alias(s.MATCH_WEIGHT),
            pl.lit(1.0).alias(s.MATCH_PROBABILITY),
            pl.lit(MUST_LINK_RULE, pl.String).alias(s.RULE),
            pl.lit(True).alias("must"),
        )
        # a pair both scored and must-linked is one edge: the steward's
        lo = pl.min_horizontal("l", "r")
        hi = pl.max_horizontal("l", "r")
        scored = scored.with_columns(l=lo, r=hi).join(
            must_frame.select("l", "r"), on=["l", "r"], how="anti"
        )
        scored = pl.concat([must_frame.select(scored.columns), scored], how="vertical_relaxed")
    return scored, ignored


def _recluster(
    labels: np.ndarray,
    n_components: int,
    redo: np.ndarray,
    edges: pl.DataFrame,
    rules: list[Constraint],
    bound: list[BoundConstraint],
    reasons: np.ndarray,
    *,
    ambiguity_margin: float | None,
    size_rule: str,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Replay the edges of the components in ``redo`` strongest first, refusing bad unions.

    Returns the new labels, the refusing rule per edge (``len(rules)`` for
    :data:`AMBIGUOUS`), the number of components broken and of ambiguous records.
    """
    in_redo = np.zeros(n_components, dtype=bool)
    in_redo[redo] = True
    rows = np.flatnonzero(in_redo[labels])
    local = np.full(len(labels), -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))

    left_all = edges["l"].to_numpy()
    right_all = edges["r"].to_numpy()
    edge_ids = np.flatnonzero(in_redo[labels[left_all]])
    weight = edges[s.MATCH_WEIGHT].to_numpy()[edge_ids]
    must = edges["must"].to_numpy()[edge_ids]
    row_l = edges[s.ROW_L].to_numpy()[edge_ids]
    row_r = edges[s.ROW_R].to_numpy()[edge_ids]
    # must-links first, then strongest first; row ids break ties deterministically
    order = np.lexsort((row_r, row_l, -weight, ~must))
    edge_ids, must, weight = edge_ids[order], must[order], weight[order]
    ends_l = local[left_all[edge_ids]]
    ends_r = local[right_all[edge_ids]]
    replay = _Replay(rules, bound, rows, size_rule=size_rule)

    roots, refused, torn_l, torn_r = replay.run(edge_ids, ends_l, ends_r, must, skip=None)
    n_ambiguous = 0
    if ambiguity_margin is not None:
        alone = _ambiguous(roots, ends_l, ends_r, weight, must, torn_l, torn_r, ambiguity_margin)
        n_ambiguous = int(alone.sum())
        if n_ambiguous:
            skip = alone[ends_l] | alone[ends_r]
            roots, refused, _, _ = replay.run(edge_ids, ends_l, ends_r, must, skip=skip)
            refused[skip] = len(rules)
    reasons[edge_ids] = refused

    old = labels[rows]
    labels = labels.copy()
    labels[rows] = n_components + roots
    pieces = pl.DataFrame({"old": old, "new": labels[rows]}).unique().group_by("old").len()
    broken = int((pieces["len"] > 1).sum())
    return labels, reasons, broken, n_ambiguous


def _ambiguous(
    roots: np.ndarray,
    ends_l: np.ndarray,
    ends_r: np.ndarray,
    weight: np.ndarray,
    must: np.ndarray,
    torn_l: np.ndarray,
    torn_r: np.ndarray,
    margin: float,
) -> np.ndarray:
    """Per local row: its own fields fit the far side of a refused edge almost as strong as its
    strongest kept edge (``torn_l``/``torn_r``: the refusal was about the clusters, not the
    record, whose own ID would have been allowed there)."""
    n = len(roots)
    kept = roots[ends_l] == roots[ends_r]
    best_kept = np.full(n, -np.inf)
    best_cut = np.full(n, -np.inf)
    np.maximum.at(best_kept, ends_l[kept], weight[kept])
    np.maximum.at(best_kept, ends_r[kept], weight[kept])
    np.maximum.at(best_cut, ends_l[torn_l], weight[torn_l])
    np.maximum.at(best_cut, ends_r[torn_r], weight[torn_r])
    pinned = np.zeros(n, dtype=bool)  # a steward's must-link settles where a record belongs
    pinned[ends_l[must]] = True
    pinned[ends_r[must]] = True
    # only a record attached somewhere can be attached to the wrong person
    attached = np.isfinite(best_kept)
    return attached & np.isfinite(best_cut) & (best_cut >= best_kept - margin) & ~pinned


class _Replay:
    """Kruskal replay of a set of edges into a union-find that asks the constraints first."""

    def __init__(
        self,
        rules: list[Constraint],
        bound: list[BoundConstraint],
        rows: np.ndarray,
        *,
        size_rule: str,
    ) -> None:
        self._rules, self._bound, self._rows = rules, bound, rows
        self._size_rule = size_rule
        self._number = {rule.name: i for i, rule in reversed(list(enumerate(rules)))}

    def run(
        self,
        edge_ids: np.ndarray,
        ends_l: np.ndarray,
        ends_r: np.ndarray,
        must: np.ndarray,
        *,
        skip: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Roots per local row; per edge the index of the rule that refused it (or -1), and
        whether each end's own record would have been allowed into the other end's cluster
        when a constraint (not the size cap) refused the edge."""
        n = len(self._rows)
        parent = list(range(n))
        checks = []
        for rule, rule_bound in zip(self._rules, self._bound):
            states = rule_bound.initial_states(self._rows)
            # a rule with nothing to say about any of these records cannot refuse a union
            if any(state is not None for state in states):
                checks.append((rule, rule_bound, states, list(states)))
        constraints = [c for c in checks if c[0].name != self._size_rule]

        def fits(record: int, root: int) -> bool:
            return all(b.allows(initial[record], state[root]) for _, b, state, initial in constraints)

        def find(x: int) -> int:
            root = x
            while parent[root] != root:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        refused_by = np.full(len(edge_ids), -1, dtype=np.int16)
        torn_l = np.zeros(len(edge_ids), dtype=bool)
        torn_r = np.zeros(len(edge_ids), dtype=bool)
        skipped = skip.tolist() if skip is not None else [False] * len(edge_ids)
        for k, (a, b, forced, skipping) in enumerate(
            zip(ends_l.tolist(), ends_r.tolist(), must.tolist(), skipped)
        ):
            if skipping:
                continue
            ra, rb = find(a), find(b)
            if ra == rb:
                continue
            refused = -1
            for rule, rule_bound, state, _ in checks:
                if (rule.binds_must_link or not forced) and not rule_bound.allows(
                    state[ra], state[rb]
                ):
                    refused = self._number[rule.name]
                    break
            if refused >= 0:
                refused_by[k] = refused
                if self._rules[refused].name != self._size_rule:
                    torn_l[k], torn_r[k] = fits(a, rb), fits(b, ra)
                if forced:
                    log.warning(
                        "a must-link pair conflicts with constraint %s; not linked",
                        self._rules[refused].name,
                    )
                continue
            parent[rb] = ra
            for _, rule_bound, state, _ in checks:
                state[ra] = rule_bound.merge(state[ra], state[rb])
                state[rb] = None
        roots = np.fromiter((find(i) for i in range(n)), dtype=np.int64, count=n)
        return roots, refused_by, torn_l, torn_r


def _result(
    row_ids: pl.Series,
    labels: np.ndarray,
    edges: pl.DataFrame,
    reasons: np.ndarray,
    rule_names: list[str],
    *,
    components: int,
    reclustered: int,
    broken: int,
    violations: dict[str, int],
    oversized: tuple[int, ...],
    ignored: int,
) -> ClusterResult:
    n = len(row_ids)
    # number clusters by their first record position: deterministic for the same input
    if n:
        _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        cluster_ids = rank[inverse]
    else:
        cluster_ids = np.empty(0, dtype=np.int64)

    left = edges["l"].to_numpy()
    right = edges["r"].to_numpy()
    kept = labels[left] == labels[right] if len(left) else np.empty(0, dtype=bool)
    kept_series = pl.Series(kept)
    columns = list(_EDGE_SCHEMA)
    kept_edges = edges.filter(kept_series).select(columns).cast(_EDGE_SCHEMA)  # type: ignore
    cut_edges = (
        edges.with_columns(
            pl.Series(CUT_REASON, reasons).replace_strict(
                dict(enumerate(rule_names)), default=None, return_dtype=pl.String
            )
        )
        .filter(~kept_series)
        .select(*columns, CUT_REASON)
        .cast(_EDGE_SCHEMA)  # type: ignore[arg-type]
    )

    best = np.full(n, -np.inf)
    probability = edges[s.MATCH_PROBABILITY].to_numpy()
    np.maximum.at(best, left[kept], probability[kept])
    np.maximum.at(best, right[kept], probability[kept])
    clusters = pl.DataFrame(
        {
            s.ROW_ID: row_ids.cast(pl.UInt32),
            s.CLUSTER_ID: pl.Series(cluster_ids).cast(pl.UInt32),
            s.MATCH_PROBABILITY: pl.Series(best).cast(pl.Float64),
        }
    ).with_columns(
        pl.when(pl.col(s.MATCH_PROBABILITY).is_infinite())
        .then(None)
        .otherwise(pl.col(s.MATCH_PROBABILITY))
        .alias(s.MATCH_PROBABILITY)
    )
    if broken:
        log.info("%d of %d component(s) broken by constraints (%s)", broken, components, violations)
    return ClusterResult(
        clusters=clusters,
        kept_edges=kept_edges,
        cut_edges=cut_edges,
        components=components,
        components_reclustered=reclustered,
        components_broken=broken,
        violations=violations,
        oversized=oversized,
        edges_ignored=ignored,
    )
