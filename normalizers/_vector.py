"""Apply a scalar normalizer to a frame column once per distinct value.

Department extracts repeat values heavily (dates, sexes, ethnicities, common
names), so the scalar reference implementation is called once per distinct
input and the result joined back.  Fields whose values are nearly all distinct
(ID and phone numbers) also get a vectorized fast path for the clean majority;
only the residue reaches :func:`map_distinct`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl


def map_distinct(
    frame: pl.DataFrame,
    inputs: Sequence[str],
    fn: Callable[..., Sequence[Any]],
    schema: Mapping[str, pl.DataType | type[pl.DataType]],
) -> pl.DataFrame:
    """Return ``schema``'s columns for every row of ``frame``, computing ``fn`` once per distinct input tuple.

    ``fn`` takes the input columns' values positionally and returns one value per
    ``schema`` column, in order.  Row order and height of ``frame`` are kept.
    """
    keys = frame.select(inputs)
    if keys.height == 0:
        return pl.DataFrame(schema=dict(schema))
    distinct = keys.unique()
    results = [fn(*row) for row in distinct.iter_rows()]
    table = pl.concat(
        [distinct, pl.DataFrame(results, schema=dict(schema), orient="row")], how="horizontal"
    )
    return keys.join(
        table, on=list(inputs), how="left", nulls_equal=True, maintain_order="left"
    ).drop(inputs)
