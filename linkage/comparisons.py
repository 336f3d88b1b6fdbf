"""Comparisons: how two records agree on one aspect, as one small integer level per pair.

A comparison is a frozen, declarative object.  Level 0 is always ``"null"`` (one
side has no information: weight 0); levels 1.. run from the strongest agreement
to disagreement, and the first level whose condition holds wins.  The
Fellegi-Sunter model learns an m and a u probability per level.

:func:`comparison_vectors` gathers the records' columns for each candidate pair
and adds one ``gamma_<name>`` Int8 column per comparison; everything is polars
expressions or RapidFuzz's element-wise ``cpdist`` on the gathered columns.

A new comparison is a new class that satisfies :class:`Comparison` and is
passed in ``registry`` when loading a model that uses it.

>>> DobComparison()
DobComparison(name='dob', column='dob')
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, Protocol, Self, runtime_checkable

import numpy as np
import polars as pl

from blocking.latin_keys import latin_text_of
from linkage._similarity import (
    SCALAR_PAIRS,
    Conditions,
    EvaluatedView,
    PairView,
    Row,
    RowView,
    StagedView,
    both_equal,
    ends_with,
    equal,
    has_items,
    jaro_winkler,
    left,
    lists_overlap,
    mask_compatible,
    overlap,
    pair_frame,
    positions_differing,
    right,
)
from normalizers import schema as s
from normalizers.errors import ConfigError, SchemaError

NULL_LEVEL = "null"
"""Label of level 0 in every comparison: no information, weight 0."""

WeightBounds = Mapping[str, tuple[float | None, float | None]]
"""Level label -> (lowest, highest) allowed log2(m/u) when training by EM; None = unbounded."""


@runtime_checkable
class Comparison(Protocol):
    """What the engine needs from a comparison.

    ``levels[0]`` is ``"null"``; the others run from strongest agreement to
    disagreement.  ``compute`` gets the records' ``columns`` gathered for the
    left and right record of each pair (same height) and returns one Int8 level
    per pair.  ``tf_column``/``tf_level`` name the record column whose value
    frequencies adjust the weight of that level (or None); ``weight_bounds``
    keeps EM away from degenerate solutions; ``identity_levels`` are the levels
    that say "same identity" by themselves (an agreeing ID or name), as opposed
    to supporting evidence a household shares (birth date, phone, address): the
    model links a pair only if one of them holds, and ``veto_levels`` are levels
    that forbid an automatic link whatever else agrees (the pair goes to clerical
    review): a different given name beside the same surname, which is what twins,
    siblings and a child on a guardian's ID look like; ``to_dict`` is what model.json
    stores to rebuild the comparison (with a ``"type"`` key).
    """

    @property
    def name(self) -> str: ...

    @property
    def levels(self) -> tuple[str, ...]: ...

    @property
    def columns(self) -> tuple[str, ...]: ...

    @property
    def tf_column(self) -> str | None: ...

    @property
    def tf_level(self) -> str | None: ...

    @property
    def weight_bounds(self) -> WeightBounds: ...

    @property
    def identity_levels(self) -> tuple[str, ...]: ...

    @property
    def veto_levels(self) -> tuple[str, ...]: ...

    def compute(self, left: pl.DataFrame, right: pl.DataFrame) -> pl.Series: ...

    def to_dict(self) -> dict[str, Any]: ...


# ------------------------------------------------------------------ helpers

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


Side = Any  # linkage._similarity.left or .right: column name -> that side's expression
_KIND_PREFIX = re.compile(r"^[^:]*:")  # an ID_KEY's "KIND:" (the polars twin's pattern)


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(
            f"comparison name: expected lower-case letters, digits and '_' (got {name!r})"
        )


def _check_unit(key: str, value: object) -> None:
    if not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
        raise ConfigError(f"{key}: expected a number in (0, 1] (got {value!r})")


def _levels(null: pl.Expr, conditions: Sequence[pl.Expr]) -> pl.Expr:
    """Level 0 where ``null``, else 1 + index of the first true condition, else the last level."""
    chain = pl.when(null).then(pl.lit(0, dtype=pl.Int8))
    for i, condition in enumerate(conditions, start=1):
        chain = chain.when(condition).then(pl.lit(i, dtype=pl.Int8))
    return chain.otherwise(pl.lit(len(conditions) + 1, dtype=pl.Int8))


def _as_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(obj).__name__}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def _from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """Build ``cls`` from its ``to_dict()`` output (JSON lists back to tuples)."""
    kind = data.get("type", cls.__name__)
    if kind != cls.__name__:
        raise ConfigError(f"comparison type: expected {cls.__name__!r} (got {kind!r})")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "type"}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"comparison {cls.__name__}: {exc}") from None


class ComparisonDefaults:
    """What most comparisons share: no term frequencies, no weight bounds, no identity or
    veto levels, and their dataclass fields as their definition.  A comparison inherits
    these and overrides what it needs; the engine only relies on :class:`Comparison`."""

    __slots__ = ()

    @property
    def tf_column(self) -> str | None:
        return None

    @property
    def tf_level(self) -> str | None:
        return None

    @property
    def weight_bounds(self) -> WeightBounds:
        return {}

    @property
    def identity_levels(self) -> tuple[str, ...]:
        return ()

    @property
    def veto_levels(self) -> tuple[str, ...]:
        return ()

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return _from_dict(cls, data)


class ConditionComparison(ComparisonDefaults):
    """A comparison whose levels are decided from named conditions (:class:`Conditions`).

    Subclasses build their expressions once (``_build_conditions``) and decide the
    levels from them through a :class:`PairView` (``decide``).  ``compute`` then
    evaluates them staged, on the pairs each step needs; and
    :func:`comparison_vectors` evaluates the conditions of all such comparisons in
    one query when a batch is small (a service call's few pairs).  Same
    expressions, same level logic, either way.
    """

    __slots__ = ()

    def conditions(self) -> Conditions:
        """The comparison's named expressions, built once per distinct comparison."""
        return _built_conditions(self)

    def _build_conditions(self) -> Conditions:
        raise NotImplementedError

    def decide(self, view: PairView) -> np.ndarray:
        """One level per pair (Int8 codes), asking ``view`` for the conditions it needs."""
        raise NotImplementedError

    def compute(self, left_records: pl.DataFrame, right_records: pl.DataFrame) -> pl.Series:
        frame = pair_frame(left_records, right_records, self.columns)  # type: ignore[attr-defined]
        level = self.decide(StagedView(frame, self.conditions()))
        return pl.Series(s.GAMMA_PREFIX + self.name, level, dtype=pl.Int8)  # type: ignore[attr-defined]


@functools.cache
def _built_conditions(comparison: Any) -> Conditions:
    # comparisons are frozen dataclasses: equal ones share their expressions
    return comparison._build_conditions()


# --------------------------------------------------------------- identity


@dataclass(frozen=True, slots=True)
class IdComparison(ConditionComparison):
    """Identity documents: the strongest evidence both ways.

    Levels: ``exact`` (same ID_KEY); ``exact_conflicting`` (same ID_KEY, but on a
    record whose own birth date is a generation from the ID's, so ID_OWN is null:
    the tell-tale of a child's record carrying a guardian's ID; it carries no
    weight); ``repair`` (one side's
    checksum-failed ID has the other's number among its single-edit repairs, or
    both have a repair in common); ``mask_compatible`` (a masked or
    Excel-truncated ID agrees with the other on every position visible in both,
    at least ``min_mask_overlap`` of them; a valid number ending in ``000`` counts
    as truncated too, since one truncation in eleven passes the check);
    ``different_same_kind`` (two numbers of a kind a person holds only one of,
    differing: strong evidence of different persons when both are verified by
    their check characters, or when they differ in more than
    ``max_typo_positions`` places of the body, so that no typo in an unverified
    number (a 15-digit upgrade, a 2017 permanent-residence ID) or a
    checksum-failing one explains it; never when a record contradicts its own
    number, as a guardian's ID does);
    ``different`` (anything else of one kind, e.g. two passports).  Documents of
    different kinds (a resident ID beside a passport) or generations (a 2017 and a
    2023 permanent-residence ID) are not compared: null.
    """

    name: str = "id"
    min_mask_overlap: int = 8
    exclusive_kinds: tuple[str, ...] = ("RESIDENT", "HMT_PERMIT", "FOREIGN_PR")
    different_same_kind_max_weight: float = -10.0
    max_typo_positions: int = 2

    levels: ClassVar[tuple[str, ...]] = (
        NULL_LEVEL,
        "exact",
        "exact_conflicting",
        "repair",
        "mask_compatible",
        "different_same_kind",
        "different",
    )
    _PATTERN_LENGTH: ClassVar[int] = 18
    _GENERATIONS_KIND: ClassVar[str] = "FOREIGN_PR"

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.min_mask_overlap, int) or not 1 <= self.min_mask_overlap <= 18:
            raise ConfigError(
                f"min_mask_overlap: expected an integer in 1..18 (got {self.min_mask_overlap!r})"
            )
        object.__setattr__(self, "exclusive_kinds", tuple(self.exclusive_kinds))
        if not isinstance(self.max_typo_positions, int) or not 0 <= self.max_typo_positions <= 17:
            raise ConfigError(
                f"max_typo_positions: expected an integer in 0..17, the body's length "
                f"(got {self.max_typo_positions!r})"
            )
        if self.different_same_kind_max_weight > 0:
            raise ConfigError(
                "different_same_kind_max_weight: expected a log2 weight <= 0 "
                f"(got {self.different_same_kind_max_weight!r})"
            )

    @property
    def columns(self) -> tuple[str, ...]:
        return (
            s.ID_KIND,
            s.ID_NORM,
            s.ID_KEY,
            s.ID_CLEAN,
            s.ID_REASON,
            s.ID_BIRTH_DATE,
            s.ID_SEX,
            s.ID_MASK_PATTERN,
            s.ID_REPAIRS,
            s.ID_OWN,
            s.ID_CHECKED,
        )

    @property
    def weight_bounds(self) -> WeightBounds:
        # A guardian's number on a child's record says nothing about whether two records
        # are one person: the shared number must not count for them.
        return {
            "different_same_kind": (None, self.different_same_kind_max_weight),
            "exact_conflicting": (None, 0.0),
        }

    @property
    def identity_levels(self) -> tuple[str, ...]:
        return ("exact", "repair", "mask_compatible")

    def _build_conditions(self) -> Conditions:
        def info(side: Side) -> pl.Expr:
            return (
                side(s.ID_KEY).is_not_null()
                | side(s.ID_NORM).is_not_null()
                | side(s.ID_MASK_PATTERN).is_not_null()
                | has_items(side(s.ID_REPAIRS))
            )

        def conflicting(side: Side) -> pl.Expr:
            # the record's own birth date is a generation from its ID's: a guardian's number
            return side(s.ID_KEY).is_not_null() & side(s.ID_OWN).is_null()

        def truncated(side: Side) -> pl.Expr:
            # a valid number ending in 000 may be a spreadsheet's truncation that passes the check
            number = side(s.ID_NORM)
            return (number.str.len_chars() == self._PATTERN_LENGTH) & number.str.ends_with("000")

        def pattern(side: Side) -> pl.Expr:
            number = side(s.ID_NORM)
            full = (
                pl.when(truncated(side))
                .then(number.str.slice(0, self._PATTERN_LENGTH - 3) + "***")
                .when(number.str.len_chars() == self._PATTERN_LENGTH)
                .then(number)
            )
            return pl.coalesce(side(s.ID_MASK_PATTERN), full)

        def written(side: Side) -> pl.Expr:
            # the number as written when unmasked, valid or not (a checksum failure has no ID_NORM)
            return pl.when(side(s.ID_MASK_PATTERN).is_null()).then(
                pl.coalesce(side(s.ID_NORM), side(s.ID_CLEAN))
            )

        def body(side: Side) -> pl.Expr:
            # ID_KEY is "KIND:number"; a 15-digit number's key holds its upgrade
            number = pl.coalesce(
                side(s.ID_KEY).str.replace(_KIND_PREFIX.pattern, ""), written(side)
            )
            return number.str.slice(0, 17)

        return Conditions(
            flags={
                "null": ~(info(left) & info(right)),
                "exact": both_equal(s.ID_KEY),
                "conflicting": conflicting(left) | conflicting(right),
                "repairs": has_items(left(s.ID_REPAIRS)) | has_items(right(s.ID_REPAIRS)),
                "masked": (
                    left(s.ID_MASK_PATTERN).is_not_null()
                    | right(s.ID_MASK_PATTERN).is_not_null()
                    | truncated(left)
                    | truncated(right)
                ),
                # numbers (valid or not) of a kind a person holds only one of
                "same_kind": (
                    written(left).is_not_null()
                    & written(right).is_not_null()
                    & (left(s.ID_KIND) == right(s.ID_KIND))
                    & left(s.ID_KIND).is_in(list(self.exclusive_kinds))
                ),
                # another kind of document, or another generation of one (a 2017 and a 2023
                # permanent-residence ID: the same holder has both).  A 15-digit resident ID
                # is not another generation: its 18-digit upgrade (ID_KEY) is compared.
                "other_kind": (
                    (left(s.ID_KIND) != right(s.ID_KIND))
                    | (
                        (left(s.ID_KIND) == self._GENERATIONS_KIND)
                        & (written(left).str.len_chars() != written(right).str.len_chars())
                    )
                ),
                "repair": (
                    left(s.ID_REPAIRS).list.contains(right(s.ID_NORM))
                    | right(s.ID_REPAIRS).list.contains(left(s.ID_NORM))
                    | lists_overlap(left(s.ID_REPAIRS), right(s.ID_REPAIRS))
                ),
                "verified": left(s.ID_CHECKED).is_not_null() & right(s.ID_CHECKED).is_not_null(),
            },
            values={
                "pattern_l": pattern(left),
                "pattern_r": pattern(right),
                "body_l": body(left),
                "body_r": body(right),
            },
            gates={
                "repair": "repairs",
                "pattern_l": "masked",
                "pattern_r": "masked",
                "body_l": "same_kind",
                "body_r": "same_kind",
                "verified": "same_kind",
            },
            scalar=self._scalar_conditions(),
        )

    def _scalar_conditions(self) -> dict[str, Any]:
        """The conditions above on one pair of records (Conditions.scalar)."""
        n = self._PATTERN_LENGTH
        exclusive = frozenset(self.exclusive_kinds)
        generations = self._GENERATIONS_KIND

        def info(r: Row) -> bool:
            return (
                r[s.ID_KEY] is not None
                or r[s.ID_NORM] is not None
                or r[s.ID_MASK_PATTERN] is not None
                or bool(r[s.ID_REPAIRS])
            )

        def conflicting(r: Row) -> bool:
            return r[s.ID_KEY] is not None and r[s.ID_OWN] is None

        def truncated(r: Row) -> bool:
            number = r[s.ID_NORM]
            return number is not None and len(number) == n and number.endswith("000")

        def pattern(r: Row) -> str | None:
            number = r[s.ID_NORM]
            if r[s.ID_MASK_PATTERN] is not None:
                return r[s.ID_MASK_PATTERN]  # type: ignore[no-any-return]
            if number is None or len(number) != n:
                return None
            return number[: n - 3] + "***" if number.endswith("000") else number  # type: ignore[no-any-return]

        def written(r: Row) -> str | None:
            if r[s.ID_MASK_PATTERN] is not None:
                return None
            return r[s.ID_NORM] if r[s.ID_NORM] is not None else r[s.ID_CLEAN]  # type: ignore[no-any-return]

        def body(r: Row) -> str | None:
            key = r[s.ID_KEY]
            number = _KIND_PREFIX.sub("", key, count=1) if key is not None else written(r)
            return None if number is None else number[:17]

        def lengths_differ(a: str | None, b: str | None) -> bool:
            return a is not None and b is not None and len(a) != len(b)

        def contains(items: Sequence[str] | None, item: str | None) -> bool:
            return items is not None and item is not None and item in items

        def same_kind(a: Row, b: Row) -> bool:
            return (
                written(a) is not None
                and written(b) is not None
                and equal(a[s.ID_KIND], b[s.ID_KIND])
                and a[s.ID_KIND] in exclusive
            )

        def other_kind(a: Row, b: Row) -> bool:
            ka, kb = a[s.ID_KIND], b[s.ID_KIND]
            return (ka is not None and kb is not None and ka != kb) or (
                ka == generations and lengths_differ(written(a), written(b))
            )

        return {
            "null": lambda a, b: not (info(a) and info(b)),
            "exact": lambda a, b: equal(a[s.ID_KEY], b[s.ID_KEY]),
            "conflicting": lambda a, b: conflicting(a) or conflicting(b),
            "repairs": lambda a, b: bool(a[s.ID_REPAIRS]) or bool(b[s.ID_REPAIRS]),
            "masked": lambda a, b: (
                a[s.ID_MASK_PATTERN] is not None
                or b[s.ID_MASK_PATTERN] is not None
                or truncated(a)
                or truncated(b)
            ),
            "same_kind": same_kind,
            "other_kind": other_kind,
            "repair": lambda a, b: (
                contains(a[s.ID_REPAIRS], b[s.ID_NORM])
                or contains(b[s.ID_REPAIRS], a[s.ID_NORM])
                or overlap(a[s.ID_REPAIRS], b[s.ID_REPAIRS])
            ),
            "verified": lambda a, b: a[s.ID_CHECKED] is not None and b[s.ID_CHECKED] is not None,
            "pattern_l": lambda a, b: pattern(a),
            "pattern_r": lambda a, b: pattern(b),
            "body_l": lambda a, b: body(a),
            "body_r": lambda a, b: body(b),
        }

    def decide(self, view: PairView) -> np.ndarray:
        _, f = view.flags(
            None, "null", "exact", "conflicting", "repairs", "masked", "same_kind", "other_kind"
        )
        at = {label: i for i, label in enumerate(self.levels)}
        level = np.full(view.height, -1, dtype=np.int8)  # -1: not decided yet
        level[f["exact"]] = at["exact"]
        level[f["exact"] & f["conflicting"]] = at["exact_conflicting"]
        level[f["null"]] = 0

        idx, g = view.flags((level < 0) & f["repairs"], "repair")
        level[idx[g["repair"]]] = at["repair"]

        idx, v = view.values((level < 0) & f["masked"], "pattern_l", "pattern_r")
        if idx.size:
            compatible = mask_compatible(
                v["pattern_l"],
                v["pattern_r"],
                length=self._PATTERN_LENGTH,
                min_visible=self.min_mask_overlap,
            ).to_numpy()
            level[idx[compatible]] = at["mask_compatible"]

        # Two numbers of one exclusive kind differ: strong evidence apart when both are
        # verified by their check characters, or when their bodies (the 18-digit form less the
        # check character; a 15-digit number's upgrade) differ in more places than a typo
        # (a digit, a transposition) explains, so that no typo in an unverified or
        # checksum-failing number bridges them.  Not when a record contradicts its own
        # number (it may be a guardian's).  The count runs on these pairs only.
        apart = (level < 0) & f["same_kind"] & ~f["other_kind"] & ~f["conflicting"] & ~f["masked"]
        idx, v = view.values(apart, "body_l", "body_r", "verified")
        if idx.size:
            beyond_typo = positions_differing(v["body_l"], v["body_r"]) > self.max_typo_positions
            level[idx[v["verified"].to_numpy() | beyond_typo]] = at["different_same_kind"]
        # A resident ID beside a passport says nothing: people hold several kinds of document.
        level[(level < 0) & f["other_kind"]] = 0
        level[level < 0] = at["different"]
        return level


