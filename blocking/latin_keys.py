"""Blocking keys for names in Latin script that have no pinyin reading (Western names).

A Han name blocks on its pinyin; a romanized Chinese name on the pinyin keys the
name normalizer derives from it.  A Western name (MITCHELL GREEN, O'BRIEN, MARY)
has neither, so two name keys are built here from ``name_latin_norm``, and two
address keys from the raw ``address`` (a Western address is words and numbers,
not the divisions the Chinese address normalizer finds):

* ``key_latin_name`` — the name's tokens sorted and joined ("GREEN MITCHELL"):
  the same name in either order (given name first or surname first).
* ``key_latin_tokens`` — the distinct phonetic codes (NYSIIS) of the name's
  tokens of two or more letters: a record joins one block per name part, so a
  typo in one part (HANNAGAN / HANNAAN) or a missing part still meets the other
  part.  Combined with the birth date or an address number this stays small.
* ``key_address_numbers`` — the distinct address tokens holding a digit (house
  numbers, postcodes such as 2119 or TQ13), from the raw ``address``: what
  Western addresses share when their words are misspelt.
* ``key_address_words`` — the distinct address words of four letters or more
  (street, suburb, town): what an address still shares when its numbers are
  missing or wrong.  Common words (STREET) make blocks that rules skip at
  their cap.

Phonetic codes are computed once per distinct token (there are few) with
jellyfish, everything else with polars expressions.  Records without a Latin
name (or address) get null / empty keys and are not blocked by rules using them.
The ``latin`` preset's rules (:func:`blocking.latin_rules`) use all four; the
default rules use ``key_latin_name`` only, with the birth date.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from functools import lru_cache
from typing import Final

import jellyfish
import polars as pl

from normalizers import schema as s
from normalizers._vector import POLARS_WHITE_SPACE

# TODO(schema): these belong in normalizers/schema.py beside KEY_ID_CANDIDATES.
KEY_LATIN_NAME: Final = "key_latin_name"  # sorted name tokens, space separated
KEY_LATIN_TOKENS: Final = "key_latin_tokens"  # list[str]: NYSIIS code of each name token
KEY_ADDRESS_NUMBERS: Final = "key_address_numbers"  # list[str]: address tokens holding a digit
KEY_ADDRESS_WORDS: Final = "key_address_words"  # list[str]: address words of 4+ letters
LATIN_KEYS: Final[tuple[str, ...]] = (
    KEY_LATIN_NAME,
    KEY_LATIN_TOKENS,
    KEY_ADDRESS_NUMBERS,
    KEY_ADDRESS_WORDS,
)

MIN_TOKEN_LETTERS: Final = 2
"""Shorter tokens (initials) are too common to block on."""
MIN_ADDRESS_WORD: Final = 4

_TOKEN: Final = "_token"
_CODE: Final = "_code"
_POS: Final = "_pos"
_NOT_LETTER = re.compile(r"[^A-Z]")
_SEPARATORS: Final = r"[\s,]+"
_ADDRESS_SEPARATORS: Final = r"[\s,;/]+"
_EMPTY = pl.lit([], dtype=pl.List(pl.String))


def add_latin_keys(
    records: pl.DataFrame, *, columns: Collection[str] | None = None
) -> pl.DataFrame:
    """``records`` with :data:`LATIN_KEYS` added (replaced if present); ``columns`` limits which.

    Needs ``name_latin_norm``; ``address`` is optional (empty address keys without it).
    """
    return records.with_columns(latin_key_columns(records, columns=columns))


def latin_key_columns(
    records: pl.DataFrame, *, columns: Collection[str] | None = None
) -> list[pl.Series]:
    """The :data:`LATIN_KEYS` columns (those in ``columns``; default all) in ``records``' order."""
    wanted = set(LATIN_KEYS if columns is None else columns)
    out: list[pl.Series] = []
    if wanted & {KEY_LATIN_NAME, KEY_LATIN_TOKENS}:
        tokens = (
            _text(records, s.NAME_LATIN_NORM)
            .str.replace_all(_SEPARATORS, " ")
            .str.strip_chars()
            .str.split(" ")
            .list.eval(pl.element().filter(pl.element() != ""))
        )
        if KEY_LATIN_NAME in wanted:
            out.append(
                pl.select(
                    pl.when(tokens.list.len() > 0).then(
                        tokens.list.eval(pl.element().sort()).list.join(" ")
                    )
                )
                .to_series()
                .alias(KEY_LATIN_NAME)
            )
        if KEY_LATIN_TOKENS in wanted:
            out.append(_token_codes(tokens))
    if wanted & {KEY_ADDRESS_NUMBERS, KEY_ADDRESS_WORDS}:
        out += [key for key in _address_keys(records) if key.name in wanted]
    return out


