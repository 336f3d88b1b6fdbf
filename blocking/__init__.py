"""Blocking: normalized records -> candidate pairs of integer row ids, by exact agreement on key columns."""

from blocking.keys import add_blocking_keys
from blocking.latin_keys import add_latin_keys
from blocking.pairs import BlockingResult, estimate_pairs, generate_pairs
from blocking.recall import blocking_recall, recall_by_rule
from blocking.rules import Blocker, BlockingRule, block_on, default_rules, latin_rules

__all__ = [
    "Blocker",
    "BlockingResult",
    "BlockingRule",
    "add_blocking_keys",
    "add_latin_keys",
    "block_on",
    "blocking_recall",
    "default_rules",
    "estimate_pairs",
    "generate_pairs",
    "latin_rules",
    "recall_by_rule",
]
