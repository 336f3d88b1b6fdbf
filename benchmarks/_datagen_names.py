"""Drawing person names: Han names by era and sex, minority names, HK/Macau/Taiwan and foreign names.

Han names are kept as indices (surname, first and second given character) so
that record-level errors can swap a character for a homophone by table lookup;
strings are built once, in polars, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import polars as pl
from pypinyin import Style, lazy_pinyin

from benchmarks import _datagen_tables as T

ZIPF_EXPONENT = 0.6


def zipf_weights(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** ZIPF_EXPONENT
    return w / w.sum()


def passport_spelling(pinyin: str) -> str:
    """Upper-case pinyin as printed in passports: ü after l/n is written YU (LYU, NYU)."""
    return pinyin.replace("lü", "lyu").replace("nü", "nyu").replace("ü", "u").upper()


@dataclass(frozen=True, slots=True)
class CharTable:
    chars: tuple[str, ...]
    latin: tuple[str, ...]  # passport spelling, upper case
    index: dict[str, int]
    variants: np.ndarray  # (n_chars, max_group) indices of look-alikes/homophones, -1 padded
    variant_count: np.ndarray


@cache
def char_table() -> CharTable:
    """Every given-name character the generator can write, with its reading and variants."""
    seen: dict[str, None] = {}
    for table in T.GIVEN.values():
        for text in (table.single, table.first, table.second, *table.whole):
            seen.update(dict.fromkeys(text))
    for name, _ in T.COMMON_FULL_NAMES:
        seen.update(dict.fromkeys(name[1:]))
    for group in T.VARIANT_GROUPS:
        seen.update(dict.fromkeys(group))
    chars = tuple(seen)
    index = {c: i for i, c in enumerate(chars)}
    latin = tuple(
        passport_spelling(
            T.GIVEN_READINGS.get(c) or lazy_pinyin(c, style=Style.NORMAL, v_to_u=True)[0]
        )
        for c in chars
    )
    others: list[list[int]] = [[] for _ in chars]
    for group in T.VARIANT_GROUPS:
        for c in group:
            others[index[c]].extend(
                index[o] for o in group if o != c and index[o] not in others[index[c]]
            )
    width = max(len(o) for o in others)
    variants = np.full((len(chars), width), -1, dtype=np.int32)
    for i, o in enumerate(others):
        variants[i, : len(o)] = o
    return CharTable(
        chars, latin, index, variants, np.array([len(o) for o in others], dtype=np.int32)
    )


@dataclass(frozen=True, slots=True)
class _GivenArrays:
    single: np.ndarray
    first: np.ndarray
    second: np.ndarray
    whole: np.ndarray  # (k, 2)


@cache
def _given_arrays() -> dict[tuple[int, str], _GivenArrays]:
    idx = char_table().index
    return {
        key: _GivenArrays(
            np.array([idx[c] for c in t.single], dtype=np.int32),
            np.array([idx[c] for c in t.first], dtype=np.int32),
            np.array([idx[c] for c in t.second], dtype=np.int32),
            np.array([[idx[w[0]], idx[w[1]]] for w in t.whole], dtype=np.int32),
        )
        for key, t in T.GIVEN.items()
    }


def _zipf_pick(rng: np.random.Generator, pool: np.ndarray, size: int) -> np.ndarray:
    return pool[rng.choice(len(pool), size=size, p=zipf_weights(len(pool)))]


def draw_given(
    rng: np.random.Generator, years: np.ndarray, male: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Given-name character indices (second is -1 for single-character names)."""
    n = len(years)
    g1 = np.zeros(n, dtype=np.int32)
    g2 = np.full(n, -1, dtype=np.int32)
    era = np.searchsorted(np.array(T.ERA_BOUNDS), years, side="right")
    arrays = _given_arrays()
    for e in range(len(T.ERA_BOUNDS) + 1):
        for sex_key, sex_val in (("M", True), ("F", False)):
            rows = np.flatnonzero((era == e) & (male == sex_val))
            if rows.size == 0:
                continue
            a = arrays[(e, sex_key)]
            u = rng.random(rows.size)
            single = u < T.SINGLE_SHARE[e]
            whole = ~single & (u < T.SINGLE_SHARE[e] + (1 - T.SINGLE_SHARE[e]) * T.WHOLE_SHARE)
            composed = ~single & ~whole
            r = rows[single]
            g1[r] = _zipf_pick(rng, a.single, r.size)
            r = rows[whole]
            pick = a.whole[rng.choice(len(a.whole), size=r.size, p=zipf_weights(len(a.whole)))]
            g1[r], g2[r] = pick[:, 0], pick[:, 1]
            r = rows[composed]
            g1[r] = _zipf_pick(rng, a.first, r.size)
            g2[r] = _zipf_pick(rng, a.second, r.size)
    return g1, g2


@cache
def _surname_index() -> dict[str, int]:
    return {s: i for i, s in enumerate(T.surnames().names)}