def phonetic_code(token: str) -> str | None:
    """NYSIIS code of a name token, accents folded and non-letters dropped; None under 2 letters."""
    return _code(token)


@lru_cache(maxsize=65536)
def _code(token: str) -> str | None:
    letters = _NOT_LETTER.sub("", _fold(token).upper())
    if len(letters) < MIN_TOKEN_LETTERS:
        return None
    return jellyfish.nysiis(letters)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


_SEPARATORS_1 = re.compile("[" + re.escape(POLARS_WHITE_SPACE) + ",]+")


def latin_text_of(name_latin_norm: str | None) -> str | None:
    """A Latin name with each run of spaces and commas made one space, stripped: the scalar
    twin of ``replace_all(r"[\\s,]+", " ").strip_chars()`` (polars' ``\\s`` and strip, exactly)."""
    if name_latin_norm is None:
        return None
    return _SEPARATORS_1.sub(" ", name_latin_norm).strip(POLARS_WHITE_SPACE)


def latin_name_key_of(name_latin_norm: str | None) -> str | None:
    """``key_latin_name`` of one record: the scalar twin of the polars key, for a service
    call's few records (tests hold the two together)."""
    text = latin_text_of(name_latin_norm)
    if text is None:
        return None
    tokens = sorted(t for t in text.split(" ") if t)
    return " ".join(tokens) if tokens else None


def _token_codes(tokens: pl.Series) -> pl.Series:
    """Per row, the distinct phonetic codes of its tokens (in token order); empty when none."""
    exploded = pl.DataFrame({_TOKEN: tokens}).with_row_index(_POS).explode(_TOKEN)
    distinct = exploded.get_column(_TOKEN).drop_nulls().unique()
    table = pl.DataFrame(
        {_TOKEN: distinct, _CODE: [_code(t) for t in distinct.to_list()]},
        schema={_TOKEN: pl.String, _CODE: pl.String},
    )
    coded = exploded.join(table, on=_TOKEN, how="left", maintain_order="left")
    lists = coded.group_by(_POS, maintain_order=True).agg(
        pl.col(_CODE).drop_nulls().unique(maintain_order=True)
    )
    return lists.get_column(_CODE).alias(KEY_LATIN_TOKENS)


def _address_keys(records: pl.DataFrame) -> list[pl.Series]:
    """Address tokens with a digit, and words of :data:`MIN_ADDRESS_WORD` letters or more."""
    if s.ADDRESS not in records.columns:
        empty = [[]] * records.height
        return [
            pl.Series(KEY_ADDRESS_NUMBERS, empty, dtype=pl.List(pl.String)),
            pl.Series(KEY_ADDRESS_WORDS, empty, dtype=pl.List(pl.String)),
        ]
    tokens = (
        pl.col(_TOKEN)
        .str.to_uppercase()
        .str.replace_all(_ADDRESS_SEPARATORS, " ")
        .str.strip_chars()
        .str.split(" ")
    )
    word = pl.element().str.contains(r"^[^\d\W]+$") & (
        pl.element().str.len_chars() >= MIN_ADDRESS_WORD
    )
    return (
        pl.DataFrame({_TOKEN: _text(records, s.ADDRESS)})
        .select(
            tokens.list.eval(pl.element().filter(pl.element().str.contains(r"\d")))
            .list.unique(maintain_order=True)
            .fill_null(_EMPTY)
            .alias(KEY_ADDRESS_NUMBERS),
            tokens.list.eval(pl.element().filter(word))
            .list.unique(maintain_order=True)
            .fill_null(_EMPTY)
            .alias(KEY_ADDRESS_WORDS),
        )
        .get_columns()
    )


def _text(records: pl.DataFrame, column: str) -> pl.Series:
    if column not in records.columns:
        return pl.Series(column, [None] * records.height, dtype=pl.String)
    return records.get_column(column).cast(pl.String)