# -------------------------------------------------------------------- name


def _has_name(side: Side) -> pl.Expr:
    return (
        side(s.NAME_NORM).is_not_null()
        | side(s.NAME_LATIN_NORM).is_not_null()
        | has_items(side(s.NAME_KEYS))
    )


def _western(side: Side) -> pl.Expr:
    """A name in Latin script only, with no pinyin reading (MILLER, JOHN)."""
    return (
        side(s.NAME_NORM).is_null()
        & side(s.NAME_LATIN_NORM).is_not_null()
        & ~has_items(side(s.NAME_KEYS))
    )


def _latin_only(side: Side) -> pl.Expr:
    return side(s.NAME_NORM).is_null() & side(s.NAME_LATIN_NORM).is_not_null()


def _han_only(side: Side) -> pl.Expr:
    return side(s.NAME_NORM).is_not_null() & side(s.NAME_LATIN_NORM).is_null()


def _script_mismatch(latin_side: Side, han_side: Side) -> pl.Expr:
    """A Latin-only name beside a Han-only one that no reading joins, and not of one family.

    Japanese and Korean names (SATO NAOKO / 佐藤直子, YOON MINJI / 尹敏智) and
    transliterations (POPOV ANDREY / 安德烈·波波夫) have Latin spellings that no
    pinyin, Wade-Giles or Cantonese reading of the characters gives.  But when a
    reading of the Latin name has the Han name's surname as its first or last
    syllable (ZHANG WEI beside 张强: a sibling, a twin, a parent), the given names
    disagree, and that stays ``different``.
    """
    keys = pl.concat_str([pl.lit("|"), latin_side(s.NAME_KEYS).list.join("|"), pl.lit("|")])
    surname = han_side(s.NAME_SURNAME_PINYIN)
    same_family = (
        keys.str.contains(pl.concat_str([pl.lit("|"), surname, pl.lit(" ")]), literal=True)
        | keys.str.contains(pl.concat_str([pl.lit(" "), surname, pl.lit("|")]), literal=True)
    ).fill_null(False)
    transliterated = han_side(s.NAME_NORM).str.contains(NameComparison._SEPARATOR, literal=True)
    return _latin_only(latin_side) & _han_only(han_side) & (~same_family | transliterated)


