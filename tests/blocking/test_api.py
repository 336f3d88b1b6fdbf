"""The blocking package's public surface is pinned: changing it is a deliberate act."""

from __future__ import annotations

import blocking


def test_exports() -> None:
    assert sorted(blocking.__all__) == [
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
    for name in blocking.__all__:
        assert getattr(blocking, name) is not None
