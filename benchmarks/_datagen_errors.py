"""Formats and errors that department records really show, as vectorized polars expressions.

Each department writes dates, sexes, phones and document numbers in its own
conventions (formats), and its clerks and systems introduce errors at their own
rates.  Every function here returns a polars expression over a column, so a
department applies it to the rows a numpy mask selects with
:meth:`Recorder.apply`, which also remembers which error hit which record (the
truth's ``errors`` column).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import opencc
import polars as pl

from benchmarks import _datagen_names as N
from benchmarks import _datagen_tables as T
from benchmarks._datagen_places import HMT_HOME_ADDRESSES, region_index

ASCII_DIGITS = tuple("0123456789")
FULLWIDTH_DIGITS = tuple("０１２３４５６７８９")


def lit(values: np.ndarray) -> pl.Expr:
    """A per-row numpy array as a polars expression (same height as the frame)."""
    return pl.lit(pl.Series(values))


class Recorder:
    """Applies transformations to chosen rows of a frame and remembers which error hit which row.

    A transformation is evaluated on the chosen rows only (errors hit a few
    percent of records; a style applies to its share), so expressions must
    refer to per-row inputs through columns (see :meth:`add`), never through
    full-height literals.
    """

    def __init__(self, frame: pl.DataFrame, rng: np.random.Generator) -> None:
        self.frame = frame
        self.rng = rng
        self.n = frame.height
        self.masks: dict[str, np.ndarray] = {}

    def draw(self, rate: float, where: np.ndarray | None = None) -> np.ndarray:
        """Rows hit at ``rate`` (among ``where`` rows); always consumes one draw per row."""
        mask = self.rng.random(self.n) < rate
        return mask if where is None else mask & where

    def add(self, name: str, values: np.ndarray | pl.Series | pl.Expr) -> str:
        """Put a per-row input (or an expression over the frame) in a working column; returns its name."""
        if isinstance(values, pl.Expr):
            self.frame = self.frame.with_columns(values.alias(name))
        else:
            self.frame = self.frame.with_columns(pl.Series(name, values))
        return name

    def _evaluate(self, expr: pl.Expr, rows: np.ndarray) -> pl.Series:
        columns = list(dict.fromkeys(expr.meta.root_names())) or [self.frame.columns[0]]
        part = self.frame.select(columns)
        if rows.size < self.n:
            part = part[rows]
        return part.with_columns(expr.alias("__value"))["__value"]

    def apply(self, name: str | None, column: str, mask: np.ndarray, expr: pl.Expr) -> None:
        """Replace ``column`` by ``expr`` on ``mask`` rows; ``name`` is recorded as an error unless None."""
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        values = self._evaluate(expr, rows)
        if rows.size == self.n:
            new = values.alias(column)
        else:
            current = self.frame[column]
            if values.dtype != current.dtype:
                values = values.cast(current.dtype)
            new = current.clone().scatter(rows, values)
        self.frame = self.frame.with_columns(new.alias(column))
        if name is not None:
            changed = np.zeros(self.n, dtype=bool)
            changed[rows] = values.is_not_null().to_numpy()
            self.mark(name, changed)

    def apply_styles(
        self,
        column: str,
        styles: Styles,
        exprs: dict[str, pl.Expr],
        where: np.ndarray | None = None,
    ) -> None:
        """Write ``column`` in each row's style; rows whose style has no expression keep their value."""
        for i, name in enumerate(styles.names):
            if name in exprs:
                mask = styles.codes == i
                self.apply(None, column, mask if where is None else mask & where, exprs[name])

    def mark(self, name: str, mask: np.ndarray) -> None:
        self.masks[name] = self.masks.get(name, np.zeros(self.n, dtype=bool)) | mask

    def errors_column(self, name: str) -> pl.Series:
        """Comma-separated names of the errors recorded per row (null when none)."""
        out = np.full(self.n, "", dtype=object)
        for key in sorted(self.masks):
            rows = np.flatnonzero(self.masks[key])
            out[rows] = out[rows] + "," + key
        series = pl.Series(name, out.tolist(), dtype=pl.String).str.strip_chars_start(",")
        return pl.select(pl.when(series != "").then(series)).to_series().alias(name)


