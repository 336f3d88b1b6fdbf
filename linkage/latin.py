"""Comparisons for Latin-script person data: Western names, free-text addresses, document numbers.

The standard comparisons read what the Chinese normalizers derive: pinyin,
GB/T 2260 division codes, resident-ID keys.  A Western record (MITCHELL GREEN,
``7 wallaby place delmar nsw 2119``, a social-security number) has none of
those, so the ``latin`` preset compares it with these three instead:

* :class:`LatinNameComparison` — the name's parts, aligned in either order,
  by Jaro-Winkler: a typo in one part, a missing part, an initial or a nickname
  still agree to some degree; a different given name beside the same surname
  (a sibling, a spouse) is a level of its own.
* :class:`TextComparison` — free text such as an address, by RapidFuzz token
  ratios: typos, reordered and missing words.
* :class:`DocumentComparison` — any document number, as cleaned (``id_clean``),
  whatever its kind: exact, one typo (an edit or a transposition), different.

>>> DocumentComparison()
DocumentComparison(name='document', column='id_clean', min_length=5)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import ClassVar

import numpy as np
import polars as pl
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from linkage._similarity import (
    distinct_codes,
    flags,
    gather_codes,
    jaro_winkler,
    left,
    pair_frame,
    right,
    rows,
    similarity,
)
from linkage.comparisons import (
    ComparisonDefaults,
    NULL_LEVEL,
    _check_name,
    _check_unit,
)
from normalizers import schema as s
from normalizers.errors import ConfigError

_INITIAL_SCORE = 0.8
"""Part score of an initial against a name with that first letter: a weak agreement."""
_VARIANT_SCORE = 0.85
"""Part score (at least) of two forms of one given name (BILL / WILLIAM): a nickname is
as good as TOM / THOMAS, whose Jaro-Winkler similarity this is."""
_VARIANTS_FILE = "given_name_variants.tsv"


@cache
def variant_groups() -> Mapping[str, frozenset[int]]:
    """Upper-case given name -> its groups (lines) in ``normalizers/data/given_name_variants.tsv``.

    Two names are forms of one name when their groups intersect (AL is in
    ALBERT's, ALFRED's and ALLAN's).
    """
    text = resources.files("normalizers.data").joinpath(_VARIANTS_FILE).read_text(encoding="utf-8")
    groups: dict[str, set[int]] = {}
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    for number, line in enumerate(lines):
        name, variants = line.split("\t")
        for form in (name, *variants.split()):
            groups.setdefault(form, set()).add(number)
    return MappingProxyType({form: frozenset(ids) for form, ids in groups.items()})


def _name_features(names: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
    """Per distinct name: ids of its comma-free spelling and of its sorted parts, codes of its
    first and last part (into the returned table of distinct parts), whether it has one part."""
    clean = names.str.replace_all(r"\s*,\s*", " ").str.strip_chars()
    tokens = clean.str.split(" ").list.eval(pl.element().filter(pl.element() != ""))
    frame = pl.DataFrame({"clean": clean, "tokens": tokens})
    features = frame.select(
        pl.col("clean").rank("dense").cast(pl.Int64).alias("clean_id"),
        pl.col("tokens")
        .list.eval(pl.element().sort())
        .list.join(" ")
        .rank("dense")
        .cast(pl.Int64)
        .alias("sorted_id"),
        pl.col("tokens").list.first().alias("first"),
        pl.col("tokens").list.last().alias("last"),
        (pl.col("tokens").list.len() <= 1).alias("single"),
    )
    parts, first, last = distinct_codes(features["first"], features["last"])
    return features.with_columns(pl.Series("first", first), pl.Series("last", last)), parts


def _part_scores(
    parts: pl.Series,
    a: np.ndarray,
    b: np.ndarray,
    groups: list[frozenset[int]] | None,
) -> np.ndarray:
    """Jaro-Winkler of name parts given by codes into ``parts`` (-1: none, scoring 0).

    Each distinct pair of parts is scored once: common given names and
    surnames recur across pairs.  An initial scores :data:`_INITIAL_SCORE`
    against a name with that first letter; with ``groups`` (each part's
    :func:`variant_groups`), two forms of one given name score at least
    :data:`_VARIANT_SCORE`.
    """
    span = np.int64(parts.len() + 1)
    key = (a + 1) * span + (b + 1)
    unique, back = np.unique(key, return_inverse=True)
    ua, ub = unique // span - 1, unique % span - 1
    left_part, right_part = gather_codes(parts, ua), gather_codes(parts, ub)
    score = jaro_winkler(left_part, right_part)
    initial = (
        pl.DataFrame({"a": left_part, "b": right_part})
        .select(
            (
                ((pl.col("a").str.len_chars() == 1) | (pl.col("b").str.len_chars() == 1))
                & (pl.col("a").str.head(1) == pl.col("b").str.head(1))
            ).fill_null(False)
        )
        .to_series()
        .to_numpy()
    )
    score[initial] = np.where(score[initial] >= 1.0, 1.0, _INITIAL_SCORE)
    if groups is not None:
        grouped = np.array([bool(g) for g in groups] + [False])  # index -1: no part
        for k in np.flatnonzero(grouped[ua] & grouped[ub] & (score < _VARIANT_SCORE)):
            if groups[ua[k]] & groups[ub[k]]:
                score[k] = _VARIANT_SCORE
    return score[back.reshape(-1)]


@dataclass(frozen=True, slots=True)
class LatinNameComparison(ComparisonDefaults):
    """Western names (given name and surname, in either order) in ``name_latin_norm``.

    Levels, first match wins: ``exact`` (same name; its weight is adjusted by
    the name's frequency); ``swapped`` (same parts, other order);
    ``fuzzy_high`` (first and last parts, aligned straight or crossed, both at
    Jaro-Winkler >= ``high_threshold``: typos); ``partial`` (one side is a
    single part matching one of the other's: a missing given name or surname);
    ``fuzzy_low`` (one part agrees, the other only at >= ``low_threshold``, or
    is an initial, or with ``name_variants`` another form of the same given
    name: nicknames such as TOM / THOMAS and BILL / WILLIAM, initials); ``one_part``
    (one part agrees and the other differs: a sibling or spouse, or a changed
    surname); ``different``.

    All levels but ``one_part`` and ``different`` count as identity evidence.
    With ``veto_one_part`` the ``one_part`` level forbids an automatic link
    (household data where siblings share every other field).
    """

    name: str = "name"
    column: str = s.NAME_LATIN_NORM
    high_threshold: float = 0.9
    low_threshold: float = 0.75
    veto_one_part: bool = False
    term_frequency: bool = True
    name_variants: bool = True

    levels: ClassVar[tuple[str, ...]] = (
        NULL_LEVEL,
        "exact",
        "swapped",
        "fuzzy_high",
        "partial",
        "fuzzy_low",
        "one_part",
        "different",
    )

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_unit("high_threshold", self.high_threshold)
        _check_unit("low_threshold", self.low_threshold)
        if self.low_threshold > self.high_threshold:
            raise ConfigError(
                f"low_threshold: expected at most high_threshold {self.high_threshold} "
                f"(got {self.low_threshold!r})"
            )
        for key in ("veto_one_part", "term_frequency", "name_variants"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"{key}: expected true or false (got {getattr(self, key)!r})")

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def tf_column(self) -> str | None:
        return self.column if self.term_frequency else None

    @property
    def tf_level(self) -> str | None:
        return "exact" if self.term_frequency else None

    @property
    def identity_levels(self) -> tuple[str, ...]:
        return ("exact", "swapped", "fuzzy_high", "partial", "fuzzy_low")

    @property
    def veto_levels(self) -> tuple[str, ...]:
        return ("one_part",) if self.veto_one_part else ()

    def compute(self, left_records: pl.DataFrame, right_records: pl.DataFrame) -> pl.Series:
        at = {label: i for i, label in enumerate(self.levels)}
        # features once per distinct name, gathered per pair by integer code
        names, code_l, code_r = distinct_codes(
            left_records[self.column], right_records[self.column]
        )
        level = np.zeros(code_l.size, dtype=np.int8)
        present = np.flatnonzero((code_l >= 0) & (code_r >= 0))
        if not present.size:
            return pl.Series(s.GAMMA_PREFIX + self.name, level, dtype=pl.Int8)
        features, parts = _name_features(names)
        clean = features["clean_id"].to_numpy()
        in_order = features["sorted_id"].to_numpy()
        l_at, r_at = code_l[present], code_r[present]
        exact = clean[l_at] == clean[r_at]
        swapped = ~exact & (in_order[l_at] == in_order[r_at])
        level[present[exact]] = at["exact"]
        level[present[swapped]] = at["swapped"]
        undecided = ~exact & ~swapped
        idx = present[undecided]
        if not idx.size:
            return pl.Series(s.GAMMA_PREFIX + self.name, level, dtype=pl.Int8)
        l_at, r_at = l_at[undecided], r_at[undecided]
        first, last = features["first"].to_numpy(), features["last"].to_numpy()
        groups = None
        if self.name_variants:
            known = variant_groups()
            groups = [known.get(part, frozenset()) for part in parts.to_list()]
        ff = _part_scores(parts, first[l_at], first[r_at], groups)
        ll = _part_scores(parts, last[l_at], last[r_at], groups)
        fl = _part_scores(parts, first[l_at], last[r_at], groups)
        lf = _part_scores(parts, last[l_at], first[r_at], groups)
        straight_lo, straight_hi = np.minimum(ff, ll), np.maximum(ff, ll)
        crossed_lo, crossed_hi = np.minimum(fl, lf), np.maximum(fl, lf)
        use_crossed = crossed_lo > straight_lo
        lo = np.where(use_crossed, crossed_lo, straight_lo)
        hi = np.where(use_crossed, crossed_hi, straight_hi)
        best_any = np.maximum(straight_hi, crossed_hi)
        single_part = features["single"].to_numpy()
        single = single_part[l_at] | single_part[r_at]

        sub = np.full(idx.size, at["different"], dtype=np.int8)
        # from the weakest level to the strongest: later assignments win
        sub[hi >= self.high_threshold] = at["one_part"]
        sub[(hi >= self.high_threshold) & (lo >= self.low_threshold)] = at["fuzzy_low"]
        sub[single & (best_any >= self.high_threshold)] = at["partial"]
        sub[lo >= self.high_threshold] = at["fuzzy_high"]
        level[idx] = sub
        return pl.Series(s.GAMMA_PREFIX + self.name, level, dtype=pl.Int8)


# ------------------------------------------------------------------ free text


@dataclass(frozen=True, slots=True)
class TextComparison(ComparisonDefaults):
    """Free text (by default the normalized address) by RapidFuzz token ratios (0-100).

    Levels: ``exact`` (equal after case folding); ``similar`` (token-sort ratio
    >= ``high_threshold``: the same words with typos, in any order);
    ``contained`` (token-set ratio >= ``high_threshold``: one text's words are
    among the other's, as when a suburb or postcode is missing); ``related``
    (token-set ratio >= ``low_threshold``); ``different``.  Supporting
    evidence only: a household shares its address.
    """

    name: str = "address"
    column: str = s.ADDRESS_NORM
    high_threshold: float = 90.0
    low_threshold: float = 70.0

    levels: ClassVar[tuple[str, ...]] = (
        NULL_LEVEL,
        "exact",
        "similar",
        "contained",
        "related",
        "different",
    )

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.column, str) or not self.column:
            raise ConfigError(f"column: expected a record column name (got {self.column!r})")
        for key in ("high_threshold", "low_threshold"):
            value = getattr(self, key)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value <= 100
            ):
                raise ConfigError(f"{key}: expected a ratio in (0, 100] (got {value!r})")
        if self.low_threshold > self.high_threshold:
            raise ConfigError(
                f"low_threshold: expected at most high_threshold {self.high_threshold} "
                f"(got {self.low_threshold!r})"
            )

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def compute(self, left_records: pl.DataFrame, right_records: pl.DataFrame) -> pl.Series:
        at = {label: i for i, label in enumerate(self.levels)}
        texts, code_l, code_r = distinct_codes(
            left_records[self.column], right_records[self.column]
        )
        level = np.zeros(code_l.size, dtype=np.int8)
        present = np.flatnonzero((code_l >= 0) & (code_r >= 0))
        if not present.size:
            return pl.Series(s.GAMMA_PREFIX + self.name, level, dtype=pl.Int8)
        features = _text_features(texts)
        folded = features["folded_id"].to_numpy()
        usable = features["usable"].to_numpy()
        l_at, r_at = code_l[present], code_r[present]
        present = present[usable[l_at] & usable[r_at]]
        l_at, r_at = code_l[present], code_r[present]
        exact = folded[l_at] == folded[r_at]
        level[present[exact]] = at["exact"]
        idx = present[~exact]
        if idx.size:
            l_at, r_at = l_at[~exact], r_at[~exact]
            in_order, word_set = features["sorted"], features["set"]
            # token_sort_ratio is the plain ratio of the token-sorted texts
            sort_ratio = similarity(
                gather_codes(in_order, l_at), gather_codes(in_order, r_at), fuzz.ratio
            )
            # token_set_ratio of texts sharing no word is the ratio of their sorted word sets;
            # the full scorer runs only where the words' signatures overlap
            signature = features["signature"].to_numpy()
            shared = (signature[l_at] & signature[r_at]) != 0
            set_ratio = similarity(
                gather_codes(word_set, l_at), gather_codes(word_set, r_at), fuzz.ratio
            )
            if shared.any():
                take = np.flatnonzero(shared)
                set_ratio[take] = similarity(
                    gather_codes(word_set, l_at[take]),
                    gather_codes(word_set, r_at[take]),
                    fuzz.token_set_ratio,
                )
            sub = np.full(idx.size, at["different"], dtype=np.int8)
            sub[set_ratio >= self.low_threshold] = at["related"]
            sub[set_ratio >= self.high_threshold] = at["contained"]
            sub[sort_ratio >= self.high_threshold] = at["similar"]
            level[idx] = sub
        return pl.Series(s.GAMMA_PREFIX + self.name, level, dtype=pl.Int8)


def _text_features(texts: pl.Series) -> pl.DataFrame:
    """Per distinct text: ids of its folded form, its words and distinct words sorted, a signature.

    The signature sets one of 63 bits per word, so two texts sharing a word
    always share a bit (the converse is a cheap false alarm).
    """
    words = (
        texts.str.to_lowercase()
        .str.replace_all(r"[^\w\s]", " ")
        .str.split(" ")
        .list.eval(pl.element().filter(pl.element() != ""))
    )
    frame = pl.DataFrame({"words": words, "folded": words.list.join(" ")})
    return frame.select(
        pl.col("folded").rank("dense").cast(pl.Int64).alias("folded_id"),
        (pl.col("folded") != "").alias("usable"),
        # list.eval(sort) rather than list.sort(): many times faster on short lists
        pl.col("words").list.eval(pl.element().sort()).list.join(" ").alias("sorted"),
        pl.col("words").list.eval(pl.element().unique().sort()).list.join(" ").alias("set"),
    ).with_columns(pl.Series("signature", _signatures(words)))


def _signatures(words: pl.Series) -> np.ndarray:
    """One bit in 63 per distinct word (by hash), OR-ed per row; 0 for a row without words."""
    flat = words.to_frame("w").with_row_index("row").explode("w").drop_nulls("w")
    bits = np.left_shift(
        np.int64(1), (flat["w"].hash().to_numpy() % np.uint64(63)).astype(np.int64)
    )
    out = np.zeros(words.len(), dtype=np.int64)
    np.bitwise_or.at(out, flat["row"].to_numpy().astype(np.int64), bits)
    return out


# ------------------------------------------------------------- document number


@dataclass(frozen=True, slots=True)
class DocumentComparison(ComparisonDefaults):
    """A document number of any kind, as cleaned (``id_clean``), valid or not.

    Levels: ``exact``; ``typo`` (one edit or one transposition of neighbours
    apart, numbers of at least ``min_length`` characters); ``different``.  A
    shared number is identity evidence, as an ID is, and so is a number one
    typo away (as a repaired resident ID is): for Western data sets, where the
    number (a social-security or patient number) follows no checksummed form
    the ID normalizer knows.  Two numbers that differ are not a constraint:
    unlike a resident ID, such a number may be a household's or a reissue.
    """

    name: str = "document"
    column: str = s.ID_CLEAN
    min_length: int = 5

    levels: ClassVar[tuple[str, ...]] = (NULL_LEVEL, "exact", "typo", "different")

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.column, str) or not self.column:
            raise ConfigError(f"column: expected a record column name (got {self.column!r})")
        if (
            isinstance(self.min_length, bool)
            or not isinstance(self.min_length, int)
            or self.min_length < 1
        ):
            raise ConfigError(f"min_length: expected a positive integer (got {self.min_length!r})")

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def identity_levels(self) -> tuple[str, ...]:
        return ("exact", "typo")

    def compute(self, left_records: pl.DataFrame, right_records: pl.DataFrame) -> pl.Series:
        c = self.column
        frame = pair_frame(left_records, right_records, self.columns)
        f = flags(
            frame,
            null=left(c).is_null() | right(c).is_null(),
            exact=left(c) == right(c),
            long=pl.min_horizontal(left(c).str.len_chars(), right(c).str.len_chars())
            >= self.min_length,
        )
        at = {label: i for i, label in enumerate(self.levels)}
        level = np.full(frame.height, at["different"], dtype=np.int8)
        level[f["exact"]] = at["exact"]
        level[f["null"]] = 0
        idx, part = rows(frame, (level == at["different"]) & f["long"], (c,))
        if idx.size:
            numbers = part.select(left(c).alias("a"), right(c).alias("b"))
            distance = similarity(numbers["a"], numbers["b"], OSA.distance)
            level[idx[distance <= 1]] = at["typo"]
        return pl.Series(s.GAMMA_PREFIX + self.name, level, dtype=pl.Int8)


LATIN_COMPARISONS: Mapping[str, type] = {
    cls.__name__: cls for cls in (LatinNameComparison, TextComparison, DocumentComparison)
}
"""The classes above by name, for rebuilding a model's comparisons from model.json."""