def _latin_tokens(side: Side) -> pl.Expr:
    return side(s.NAME_LATIN_NORM).str.replace_all(r"[\s,]+", " ").str.strip_chars().str.split(" ")


def _extra_keys(side: Side) -> pl.Expr:
    """Keys beyond the pinyin: only then can the keys agree where the pinyin did not."""
    return side(s.NAME_KEYS).list.len() > side(s.NAME_PINYIN).is_not_null().cast(pl.UInt32)


def _swapped_han(side: Side) -> pl.Expr:
    return pl.concat_str([side(s.NAME_GIVEN), side(s.NAME_SURNAME)])


def _swapped_pinyin(side: Side) -> pl.Expr:
    given = side(s.NAME_PINYIN).str.strip_prefix(side(s.NAME_SURNAME_PINYIN) + " ")
    return pl.when(given != side(s.NAME_PINYIN)).then(
        pl.concat_str([given, side(s.NAME_SURNAME_PINYIN)], separator=" ")
    )


def _pinyin_like(side: Side) -> pl.Expr:
    """The pinyin, or for a Latin-only name its first romanized key (same format)."""
    return pl.coalesce(side(s.NAME_PINYIN), side(s.NAME_KEYS).list.first())


def _first_token(side: Side, separator: str) -> pl.Expr:
    return side(s.NAME_NORM).str.split(separator).list.first()


