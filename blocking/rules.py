"""Blocking rules: which records are worth comparing at all.

A rule names key columns; two records become a candidate pair when they agree
exactly on every key column of some rule.  A key column holding a list (ID
repair candidates, romanized-name keys) is exploded first, so a record joins
every block that one of its elements names.  Rules are frozen, declarative
values: ``repr()`` rebuilds them and :meth:`BlockingRule.to_dict` /
:meth:`BlockingRule.from_dict` carry them through the job file and model.json.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import polars as pl

from blocking.latin_keys import (
    KEY_ADDRESS_NUMBERS,
    KEY_ADDRESS_WORDS,
    KEY_LATIN_NAME,
    KEY_LATIN_TOKENS,
)
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError

DEFAULT_MAX_BLOCK_SIZE = 1000
"""Blocks larger than this are skipped: 1,000 records already make 499,500 pairs."""

_DICT_KEYS = ("name", "columns", "max_block_size")
_PHONE_CAP = 100
_RARE_NAME_CAP = 20
_LATIN_EXACT_CAP = 50
_LATIN_PART_CAP = 200
_LATIN_PLACE_CAP = 100


@runtime_checkable
class Blocker(Protocol):
    """Anything that can key records for blocking; :class:`BlockingRule` is the one shipped.

    ``key_frame`` returns ``row_id`` plus the block key columns, one row per
    (record, key) with no nulls and no repeated rows; records sharing all key
    values form a block.
    """

    @property
    def name(self) -> str: ...

    @property
    def max_block_size(self) -> int: ...

    def key_frame(self, records: pl.DataFrame) -> pl.DataFrame: ...


@dataclass(frozen=True, slots=True)
class BlockingRule:
    """Records agreeing exactly on all ``columns`` are compared; blocks over ``max_block_size`` are skipped.

    Build rules with :func:`block_on`.  A record with a null key (or an empty
    list in a list column) is not blocked by the rule.
    """

    name: str
    columns: tuple[str, ...]
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE

    def __post_init__(self) -> None:
        if isinstance(self.columns, str) or not isinstance(self.columns, Sequence):
            raise ConfigError(
                f"columns: expected a sequence of column names (got {self.columns!r})"
            )
        columns = tuple(self.columns)
        if not columns:
            raise ConfigError("columns: expected at least one key column (got none)")
        for c in columns:
            if not isinstance(c, str) or not c:
                raise ConfigError(f"columns: expected non-empty column names (got {c!r})")
        if len(set(columns)) != len(columns):
            raise ConfigError(f"columns: expected distinct column names (got {list(columns)!r})")
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"name: expected a non-empty string (got {self.name!r})")
        cap = self.max_block_size
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ConfigError(f"max_block_size: expected a positive integer (got {cap!r})")
        # a list given by a config file becomes the tuple that keeps the rule hashable
        object.__setattr__(self, "columns", columns)

    def __repr__(self) -> str:
        args = [repr(c) for c in self.columns]
        if self.name != default_name(self.columns):
            args.append(f"name={self.name!r}")
        if self.max_block_size != DEFAULT_MAX_BLOCK_SIZE:
            args.append(f"max_block_size={self.max_block_size!r}")
        return f"block_on({', '.join(args)})"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the TOML job file and model.json: ``{name, columns, max_block_size}``."""
        return {
            "name": self.name,
            "columns": list(self.columns),
            "max_block_size": self.max_block_size,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BlockingRule:
        """Inverse of :meth:`to_dict`; ``name`` and ``max_block_size`` may be left out.

        Raises ConfigError naming the offending key (unknown keys included), so a
        typo in a job file fails before any data is read.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"blocking rule: expected a table/dict (got {type(data).__name__})")
        unknown = sorted(set(data) - set(_DICT_KEYS), key=str)
        if unknown:
            raise ConfigError(
                f"{unknown[0]}: unknown key in a blocking rule (expected {', '.join(_DICT_KEYS)})"
            )
        if "columns" not in data:
            raise ConfigError("columns: missing from a blocking rule")
        columns = data["columns"]
        if isinstance(columns, str) or not isinstance(columns, Sequence):
            raise ConfigError(f"columns: expected a list of column names (got {columns!r})")
        return block_on(
            *columns,
            name=data.get("name"),
            max_block_size=data.get("max_block_size", DEFAULT_MAX_BLOCK_SIZE),
        )

    def key_frame(self, records: pl.DataFrame) -> pl.DataFrame:
        """``row_id`` and the key columns, one row per distinct (record, key); list columns exploded.

        Rows of ``records`` are used as given: callers drop rejects first.
        """
        missing = [c for c in (s.ROW_ID, *self.columns) if c not in records.columns]
        if missing:
            raise SchemaError(
                f"blocking rule {self.name!r}: column {missing[0]!r} missing from the records"
            )
        keys = records.select(s.ROW_ID, *self.columns)
        lists = [c for c in self.columns if isinstance(keys.schema[c], pl.List)]
        if lists:
            # repeated elements would put a record twice into one block; the
            # check is much cheaper than list.unique, which is rarely needed
            repeated = keys.select(
                pl.any_horizontal(
                    (pl.col(c).list.n_unique() < pl.col(c).list.len()).any() for c in lists
                )
            ).item()
            if repeated:
                keys = keys.with_columns(pl.col(c).list.unique() for c in lists)
            for c in lists:
                keys = keys.explode(c)
        return keys.drop_nulls(list(self.columns))


def default_name(columns: Sequence[str]) -> str:
    """The name a rule gets when none is given: its columns joined by ``_``."""
    return "_".join(columns)


def block_on(
    *columns: str, name: str | None = None, max_block_size: int = DEFAULT_MAX_BLOCK_SIZE
) -> BlockingRule:
    """A rule blocking on exact agreement of all ``columns``: ``block_on(s.NAME_PINYIN, s.DOB)``.

    Raises ConfigError (naming the argument) for no columns, an empty name or a
    non-positive ``max_block_size``.
    """
    if name is None:
        if not all(isinstance(c, str) for c in columns):
            raise ConfigError(f"columns: expected column names (got {list(columns)!r})")
        name = default_name(columns)
    return BlockingRule(name=name, columns=tuple(columns), max_block_size=max_block_size)


def default_rules() -> tuple[BlockingRule, ...]:
    """Rules suited to Chinese department records, most trusted first.

    Order matters: a pair is labelled with the first rule that finds it, so the
    cheap, precise rules come first and the later ones only add what they miss.
    A rule makes at most ``keyed records x (max_block_size - 1) / 2`` pairs.

    1. ``id`` — the stable ID key, plus the valid single-edit repairs of a
       checksum-failed resident ID: most true pairs share an ID.
    2. ``id_mask_surname`` — first 4 + last 4 ID characters and the surname's
       pinyin: the only way a masked ID (published judgment-debtor lists) meets
       the full one when the given name has a homophone or a typo.
    3. ``name_dob`` — full pinyin and birth date: catches ID typos beyond repair,
       missing IDs, and homophone/variant characters (pinyin is toneless, and
       pinyin input makes homophones the commonest name typo).
       ``name_keys_dob`` finds these too; this rule comes first so that Han-name
       pairs keep their own label and ``name_keys_dob`` counts only what
       romanized names add.
    4. ``phone_surname`` — phone and surname pinyin: a phone alone also joins
       family members and shared office lines; the surname keeps blocks small
       while tolerating given-name typos and missing birth dates.  Capped at
       100 records: more records of one surname on one number is a switchboard
       or a placeholder (13800138000), whose pairs are nearly all false.
    5. ``name_keys_dob`` — romanized-name keys (both orders, Wade-Giles and
       Cantonese readings, Han names' pinyin) and birth date: passports and HK,
       Macau and Taiwan spellings against Han records.
    6. ``name_keys_phone`` — the same keys and the phone, for romanized records
       without a birth date (capped at 100 like ``phone_surname``).
    7. ``latin_name_dob`` — a Western name (any name in Latin script; its
       tokens sorted, so either order) and birth date, capped at 50: the only
       rule joining a foreigner's passport record to their permanent-residence
       ID record, whose name has no pinyin key.  On 200k generated records it
       adds 45 pairs, all true.
    8. ``rare_name`` — the Han name alone, capped at 20 records: many sources
       (volunteering, hospitals) hold a name and a phone that has since
       changed, and nothing else.  Common names overflow the cap and are
       skipped, so only names rare in the data pair up; the cap bounds the
       cost to under 10 pairs per record.  On 1M generated records this rule
       doubles the pairs (precision ~2%) and lifts recall from 0.958 to 0.978.

    Not included: ``block_on(s.NAME_SURNAME_PINYIN, s.DOB, s.SEX_BEST)`` (for
    given-name changes) found 12 true pairs among 193,000 new ones on the same
    data; add it where renamed people without an ID are expected.
    """
    return (
        block_on(s.KEY_ID_CANDIDATES, name="id"),
        block_on(s.KEY_ID_MASK, s.NAME_SURNAME_PINYIN, name="id_mask_surname"),
        block_on(s.NAME_PINYIN, s.DOB, name="name_dob"),
        block_on(
            s.PHONE_NORM, s.NAME_SURNAME_PINYIN, name="phone_surname", max_block_size=_PHONE_CAP
        ),
        block_on(s.NAME_KEYS, s.DOB, name="name_keys_dob"),
        block_on(s.NAME_KEYS, s.PHONE_NORM, name="name_keys_phone", max_block_size=_PHONE_CAP),
        block_on(KEY_LATIN_NAME, s.DOB, name="latin_name_dob", max_block_size=_LATIN_EXACT_CAP),
        block_on(s.NAME_NORM, name="rare_name", max_block_size=_RARE_NAME_CAP),
    )


def latin_rules() -> tuple[BlockingRule, ...]:
    """Rules for person data in Latin script (Western names), most trusted first.

    Western names have no pinyin, and their data sets rarely hold a Chinese ID,
    so these rules block on the name's parts (see :mod:`blocking.latin_keys`)
    beside a second field, so that an error in any one field still leaves a
    rule that finds the pair:

    1. ``document`` — the document number as cleaned (``id_clean``), of any
       kind, valid or not (a social-security or patient number); capped at 50
       records, since a shared placeholder number is not a person.
    2. ``latin_name`` — the whole name, either order (capped at 50: common
       names overflow and are left to the rules below).
    3. ``name_part_dob`` — the phonetic code of any name part and the birth
       date: a typo in the other part, or a part missing.
    4. ``name_part_address`` — a name part and an address number (house
       number, postcode): a wrong or missing birth date.
    5. ``dob_address`` — birth date and an address number: both name parts
       misspelt.
    6. ``name_part_year`` — a name part and the birth year, capped at 50:
       day and month wrong or defaulted to 1 January.
    7. ``name_part_place`` — a name part and an address word (street, suburb,
       town), capped at 100: records with neither birth date nor address
       number.

    On FEBRL 3 and 4 these keep 99.4% and 99.96% of the true pairs, on
    Splink's historical_figures_with_errors_50k 77% (nicknames, missing birth
    dates and moved postcodes; clustering joins many of the rest).
    """
    return (
        block_on(s.ID_CLEAN, name="document", max_block_size=_LATIN_EXACT_CAP),
        block_on(KEY_LATIN_NAME, name="latin_name", max_block_size=_LATIN_EXACT_CAP),
        block_on(KEY_LATIN_TOKENS, s.DOB, name="name_part_dob", max_block_size=_LATIN_PART_CAP),
        block_on(
            KEY_LATIN_TOKENS, KEY_ADDRESS_NUMBERS, name="name_part_address",
            max_block_size=_LATIN_PART_CAP,
        ),
        block_on(s.DOB, KEY_ADDRESS_NUMBERS, name="dob_address", max_block_size=_LATIN_EXACT_CAP),
        block_on(
            KEY_LATIN_TOKENS, s.BIRTH_YEAR, name="name_part_year", max_block_size=_LATIN_EXACT_CAP
        ),
        block_on(
            KEY_LATIN_TOKENS, KEY_ADDRESS_WORDS, name="name_part_place",
            max_block_size=_LATIN_PLACE_CAP,
        ),
    )
