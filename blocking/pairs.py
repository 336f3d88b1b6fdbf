"""Candidate pairs: the records that share a block under some rule, as integer row ids.

Everything runs as polars frame operations; no Python object is made per pair.
Per rule, records are keyed (list keys exploded), each key is hashed to one
64-bit integer and the keyed records are sorted by it, so that every block is
a run of equal hashes.  A block of ``n`` records yields its ``n (n - 1) / 2``
pairs through one vectorized range expansion: the work is proportional to the
pairs made.  Blocks over the rule's ``max_block_size`` are skipped and
reported, never their key values: those are personal data.  Pairs found by
several rules, or by one rule through several list elements, are kept once,
labelled with the first rule (in the order given) that found them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from blocking.keys import DERIVED_KEYS, add_blocking_keys
from blocking.rules import Blocker, default_rules
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
"""Called with a rule's name and the number of pairs it materialized, once per rule."""

# columns of the per-rule tables returned by estimate_pairs and BlockingResult.counts
RULE_NAME = s.RULE  # the rule's name, as in the pairs' rule column
KEYED_RECORDS = "keyed_records"  # linkable records with at least one key under the rule
BLOCKS = "blocks"  # distinct key values
LARGEST_BLOCK = "largest_block"
SKIPPED_BLOCKS = "skipped_blocks"  # blocks over max_block_size
SKIPPED_RECORDS = "skipped_records"  # (record, key) entries in those blocks
ESTIMATED_PAIRS = "estimated_pairs"  # sum of n (n - 1) / 2 over the blocks kept
MATERIALIZED_PAIRS = "materialized_pairs"  # pairs the rule produced, before any dedupe
DISTINCT_PAIRS = "distinct_pairs"  # the rule's pairs, each once
NEW_PAIRS = "new_pairs"  # pairs no earlier rule found: the rule's share of the result

ESTIMATE_SCHEMA: dict[str, pl.DataType] = {
    RULE_NAME: pl.String(),
    KEYED_RECORDS: pl.Int64(),
    BLOCKS: pl.Int64(),
    LARGEST_BLOCK: pl.Int64(),
    SKIPPED_BLOCKS: pl.Int64(),
    SKIPPED_RECORDS: pl.Int64(),
    ESTIMATED_PAIRS: pl.Int64(),
}
COUNTS_SCHEMA: dict[str, pl.DataType] = {
    RULE_NAME: pl.String(),
    ESTIMATED_PAIRS: pl.Int64(),
    MATERIALIZED_PAIRS: pl.Int64(),
    DISTINCT_PAIRS: pl.Int64(),
    NEW_PAIRS: pl.Int64(),
    SKIPPED_BLOCKS: pl.Int64(),
    SKIPPED_RECORDS: pl.Int64(),
}
PAIRS_SCHEMA: dict[str, pl.DataType] = {
    s.ROW_L: pl.UInt32(),
    s.ROW_R: pl.UInt32(),
    s.RULE: pl.String(),
}

_N = "_n"
_KEY = "_key"
_END = "_end"
_POS = "_pos"
_RIGHT = "_right"
_PAIR = "_pair"
_CODE = "_code"
_RULE_INDEX = "_rule_index"
_FIRST = "_first"
_DISTINCT = "_distinct"


@dataclass(frozen=True, slots=True)
class BlockingResult:
    """Candidate pairs (``row_l < row_r``, unique, labelled with the first rule) and per-rule counts."""

    pairs: pl.DataFrame
    counts: pl.DataFrame


def estimate_pairs(records: pl.DataFrame, rules: Sequence[Blocker] | None = None) -> pl.DataFrame:
    """Per rule: keyed records, blocks, largest block, blocks over the cap and the pairs they would make.

    Only block sizes are computed (group-by counts); no pair is materialized,
    so this is the cheap check to run before :func:`generate_pairs` on new data.
    """
    rules = _checked(default_rules() if rules is None else rules)
    linkable = _linkable(records, rules)
    rows = []
    for rule in rules:
        keys = rule.key_frame(linkable)
        sizes = _hashed(keys).group_by(_KEY).len(name=_N).select(_N)
        rows.append(
            {
                RULE_NAME: rule.name,
                KEYED_RECORDS: keys.get_column(s.ROW_ID).n_unique(),
                BLOCKS: sizes.height,
                **_size_stats(sizes, rule.max_block_size),
            }
        )
    return pl.DataFrame(rows, schema=ESTIMATE_SCHEMA)


