"""Presets: the blocking rules and comparisons for one kind of data, chosen by name in the job file.

``chinese`` (the default) is tuned on Chinese department records: resident
IDs with their repairs and masks, Han names with pinyin and romanized
spellings, addresses by GB/T 2260 division.  ``latin`` is for person data in
Latin script (Western names, free-text addresses, document numbers of no
known form), such as FEBRL or Splink's historical figures::

    preset = "latin"

A job file's own ``[[blocking]]`` rules still replace the preset's rules.
"""

from __future__ import annotations

from typing import Final, get_args

from blocking import BlockingRule, default_rules, latin_rules
from linkage.comparisons import (
    Comparison,
    DobComparison,
    ExactComparison,
    default_comparisons,
)
from linkage.config import JobConfig, Preset
from linkage.latin import DocumentComparison, LatinNameComparison, TextComparison
from normalizers import schema as s
from normalizers.errors import ConfigError

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "Preset",
    "latin_comparisons",
    "preset_comparisons",
    "preset_rules",
    "rules_for_config",
]

PRESETS: Final[tuple[str, ...]] = get_args(Preset)
DEFAULT_PRESET: Final = "chinese"


def latin_comparisons() -> tuple[Comparison, ...]:
    """document, name, dob, sex, phone, address: the Latin-script counterparts of the defaults.

    The birth date falls back to the year where a side has only the year.
    """
    return (
        DocumentComparison(),
        LatinNameComparison(),
        DobComparison(year_column=s.BIRTH_YEAR),
        ExactComparison("sex", s.SEX_BEST, agree_label="equal"),
        ExactComparison("phone", s.PHONE_NORM, kind_column=s.PHONE_KIND),
        TextComparison(),
    )


def preset_rules(preset: str) -> tuple[BlockingRule, ...]:
    """The blocking rules of ``preset``."""
    return latin_rules() if _checked(preset) == "latin" else default_rules()


def rules_for_config(config: JobConfig) -> tuple[BlockingRule, ...]:
    """The blocking rules a job runs with: its own ``[[blocking]]`` rules, else its preset's.

    The batch job and the resolve service both call this, so the service blocks
    new records exactly as the run that built the store did.
    """
    if config.blocking is None:
        return preset_rules(config.preset)
    return tuple(BlockingRule.from_dict(rule.model_dump()) for rule in config.blocking)


def preset_comparisons(preset: str) -> tuple[Comparison, ...]:
    """The comparisons of ``preset``."""
    return latin_comparisons() if _checked(preset) == "latin" else default_comparisons()


def _checked(preset: str) -> str:
    if preset not in PRESETS:
        raise ConfigError(f"preset: expected one of {list(PRESETS)} (got {preset!r})")
    return preset
