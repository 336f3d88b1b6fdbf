"""Han personal names: canonical form, surname split and surname-aware pinyin.

A name is cleaned (NFKC, spaces and invisible characters removed, look-alikes
of the minority-name separator unified to U+00B7), converted to simplified
characters one character at a time (OpenCC t2s; its phrase rules are about
running text, and 乾 or 於 in a name must stay), folded over a short table of
variant characters (``data/variant_chars.tsv``), split into surname and given
name with the compound surnames of ``data/surnames.tsv``, and read in pinyin
with surname readings (单 is Shan, 万俟 is Mo Qi).

Conventions worth knowing:

* Names with the separator (买买提·艾力, 约翰·史密斯): the last part is the
  surname (for Uyghur and Kazakh names it is the father's name, which plays the
  same role in registers), the other parts the given name.  Their pinyin is
  read plainly, part after part, without surname readings.
* Names of five or more characters with neither separator nor compound surname
  (transliterations written without the separator) get no surname; their
  pinyin equals that of the separated spelling, so they still compare.
* ``surname_alt`` holds the other plausible split: the single surname of a
  compound (欧阳 -> 欧) or the double surname of a four-character name (张王丽华
  -> 张王).

``name_columns`` computes each distinct name once: names of two to four URO
characters, spaces allowed (nearly all of them), go through polars expressions
over the same tables; the rest through :func:`normalize_name`.  A property test
holds the two paths equal.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import polars as pl

from normalizers import schema
from normalizers._vector import gather_distinct, settle_in_order
from normalizers.errors import NormalizationError, OnError, SchemaError, check_on_error
from normalizers.pinyin import (
    char_readings,
    data_table,
    han_syllables,
    initials,
    surname_pinyin,
    surname_readings,
)
from normalizers.reasons import Reason

logger = logging.getLogger(__name__)

Script = Literal["han", "latin", "mixed"]

SEPARATOR = "\u00b7"
MAX_LENGTH = 40  # longest plausible name, separators included
_MAX_RAW = 400  # longer raw values are rejected before any work is done on them

# Ideographs: Extension A, the URO, compatibility ideographs, and planes 2-3.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_HAN_BLOCKS = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00),
               (0x20000, 0x2A6E0), (0x2A700, 0x2EE60), (0x30000, 0x323B0))
_IS_HAN = re.compile(f"[{_HAN}]")

# Dot-like characters typed for U+00B7 (bullet, katakana middle dot, hyphenation
# point, bullet operator, dot operator, black circle, word separator middle dot,
# Latin sinological dot, Canadian syllabics final middle dot, Z-notation spot,
# medium black circle, Hangul araea).  NFKC has already turned the Greek ano
# teleia into U+00B7 and the half-width katakana dot into U+30FB.
_MIDDLE_DOTS = "\u00b7\u2022\u30fb\u2027\u2219\u22c5\u25cf\u2e31\ua78f\u1427\u2981\u26ab\u2e33\u318d"
_TO_SEPARATOR = str.maketrans({c: SEPARATOR for c in _MIDDLE_DOTS})
# Full stops and dashes count as a separator only between two Han characters.
_DOTS_DASHES_BETWEEN_HAN = re.compile(
    f"(?<=[{_HAN}])[.\u3002\u2024\\-\u2010-\u2015\u2212\ufe63\u30fc]+(?=[{_HAN}])"
)
_SEPARATOR_RUN = re.compile(f"{SEPARATOR}{{2,}}")
_INVISIBLE = re.compile("[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACE = re.compile(r"\s+")

_LATIN_CLASS = "A-Za-z\u00c0-\u024f\u1e00-\u1eff"
_LATIN = re.compile(f"[{_LATIN_CLASS}]")
# A letter (word character, not digit or underscore) of neither Han nor Latin script.
_OTHER_LETTER = re.compile(f"[^\\W\\d_{_HAN}{_LATIN_CLASS}]")
# Masks and lost characters: 张*, 李××, 王○○, 赵?? (encoding loss), 钱□, U+FFFD, 张某.
_MASK = re.compile("[*×○〇?□■\ufffd]|(?<=.)某")
_NOT_KEPT = re.compile(f"[^{_HAN}\u00b7]+")

PLACEHOLDERS = frozenset(
    {
        "无", "没有", "暂无", "空", "空白", "不详", "未详", "不明", "未知", "未知姓名", "姓名不详",
        "无名", "无名氏", "佚名", "匿名", "某", "某某", "某某某", "测试", "测试用户", "测试数据",
        "待定", "待补充", "待填", "未填", "未填写", "略", "见附件", "同上", "本人", "其他", "其它",
        "样例", "示例", "姓名", "名字", "无姓名", "查无此人",
        "test", "testing", "tester", "null", "none", "nil", "nan", "n/a", "na", "n.a.", "unknown",
        "unk", "demo", "sample", "asdf", "aaa", "abc", "name", "noname", "anonymous", "tbd",
    }
)
PLACEHOLDER_PATTERN = re.compile(
    r"^(?:测试|test|用户|user|姓名|name|样例|sample)[\d_\-.#]*$|^[\-—_/\\.。*?？x0·]+$"
)
_BRACKETS = "()[]{}<>（）【】《》「」『』\"'“”‘’"

# GB 2312 characters that OpenCC t2s rewrites although they are standard in names
# (Table of General Standard Chinese Characters, 2013): 乾 qián, the surname 於,
# 吒, the surname 麴, and 薹 (not 苔).
_T2S_KEEP = frozenset("乾於吒麴薹")


@dataclass(frozen=True, slots=True)
class NameResult:
    """A Han name in canonical form with its surname split and pinyin keys."""

    norm: str | None
    reason: Reason
    surname: str | None = None
    given: str | None = None
    surname_alt: str | None = None
    pinyin: str | None = None
    pinyin_initials: str | None = None
    surname_pinyin: str | None = None
    script: Script | None = None


@dataclass(frozen=True, slots=True)
class _Surnames:
    compounds: dict[str, bool]  # compound -> read as the compound (False: the single reading is likelier)
    singles: frozenset[str]  # plausible single surnames (alternatives of compounds)
    common: frozenset[str]  # frequent single surnames (double surnames of four-character names)
    longest: int


@cache
def _surnames() -> _Surnames:
    compounds: dict[str, bool] = {}
    singles: set[str] = set()
    common: set[str] = set()
    for row in data_table("surnames.tsv"):
        name, tf = row["surname"], float(row["tf"] or 0)
        if row["kind"] == "compound":
            compounds[name] = row["prefer"] != "single"
        elif tf >= 10:  # the corpus' tail holds given-name characters (丽, 美) scored 5
            singles.add(name)
            if tf >= 100:
                common.add(name)
    return _Surnames(compounds, frozenset(singles), frozenset(common), max(map(len, compounds)))


@cache
def opencc_t2s() -> dict[str, str]:
    """OpenCC t2s of single characters, as shipped in ``data/t2s_chars.tsv`` (changed characters only).

    Covers every ideograph and the characters addresses are cleaned over; built
    by ``normalizers/data/build_char_tables.py`` so that no process has to run
    OpenCC over every ideograph.
    """
    text = resources.files("normalizers.data").joinpath("t2s_chars.tsv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    if lines[0] != "char\tsimplified":
        raise RuntimeError(f"t2s_chars.tsv: unexpected header {lines[0]!r}")
    return dict(line.split("\t") for line in lines[1:])


def _is_han(cp: int) -> bool:
    return any(lo <= cp < hi for lo, hi in _HAN_BLOCKS)


@cache
def t2s_table() -> dict[str, str]:
    """Traditional -> simplified, one character at a time, from OpenCC t2s (:func:`opencc_t2s`).

    Conversions to characters outside the BMP and the characters of
    ``_T2S_KEEP`` are left out; chains are closed so that converting twice
    changes nothing.
    """
    table = {
        src: dst
        for src, dst in opencc_t2s().items()
        if len(dst) == 1 and _is_han(ord(src)) and src not in _T2S_KEEP
        and (ord(dst) <= 0xFFFF or ord(src) > 0xFFFF)
    }
    for src, dst in table.items():
        seen = {src}
        while dst in table and dst not in seen:
            seen.add(dst)
            dst = table[dst]
        table[src] = dst
    return table


@cache
def variant_table() -> dict[str, str]:
    """Variant -> standard spelling from ``data/variant_chars.tsv`` (characters and minority-name respellings)."""
    return {row["variant"]: row["standard"] for row in data_table("variant_chars.tsv")}


@cache
def _converters() -> tuple[dict[int, str], dict[int, str], re.Pattern[str] | None]:
    folds = variant_table()
    single = {k: v for k, v in folds.items() if len(k) == 1}
    multi = [k for k in folds if len(k) > 1]
    pattern = re.compile("|".join(map(re.escape, multi))) if multi else None
    return str.maketrans(t2s_table()), str.maketrans(single), pattern


def _fold(text: str) -> str:
    _, single, multi = _converters()
    text = text.translate(single)
    if multi is not None:
        folds = variant_table()
        text = multi.sub(lambda m: folds[m.group(0)], text)
    return text


def split_name(name: str) -> tuple[str | None, str | None, str | None]:
    """``(surname, given, surname_alt)`` of a canonical Han name (see the module notes)."""
    if SEPARATOR in name:
        head, _, last = name.rpartition(SEPARATOR)
        return last, head, None
    n = len(name)
    if n == 1:
        return name, None, None
    table = _surnames()
    for k in range(min(table.longest, n - 1), 1, -1):
        prefix = name[:k]
        if prefix in table.compounds:
            if table.compounds[prefix]:
                alt = name[0] if k == 2 and name[0] in table.singles else None
                return prefix, name[k:], alt
            return name[0], name[1:], prefix
    if n >= 5:
        return None, name, None
    if n == 4 and name[0] in table.common and name[1] in table.common:
        return name[0], name[1:], name[:2]
    return name[0], name[1:], None


def _finish(norm: str, reason: Reason, script: Script) -> NameResult:
    surname, given, alt = split_name(norm)
    if SEPARATOR in norm or surname is None:
        syllables = han_syllables(norm)
        surname_py = (" ".join(han_syllables(surname)) or None) if surname else None
    else:
        surname_py = surname_pinyin(surname)
        syllables = (surname_py.split() if surname_py else []) + han_syllables(given or "")
    return NameResult(
        norm=norm,
        reason=reason,
        surname=surname,
        given=given,
        surname_alt=alt,
        pinyin=" ".join(syllables) or None,
        pinyin_initials=initials(syllables) or None,
        surname_pinyin=surname_py,
        script=script,
    )


def is_placeholder(text: str) -> bool:
    """True for 无, 不详, 某某, test, N/A, '-' and the like (whitespace already removed)."""
    core = text.lower().strip(_BRACKETS)
    return core in PLACEHOLDERS or bool(PLACEHOLDER_PATTERN.match(core))


def _masked(text: str, script: Script) -> NameResult:
    """A name whose given part is masked or lost: keep the visible surname, if any."""
    t2s, _, _ = _converters()
    visible = []
    for ch in text:
        if ch == "某" or not _IS_HAN.match(ch):
            break
        visible.append(ch)
    prefix = _fold("".join(visible).translate(t2s))
    if len(prefix) <= 1 or prefix in _surnames().compounds:
        surname = prefix or None
    else:
        surname = split_name(prefix)[0]
    return NameResult(
        None, Reason.NAME_MASKED, surname=surname,
        surname_pinyin=surname_pinyin(surname) if surname else None, script=script,
    )


def _normalize(value: str | None) -> NameResult:
    if value is None:
        return NameResult(None, Reason.MISSING)
    if not isinstance(value, str):
        value = str(value)
    if len(value) > _MAX_RAW:
        return NameResult(None, Reason.NAME_TOO_LONG)
    text = _SPACE.sub("", _INVISIBLE.sub("", unicodedata.normalize("NFKC", value)))
    if not text:
        return NameResult(None, Reason.MISSING)

    has_han = bool(_IS_HAN.search(text))
    has_latin = bool(_LATIN.search(text))
    has_other = bool(_OTHER_LETTER.search(text))
    script: Script | None = (
        ("mixed" if has_latin or has_other else "han") if has_han else ("latin" if has_latin else None)
    )
    if is_placeholder(text):
        return NameResult(None, Reason.NAME_PLACEHOLDER, script=script)
    if not has_han:
        if has_latin:
            return NameResult(None, Reason.NAME_LATIN_IN_HAN_FIELD, script="latin")
        if has_other:
            return NameResult(None, Reason.NAME_OTHER_SCRIPT)
        return NameResult(None, Reason.NAME_NO_LETTERS)

    # Latin x used as a mask (张XX) is a mask, not a mixed-script name.
    latin_letters = set(_LATIN.findall(text))
    x_mask = bool(latin_letters) and latin_letters <= {"x", "X"} and not has_other
    if x_mask or _MASK.search(text):
        return _masked(text, "han" if x_mask else script)  # type: ignore[arg-type]

    dotted = text.translate(_TO_SEPARATOR)
    unified = dotted != text
    dotted, between = _DOTS_DASHES_BETWEEN_HAN.subn(SEPARATOR, dotted)
    unified = unified or between > 0

    kept = _NOT_KEPT.sub("", dotted)
    kept = _SEPARATOR_RUN.sub(SEPARATOR, kept).strip(SEPARATOR)
    parts = kept.split(SEPARATOR)
    if len(parts) > 1 and all(len(p) == 1 for p in parts):
        kept = "".join(parts)  # 张.伟 is a typo, not a two-part transliteration
        unified = False
    unified = unified and SEPARATOR in kept

    t2s, _, _ = _converters()
    simplified = kept.translate(t2s)
    norm = _fold(simplified)
    if norm in PLACEHOLDERS:
        return NameResult(None, Reason.NAME_PLACEHOLDER, script=script)
    if len(norm) > MAX_LENGTH:
        return NameResult(None, Reason.NAME_TOO_LONG, script=script)

    if script == "mixed":
        reason = Reason.NAME_MIXED_SCRIPT
    elif simplified != kept:
        reason = Reason.NAME_TRADITIONAL_CONVERTED
    elif norm != simplified:
        reason = Reason.NAME_VARIANT_FOLDED
    elif unified:
        reason = Reason.NAME_SEPARATOR_UNIFIED
    elif norm != value:
        reason = Reason.CLEANED
    else:
        reason = Reason.OK
    return _finish(norm, reason, script)  # type: ignore[arg-type]


def normalize_name(value: str | None, *, on_error: OnError = "reject") -> NameResult:
    """Canonical Han name, surname split and surname-aware pinyin of ``value``.

    Under ``on_error="reject"`` never raises: unusable names come back with a null
    ``norm`` and a rejecting reason.  A romanized name comes back with
    ``NAME_LATIN_IN_HAN_FIELD`` (not a rejection) so that the caller can hand it
    to :func:`normalizers.romanized.normalize_latin_name`.

    >>> r = normalize_name("單雄信")
    >>> r.norm, r.reason.value, r.pinyin, r.pinyin_initials
    ('单雄信', 'NAME_TRADITIONAL_CONVERTED', 'shan xiong xin', 'sxx')
    >>> normalize_name("买买提•艾力").norm
    '买买提·艾力'
    """
    check_on_error(on_error)
    result = _normalize(value)
    if on_error == "raise" and result.reason.rejects:
        shown = None if value is None else str(value)[:60]
        raise NormalizationError(schema.NAME, shown, "a personal name in Han characters", result.reason)
    return result


# ----------------------------------------------------------------- frame path

_OUTPUT = {
    schema.NAME_NORM: pl.String,
    schema.NAME_REASON: pl.String,
    schema.NAME_SURNAME: pl.String,
    schema.NAME_GIVEN: pl.String,
    schema.NAME_SURNAME_ALT: pl.String,
    schema.NAME_PINYIN: pl.String,
    schema.NAME_PINYIN_INITIALS: pl.String,
    schema.NAME_SURNAME_PINYIN: pl.String,
    schema.NAME_SCRIPT: pl.String,
}
# Pure 2-4 character URO names, possibly with ASCII or ideographic spaces: the fast path.
_FAST_SHAPE = "^[ \t\u3000]*(?:[\u4e00-\u9fff][ \t\u3000]*){2,4}$"
_FAST_SPACES = "[ \t\u3000]+"


@cache
def _frame_tables() -> dict[str, Any]:
    surnames = _surnames()
    folds = variant_table()
    readings = surname_readings()
    return {
        "t2s": t2s_table(),
        # single characters first, then the respellings, as in _fold (leftmost-first)
        "fold": {**{k: v for k, v in folds.items() if len(k) == 1}, **{k: v for k, v in folds.items() if len(k) > 1}},
        "surname": pl.Series(list(readings), dtype=pl.String),
        "surname_reading": pl.Series(list(readings.values()), dtype=pl.String),
        "compound2": [k for k, v in surnames.compounds.items() if v and len(k) == 2],
        "compound3": [k for k, v in surnames.compounds.items() if v and len(k) == 3],
        "single_first2": [k for k, v in surnames.compounds.items() if not v and len(k) == 2],
        "singles": sorted(surnames.singles),
        "common": sorted(surnames.common),
        "placeholders": sorted(PLACEHOLDERS),
    }


def _fast_path(names: pl.Series) -> pl.DataFrame:
    """Outputs for pure 2-4 character names of the URO (spaces allowed), computed with expressions.

    Mirrors :func:`_normalize` and :func:`_finish` for exactly these names; the
    few it cannot settle (placeholders, masks, characters without a reading)
    come back with a null reason and go through the scalar path.  Compounds of
    four characters need a name of five, so they never occur here.
    """
    t = _frame_tables()
    readings = char_readings()
    frame = pl.DataFrame({"raw": names}).with_columns(
        pl.col("raw").str.replace_all(_FAST_SPACES, "").alias("cleaned")
    )
    frame = frame.with_columns(pl.col("cleaned").str.replace_many(t["t2s"]).alias("simplified"))
    frame = frame.with_columns(pl.col("simplified").str.replace_many(t["fold"], leftmost=True).alias("norm"))
    # Aho-Corasick over the few thousand characters present, not the 42,000 known.
    chars = frame.get_column("norm").str.split("").explode().unique().drop_nulls().to_list()
    unread = [ch for ch in chars if ch not in readings]
    spaced = {ch: readings[ch] + " " for ch in chars if ch in readings}
    surname_reading = {**{ch: readings[ch] for ch in chars if ch in readings}, **surname_readings()}

    norm = pl.col("norm")
    frame = frame.with_columns(
        norm.str.len_chars().alias("n"),
        norm.str.slice(0, 1).alias("c1"),
        norm.str.slice(1, 1).alias("c2"),
        norm.str.slice(0, 2).alias("p2"),
        norm.str.slice(0, 3).alias("p3"),
    )
    n, c1, c2, p2, p3 = (pl.col(c) for c in ("n", "c1", "c2", "p2", "p3"))
    compound3 = (n > 3) & p3.is_in(t["compound3"])
    compound2 = (n > 2) & p2.is_in(t["compound2"])
    single_first = (n > 2) & p2.is_in(t["single_first2"])
    double = (n == 4) & c1.is_in(t["common"]) & c2.is_in(t["common"])
    frame = frame.with_columns(
        pl.when(compound3).then(3).when(compound2).then(2).otherwise(1).alias("surname_len"),
        pl.when(compound3).then(None)
        .when(compound2).then(pl.when(c1.is_in(t["singles"])).then(1))
        .when(single_first | double).then(2)
        .alias("alt_len"),
    )
    frame = frame.with_columns(
        norm.str.slice(0, pl.col("surname_len")).alias("surname"),
        norm.str.slice(pl.col("surname_len")).alias("given"),
        pl.when(pl.col("alt_len").is_not_null()).then(norm.str.slice(0, pl.col("alt_len"))).alias("alt"),
    ).with_columns(
        pl.col("surname").replace_strict(surname_reading, default=None, return_dtype=pl.String).alias("surname_py"),
        pl.col("given").str.replace_many(spaced).str.strip_chars_end(" ").alias("given_py"),
    )
    initial_of = {ch: reading[0] for ch, reading in spaced.items()}
    frame = frame.with_columns(
        pl.concat_str([pl.col("surname_py"), pl.col("given_py")], separator=" ").alias("pinyin"),
        pl.concat_str([
            pl.col("surname").replace_strict(
                {k: initials(v.split()) for k, v in surname_reading.items()}, default=None, return_dtype=pl.String
            ),
            pl.col("given").str.replace_many(initial_of),
        ]).alias("initials"),
    )
    pinyin = pl.col("pinyin")
    raw, cleaned, simplified = pl.col("raw"), pl.col("cleaned"), pl.col("simplified")
    settled = ~norm.is_in(t["placeholders"]) & ~cleaned.is_in(t["placeholders"]) & ~cleaned.str.contains("某", literal=True)
    if unread:
        settled = settled & ~norm.str.contains_any(unread)
    reason = (
        pl.when(~settled).then(pl.lit(None, dtype=pl.String))
        .when(simplified != cleaned).then(pl.lit(Reason.NAME_TRADITIONAL_CONVERTED.value))
        .when(norm != simplified).then(pl.lit(Reason.NAME_VARIANT_FOLDED.value))
        .when(cleaned != raw).then(pl.lit(Reason.CLEANED.value))
        .otherwise(pl.lit(Reason.OK.value))
    )
    return frame.select(
        raw,
        norm.alias(schema.NAME_NORM),
        reason.alias(schema.NAME_REASON),
        pl.col("surname").alias(schema.NAME_SURNAME),
        pl.col("given").alias(schema.NAME_GIVEN),
        pl.col("alt").alias(schema.NAME_SURNAME_ALT),
        pinyin.alias(schema.NAME_PINYIN),
        pl.col("initials").alias(schema.NAME_PINYIN_INITIALS),
        pl.col("surname_py").alias(schema.NAME_SURNAME_PINYIN),
        pl.lit("han").alias(schema.NAME_SCRIPT),
    )


def _slow_path(names: pl.Series) -> pl.DataFrame:
    rows = []
    for value in names.to_list():
        r = _normalize(value)
        rows.append(_row(r))
    return pl.DataFrame(rows, schema=_OUTPUT, orient="row")


def _row(r: NameResult) -> tuple[str | None, ...]:
    return (r.norm, r.reason.value, r.surname, r.given, r.surname_alt, r.pinyin,
            r.pinyin_initials, r.surname_pinyin, r.script)


def _compute(distinct: pl.Series) -> pl.DataFrame:
    return settle_in_order(
        distinct, lambda names: _fast_path(names).drop("raw"), _slow_path,
        shape=_FAST_SHAPE, settled=schema.NAME_REASON,
    )


def name_columns(frame: pl.DataFrame, column: str = schema.NAME) -> pl.DataFrame:
    """The ``NAME_*`` output columns for every row of ``frame`` (same height and order).

    Each distinct name is normalized once: pure 2-4 character names by
    expressions, the rest by the scalar path.
    """
    if column not in frame.columns:
        raise SchemaError(f"name_columns: column {column!r} is missing (have {frame.columns})")
    nulls = dict(zip(_OUTPUT, _row(_normalize(None)), strict=True))
    return gather_distinct(frame.get_column(column).cast(pl.String), _compute, nulls)