def generate_pairs(
    records: pl.DataFrame,
    rules: Sequence[Blocker] | None = None,
    *,
    progress: Progress | None = None,
) -> BlockingResult:
    """Candidate pairs of the linkable records of ``records`` under ``rules`` (default: :func:`default_rules`).

    Rows with a non-null ``record_reason`` are skipped; row ids are taken from
    ``row_id``, not from positions.  Derived keys (``key_id_candidates``,
    ``key_id_mask``, the Latin-script keys) are added with
    :func:`add_blocking_keys` when a rule needs them and they are missing.
    Blocks over a rule's ``max_block_size`` are skipped with a warning that
    gives their number, never their keys.
    """
    rules = _checked(default_rules() if rules is None else rules)
    linkable = _linkable(records, rules)
    parts: list[pl.DataFrame] = []
    stats: list[dict[str, object]] = []
    for index, rule in enumerate(rules):
        keyed = _hashed(rule.key_frame(linkable)).sort(_KEY)
        sizes = keyed.get_column(_KEY).rle().struct.field("len").alias(_N).to_frame()
        size = _size_stats(sizes, rule.max_block_size)
        if size[SKIPPED_BLOCKS]:
            logger.warning(
                "blocking rule %r: skipped %d block(s) larger than max_block_size=%d (%d records)",
                rule.name,
                size[SKIPPED_BLOCKS],
                rule.max_block_size,
                size[SKIPPED_RECORDS],
            )
        pairs = _block_pairs(keyed, sizes.get_column(_N), rule.max_block_size)
        parts.append(pairs.with_columns(pl.lit(index, dtype=pl.UInt16).alias(_RULE_INDEX)))
        stats.append(
            {
                RULE_NAME: rule.name,
                ESTIMATED_PAIRS: size[ESTIMATED_PAIRS],
                MATERIALIZED_PAIRS: pairs.height,
                SKIPPED_BLOCKS: size[SKIPPED_BLOCKS],
                SKIPPED_RECORDS: size[SKIPPED_RECORDS],
            }
        )
        if progress is not None:
            progress(rule.name, pairs.height)
    pairs, per_rule = _dedupe(parts, [r.name for r in rules])
    counts = (
        pl.DataFrame(
            stats,
            schema={c: t for c, t in COUNTS_SCHEMA.items() if c not in (DISTINCT_PAIRS, NEW_PAIRS)},
        )
        .join(per_rule, on=RULE_NAME, how="left", maintain_order="left")
        .with_columns(pl.col(DISTINCT_PAIRS, NEW_PAIRS).fill_null(0))  # rules that made no pair
        .select(list(COUNTS_SCHEMA))
    )
    return BlockingResult(pairs=pairs, counts=counts)


def _checked(rules: Sequence[Blocker]) -> tuple[Blocker, ...]:
    rules = tuple(rules)
    names = [r.name for r in rules]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"rules: expected distinct rule names (got {duplicate!r} twice)")
    if len(rules) > 2**16 - 1:
        raise ConfigError(f"rules: expected at most 65535 rules (got {len(rules)})")
    return rules


def _linkable(records: pl.DataFrame, rules: Sequence[Blocker]) -> pl.DataFrame:
    """The rows to block (``record_reason`` null), narrowed to the key columns when they are known."""
    needed = {c for r in rules for c in getattr(r, "columns", ())}
    missing_derived = [c for c in DERIVED_KEYS if c in needed and c not in records.columns]
    if missing_derived:
        records = add_blocking_keys(records, columns=missing_derived)
    if all(hasattr(r, "columns") for r in rules):
        # copying only the key columns keeps the filter cheap on wide frames
        keep = [
            c
            for c in (
                s.ROW_ID,
                s.RECORD_REASON,
                *dict.fromkeys(c for r in rules for c in r.columns),
            )
            if c in records.columns
        ]
        records = records.select(keep)
    if s.ROW_ID not in records.columns:
        raise SchemaError(f"generate_pairs: column {s.ROW_ID!r} missing from the records")
    if s.RECORD_REASON in records.columns:
        records = records.filter(pl.col(s.RECORD_REASON).is_null())
    if records.schema[s.ROW_ID] != pl.UInt32:
        records = records.with_columns(pl.col(s.ROW_ID).cast(pl.UInt32))
    return records


def _hashed(keys: pl.DataFrame) -> pl.DataFrame:
    """``row_id`` and one 64-bit hash of the key columns, the block identity.

    Grouping on one integer is several times faster than on strings.  Two
    distinct keys colliding (odds about m**2 / 2**65 for m distinct keys) would
    only merge two blocks: extra candidate pairs, never a lost one.
    """
    return keys.select(s.ROW_ID, pl.struct(pl.exclude(s.ROW_ID)).hash().alias(_KEY))