class Styles:
    """Per-row choice among named styles, kept as small integer codes (cheap to hand to polars)."""

    def __init__(self, names: list[str], codes: np.ndarray) -> None:
        self.names = names
        self.codes = codes

    def mask(self, *names: str) -> np.ndarray:
        wanted = [i for i, k in enumerate(self.names) if k in names]
        return np.isin(self.codes, wanted)

    def set(self, mask: np.ndarray, name: str) -> None:
        """Force ``name`` on the ``mask`` rows."""
        if name not in self.names:
            self.names.append(name)
        self.codes = np.where(mask, self.names.index(name), self.codes).astype(np.int8)

    def present(self) -> list[str]:
        return [self.names[i] for i in np.unique(self.codes)]


def choose(rng: np.random.Generator, n: int, weights: dict[str, float]) -> Styles:
    """Per-row style names drawn with the given weights (dict order is the draw order)."""
    names = list(weights)
    p = np.array([weights[k] for k in names], dtype=float)
    return Styles(names, rng.choice(len(names), size=n, p=p / p.sum()).astype(np.int8))


# ---------------------------------------------------------------- dates

DATE_FORMATS: dict[str, str] = {
    "iso": "%Y-%m-%d",
    "compact": "%Y%m%d",
    "dotted": "%Y.%m.%d",
    "slashed": "%Y/%m/%d",
    "slashed_short": "%Y/%-m/%-d",
    "chinese": "%Y年%-m月%-d日",
    "timestamp": "%Y-%m-%d 00:00:00",
    "iso_t": "%Y-%m-%dT00:00:00",
    "year_month": "%Y-%m",
    "passport": "%d %b %Y",
}
EXCEL_EPOCH_OFFSET = 25569  # Excel serial of 1970-01-01


def date_exprs(column: str) -> dict[str, pl.Expr]:
    """A date column written in each style of DATE_FORMATS, plus 'excel' serial numbers."""
    d = pl.col(column)
    exprs = {k: d.dt.strftime(fmt) for k, fmt in DATE_FORMATS.items()}
    exprs["passport"] = exprs["passport"].str.to_uppercase()
    exprs["excel"] = (d.cast(pl.Int32) + EXCEL_EPOCH_OFFSET).cast(pl.String)
    return exprs


def swap_day_month(column: str) -> pl.Expr:
    """The date read with day and month swapped (only meaningful where the day is <= 12)."""
    d = pl.col(column)
    return pl.date(d.dt.year(), d.dt.day(), d.dt.month())


# ------------------------------------------------------------------ sex

SEX_STYLES: dict[str, tuple[str, str]] = {
    "zh": ("男", "女"),
    "mf": ("M", "F"),
    "code": ("1", "2"),
    "zh_long": ("男性", "女性"),
    "en": ("male", "female"),
}


def sex_exprs(male: str) -> dict[str, pl.Expr]:
    m = pl.col(male)
    return {k: pl.when(m).then(pl.lit(a)).otherwise(pl.lit(b)) for k, (a, b) in SEX_STYLES.items()}


# ---------------------------------------------------------------- phones


def phone_exprs(column: str) -> dict[str, pl.Expr]:
    """Mainland mobile numbers (11 digits) written in each style ('plain' keeps them)."""
    p = pl.col(column)
    a, b, c = p.str.slice(0, 3), p.str.slice(3, 4), p.str.slice(7, 4)
    return {
        "plus86": pl.concat_str(pl.lit("+86"), p),
        "plus86_spaced": pl.concat_str(pl.lit("+86 "), a, pl.lit(" "), b, pl.lit(" "), c),
        "dashed": pl.concat_str(a, pl.lit("-"), b, pl.lit("-"), c),
        "spaced": pl.concat_str(a, pl.lit(" "), b, pl.lit(" "), c),
        "fullwidth": p.str.replace_many(ASCII_DIGITS, FULLWIDTH_DIGITS),
        "cc_dash": pl.concat_str(pl.lit("86-"), p),
        "cc_0086": pl.concat_str(pl.lit("0086 "), p),
    }


