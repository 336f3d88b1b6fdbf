"""Vectorized similarity primitives shared by the comparisons.

Everything here works on whole columns of gathered pairs: polars expressions
where polars can say it, RapidFuzz's ``cpdist`` (element-wise, multi-threaded)
for string similarity.  Nothing loops in Python per pair.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import numpy as np
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

LEFT_SUFFIX = "__l"
RIGHT_SUFFIX = "__r"


def left(column: str) -> pl.Expr:
    """The left record's ``column`` in a frame built by :func:`pair_frame`."""
    return pl.col(column + LEFT_SUFFIX)


def right(column: str) -> pl.Expr:
    """The right record's ``column`` in a frame built by :func:`pair_frame`."""
    return pl.col(column + RIGHT_SUFFIX)


def pair_frame(
    left_records: pl.DataFrame, right_records: pl.DataFrame, columns: Sequence[str]
) -> pl.DataFrame:
    """Put both sides' ``columns`` into one frame (suffixed names), so one expression sees both.

    Built from the columns themselves, not with ``select``: a polars query costs
    ~0.1 ms however small the frame, and the service compares a few pairs per call.
    """
    if left_records.height != right_records.height:
        raise ValueError("pair_frame: both sides must have one row per pair")
    return pl.DataFrame(
        [left_records.get_column(c).rename(c + LEFT_SUFFIX) for c in columns]
        + [right_records.get_column(c).rename(c + RIGHT_SUFFIX) for c in columns]
    )


def flags(frame: pl.DataFrame, **conditions: pl.Expr) -> dict[str, np.ndarray]:
    """Evaluate boolean expressions on ``frame`` in one pass; nulls count as False."""
    if not conditions:
        return {}
    out = frame.select([expr.fill_null(False).alias(name) for name, expr in conditions.items()])
    return {name: out[name].to_numpy() for name in conditions}


def rows(
    frame: pl.DataFrame, mask: np.ndarray, columns: Sequence[str]
) -> tuple[np.ndarray, pl.DataFrame]:
    """The positions where ``mask`` holds, and both sides' ``columns`` at those rows.

    Comparisons decide the cheap levels on every pair with one pass of
    expressions, then evaluate costly conditions (list intersections, string
    similarity) only on the pairs still undecided, gathering just the columns
    those conditions read: polars would evaluate every branch of a when/then
    chain on every row.
    """
    idx = np.flatnonzero(mask)
    names = [c + suffix for c in columns for suffix in (LEFT_SUFFIX, RIGHT_SUFFIX)]
    narrow = pl.DataFrame([frame.get_column(n) for n in names])  # no query: see pair_frame
    if idx.size == mask.size:
        return idx, narrow
    return idx, narrow[pl.Series(idx, dtype=pl.UInt32)]  # a direct gather: filter is a query


def both_equal(column: str) -> pl.Expr:
    """True when both sides have ``column`` and the values are equal; False when either is null."""
    return (left(column) == right(column)).fill_null(False)