@dataclass(frozen=True, slots=True)
class NameComparison(ConditionComparison):
    """Names in Han characters, pinyin and Latin spellings.

    Levels, first match wins: ``exact`` (same normalized Han name, so
    traditional/simplified and variant forms agree; or the same Latin name when a
    side has no Han name, commas and spacing aside); ``pinyin`` (homophones: same
    toneless pinyin); ``latin`` (the romanized keys intersect: Han vs Latin,
    Cantonese or Wade-Giles spellings, either name order); ``swapped`` (surname and
    given name exchanged, or a Western name's parts in another order);
    ``fuzzy_high`` (Jaro-Winkler >= ``fuzzy_threshold`` on the pinyin, or on the
    characters when the surname agrees); ``token`` (minority names: the first
    ``·``-separated token agrees); ``surname_only``; ``script_mismatch`` (one side
    only in Latin letters, the other only in Han characters, no reading joining them
    and no reading of the Latin name carrying the Han surname: a foreigner's
    passport name beside its Chinese transliteration, 安德烈·波波夫 / POPOV ANDREY, or a
    Japanese or Korean name, 佐藤直子 / SATO NAOKO, which no romanization rule maps, so
    the disagreement is weak evidence); ``different``. The exact level's weight is
    adjusted by the frequency of the name (``张伟`` agreeing says less than ``翟芬竹``
    agreeing).
    """

    name: str = "name"
    fuzzy_threshold: float = 0.92
    term_frequency: bool = True
    surname_only_max_weight: float = -8.0

    levels: ClassVar[tuple[str, ...]] = (
        NULL_LEVEL,
        "exact",
        "pinyin",
        "latin",
        "swapped",
        "fuzzy_high",
        "token",
        "surname_only",
        "script_mismatch",
        "different",
    )
    _SEPARATOR: ClassVar[str] = "·"

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_unit("fuzzy_threshold", self.fuzzy_threshold)
        if not isinstance(self.term_frequency, bool):
            raise ConfigError(
                f"term_frequency: expected true or false (got {self.term_frequency!r})"
            )
        if self.surname_only_max_weight > 0:
            raise ConfigError(
                "surname_only_max_weight: expected a log2 weight <= 0 "
                f"(got {self.surname_only_max_weight!r})"
            )

    @property
    def columns(self) -> tuple[str, ...]:
        return (
            s.NAME_NORM,
            s.NAME_SURNAME,
            s.NAME_GIVEN,
            s.NAME_PINYIN,
            s.NAME_SURNAME_PINYIN,
            s.NAME_LATIN_NORM,
            s.NAME_KEYS,
        )

    @property
    def tf_column(self) -> str | None:
        return s.NAME_NORM if self.term_frequency else None

    @property
    def tf_level(self) -> str | None:
        return "exact" if self.term_frequency else None

    @property
    def weight_bounds(self) -> WeightBounds:
        # EM lets household pairs (twins, parent and child) that share everything but the given
        # name pull m of surname_only up; among true matches it is a name change, almost never.
        return {"surname_only": (None, self.surname_only_max_weight)}

    @property
    def identity_levels(self) -> tuple[str, ...]:
        # the same name, read or written differently; a fuzzy likeness is not enough on its
        # own, since twins and siblings share a surname and often a character
        return ("exact", "pinyin", "latin", "swapped", "token")

    @property
    def veto_levels(self) -> tuple[str, ...]:
        return ("surname_only",)

    def _min_chars_for_similarity(self) -> int:
        # Two different names of at most 3 characters score at most 0.911 (2 vs 3 characters,
        # one inserted); above that threshold only longer names need the character comparison.
        return 4 if self.fuzzy_threshold > 0.912 else 1

    def _build_conditions(self) -> Conditions:
        sep = self._SEPARATOR
        return Conditions(
            flags={
                # cheap conditions, evaluated on every pair
                "null": ~(_has_name(left) & _has_name(right)),
                "exact": both_equal(s.NAME_NORM)
                | (
                    both_equal(s.NAME_LATIN_NORM)
                    & (left(s.NAME_NORM).is_null() | right(s.NAME_NORM).is_null())
                ),
                "pinyin": both_equal(s.NAME_PINYIN),
                "maybe_latin": _extra_keys(left) | _extra_keys(right),
                # necessary for a swap and cheap (no new strings): a side ends with the other's
                # surname
                "maybe_swapped": (
                    left(s.NAME_PINYIN).str.ends_with(right(s.NAME_SURNAME_PINYIN))
                    | right(s.NAME_PINYIN).str.ends_with(left(s.NAME_SURNAME_PINYIN))
                    | left(s.NAME_NORM).str.ends_with(right(s.NAME_SURNAME))
                    | right(s.NAME_NORM).str.ends_with(left(s.NAME_SURNAME))
                ),
                "chars_similar": both_equal(s.NAME_SURNAME)
                & (
                    pl.max_horizontal(
                        left(s.NAME_NORM).str.len_chars(), right(s.NAME_NORM).str.len_chars()
                    )
                    >= self._min_chars_for_similarity()
                ),
                "minority": left(s.NAME_NORM).str.contains(sep, literal=True)
                | right(s.NAME_NORM).str.contains(sep, literal=True),
                "surname_pinyin": both_equal(s.NAME_SURNAME_PINYIN),
                # two Latin spellings, one side without a Han name: a comma or the order of
                # the parts is no difference (DAVIS, EMILY / DAVIS EMILY)
                "western": _western(left) & _western(right),
                "latin_pair": left(s.NAME_LATIN_NORM).is_not_null()
                & right(s.NAME_LATIN_NORM).is_not_null()
                & (left(s.NAME_NORM).is_null() | right(s.NAME_NORM).is_null()),
                # necessary for script_mismatch and cheap; the readings are checked below
                "scripts_differ": (_latin_only(left) & _han_only(right))
                | (_han_only(left) & _latin_only(right)),
                # costly ones, asked for on the pairs still undecided
                "latin_exact": _latin_tokens(left).list.join(" ")
                == _latin_tokens(right).list.join(" "),
                "latin_swapped": _latin_tokens(left).list.eval(pl.element().sort()).list.join(" ")
                == _latin_tokens(right).list.eval(pl.element().sort()).list.join(" "),
                "latin": lists_overlap(left(s.NAME_KEYS), right(s.NAME_KEYS)),
                "swapped": (
                    (left(s.NAME_NORM) == _swapped_han(right))
                    | (right(s.NAME_NORM) == _swapped_han(left))
                    | (left(s.NAME_PINYIN) == _swapped_pinyin(right))
                    | (right(s.NAME_PINYIN) == _swapped_pinyin(left))
                ),
                "token": _first_token(left, sep) == _first_token(right, sep),
                "script_mismatch": _script_mismatch(left, right) | _script_mismatch(right, left),
            },
            values={
                "sound_l": _pinyin_like(left),
                "sound_r": _pinyin_like(right),
                "chars_l": left(s.NAME_NORM),
                "chars_r": right(s.NAME_NORM),
            },
            gates={
                "latin_exact": "latin_pair",
                "latin_swapped": "latin_pair",
                "latin": "maybe_latin",
                "swapped": "maybe_swapped",
                "token": "minority",
                "script_mismatch": "scripts_differ",
            },
            scalar=self._scalar_conditions(),
        )

    def _scalar_conditions(self) -> dict[str, Any]:
        """The conditions above on one pair of records (Conditions.scalar)."""
        sep = self._SEPARATOR
        min_chars = self._min_chars_for_similarity()
        return {
            "null": lambda a, b: not (_has_name_1(a) and _has_name_1(b)),
            "exact": lambda a, b: (
                equal(a[s.NAME_NORM], b[s.NAME_NORM])
                or (
                    equal(a[s.NAME_LATIN_NORM], b[s.NAME_LATIN_NORM])
                    and (a[s.NAME_NORM] is None or b[s.NAME_NORM] is None)
                )
            ),
            "pinyin": lambda a, b: equal(a[s.NAME_PINYIN], b[s.NAME_PINYIN]),
            "maybe_latin": lambda a, b: _extra_keys_1(a) or _extra_keys_1(b),
            "maybe_swapped": lambda a, b: (
                ends_with(a[s.NAME_PINYIN], b[s.NAME_SURNAME_PINYIN])
                or ends_with(b[s.NAME_PINYIN], a[s.NAME_SURNAME_PINYIN])
                or ends_with(a[s.NAME_NORM], b[s.NAME_SURNAME])
                or ends_with(b[s.NAME_NORM], a[s.NAME_SURNAME])
            ),
            "chars_similar": lambda a, b: (
                equal(a[s.NAME_SURNAME], b[s.NAME_SURNAME])
                and max(
                    (len(x) for x in (a[s.NAME_NORM], b[s.NAME_NORM]) if x is not None), default=-1
                )
                >= min_chars
            ),
            "minority": lambda a, b: (
                (a[s.NAME_NORM] is not None and sep in a[s.NAME_NORM])
                or (b[s.NAME_NORM] is not None and sep in b[s.NAME_NORM])
            ),
            "surname_pinyin": lambda a, b: equal(
                a[s.NAME_SURNAME_PINYIN], b[s.NAME_SURNAME_PINYIN]
            ),
            "western": lambda a, b: _western_1(a) and _western_1(b),
            "latin_pair": lambda a, b: (
                a[s.NAME_LATIN_NORM] is not None
                and b[s.NAME_LATIN_NORM] is not None
                and (a[s.NAME_NORM] is None or b[s.NAME_NORM] is None)
            ),
            "scripts_differ": lambda a, b: (
                (_latin_only_1(a) and _han_only_1(b)) or (_han_only_1(a) and _latin_only_1(b))
            ),
            "latin_exact": lambda a, b: equal(_latin_text_1(a), _latin_text_1(b)),
            "latin_swapped": lambda a, b: equal(_latin_sorted_1(a), _latin_sorted_1(b)),
            "latin": lambda a, b: overlap(a[s.NAME_KEYS], b[s.NAME_KEYS]),
            "swapped": lambda a, b: (
                equal(a[s.NAME_NORM], _swapped_han_1(b))
                or equal(b[s.NAME_NORM], _swapped_han_1(a))
                or equal(a[s.NAME_PINYIN], _swapped_pinyin_1(b))
                or equal(b[s.NAME_PINYIN], _swapped_pinyin_1(a))
            ),
            "token": lambda a, b: equal(_first_token_1(a, sep), _first_token_1(b, sep)),
            "script_mismatch": lambda a, b: _script_mismatch_1(a, b) or _script_mismatch_1(b, a),
            "sound_l": lambda a, b: _pinyin_like_1(a),
            "sound_r": lambda a, b: _pinyin_like_1(b),
            "chars_l": lambda a, b: a[s.NAME_NORM],
            "chars_r": lambda a, b: b[s.NAME_NORM],
        }

    def decide(self, view: PairView) -> np.ndarray:
        at = {label: i for i, label in enumerate(self.levels)}
        # One pass of cheap conditions over all pairs; costly ones on the undecided only.
        _, f = view.flags(
            None,
            "null",
            "exact",
            "pinyin",
            "maybe_latin",
            "maybe_swapped",
            "chars_similar",
            "minority",
            "surname_pinyin",
            "western",
            "latin_pair",
            "scripts_differ",
        )
        level = np.full(view.height, -1, dtype=np.int8)  # -1: not decided yet
        level[f["pinyin"]] = at["pinyin"]
        level[f["exact"]] = at["exact"]
        level[f["null"]] = 0

        idx, same = view.flags((level == -1) & f["latin_pair"], "latin_exact", "latin_swapped")
        # parts in another order: only for names with no pinyin reading, whose keys
        # cannot say it (a pinyin name's keys cover either order at the latin level)
        level[idx[same["latin_swapped"] & f["western"][idx]]] = at["swapped"]
        level[idx[same["latin_exact"]]] = at["exact"]

        idx, g = view.flags((level == -1) & f["maybe_latin"], "latin")
        level[idx[g["latin"]]] = at["latin"]
        idx, g = view.flags((level == -1) & f["maybe_swapped"], "swapped")
        level[idx[g["swapped"]]] = at["swapped"]

        # Jaro-Winkler only for the pairs the cheap levels left undecided.
        idx, sounds = view.values(level == -1, "sound_l", "sound_r")
        if idx.size:
            score = jaro_winkler(sounds["sound_l"], sounds["sound_r"])
            chars_mask = np.zeros(view.height, dtype=bool)
            chars_mask[idx] = f["chars_similar"][idx]
            chars_idx, chars = view.values(chars_mask, "chars_l", "chars_r")
            if chars_idx.size:
                pos = np.searchsorted(idx, chars_idx)
                score[pos] = np.maximum(
                    score[pos], jaro_winkler(chars["chars_l"], chars["chars_r"])
                )
            level[idx[score >= self.fuzzy_threshold]] = at["fuzzy_high"]

        idx, g = view.flags((level == -1) & f["minority"], "token")
        level[idx[g["token"]]] = at["token"]
        level[(level == -1) & f["surname_pinyin"]] = at["surname_only"]
        idx, g = view.flags((level == -1) & f["scripts_differ"], "script_mismatch")
        level[idx[g["script_mismatch"]]] = at["script_mismatch"]
        level[level == -1] = at["different"]
        return level