def digit_typo(column: str, position: str, delta: str) -> pl.Expr:
    """One character replaced by another digit (a letter check character becomes a digit).

    ``position`` and ``delta`` name integer columns.
    """
    s = pl.col(column)
    pos = pl.col(position)
    old = s.str.slice(pos, 1)
    new = ((old.cast(pl.Int32, strict=False).fill_null(0) + pl.col(delta)) % 10).cast(pl.String)
    return pl.concat_str(s.str.slice(0, pos), new, s.str.slice(pos + 1))


def transposition(column: str, position: str) -> pl.Expr:
    """Two adjacent characters swapped (at the ``position`` column's offset)."""
    s = pl.col(column)
    pos = pl.col(position)
    return pl.concat_str(
        s.str.slice(0, pos), s.str.slice(pos + 1, 1), s.str.slice(pos, 1), s.str.slice(pos + 2)
    )


# ------------------------------------------------------------ ID numbers


def excel_truncated(column: str) -> pl.Expr:
    """What Excel leaves of an 18-digit number: 15 significant digits, then zeros."""
    return pl.concat_str(pl.col(column).str.slice(0, 15), pl.lit("000"))


def excel_scientific(column: str) -> pl.Expr:
    """An 18-digit number shown in Excel's scientific notation: 1.10101E+17."""
    s = pl.col(column)
    return pl.concat_str(
        s.str.slice(0, 1), pl.lit("."), s.str.slice(1, 5).str.strip_chars_end("0"), pl.lit("E+17")
    )


def fullwidth(column: str) -> pl.Expr:
    return pl.col(column).str.replace_many([*ASCII_DIGITS, "X"], [*FULLWIDTH_DIGITS, "Ｘ"])


def id_spaced(column: str) -> pl.Expr:
    """Region, birth date and sequence separated by spaces, as typed from the card."""
    s = pl.col(column)
    return pl.concat_str(
        s.str.slice(0, 6), pl.lit(" "), s.str.slice(6, 8), pl.lit(" "), s.str.slice(14)
    )


def masked_id_exprs(column: str) -> dict[str, pl.Expr]:
    """Resident IDs masked as in published judgment-debtor lists."""
    s = pl.col(column)
    return {
        "keep4": pl.concat_str(s.str.slice(0, 4), pl.lit("*" * 10), s.str.slice(14)),
        "keep6": pl.concat_str(s.str.slice(0, 6), pl.lit("*" * 8), s.str.slice(14)),
        "keep10": pl.concat_str(s.str.slice(0, 10), pl.lit("*" * 4), s.str.slice(14)),
    }


# ---------------------------------------------------------------- names


@cache
def _traditional_map() -> tuple[list[str], list[str]]:
    """Simplified -> traditional for every character the generator writes in names and addresses."""
    text = set("".join(T.surnames().names)) | set("".join(N.char_table().chars))
    text |= set("".join(region_index().prefix))
    for table in (T.STREETS, T.COMMUNITIES, T.TOWNS, T.VILLAGES):
        text |= set("".join(table))
    for districts, streets in HMT_HOME_ADDRESSES.values():
        text |= set("".join(districts + streets))
    text |= set("号栋单元室镇村组·")
    converter = opencc.OpenCC("s2t")
    pairs = [(c, converter.convert(c)) for c in sorted(text)]
    pairs = [(s, t) for s, t in pairs if s != t and len(t) == 1]
    return [s for s, _ in pairs], [t for _, t in pairs]