def lists_overlap(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """True when two list columns share an element; False when either is null or empty."""
    return (a.list.set_intersection(b).list.len() > 0).fill_null(False)


def has_items(a: pl.Expr) -> pl.Expr:
    """True when a list column is non-null and non-empty."""
    return (a.list.len() > 0).fill_null(False)


SCALAR_PAIRS: Final = 64
"""Below this many pairs, conditions with scalar twins are decided pair by pair in Python.

A polars query costs ~0.1 ms plus ~15-30 µs per expression node however small
its frame; a service call compares a handful of pairs (5 on average on the
bench's million-record store), which Python decides in microseconds each."""


# --- the same on one pair's values (scalar twins, see Conditions.scalar)


def equal(a: Any, b: Any) -> bool:
    """:func:`both_equal` on one pair."""
    return a is not None and b is not None and a == b


def overlap(a: Sequence[Any] | None, b: Sequence[Any] | None) -> bool:
    """:func:`lists_overlap` on one pair."""
    return bool(a) and bool(b) and not set(a).isdisjoint(b)  # type: ignore[arg-type]


def ends_with(a: str | None, b: str | None) -> bool:
    """``a.str.ends_with(b)`` (a null counts as False) on one pair."""
    return a is not None and b is not None and a.endswith(b)


def _ascii_lengths(a: pl.Series, b: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each side's length where the string is ASCII, else -1 (null too): one query for both,
    or for a few rows none (a query's fixed cost is most of a service call's comparison)."""
    if len(a) < SCALAR_PAIRS and a.dtype == pl.String and b.dtype == pl.String:

        def ascii_lengths(x: pl.Series) -> np.ndarray:
            values = x.to_list()
            return np.array([len(v) if v is not None and v.isascii() else -1 for v in values])

        return ascii_lengths(a).astype(np.int64), ascii_lengths(b).astype(np.int64)

    def length(column: str) -> pl.Expr:
        c = pl.col(column)
        return pl.when(c.str.len_bytes() == c.str.len_chars()).then(c.str.len_bytes()).fill_null(-1)

    both = pl.DataFrame([a.alias("a"), b.alias("b")]).select(
        length("a").cast(pl.Int64), length("b").cast(pl.Int64)
    )
    return both.get_column("a").to_numpy(), both.get_column("b").to_numpy()


def take(column: pl.Series, idx: np.ndarray) -> pl.Series:
    """``column`` at positions ``idx``.  Indexing with a Series is a direct gather; ``gather``
    builds a polars query (~0.1 ms, which a service call pays per column)."""
    return column[pl.Series(idx, dtype=pl.UInt32)]


_NUMPY_MAX_ROWS: Final = 4_096


def present(a: pl.Series, b: pl.Series) -> np.ndarray:
    """Rows where both string columns have a value.

    A few rows are checked in NumPy (microseconds), many with polars: an
    ``is_not_null`` query has a fixed cost of ~0.1 ms, NumPy's object
    comparison a cost per row.
    """
    if a.null_count() == 0 and b.null_count() == 0:
        return np.ones(len(a), dtype=bool)
    if len(a) <= _NUMPY_MAX_ROWS and a.dtype == pl.String and b.dtype == pl.String:
        return np.not_equal(a.to_numpy(), None) & np.not_equal(b.to_numpy(), None)
    return (a.is_not_null() & b.is_not_null()).to_numpy()


def _matrix(x: pl.Series, idx: np.ndarray, length: int) -> np.ndarray:
    text = "".join(take(x, idx).to_list()).encode("ascii")
    return np.frombuffer(text, dtype=np.uint8).reshape(idx.size, length)


def char_matrix(
    a: pl.Series, b: pl.Series, length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both columns as ``(k, length)`` byte matrices, for the k rows where both are ASCII strings
    of exactly ``length`` characters; and those rows' positions.

    Position-by-position comparisons of fixed-width codes run on these in numpy:
    a polars expression per position costs a fixed ~1 ms per call, which the
    service pays on every request.
    """
    len_a, len_b = _ascii_lengths(a, b)
    idx = np.flatnonzero((len_a == length) & (len_b == length))
    if idx.size == 0:
        empty = np.empty((0, length), dtype=np.uint8)
        return empty, empty, idx
    return _matrix(a, idx, length), _matrix(b, idx, length), idx


def mask_compatible(a: pl.Series, b: pl.Series, *, length: int, min_visible: int) -> pl.Series:
    """Element-wise: do two ``length``-character ID patterns ('*' = unknown) agree?

    Compatible means every position visible in both is equal and at least
    ``min_visible`` positions were visible in both.  Null or wrong-length inputs
    are never compatible.  Callers pass only the few pairs that involve a mask.
    """
    out = np.zeros(len(a), dtype=bool)
    left_chars, right_chars, idx = char_matrix(a, b, length)
    if idx.size:
        star = ord("*")
        both = (left_chars != star) & (right_chars != star)
        conflicts = (both & (left_chars != right_chars)).any(axis=1)
        out[idx] = ~conflicts & (both.sum(axis=1) >= min_visible)
    return pl.Series("compatible", out, dtype=pl.Boolean)


def positions_differing(a: pl.Series, b: pl.Series) -> np.ndarray:
    """Element-wise: in how many positions two strings of equal length differ (-1: lengths differ,
    a side is null, or not ASCII)."""
    out = np.full(len(a), -1, dtype=np.int64)
    len_a, len_b = _ascii_lengths(a, b)
    comparable = (len_a >= 0) & (len_a == len_b)
    for length in np.unique(len_a[comparable]).tolist():
        rows = np.flatnonzero(comparable & (len_a == length))
        out[rows] = (_matrix(a, rows, length) != _matrix(b, rows, length)).sum(axis=1)
    return out


_PARALLEL_MIN: Final = 10_000


def _workers(pairs: int) -> int:
    """RapidFuzz threads: all cores for large inputs; one for a few pairs, where starting
    the threads (~0.4 ms) costs twenty times the scoring."""
    return -1 if pairs >= _PARALLEL_MIN else 1


def jaro_winkler(a: pl.Series, b: pl.Series) -> np.ndarray:
    """Element-wise Jaro-Winkler similarity in [0, 1]; 0 where either side is null.

    float64, the scalar scorer's own precision, so that thresholds decide alike
    here and in a one-pair-at-a-time implementation (0.92 is reachable exactly).

    Only rows where both sides are present are handed to RapidFuzz.
    """
    n = len(a)
    out = np.zeros(n, dtype=np.float64)
    if n == 0:
        return out
    idx = np.flatnonzero(present(a, b))
    if idx.size == 0:
        return out
    scores = process.cpdist(
        take(a, idx).to_list(),
        take(b, idx).to_list(),
        scorer=JaroWinkler.normalized_similarity,
        dtype=np.float64,
        workers=_workers(idx.size),
    )
    out[idx] = scores
    return out


def similarity(a: pl.Series, b: pl.Series, scorer: Callable[..., float]) -> np.ndarray:
    """Element-wise RapidFuzz ``scorer`` (``fuzz.ratio`` ...) as float64; 0 where a side is null.

    Like :func:`jaro_winkler`, only rows with both sides present reach RapidFuzz.
    """
    n = len(a)
    out = np.zeros(n, dtype=np.float64)
    if n == 0:
        return out
    idx = np.flatnonzero(present(a, b))
    if idx.size == 0:
        return out
    out[idx] = process.cpdist(
        take(a, idx).to_list(),
        take(b, idx).to_list(),
        scorer=scorer,
        dtype=np.float64,
        workers=_workers(idx.size),
    )
    return out


def distinct_codes(a: pl.Series, b: pl.Series) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """The distinct non-null values of two aligned columns, and each row's index in them (-1: null).

    Comparisons that derive features from a value (tokens, sorted words) do it
    once per distinct value and gather the features per pair by these codes:
    a million pairs often hold only thousands of distinct names.
    """
    both = pl.concat([a.cast(pl.String), b.cast(pl.String)])
    values = both.drop_nulls().unique(maintain_order=True)
    table = pl.DataFrame({"_v": values}).with_row_index("_code")

    def codes(side: pl.Series) -> np.ndarray:
        joined = pl.DataFrame({"_v": side.cast(pl.String)}).join(
            table, on="_v", how="left", maintain_order="left"
        )
        return joined.get_column("_code").cast(pl.Int64).fill_null(-1).to_numpy()

    return values, codes(a), codes(b)


def gather_codes(values: pl.Series, codes: np.ndarray) -> pl.Series:
    """``values[codes]``, null where the code is -1."""
    taken = values.gather(pl.Series(np.maximum(codes, 0), dtype=pl.UInt32))
    if (codes < 0).any():
        taken = pl.select(pl.when(pl.Series(codes >= 0)).then(taken)).to_series()
    return taken


# ------------------------------------------------------------- conditions


class Conditions:
    """A comparison's named expressions over a pair frame, built once and reused for every batch.

    ``flags`` are booleans (a null counts as False); ``values`` are any
    expression whose values a comparison hands to NumPy or RapidFuzz (the
    pinyin of each side for Jaro-Winkler, an ID's body).  A comparison asks
    for them by name through a :class:`PairView`, which decides how they are
    evaluated: only on the pairs asked for (:class:`StagedView`, for large
    batches) or all in one pass over every pair (:class:`EvaluatedView`, for
    the few pairs of a service call, where each polars query's fixed cost is
    what counts).  Either way the expressions and the level logic are the same.
    """

    __slots__ = ("exprs", "flag_names", "gates", "roots", "scalar")

    def __init__(
        self,
        flags: Mapping[str, pl.Expr],
        values: Mapping[str, pl.Expr] | None = None,
        *,
        gates: Mapping[str, str] | None = None,
        scalar: Mapping[str, ScalarCondition] | None = None,
    ) -> None:
        """``gates`` maps a costly condition to a cheap flag that holds wherever the comparison
        asks for it: a one-pass evaluation skips the condition when its gate holds nowhere.

        ``scalar`` holds, per condition, the same condition on one pair of records
        (dicts of column values): what a service call's few pairs are decided
        with (:class:`RowView`).  A flag's twin returns True exactly where the
        expression is true (a null counts as False); a value's twin returns the
        expression's value (None for null).  Either all conditions have one or
        none has; tests hold each twin to its expression.
        """
        values = dict(values or {})
        clash = set(flags) & set(values)
        if clash:
            raise ValueError(f"conditions: names used for both a flag and a value: {sorted(clash)}")
        self.exprs: dict[str, pl.Expr] = {n: e.fill_null(False) for n, e in flags.items()}
        self.exprs.update(values)
        self.flag_names = frozenset(flags)
        self.gates = dict(gates or {})
        for name, gate in self.gates.items():
            if name not in self.exprs or gate not in self.flag_names or gate in self.gates:
                raise ValueError(f"conditions: gate {gate!r} of {name!r} is not an ungated flag")
        self.roots = {n: tuple(dict.fromkeys(e.meta.root_names())) for n, e in self.exprs.items()}
        self.scalar = dict(scalar) if scalar is not None else None
        if self.scalar is not None and set(self.scalar) != set(self.exprs):
            raise ValueError(
                "conditions: scalar twins must match the expressions one to one "
                f"(missing {sorted(set(self.exprs) - set(self.scalar))}, "
                f"extra {sorted(set(self.scalar) - set(self.exprs))})"
            )


Row = Mapping[str, Any]
"""One record's column values (as ``DataFrame.to_dicts`` gives them)."""
ScalarCondition = Callable[[Row, Row], Any]
"""A condition on one pair: (left record, right record) -> flag or value."""


class PairView(Protocol):
    """Conditions of one comparison, evaluated on a batch of pairs where a comparison asks."""

    @property
    def height(self) -> int: ...

    def flags(
        self, mask: np.ndarray | None, *names: str
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The positions where ``mask`` holds (all when None) and each flag there."""
        ...

    def values(
        self, mask: np.ndarray | None, *names: str
    ) -> tuple[np.ndarray, dict[str, pl.Series]]:
        """The positions where ``mask`` holds (all when None) and each value there."""
        ...


def _positions(mask: np.ndarray | None, height: int) -> np.ndarray:
    return np.arange(height) if mask is None else np.flatnonzero(mask)


class StagedView:
    """Evaluate conditions only on the pairs asked for, gathering just the columns they read.

    Comparisons decide the cheap levels on every pair with one pass, then the
    costly conditions (list intersections, string building) only on the pairs
    still undecided: polars would evaluate every branch of a when/then chain on
    every row.
    """

    __slots__ = ("_conditions", "_frame")

    def __init__(self, frame: pl.DataFrame, conditions: Conditions) -> None:
        self._frame = frame
        self._conditions = conditions

    @property
    def height(self) -> int:
        return self._frame.height

    def _select(
        self, mask: np.ndarray | None, names: Sequence[str]
    ) -> tuple[np.ndarray, pl.DataFrame]:
        idx = _positions(mask, self._frame.height)
        exprs = self._conditions.exprs
        if idx.size == self._frame.height:
            return idx, self._frame.select([exprs[n].alias(n) for n in names])
        if idx.size == 0:
            return idx, pl.DataFrame()
        columns = dict.fromkeys(c for n in names for c in self._conditions.roots[n])
        narrow = pl.DataFrame([self._frame.get_column(c) for c in columns])  # no query
        part = narrow[pl.Series(idx, dtype=pl.UInt32)]  # a direct gather: filter is a query
        return idx, part.select([exprs[n].alias(n) for n in names])

    def flags(
        self, mask: np.ndarray | None, *names: str
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        idx, out = self._select(mask, names)
        if idx.size == 0:
            return idx, {n: np.zeros(0, dtype=bool) for n in names}
        return idx, {n: out.get_column(n).to_numpy() for n in names}

    def values(
        self, mask: np.ndarray | None, *names: str
    ) -> tuple[np.ndarray, dict[str, pl.Series]]:
        idx, out = self._select(mask, names)
        if idx.size == 0:
            return idx, {n: pl.Series(n, []) for n in names}
        return idx, {n: out.get_column(n) for n in names}


class RowView:
    """Conditions decided pair by pair with their scalar twins (``Conditions.scalar``)."""

    __slots__ = ("_lefts", "_rights", "_scalar")

    def __init__(self, lefts: Sequence[Row], rights: Sequence[Row], conditions: Conditions) -> None:
        if conditions.scalar is None:
            raise ValueError("RowView: the conditions have no scalar twins")
        if len(lefts) != len(rights):
            raise ValueError("RowView: both sides must have one record per pair")
        self._lefts = lefts
        self._rights = rights
        self._scalar = conditions.scalar

    @property
    def height(self) -> int:
        return len(self._lefts)

    def _pairs(self, mask: np.ndarray | None) -> tuple[np.ndarray, list[tuple[Row, Row]]]:
        idx = _positions(mask, len(self._lefts))
        return idx, [(self._lefts[i], self._rights[i]) for i in idx.tolist()]

    def flags(
        self, mask: np.ndarray | None, *names: str
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        idx, pairs = self._pairs(mask)
        out = {}
        for n in names:
            twin = self._scalar[n]
            out[n] = np.array([bool(twin(a, b)) for a, b in pairs], dtype=bool)
        return idx, out

    def values(
        self, mask: np.ndarray | None, *names: str
    ) -> tuple[np.ndarray, dict[str, pl.Series]]:
        idx, pairs = self._pairs(mask)
        out = {}
        for n in names:
            twin = self._scalar[n]
            column = pl.Series(n, [twin(a, b) for a, b in pairs], strict=False)
            # all null: no type to infer; the values handed on are strings or integers
            out[n] = column.cast(pl.String) if column.dtype == pl.Null else column
        return idx, out


class EvaluatedView:
    """Conditions already evaluated on every pair (one query for all comparisons); gathers.

    A gated condition left out because its gate held on no pair may only be
    asked for on no pair.
    """

    __slots__ = ("_cache", "_done", "_prefix")

    def __init__(self, done: pl.DataFrame, prefix: str = "") -> None:
        self._done = done
        self._prefix = prefix
        self._cache: dict[str, np.ndarray] = {}

    @property
    def height(self) -> int:
        return self._done.height

    def _column(self, name: str, idx: np.ndarray) -> pl.Series | None:
        column = self._prefix + name
        if column in self._done.columns:
            return self._done.get_column(column)
        if idx.size:
            raise RuntimeError(
                f"condition {name!r} asked for on pairs where its gate does not hold"
            )
        return None

    def flags(
        self, mask: np.ndarray | None, *names: str
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        idx = _positions(mask, self._done.height)
        out = {}
        for n in names:
            values = self._cache.get(n)
            if values is None:
                column = self._column(n, idx)
                if column is None:
                    out[n] = np.zeros(0, dtype=bool)
                    continue
                values = self._cache[n] = column.to_numpy()
            out[n] = values if mask is None else values[idx]
        return idx, out

    def values(
        self, mask: np.ndarray | None, *names: str
    ) -> tuple[np.ndarray, dict[str, pl.Series]]:
        idx = _positions(mask, self._done.height)
        rows = None if mask is None else pl.Series(idx, dtype=pl.UInt32)
        out = {}
        for n in names:
            column = self._column(n, idx)
            if column is None:
                out[n] = pl.Series(n, [])
                continue
            out[n] = (column if rows is None else column[rows]).alias(n)
        return idx, out
