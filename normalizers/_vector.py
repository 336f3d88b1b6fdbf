"""Run a scalar normalizer over a frame: once per distinct input, and only where polars could not.

Department extracts repeat values heavily (dates, sexes, ethnicities, common
names), so the scalar reference implementation is called once per distinct
input and the result gathered back.  Fields whose values are nearly all
distinct (ID and phone numbers) settle the clean majority with polars
expressions first; only the unsettled rows reach the scalar path, through
:func:`fill_unsettled`, which scatters their results back by row index.

Every helper keeps the height and row order of its input.  Hashing a million
strings costs about as much as a few string expressions over them, so the
helpers pass only the rows that need work to :func:`map_distinct`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, Final

import numpy as np
import polars as pl

logger = logging.getLogger(__name__)

Schema = Mapping[str, pl.DataType | type[pl.DataType]]

POLARS_WHITE_SPACE: Final = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)
"""What polars' ``strip_chars()`` strips and its regex ``\\s`` matches (Unicode White_Space).
Python's ``str.strip()`` and ``\\s`` also take ``\\x1c``-``\\x1f``: a scalar twin of a polars
expression names the characters."""


def collect(frame: pl.LazyFrame) -> pl.DataFrame:
    """``frame.collect()`` on polars' in-memory engine.

    Since polars 2 ``collect`` defaults to the streaming engine, which cuts these
    whole-column queries into morsels: more work and page faults for the same
    result (measured ~10% of the normalization time), and chunked columns that
    later gathers and scatters must first copy together.
    """
    return frame.collect(engine=_in_memory_engine())


@cache
def _in_memory_engine() -> str:
    try:
        pl.LazyFrame().collect(engine="in-memory")
    except (TypeError, ValueError):  # older polars named it "cpu"
        return "cpu"
    return "in-memory"


def map_distinct(
    frame: pl.DataFrame,
    inputs: Sequence[str],
    fn: Callable[..., Sequence[Any]],
    schema: Schema,
) -> pl.DataFrame:
    """Return ``schema``'s columns for every row of ``frame``, computing ``fn`` once per distinct input tuple.

    ``fn`` takes the input columns' values positionally and returns one value per
    ``schema`` column, in order.  Row order and height of ``frame`` are kept.
    """
    keys = frame.select(inputs)
    if keys.height == 0:
        return pl.DataFrame(schema=dict(schema))
    distinct = keys.unique()
    table = pl.concat([distinct, apply_rows(distinct, fn, schema)], how="horizontal")
    return keys.join(
        table, on=list(inputs), how="left", nulls_equal=True, maintain_order="left"
    ).drop(inputs)


def apply_rows(
    frame: pl.DataFrame, fn: Callable[..., Sequence[Any]], schema: Schema
) -> pl.DataFrame:
    """``fn`` over every row of ``frame`` (no deduplication), as ``schema``'s columns."""
    results = [fn(*row) for row in frame.iter_rows()]
    if not results:
        return pl.DataFrame(schema=dict(schema))
    columns = zip(*results, strict=True)
    return pl.DataFrame(
        [
            pl.Series(name, values, dtype=dtype)
            for (name, dtype), values in zip(schema.items(), columns, strict=True)
        ]
    )


def fill_unsettled(
    out: pl.DataFrame,
    settled: pl.Series,
    frame: pl.DataFrame,
    inputs: Sequence[str],
    fn: Callable[..., Sequence[Any]],
) -> pl.DataFrame:
    """``out`` with the rows where ``settled`` is false recomputed by the scalar ``fn``.

    ``fn`` is called once per distinct input of those rows.  ``out`` holds the fast path's answer for every row (anything in unsettled
    rows); its columns are ``fn``'s outputs, in order.  ``settled`` may hold nulls,
    which count as unsettled.
    """
    rows = (~settled.fill_null(False)).arg_true()
    if rows.len() == 0:
        return out
    residue = map_distinct(frame.select(inputs).gather(rows), inputs, fn, out.schema)
    return scatter_rows(out, rows, residue)


def scatter_rows(out: pl.DataFrame, rows: pl.Series, values: pl.DataFrame) -> pl.DataFrame:
    """``out`` with row ``rows[i]`` replaced by row ``i`` of ``values`` (columns matched by name).

    ``rows`` need not be sorted but must not repeat.
    """
    if rows.len() == 0:
        return out
    columns = []
    at: pl.Series | None = None
    for name, dtype in out.schema.items():
        new = values.get_column(name).rechunk()  # gathers from many chunks are slow
        if not dtype.is_nested():
            columns.append(out.get_column(name).clone().scatter(rows, new))
            continue
        if at is None:  # polars cannot scatter nested values: one gather from both instead
            index = np.arange(out.height, dtype=np.int64)
            index[rows.to_numpy()] = out.height + np.arange(rows.len())
            at = pl.Series(index)
        both = pl.concat([out.get_column(name), new], rechunk=True)
        columns.append(both.gather(at))
    return pl.DataFrame(columns)