def _size_stats(blocks: pl.DataFrame, cap: int) -> dict[str, int]:
    """Largest block, skipped blocks/records and pairs of the kept blocks, from a frame of block sizes."""
    n = pl.col(_N).cast(pl.Int64)
    over = n > cap
    row = blocks.select(
        n.max().fill_null(0).alias(LARGEST_BLOCK),
        over.sum().alias(SKIPPED_BLOCKS),
        n.filter(over).sum().alias(SKIPPED_RECORDS),
        (n * (n - 1) // 2).filter(~over).sum().alias(ESTIMATED_PAIRS),
    ).row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


def _block_pairs(keyed: pl.DataFrame, sizes: pl.Series, cap: int) -> pl.DataFrame:
    """All pairs within each block of 2..cap records: (row_l, row_r), row_l < row_r.

    ``keyed`` is sorted by block hash and ``sizes`` holds the length of each
    run.  The element at position ``p`` of a block ending at ``end`` pairs with
    positions ``p+1 .. end-1``: one ``int_ranges`` + explode + gather builds
    exactly the pairs, nothing more.
    """
    run = keyed.get_column(_KEY).rle_id()
    flat = pl.DataFrame(
        {
            s.ROW_L: keyed.get_column(s.ROW_ID),
            _N: sizes.gather(run),
            _END: sizes.cast(pl.Int64).cum_sum().gather(run),
        }
    ).with_row_index(_POS)
    expanded = (
        flat.filter(pl.col(_N).is_between(2, cap))
        .select(
            s.ROW_L,
            pl.int_ranges(pl.col(_POS).cast(pl.Int64) + 1, _END, dtype=pl.UInt32).alias(_RIGHT),
        )
        .explode(_RIGHT)  # a block's last element has an empty range and drops out here
    )
    right = keyed.get_column(s.ROW_ID).gather(expanded.get_column(_RIGHT)).alias(s.ROW_R)
    # within a block, records are in hash order, not row-id order
    return (
        expanded.select(s.ROW_L)
        .with_columns(right)
        .select(
            pl.min_horizontal(s.ROW_L, s.ROW_R).alias(s.ROW_L),
            pl.max_horizontal(s.ROW_L, s.ROW_R).alias(s.ROW_R),
        )
        # a record lands twice in one block only if two of its keys share a hash
        .filter(pl.col(s.ROW_L) != pl.col(s.ROW_R))
    )


def _dedupe(parts: list[pl.DataFrame], names: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each unordered pair once, labelled with its first rule; and per-rule distinct/new counts."""
    if not parts:
        return pl.DataFrame(schema=PAIRS_SCHEMA), pl.DataFrame(
            schema={c: COUNTS_SCHEMA[c] for c in (RULE_NAME, DISTINCT_PAIRS, NEW_PAIRS)}
        )
    ordered, space = _sorted_by_pair_and_rule(pl.concat(parts), len(names))
    same_pair = pl.col(_PAIR) == pl.col(_PAIR).shift(1)
    same_rule = pl.col(_RULE_INDEX) == pl.col(_RULE_INDEX).shift(1)
    flagged = ordered.with_columns(
        (~same_pair).fill_null(True).alias(_FIRST),
        (~(same_pair & same_rule)).fill_null(True).alias(_DISTINCT),
    )
    labels = pl.Series(names, dtype=pl.String)
    per_rule = (
        flagged.group_by(_RULE_INDEX)
        .agg(
            pl.col(_DISTINCT).sum().cast(pl.Int64).alias(DISTINCT_PAIRS),
            pl.col(_FIRST).sum().cast(pl.Int64).alias(NEW_PAIRS),
        )
        .with_columns(
            pl.col(_RULE_INDEX).replace_strict(range(len(names)), labels).alias(RULE_NAME)
        )
        .select(RULE_NAME, DISTINCT_PAIRS, NEW_PAIRS)
    )
    first = flagged.filter(_FIRST)
    return (
        first.select(
            (pl.col(_PAIR) // space).cast(pl.UInt32).alias(s.ROW_L),
            (pl.col(_PAIR) % space).cast(pl.UInt32).alias(s.ROW_R),
            pl.col(_RULE_INDEX)
            .replace_strict(range(len(names)), labels, return_dtype=pl.String)
            .alias(s.RULE),
        ),
        per_rule,
    )


def _sorted_by_pair_and_rule(pairs: pl.DataFrame, rule_count: int) -> tuple[pl.DataFrame, int]:
    """``_pair`` (UInt64: ``row_l * space + row_r``) and ``_rule_index``, sorted by pair then rule; and ``space``.

    Sorting one integer column is several times cheaper than sorting a frame,
    so when row ids are small enough (below 2**32 / sqrt(rules): always for
    ordinary data) pair and rule are packed into one UInt64 code.
    """
    rows = (pairs.select(pl.col(s.ROW_R).max()).item() or 0) + 1
    space = rows if rows * rows * rule_count < 2**64 else 1 << 32
    pair = pl.col(s.ROW_L).cast(pl.UInt64) * space + pl.col(s.ROW_R).cast(pl.UInt64)
    if space == rows:
        code = pairs.select(pair * rule_count + pl.col(_RULE_INDEX).cast(pl.UInt64)).to_series()
        return code.sort().to_frame(_CODE).select(
            (pl.col(_CODE) // rule_count).alias(_PAIR),
            (pl.col(_CODE) % rule_count).cast(pl.UInt16).alias(_RULE_INDEX),
        ), space
    # parts are concatenated in rule order and the sort is stable: within a pair, rules stay in order
    return pairs.select(pair.alias(_PAIR), _RULE_INDEX).sort(_PAIR, maintain_order=True), space
