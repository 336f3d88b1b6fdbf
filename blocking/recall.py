"""Blocking recall against ground truth: the share of true matching pairs that blocking keeps.

True pairs are never enumerated: a person with ``n`` records has
``n (n - 1) / 2`` of them, so the total is a group-by count, and a candidate
pair is true when both of its rows carry the same person.  This keeps the
evaluation linear even when one person has thousands of records.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from normalizers import schema as s

# columns of recall_by_rule
RULE_NAME = s.RULE  # the rule's name, as in the pairs' rule column
PAIRS = "pairs"
TRUE_PAIRS = "true_pairs"
PRECISION = "precision"
RECALL = "recall"
CUMULATIVE_RECALL = "cumulative_recall"

_SAME = "_same"


def true_pair_count(truth_person: pl.Series) -> int:
    """Number of unordered pairs of records that belong to the same person (null persons ignored)."""
    n = truth_person.drop_nulls().value_counts(name="_n").get_column("_n").cast(pl.Int64)
    return int((n * (n - 1) // 2).sum())


def blocking_recall(pairs: pl.DataFrame, truth_person: pl.Series) -> float:
    """Share of true matching pairs present in ``pairs``.

    ``truth_person[row_id]`` is the true person of each record; null means
    unknown (rejected records, for instance) and such records take part in no
    true pair.  ``pairs`` holds each unordered pair once, as
    :func:`blocking.generate_pairs` returns them.  With no true pair at all
    nothing was missed and the recall is 1.0.
    """
    total = true_pair_count(truth_person)
    if total == 0:
        return 1.0
    return int(_same_person(pairs, truth_person).sum()) / total


def recall_by_rule(
    pairs: pl.DataFrame, truth_person: pl.Series, rules: Sequence[str] | None = None
) -> pl.DataFrame:
    """Per rule label: pairs, true pairs, precision, recall contribution and cumulative recall.

    A pair counts for the rule it is labelled with (the first rule that found
    it), so the recall column adds up to :func:`blocking_recall`.  ``rules``
    gives the row order (the rules' own order, which the cumulative column
    follows); by default the labels are sorted by name.  Rules that found
    nothing still get a row when named in ``rules``.
    """
    total = true_pair_count(truth_person)
    same = _same_person(pairs, truth_person)
    per_rule = (
        pairs.select(pl.col(s.RULE).cast(pl.String).alias(RULE_NAME))
        .with_columns(same.alias(_SAME))
        .group_by(RULE_NAME)
        .agg(
            pl.len().cast(pl.Int64).alias(PAIRS),
            pl.col(_SAME).sum().cast(pl.Int64).alias(TRUE_PAIRS),
        )
    )
    names = list(rules) if rules is not None else sorted(per_rule.get_column(RULE_NAME).to_list())
    order = pl.DataFrame({RULE_NAME: names}, schema={RULE_NAME: pl.String})
    denominator = total if total else 1
    return (
        order.join(per_rule, on=RULE_NAME, how="left", maintain_order="left")
        .with_columns(pl.col(PAIRS, TRUE_PAIRS).fill_null(0))
        .with_columns(
            pl.when(pl.col(PAIRS) > 0).then(pl.col(TRUE_PAIRS) / pl.col(PAIRS)).alias(PRECISION),
            (pl.col(TRUE_PAIRS) / denominator).alias(RECALL),
        )
        .with_columns(pl.col(RECALL).cum_sum().alias(CUMULATIVE_RECALL))
    )


def _same_person(pairs: pl.DataFrame, truth_person: pl.Series) -> pl.Series:
    """Boolean per pair: both rows have the same, known, true person."""
    left = truth_person.gather(pairs.get_column(s.ROW_L))
    right = truth_person.gather(pairs.get_column(s.ROW_R))
    return (left == right).fill_null(False)
