"""Blocking: normalized records -> candidate pairs of integer row ids, by exact agreement on key columns."""

from blocking.keys import add_blocking_keys
from blocking.pairs import BlockingResult, estimate_pairs, generate_pairs
from blocking.recall import blocking_recall, recall_by_rule
from blocking.rules import Blocker, BlockingRule, block_on, default_rules

__all__ = [
    "Blocker",
    "BlockingResult",
    "BlockingRule",
    "add_blocking_keys",
    "block_on",
    "blocking_recall",
    "default_rules",
    "estimate_pairs",
    "generate_pairs",
    "recall_by_rule",
]