# the name helpers above on one record (scalar twins, see Conditions.scalar)


def _has_name_1(r: Row) -> bool:
    return r[s.NAME_NORM] is not None or r[s.NAME_LATIN_NORM] is not None or bool(r[s.NAME_KEYS])


def _western_1(r: Row) -> bool:
    return r[s.NAME_NORM] is None and r[s.NAME_LATIN_NORM] is not None and not r[s.NAME_KEYS]


def _latin_only_1(r: Row) -> bool:
    return r[s.NAME_NORM] is None and r[s.NAME_LATIN_NORM] is not None


def _han_only_1(r: Row) -> bool:
    return r[s.NAME_NORM] is not None and r[s.NAME_LATIN_NORM] is None


def _script_mismatch_1(latin_side: Row, han_side: Row) -> bool:
    if not (_latin_only_1(latin_side) and _han_only_1(han_side)):
        return False
    if NameComparison._SEPARATOR in han_side[s.NAME_NORM]:
        return True  # transliterated
    keys, surname = latin_side[s.NAME_KEYS], han_side[s.NAME_SURNAME_PINYIN]
    if keys is None or surname is None:
        return True  # no reading to share a family with
    joined = "|" + "|".join(keys) + "|"
    return f"|{surname} " not in joined and f" {surname}|" not in joined