def traditional(column: str) -> pl.Expr:
    """Characters converted to traditional script (as typed on a Hong Kong or Taiwan system)."""
    simp, trad = _traditional_map()
    return pl.col(column).str.replace_many(simp, trad)


def spaced_name(column: str) -> pl.Expr:
    """'张 伟': a space between all characters, as some forms align short names."""
    return pl.col(column).str.split("").list.join(" ")


def dot_separator(column: str, separator: str) -> pl.Expr:
    """The middle dot of a transliterated name written as another character (the ``separator`` column)."""
    sep = pl.col(separator)
    parts = pl.col(column).str.split_exact("·", 1)
    return pl.concat_str(parts.struct.field("field_0"), sep, parts.struct.field("field_1"))


def transliteration_variant(column: str) -> pl.Expr:
    keys = list(T.DOT_NAME_VARIANTS)
    return pl.col(column).str.replace_many(keys, [T.DOT_NAME_VARIANTS[k] for k in keys])


def variant_chars(
    rng: np.random.Generator, g1: np.ndarray, g2: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Homophone or look-alike substitution of one given-name character; returns new g1, g2 and rows changed."""
    table = N.char_table()
    count1 = np.where(g1 >= 0, table.variant_count[np.maximum(g1, 0)], 0)
    count2 = np.where(g2 >= 0, table.variant_count[np.maximum(g2, 0)], 0)
    second = (count2 > 0) & ((count1 == 0) | (rng.random(len(g1)) < 0.6))
    hit = mask & ((count1 > 0) | (count2 > 0))
    pick = rng.random(len(g1))
    new1, new2 = g1.copy(), g2.copy()
    rows = np.flatnonzero(hit & second)
    new2[rows] = table.variants[g2[rows], (pick[rows] * count2[rows]).astype(np.int64)]
    rows = np.flatnonzero(hit & ~second)
    new1[rows] = table.variants[g1[rows], (pick[rows] * count1[rows]).astype(np.int64)]
    return new1, new2, hit


# ------------------------------------------------------- romanized names


def latin_exprs(sur: str, given: str) -> dict[str, pl.Expr]:
    """Surname and given-name syllables ('ZHANG', 'XIAO MING') written in each style."""
    s, g = pl.col(sur), pl.col(given)
    joined = g.str.replace_all(" ", "")
    hyphen = g.str.replace_all(" ", "-")
    exprs = {
        "passport": pl.concat_str(s, pl.lit(" "), joined),  # ZHANG XIAOMING
        "comma": pl.concat_str(s, pl.lit(", "), joined),  # ZHANG, XIAOMING
        "split": pl.concat_str(s, pl.lit(" "), g),  # ZHANG XIAO MING / CHAN TAI MAN
        "comma_split": pl.concat_str(s, pl.lit(", "), g),  # CHAN, TAI MAN
        "hyphen": pl.concat_str(s, pl.lit(" "), hyphen),  # CHEN CHIH-MING
        "comma_hyphen": pl.concat_str(s, pl.lit(", "), hyphen),
        "title": pl.concat_str(s, pl.lit(" "), joined).str.to_titlecase(),  # Zhang Xiaoming
        "title_hyphen": pl.concat_str(s, pl.lit(" "), hyphen).str.to_titlecase(),  # Chen Chih-Ming
        "swapped": pl.concat_str(joined, pl.lit(" "), s),  # XIAOMING ZHANG
        "swapped_title": pl.concat_str(joined, pl.lit(" "), s).str.to_titlecase(),
        "swapped_split": pl.concat_str(g, pl.lit(" "), s),  # TAI MAN CHAN
    }
    # names without a given part (single-word Mongolian or Tibetan names) are the surname alone
    return {
        k: pl.when(g.is_null() | (g == "")).then(s).otherwise(v).str.strip_chars(" ,")
        for k, v in exprs.items()
    }