def draw_surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    s = T.surnames()
    return rng.choice(len(s.names), size=n, p=s.weights).astype(np.int32)


def ethnic_surnames(rng: np.random.Generator, ethnicity: str, n: int) -> np.ndarray:
    """Surnames typical of a minority group (the ones the corpus knows)."""
    index = _surname_index()
    pool = np.array(
        [index[c] for c in dict.fromkeys(T.ETHNIC_SURNAMES[ethnicity]) if c in index],
        dtype=np.int32,
    )
    return pool[rng.integers(0, len(pool), size=n)]


def common_full_names(
    rng: np.random.Generator, male: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One of the most frequent full names of China per row, matching the sex."""
    table = char_table()
    index = _surname_index()
    n = len(male)
    sur = np.zeros(n, dtype=np.int32)
    g1 = np.zeros(n, dtype=np.int32)
    g2 = np.full(n, -1, dtype=np.int32)
    for sex_key, sex_val in (("M", True), ("F", False)):
        names = [name for name, s in T.COMMON_FULL_NAMES if s == sex_key]
        rows = np.flatnonzero(male == sex_val)
        pick = rng.choice(len(names), size=rows.size, p=zipf_weights(len(names)))
        su = np.array([index[name[0]] for name in names], dtype=np.int32)
        a = np.array([table.index[name[1]] for name in names], dtype=np.int32)
        b = np.array(
            [table.index[name[2]] if len(name) > 2 else -1 for name in names], dtype=np.int32
        )
        sur[rows], g1[rows], g2[rows] = su[pick], a[pick], b[pick]
    return sur, g1, g2


def draw_special_names(
    rng: np.random.Generator, kind: str, male: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Names without a Han surname: ``kind`` is "dot" (Uyghur, Kazakh), "tibetan" or "mongolian".

    Returns (name, passport spelling) as object arrays.
    """
    n = len(male)
    name = np.empty(n, dtype=object)
    latin = np.empty(n, dtype=object)
    for sex_val in (True, False):
        rows = np.flatnonzero(male == sex_val)
        if rows.size == 0:
            continue
        if kind == "dot":
            own = T.DOT_NAMES_MALE if sex_val else T.DOT_NAMES_FEMALE
            a = rng.integers(0, len(own), rows.size)
            b = rng.integers(0, len(T.DOT_NAMES_MALE), rows.size)
            name[rows] = [own[i][0] + "·" + T.DOT_NAMES_MALE[j][0] for i, j in zip(a, b)]
            latin[rows] = [own[i][1] + " " + T.DOT_NAMES_MALE[j][1] for i, j in zip(a, b)]
        elif kind == "tibetan":
            own = T.TIBETAN_MALE if sex_val else T.TIBETAN_FEMALE
            a = rng.integers(0, len(T.TIBETAN_FIRST), rows.size)
            b = rng.integers(0, len(own), rows.size)
            two_part = rng.random(rows.size) < 0.8
            name[rows] = [
                T.TIBETAN_FIRST[i][0] + own[j][0] if t else T.TIBETAN_FIRST[i][0]
                for i, j, t in zip(a, b, two_part)
            ]
            latin[rows] = [
                T.TIBETAN_FIRST[i][1] + " " + own[j][1] if t else T.TIBETAN_FIRST[i][1]
                for i, j, t in zip(a, b, two_part)
            ]
        else:
            own = T.MONGOLIAN_MALE if sex_val else T.MONGOLIAN_FEMALE
            a = rng.integers(0, len(own), rows.size)
            name[rows] = [own[i][0] for i in a]
            latin[rows] = [own[i][1] for i in a]
    return name, latin


@cache
def _hmt_pinyin() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Mainland pinyin of the simplified forms of the HK/Macau/Taiwan surname and given-name tables."""

    def spell(text: str) -> str:
        return passport_spelling(lazy_pinyin(text, style=Style.NORMAL, v_to_u=True)[0])

    index = _surname_index()
    readings = T.surnames().pinyin
    surnames = tuple(
        passport_spelling(readings[index[s[1]]]) if s[1] in index else spell(s[1])
        for s in T.HMT_SURNAMES
    )
    return surnames, tuple(spell(g[1]) for g in T.HMT_GIVEN)


def draw_hmt_names(
    rng: np.random.Generator, region: np.ndarray, male: np.ndarray
) -> dict[str, np.ndarray]:
    """Names of Hong Kong (1), Macau (2) and Taiwan (3) residents.

    Returns traditional and simplified characters, the local romanization of
    surname and given name (syllables space separated), the mainland pinyin of
    the simplified form, and an English first name for some Hong Kong people.
    """
    n = len(region)
    sur = rng.integers(0, len(T.HMT_SURNAMES), n)
    given_pool = {
        sex_val: np.array(
            [i for i, g in enumerate(T.HMT_GIVEN) if g[4] in ("U", "M" if sex_val else "F")]
        )
        for sex_val in (True, False)
    }
    g1 = np.zeros(n, dtype=np.int64)
    g2 = np.zeros(n, dtype=np.int64)
    for sex_val, pool in given_pool.items():
        rows = np.flatnonzero(male == sex_val)
        g1[rows] = pool[rng.integers(0, len(pool), rows.size)]
        g2[rows] = pool[rng.integers(0, len(pool), rows.size)]
    g2 = np.where(g2 == g1, (g2 + 1) % len(T.HMT_GIVEN), g2)
    col_sur = np.where(region == 1, 2, np.where(region == 2, 3, 4))
    col_given = np.where(region == 3, 3, 2)
    trad = [
        T.HMT_SURNAMES[s][0] + T.HMT_GIVEN[a][0] + T.HMT_GIVEN[b][0] for s, a, b in zip(sur, g1, g2)
    ]
    simp = [
        T.HMT_SURNAMES[s][1] + T.HMT_GIVEN[a][1] + T.HMT_GIVEN[b][1] for s, a, b in zip(sur, g1, g2)
    ]
    lat_sur = [T.HMT_SURNAMES[s][c] for s, c in zip(sur, col_sur)]
    lat_given = [T.HMT_GIVEN[a][c] + " " + T.HMT_GIVEN[b][c] for a, b, c in zip(g1, g2, col_given)]
    sur_pinyin, given_pinyin = _hmt_pinyin()
    pin_sur = [sur_pinyin[s] for s in sur]
    pin_given = [given_pinyin[a] + " " + given_pinyin[b] for a, b in zip(g1, g2)]
    english = np.empty(n, dtype=object)
    has_english = (region == 1) & (rng.random(n) < 0.35)
    for sex_val in (True, False):
        rows = np.flatnonzero(has_english & (male == sex_val))
        pool = T.HK_ENGLISH_NAMES["M" if sex_val else "F"]
        english[rows] = [pool[i] for i in rng.integers(0, len(pool), rows.size)]
    return {
        "trad": np.array(trad, dtype=object),
        "simp": np.array(simp, dtype=object),
        "lat_sur": np.array(lat_sur, dtype=object),
        "lat_given": np.array(lat_given, dtype=object),
        "pin_sur": np.array(pin_sur, dtype=object),
        "pin_given": np.array(pin_given, dtype=object),
        "english": english,
    }


def draw_foreign_names(
    rng: np.random.Generator, nationality: np.ndarray, male: np.ndarray
) -> dict[str, np.ndarray]:
    """Romanized surname and given name plus the Chinese transliteration used on Chinese documents."""
    n = len(nationality)
    lat_sur = np.empty(n, dtype=object)
    lat_given = np.empty(n, dtype=object)
    chinese = np.empty(n, dtype=object)
    cultures = np.array([T.NATIONALITIES[i][2] for i in nationality], dtype=object)
    for culture, (surs, males, females) in T.FOREIGN_NAMES.items():
        for sex_val, givens in ((True, males), (False, females)):
            rows = np.flatnonzero((cultures == culture) & (male == sex_val))
            if rows.size == 0:
                continue
            s = rng.integers(0, len(surs), rows.size)
            g = rng.integers(0, len(givens), rows.size)
            lat_sur[rows] = [surs[i][0] for i in s]
            lat_given[rows] = [givens[i][0] for i in g]
            if culture in T.SURNAME_FIRST_CULTURES:
                chinese[rows] = [surs[i][1] + givens[j][1] for i, j in zip(s, g)]
            else:
                chinese[rows] = [givens[j][1] + "·" + surs[i][1] for i, j in zip(s, g)]
    return {"lat_sur": lat_sur, "lat_given": lat_given, "chinese": chinese}


def han_name_expr(sur: str, g1: str, g2: str) -> pl.Expr:
    """Polars expression building 'surname + given' from index columns (-1 = absent)."""
    table = char_table()
    surnames = pl.Series(list(T.surnames().names) + [""])
    chars = pl.Series(list(table.chars) + [""])
    n_sur, n_chars = len(surnames) - 1, len(chars) - 1
    return pl.concat_str(
        _gather(surnames, sur, n_sur), _gather(chars, g1, n_chars), _gather(chars, g2, n_chars)
    )


def han_latin_exprs(sur: str, g1: str, g2: str) -> tuple[pl.Expr, pl.Expr]:
    """(surname, given syllables separated by spaces) in passport spelling."""
    table = char_table()
    surnames = pl.Series([passport_spelling(p) for p in T.surnames().pinyin] + [""])
    chars = pl.Series(list(table.latin) + [""])
    n_sur, n_chars = len(surnames) - 1, len(chars) - 1
    given = pl.concat_str(
        _gather(chars, g1, n_chars), _gather(chars, g2, n_chars), separator=" "
    ).str.strip_chars(" ")
    return _gather(surnames, sur, n_sur), given


def _gather(values: pl.Series, column: str, missing: int) -> pl.Expr:
    idx = pl.col(column)
    return pl.lit(values).gather(pl.when(idx < 0).then(missing).otherwise(idx))