def _latin_text_1(r: Row) -> str | None:
    """The Latin name's tokens joined by one space (``_latin_tokens(...).list.join(" ")``)."""
    return latin_text_of(r[s.NAME_LATIN_NORM])


def _latin_sorted_1(r: Row) -> str | None:
    text = _latin_text_1(r)
    return None if text is None else " ".join(sorted(text.split(" ")))


def _extra_keys_1(r: Row) -> bool:
    keys = r[s.NAME_KEYS]
    return keys is not None and len(keys) > (r[s.NAME_PINYIN] is not None)


def _swapped_han_1(r: Row) -> str | None:
    given, surname = r[s.NAME_GIVEN], r[s.NAME_SURNAME]
    return None if given is None or surname is None else given + surname


def _swapped_pinyin_1(r: Row) -> str | None:
    pinyin, surname = r[s.NAME_PINYIN], r[s.NAME_SURNAME_PINYIN]
    if pinyin is None or surname is None:
        return None
    given = pinyin.removeprefix(surname + " ")
    return f"{given} {surname}" if given != pinyin else None


def _pinyin_like_1(r: Row) -> str | None:
    if r[s.NAME_PINYIN] is not None:
        return r[s.NAME_PINYIN]  # type: ignore[no-any-return]
    keys = r[s.NAME_KEYS]
    return keys[0] if keys else None


def _first_token_1(r: Row, separator: str) -> str | None:
    name = r[s.NAME_NORM]
    return None if name is None else name.split(separator)[0]


# -------------------------------------------------------------- birth date


