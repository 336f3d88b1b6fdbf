"""Pinyin for Han names, and segmentation of romanized text into pinyin syllables.

pypinyin reads running text: its phrase dictionary and per-call overhead are wrong
for names (单 is Shan as a surname, not dan) and too slow for millions of rows.
Names are read character by character instead, from a table derived from
pypinyin's character dictionary (first reading, toneless, ``v`` for u-umlaut;
shipped as ``data/char_readings.tsv``),
corrected for given names by ``data/given_readings.tsv``; surnames come from
``data/surname_readings.tsv`` (polyphonic single surnames and every compound).
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterable
from functools import cache
from importlib import resources

# Tone marks fold to their base vowel; u-umlaut to the keyboard's "v" (lv, nv).
_TONELESS = str.maketrans(
    {
        **{c: "a" for c in "āáǎà"},
        **{c: "e" for c in "ēéěèê"},
        **{c: "i" for c in "īíǐì"},
        **{c: "o" for c in "ōóǒò"},
        **{c: "u" for c in "ūúǔù"},
        **{c: "v" for c in "üǖǘǚǜ"},
        **{c: "n" for c in "ńňǹ"},
        "ḿ": "m",
        "\u0304": None,  # combining macron and caron (pypinyin writes ê̄, ê̌ that way)
        "\u030c": None,
        "\u0300": None,
        "\u0301": None,
    }
)

# Interjection-only and dialect syllables: allowing them would make the segmenter
# split ordinary names into nonsense ("he ng", "lo").
_RARE_SYLLABLES = frozenset(
    {"m", "n", "ng", "hm", "hng", "o", "yo", "lo", "ei", "biang", "bong", "cei", "den", "din",
     "fiao", "kei", "len", "nia", "nou", "nun", "shei", "tei", "wong", "zhei", "eng"}
)


def toneless(reading: str) -> str:
    """``"lǚ"`` -> ``"lv"``: tone marks dropped, u-umlaut written ``v``, lower case."""
    return reading.lower().translate(_TONELESS)


def data_table(name: str) -> list[dict[str, str]]:
    """Rows of a TSV shipped in ``normalizers/data`` (lines starting with ``#`` are comments)."""
    text = resources.files("normalizers.data").joinpath(name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


@cache
def char_readings() -> dict[str, str]:
    """Every character pypinyin knows -> its toneless reading in given names.

    pypinyin's first reading of each character, shipped as
    ``data/char_readings.tsv`` (built by ``normalizers/data/build_char_tables.py``;
    about 42,000 characters), corrected for given names by ``data/given_readings.tsv``.
    """
    text = resources.files("normalizers.data").joinpath("char_readings.tsv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    if lines[0] != "reading\tchars":
        raise RuntimeError(f"char_readings.tsv: unexpected header {lines[0]!r}")
    table: dict[str, str] = {}
    for line in lines[1:]:
        reading, chars = line.split("\t")
        table.update(dict.fromkeys(chars, reading))
    for row in data_table("given_readings.tsv"):
        table[row["char"]] = row["pinyin"]
    return table


@cache
def surname_readings() -> dict[str, str]:
    """Surname -> its reading as a surname (``"单"`` -> ``"shan"``, ``"万俟"`` -> ``"mo qi"``)."""
    return {row["surname"]: row["pinyin"] for row in data_table("surname_readings.tsv")}


def han_syllables(text: str) -> list[str]:
    """Toneless syllables of ``text`` read character by character; characters without a reading are skipped."""
    table = char_readings()
    return [table[ch] for ch in text if ch in table]


def surname_pinyin(surname: str) -> str | None:
    """The reading of ``surname`` as a surname, falling back to its characters' readings."""
    reading = surname_readings().get(surname)
    if reading is not None:
        return reading
    return " ".join(han_syllables(surname)) or None


@cache
def pinyin_syllables() -> frozenset[str]:
    """The toneless pinyin syllables that occur in names (about 400)."""
    syllables = set(char_readings().values()) | {"lv", "nv", "lve", "nve"}
    return frozenset(s for s in syllables if s.isascii() and s.isalpha()) - _RARE_SYLLABLES


class Segmenter:
    """Splits letter strings into spellings of a fixed inventory (a trie, built once and reused).

    ``segment`` returns the segmentations with up to ``extra`` more pieces than
    the fewest (``"xian"`` -> ``("xian",)`` and ``("xi", "an")``), at most
    ``limit`` of them, ordered by piece count and then alphabetically (``ends``,
    from :meth:`ends`, lets several passes share one scan of the trie).  An
    apostrophe may stand between pieces (pinyin ``xi'an``) or inside one
    (Wade-Giles ``ch'en``).  ``[]`` when no segmentation exists.
    """

    __slots__ = ("_trie",)
    _END = ""

    def __init__(self, inventory: Iterable[str]) -> None:
        trie: dict = {}
        for spelling in inventory:
            if not spelling:
                continue
            node = trie
            for ch in spelling:
                node = node.setdefault(ch, {})
            node[self._END] = True
        self._trie = trie

    def ends(self, letters: str, only: Collection[str] | None = None) -> list[list[int]]:
        """ends[i]: every j such that letters[i:j] is a spelling (and in ``only``, if given)."""
        n = len(letters)
        ends: list[list[int]] = []
        for i in range(n):
            found = []
            node = self._trie
            for j in range(i, n):
                node = node.get(letters[j])
                if node is None:
                    break
                if self._END in node and (only is None or letters[i : j + 1] in only):
                    found.append(j + 1)
            ends.append(found)
        return ends

    def segment(
        self, letters: str, *, extra: int = 1, limit: int = 8, ends: list[list[int]] | None = None
    ) -> list[tuple[str, ...]]:
        n = len(letters)
        if not n or letters[0] == "'":
            return []
        if ends is None:
            ends = self.ends(letters)
        fewest: list[int | None] = [None] * n + [0]
        for i in range(n - 1, -1, -1):
            best = fewest[i + 1] if letters[i] == "'" and i > 0 else None
            for j in ends[i]:
                rest = fewest[j]
                if rest is not None and (best is None or rest + 1 < best):
                    best = rest + 1
            fewest[i] = best
        if fewest[0] is None:
            return []
        bound = fewest[0] + extra
        found: list[tuple[str, ...]] = []
        pieces: list[str] = []

        def walk(i: int) -> None:
            if i == n:
                found.append(tuple(pieces))
                return
            if letters[i] == "'" and i > 0 and fewest[i + 1] is not None:
                walk(i + 1)
            for j in ends[i]:
                rest = fewest[j]
                if rest is not None and len(pieces) + 1 + rest <= bound:
                    pieces.append(letters[i:j])
                    walk(j)
                    pieces.pop()

        walk(0)
        if len(found) == 1:
            return found
        return sorted(set(found), key=lambda s: (len(s), s))[:limit]


@cache
def pinyin_segmenter() -> Segmenter:
    """A :class:`Segmenter` over :func:`pinyin_syllables`."""
    return Segmenter(pinyin_syllables())


def initials(syllables: Iterable[str]) -> str:
    """``["shan", "xiong", "xin"]`` -> ``"sxx"``."""
    return "".join(s[0] for s in syllables if s)