def gather_distinct(
    values: pl.Series, compute: Callable[[pl.Series], pl.DataFrame], nulls: Mapping[str, Any]
) -> pl.DataFrame:
    """``compute`` over the distinct non-null ``values``, gathered back to every row.

    ``compute`` gets the distinct values and returns one row per value, in
    order.  Null rows get the constant ``nulls`` (every output column named).
    For columns with many repeats (dates, names, sexes) this beats running
    string expressions over every row.  Rows find their value's result by a
    64-bit hash of the value: hashing and joining integers costs about half
    as much as joining on the strings.  Every row's value is checked against
    the one its result was computed for, and a collision (not seen yet) falls
    back to the exact join on the strings.
    """
    # nulls are set aside first: sparse columns (Latin names, ethnicities) are mostly null
    missing = values.is_null()
    present = values.filter(~missing) if values.null_count() else values
    keys = present.hash(_SEED)
    first = keys.arg_unique()
    distinct = present.gather(first)
    table = compute(distinct).rechunk()  # gathers from many chunks are slow
    # the row of ``table`` for every present row: a join on the hashes
    index = (
        keys.to_frame(_KEY)
        .join(
            keys.gather(first).to_frame(_KEY).with_row_index(_INDEX),
            on=_KEY,
            how="left",
            maintain_order="left",
        )
        .get_column(_INDEX)
    )
    if not (distinct.gather(index) == present).all():
        logger.warning("hash collision among %d distinct values; joining on the values", len(table))
        distinct = present.unique()
        table = compute(distinct).rechunk()
        index = (
            present.to_frame(_VALUE)
            .join(
                distinct.to_frame(_VALUE).with_row_index(_INDEX),
                on=_VALUE,
                how="left",
                maintain_order="left",
            )
            .get_column(_INDEX)
        )
    if len(present) < len(values):
        # one more row for the nulls, so that a single gather fills every row
        table = pl.concat(
            [table, pl.DataFrame([[nulls[name]] for name in table.columns], schema=table.schema)]
        ).rechunk()
        full = np.full(len(values), len(table) - 1, dtype=np.uint32)
        full[(~missing).to_numpy()] = index.to_numpy()
        index = pl.Series(full)
    return table.select(pl.all().gather(index))


def choose(*cases: tuple[pl.Expr, str | None], otherwise: str | None = None) -> pl.Expr:
    """``pl.when(c1).then(v1).when(c2).then(v2)...otherwise(v)`` for string constants ``v``.

    Built as a gather from a table of the constants by a small integer code,
    which polars does several times faster than choosing among string literals.
    """
    values = [value for _, value in cases] + [otherwise]
    code: Any = pl
    for i, (condition, _) in enumerate(cases):
        code = code.when(condition).then(pl.lit(i, dtype=pl.UInt32))
    last = pl.lit(len(cases), dtype=pl.UInt32)
    code = code.otherwise(last) if cases else last
    return pl.lit(pl.Series(values, dtype=pl.String)).gather(code)


def map_values(
    values: pl.Series, fn: Callable[[Any], Sequence[Any]], schema: Schema
) -> pl.DataFrame:
    """``schema``'s columns for every row, calling the scalar ``fn`` once per distinct value.

    The single-column form of :func:`map_distinct`, through :func:`gather_distinct`;
    null rows get ``fn(None)``.
    """
    nulls = dict(zip(schema, fn(None), strict=True))

    def compute(distinct: pl.Series) -> pl.DataFrame:
        return apply_rows(distinct.to_frame(), fn, schema)

    return gather_distinct(values, compute, nulls)


def settle_in_order(
    values: pl.Series,
    fast: Callable[[pl.Series], pl.DataFrame],
    slow: Callable[[pl.Series], pl.DataFrame],
    *,
    shape: str,
    settled: str,
) -> pl.DataFrame:
    """Outputs for ``values``, in order: ``fast`` for values matching regex ``shape``, else ``slow``.

    ``fast`` returns one row per value it gets, with a null in column ``settled``
    for values it cannot answer; those go to ``slow`` too.  Both return the same
    columns.  Meant for the distinct values inside a :func:`gather_distinct` compute.
    """
    candidates = values.str.contains(shape).fill_null(False).arg_true()
    quick = fast(values.gather(candidates))
    answered = quick.get_column(settled).is_not_null()
    done = candidates.filter(answered)
    rest = pl.Series(np.ones(values.len(), dtype=bool))
    rest = rest.scatter(done, False).arg_true()
    logger.debug("%d of %d distinct values on the slow path", rest.len(), values.len())
    if rest.len() == 0:
        return quick
    out = pl.concat([quick.filter(answered), slow(values.gather(rest))], how="vertical").rechunk()
    return out.gather(pl.concat([done, rest]).arg_sort())  # gathers from many chunks are slow


_SEED = 0x6E6F726D  # any fixed seed: hashes never leave the process
_KEY = "__distinct_key"
_VALUE = "__distinct_value"
_INDEX = "__distinct_index"