@dataclass(frozen=True, slots=True)
class DobComparison(ConditionComparison):
    """Birth dates: ``exact``; ``day_month_swapped``; ``one_digit`` (the YYYYMMDD
    strings differ in exactly one position: a typing slip); ``same_year``; ``different``.

    With ``year_column`` (e.g. ``birth_year``), a pair where a side has no full
    date but both have a year is ``same_year`` or ``different`` instead of null:
    old records often give the year alone.
    """

    name: str = "dob"
    column: str = s.DOB
    year_column: str | None = None

    levels: ClassVar[tuple[str, ...]] = (
        NULL_LEVEL,
        "exact",
        "day_month_swapped",
        "one_digit",
        "same_year",
        "different",
    )

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.year_column is None else (self.column, self.year_column)

    def to_dict(self) -> dict[str, Any]:
        out = _as_dict(self)
        if self.year_column is None:
            del out["year_column"]  # model files written before the option stay byte-identical
        return out

    def _build_conditions(self) -> Conditions:
        c = self.column

        def ymd(side: Side) -> pl.Expr:
            d = side(c)
            return (
                d.dt.year().cast(pl.Int32) * 10000
                + d.dt.month().cast(pl.Int32) * 100
                + d.dt.day().cast(pl.Int32)
            )

        def ymd_1(r: Row) -> int | None:
            d = r[c]
            return None if d is None else d.year * 10000 + d.month * 100 + d.day

        flags = {"null": left(c).is_null() | right(c).is_null(), "exact": left(c) == right(c)}
        scalar: dict[str, Any] = {
            "null": lambda a, b: a[c] is None or b[c] is None,
            "exact": lambda a, b: equal(a[c], b[c]),
            "ymd_l": lambda a, b: ymd_1(a),
            "ymd_r": lambda a, b: ymd_1(b),
        }
        if self.year_column is not None:
            y = self.year_column
            flags["years_known"] = left(y).is_not_null() & right(y).is_not_null()
            flags["same_year"] = left(y) == right(y)
            scalar["years_known"] = lambda a, b: a[y] is not None and b[y] is not None
            scalar["same_year"] = lambda a, b: equal(a[y], b[y])
        return Conditions(
            flags=flags, values={"ymd_l": ymd(left), "ymd_r": ymd(right)}, scalar=scalar
        )

    def decide(self, view: PairView) -> np.ndarray:
        _, f = view.flags(None, "null", "exact")
        level = np.where(f["null"], 0, np.where(f["exact"], 1, -1)).astype(np.int8)
        at = {label: i for i, label in enumerate(self.levels)}
        if self.year_column is not None:
            _, years = view.flags(None, "years_known", "same_year")
            by_year = f["null"] & years["years_known"]
            level[by_year] = np.where(years["same_year"][by_year], at["same_year"], at["different"])
        idx, dates = view.values(level < 0, "ymd_l", "ymd_r")
        if idx.size:
            # both dates present and different: YYYYMMDD integers, compared in NumPy
            a = dates["ymd_l"].to_numpy().astype(np.int64)
            b = dates["ymd_r"].to_numpy().astype(np.int64)
            same_year = a // 10000 == b // 10000
            swapped = same_year & ((a // 100) % 100 == b % 100) & (a % 100 == (b // 100) % 100)
            digits = 10 ** np.arange(8, dtype=np.int64)
            one_digit = ((a[:, None] // digits) % 10 != (b[:, None] // digits) % 10).sum(
                axis=1
            ) == 1
            level[idx] = np.select(
                [swapped, one_digit, same_year],
                [at["day_month_swapped"], at["one_digit"], at["same_year"]],
                at["different"],
            )
        return level


# ------------------------------------------------------------ exact fields


@dataclass(frozen=True, slots=True)
class ExactComparison(ConditionComparison):
    """One column compared for equality: ``null``, ``agree_label``, ``different``.

    Used for sex (``SEX_BEST``, label ``equal``) and phone (``PHONE_NORM``, ``exact``).
    With ``kind_column``, values of different kinds are not compared (null): a
    mobile number differing from a landline says nothing.
    """

    name: str
    column: str
    agree_label: str = "exact"
    kind_column: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.column, str) or not self.column:
            raise ConfigError(f"column: expected a record column name (got {self.column!r})")
        if self.agree_label in (NULL_LEVEL, "different") or not _NAME_RE.match(
            str(self.agree_label)
        ):
            raise ConfigError(f"agree_label: expected a level label (got {self.agree_label!r})")

    @property
    def levels(self) -> tuple[str, ...]:
        return (NULL_LEVEL, self.agree_label, "different")

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.kind_column is None else (self.column, self.kind_column)

    def _build_conditions(self) -> Conditions:
        c, k = self.column, self.kind_column
        null = left(c).is_null() | right(c).is_null()
        if k is not None:
            null = null | ((left(k) != right(k)) & (left(c) != right(c))).fill_null(False)

        def level(a: Row, b: Row) -> int:
            if a[c] is None or b[c] is None:
                return 0
            kinds_differ = k is not None and a[k] is not None and b[k] is not None and a[k] != b[k]
            if kinds_differ and a[c] != b[c]:
                return 0  # values of different kinds are not compared
            return 1 if a[c] == b[c] else 2

        return Conditions(
            flags={},
            values={"level": _levels(null, [left(c) == right(c)])},
            scalar={"level": level},
        )

    def decide(self, view: PairView) -> np.ndarray:
        return view.values(None, "level")[1]["level"].to_numpy()


# ----------------------------------------------------------------- address


@dataclass(frozen=True, slots=True)
class AddressComparison(ConditionComparison):
    """Administrative divisions recognized in the address: county, city, province, different."""

    name: str = "address"

    levels: ClassVar[tuple[str, ...]] = (
        NULL_LEVEL,
        "same_county",
        "same_city",
        "same_province",
        "different",
    )

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def columns(self) -> tuple[str, ...]:
        return (s.ADDRESS_PROVINCE, s.ADDRESS_CITY, s.ADDRESS_COUNTY)

    def _build_conditions(self) -> Conditions:
        def info(side: Side) -> pl.Expr:
            return (
                side(s.ADDRESS_PROVINCE).is_not_null()
                | side(s.ADDRESS_CITY).is_not_null()
                | side(s.ADDRESS_COUNTY).is_not_null()
            )

        divisions = (s.ADDRESS_COUNTY, s.ADDRESS_CITY, s.ADDRESS_PROVINCE)
        level = _levels(~(info(left) & info(right)), [both_equal(c) for c in divisions])

        def level_1(a: Row, b: Row) -> int:
            if not (
                any(a[c] is not None for c in divisions)
                and any(b[c] is not None for c in divisions)
            ):
                return 0
            for i, c in enumerate(divisions, start=1):
                if equal(a[c], b[c]):
                    return i
            return len(divisions) + 1

        return Conditions(flags={}, values={"level": level}, scalar={"level": level_1})

    def decide(self, view: PairView) -> np.ndarray:
        return view.values(None, "level")[1]["level"].to_numpy()


# ---------------------------------------------------------------- registry

BUILTIN_COMPARISONS: Mapping[str, type] = {
    cls.__name__: cls
    for cls in (IdComparison, NameComparison, DobComparison, ExactComparison, AddressComparison)
}


def default_comparisons() -> tuple[Comparison, ...]:
    """The comparisons of the standard person model: id, name, dob, sex, phone, address."""
    return (
        IdComparison(),
        NameComparison(),
        DobComparison(),
        ExactComparison("sex", s.SEX_BEST, agree_label="equal"),
        ExactComparison("phone", s.PHONE_NORM, kind_column=s.PHONE_KIND),
        AddressComparison(),
    )


def comparison_from_dict(
    data: Mapping[str, Any], *, registry: Mapping[str, type] | None = None
) -> Comparison:
    """Rebuild a comparison from :meth:`Comparison.to_dict` output (as stored in model.json).

    ``registry`` adds comparison classes of your own, by class name.
    """
    from linkage.latin import LATIN_COMPARISONS  # imports this module: not at the top

    known = {**BUILTIN_COMPARISONS, **LATIN_COMPARISONS}
    known.update(registry or {})
    kind = data.get("type")
    if kind not in known:
        raise ConfigError(f"comparison type: expected one of {sorted(known)} (got {kind!r})")
    cls = known[kind]
    return cls.from_dict(data) if hasattr(cls, "from_dict") else _from_dict(cls, data)


def check_comparisons(comparisons: Iterable[Comparison]) -> tuple[Comparison, ...]:
    """Validate a set of comparisons: unique names, level 0 is ``null``, at most 127 levels."""
    out = tuple(comparisons)
    names = [c.name for c in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"comparisons: names must be unique (repeated: {dupes})")
    for c in out:
        if not c.levels or c.levels[0] != NULL_LEVEL or len(c.levels) < 3 or len(c.levels) > 127:
            raise ConfigError(
                f"comparison {c.name}: levels must start with 'null' and have 3..127 labels "
                f"(got {c.levels!r})"
            )
        if c.tf_level is not None and c.tf_level not in c.levels[1:]:
            raise ConfigError(
                f"comparison {c.name}: tf_level {c.tf_level!r} is not one of its levels"
            )
    return out


# ----------------------------------------------------------------- vectors


def record_positions(records: pl.DataFrame, row_ids: pl.Series) -> pl.Series:
    """Positions in ``records`` of the given row ids.

    The full normalized frame has ``row_id == position``; a filtered frame does
    not, so a position map is built then.  Unknown row ids raise SchemaError.
    """
    if s.ROW_ID not in records.columns:
        raise SchemaError(f"records: expected a {s.ROW_ID!r} column")
    ids = records[s.ROW_ID].cast(pl.Int64).to_numpy()
    wanted = row_ids.cast(pl.Int64).to_numpy()
    n = records.height
    if n and ids[0] == 0 and ids[-1] == n - 1 and bool(np.all(ids == np.arange(n))):
        positions = wanted
        if wanted.size and (wanted.min() < 0 or wanted.max() >= n):
            raise SchemaError(f"pairs: {s.ROW_L}/{s.ROW_R} refer to row ids absent from records")
    else:
        top = int(max(ids.max(initial=-1), wanted.max(initial=-1))) + 1
        table = np.full(top, -1, dtype=np.int64)
        table[ids] = np.arange(n)
        positions = table[wanted] if wanted.size else wanted
        if positions.size and positions.min() < 0:
            raise SchemaError(f"pairs: {s.ROW_L}/{s.ROW_R} refer to row ids absent from records")
    return pl.Series(positions, dtype=pl.UInt32)


def gather_pairs(
    records: pl.DataFrame, pairs: pl.DataFrame, columns: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The records' ``columns`` for the left and for the right record of each pair."""
    sub = _record_columns(records, columns)
    _check_pairs(pairs)
    return (
        sub[record_positions(records, pairs[s.ROW_L])],
        sub[record_positions(records, pairs[s.ROW_R])],
    )


_FEW_ROWS: Final = 4_096  # record frames this small are not rechunked


def _record_columns(records: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    missing = [c for c in columns if c not in records.columns]
    if missing:
        raise SchemaError(f"records: missing columns {missing} needed by the comparisons")
    # One contiguous chunk per column: gathers from a chunked frame (as hstack and
    # parquet produce) are several times slower, lists especially; a service call's few
    # rows are not worth the copy.  Built from the columns, not with select: a query's
    # fixed cost is what a service call pays.
    sub = pl.DataFrame([records.get_column(c) for c in columns])
    return sub if sub.height <= _FEW_ROWS else sub.rechunk()


def _check_pairs(pairs: pl.DataFrame) -> None:
    for c in (s.ROW_L, s.ROW_R):
        if c not in pairs.columns:
            raise SchemaError(f"pairs: expected a {c!r} column")


ONE_PASS_PAIRS = range(64, 3_001)
"""Batches of this many pairs evaluate every condition of every comparison in one query
(two, with the gated ones).

A polars query costs a fixed fraction of a millisecond however small its frame,
and the staged evaluation issues a few per comparison.  Measured on the
service's candidate pairs (``benchmarks/service_bench.py``'s store): a batch of
32 records (~1,000 pairs) resolves in ~31 ms one-pass against ~36 ms staged;
one record (a few dozen pairs) in ~18 ms against ~16 ms, since few pairs leave
the cheap levels undecided; above a few thousand pairs, evaluating the costly
conditions on every pair costs more than the queries saved.
"""


@dataclass(frozen=True, slots=True)
class _OnePass:
    columns: tuple[str, ...]  # record columns of the condition comparisons
    first: tuple[pl.Expr, ...]  # every ungated condition, named "<k>.<condition>"
    gated: tuple[tuple[str, pl.Expr], ...]  # (its gate's column, a gated condition)
    prefixes: tuple[str | None, ...]  # per comparison: its prefix, or None (computes itself)


def _one_pass_plan(comps: tuple[Comparison, ...]) -> _OnePass:
    try:
        return _cached_one_pass_plan(comps)
    except TypeError:  # a custom comparison that is not hashable
        return _cached_one_pass_plan.__wrapped__(comps)


@functools.cache
def _cached_one_pass_plan(comps: tuple[Comparison, ...]) -> _OnePass:
    columns: dict[str, None] = {}
    first: list[pl.Expr] = []
    gated: list[tuple[str, pl.Expr]] = []
    prefixes: list[str | None] = []
    for k, comp in enumerate(comps):
        if not isinstance(comp, ConditionComparison):
            prefixes.append(None)
            continue
        prefix = f"{k}."
        conditions = comp.conditions()
        columns.update(dict.fromkeys(comp.columns))
        for n, e in conditions.exprs.items():
            gate = conditions.gates.get(n)
            if gate is None:
                first.append(e.alias(prefix + n))
            else:
                gated.append((prefix + gate, e.alias(prefix + n)))
        prefixes.append(prefix)
    return _OnePass(tuple(columns), tuple(first), tuple(gated), tuple(prefixes))


def _evaluate_once(plan: _OnePass, frame: pl.DataFrame) -> pl.DataFrame:
    """Every ungated condition, then in a second query the gated ones whose gate holds somewhere."""
    done = frame.select(plan.first)
    open_gates = {
        gate for gate in dict.fromkeys(g for g, _ in plan.gated) if done.get_column(gate).any()
    }
    wanted = [e for gate, e in plan.gated if gate in open_gates]
    return done.hstack(frame.select(wanted)) if wanted else done


def _compare_chunk(
    comps: tuple[Comparison, ...],
    left_records: pl.DataFrame,
    right_records: pl.DataFrame,
    *,
    mode: Literal["staged", "one_pass", "scalar"],
) -> list[pl.Series]:
    """Each comparison's levels on the pairs (left_records[i], right_records[i]).

    ``mode``: how conditions are evaluated (the levels are the same):
    ``staged`` (each comparison on the pairs each step needs), ``one_pass``
    (every comparison's conditions in one query) or ``scalar`` (pair by pair,
    with the conditions' scalar twins).  Comparisons without conditions, or
    without twins in scalar mode, compute themselves.
    """
    plan = _one_pass_plan(comps) if mode == "one_pass" else None
    done = None
    if plan is not None and plan.first:
        done = _evaluate_once(plan, pair_frame(left_records, right_records, plan.columns))
    rows: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None
    if mode == "scalar":
        rows = (left_records.to_dicts(), right_records.to_dicts())
    out = []
    for k, comp in enumerate(comps):
        prefix = None if plan is None else plan.prefixes[k]
        twins = isinstance(comp, ConditionComparison) and comp.conditions().scalar is not None
        if rows is not None and twins:
            view = RowView(rows[0], rows[1], comp.conditions())  # type: ignore[attr-defined]
            level = comp.decide(view)  # type: ignore[attr-defined]
            gamma = pl.Series(s.GAMMA_PREFIX + comp.name, level, dtype=pl.Int8)
        elif done is not None and prefix is not None:
            level = comp.decide(EvaluatedView(done, prefix))  # type: ignore[attr-defined]
            gamma = pl.Series(s.GAMMA_PREFIX + comp.name, level, dtype=pl.Int8)
        else:
            gamma = comp.compute(left_records, right_records)
        if len(gamma) != left_records.height:
            raise SchemaError(
                f"comparison {comp.name}: returned {len(gamma)} levels "
                f"for {left_records.height} pairs"
            )
        out.append(gamma.cast(pl.Int8))
    return out


def comparison_vectors(
    records: pl.DataFrame,
    pairs: pl.DataFrame,
    comparisons: Iterable[Comparison] | None = None,
    *,
    chunk_size: int = 500_000,
) -> pl.DataFrame:
    """CandidatePairs + one Int8 ``gamma_<name>`` column per comparison (ComparisonVectors).

    Pairs are compared ``chunk_size`` at a time: the gathered record columns
    take a few hundred bytes per pair, the levels one byte per comparison.  A
    chunk of :data:`ONE_PASS_PAIRS` pairs is compared in one pass; one of fewer
    than :data:`linkage._similarity.SCALAR_PAIRS` pairs (a service call's) pair by
    pair with the conditions' scalar twins.
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"chunk_size: expected a positive integer (got {chunk_size!r})")
    comps = check_comparisons(default_comparisons() if comparisons is None else comparisons)
    columns = list(dict.fromkeys(c for comp in comps for c in comp.columns))
    sub = _record_columns(records, columns)
    _check_pairs(pairs)
    left_pos = record_positions(records, pairs[s.ROW_L])
    right_pos = record_positions(records, pairs[s.ROW_R])
    parts: list[list[pl.Series]] = [[] for _ in comps]
    for start in range(0, max(pairs.height, 1), chunk_size):
        left_records = sub[left_pos.slice(start, chunk_size)]
        right_records = sub[right_pos.slice(start, chunk_size)]
        n = left_records.height
        mode = "scalar" if n < SCALAR_PAIRS else "one_pass" if n in ONE_PASS_PAIRS else "staged"
        for k, gamma in enumerate(_compare_chunk(comps, left_records, right_records, mode=mode)):
            parts[k].append(gamma)
    gammas = [
        (part[0] if len(part) == 1 else pl.concat(part)).alias(s.GAMMA_PREFIX + comp.name)
        for comp, part in zip(comps, parts, strict=True)
    ]
    stale = [g.name for g in gammas if g.name in pairs.columns]
    return (pairs.drop(stale) if stale else pairs).hstack(gammas)


def gamma_columns(comparisons: Iterable[Comparison]) -> list[str]:
    """The vector column names of ``comparisons``, in order."""
    return [s.GAMMA_PREFIX + c.name for c in comparisons]
