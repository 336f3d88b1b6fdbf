"""Derive ``t2s_chars.tsv`` (OpenCC, Apache-2.0) and ``char_readings.tsv`` (pypinyin, MIT).

Maintainer tool, run when OpenCC or pypinyin is upgraded; the package ships the
result so that a process does not have to run OpenCC over every ideograph
(~50 ms) or parse pypinyin's dictionary (~70 ms) before its first name.  Usage::

    python -m normalizers.data.build_char_tables normalizers/data

``t2s_chars.tsv``: every character whose OpenCC ``t2s`` conversion, on its own,
differs from it (columns ``char``, ``simplified``; the result may be longer than
one character).  Characters covered: the ideograph blocks of
``normalizers.names._HAN_BLOCKS`` and the one-character NFKC forms of the
address fast path (``normalizers.addresses._FAST_RANGES``).  The shipped
file is the raw conversion; :func:`normalizers.names.t2s_table` and the
address character map apply their own rules on top.

``char_readings.tsv``: pypinyin's character dictionary reduced to the first
reading of each character, toneless (:func:`normalizers.pinyin.toneless`),
grouped by reading (columns ``reading``, ``chars``); the given-name corrections
of ``given_readings.tsv`` are applied at load time, not here.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

T2S_FILE = "t2s_chars.tsv"
READINGS_FILE = "char_readings.tsv"


def t2s_domain() -> list[str]:
    """The characters whose conversion is recorded, in code point order."""
    from normalizers.addresses import _FAST_RANGES
    from normalizers.names import _HAN_BLOCKS

    chars = {chr(cp) for lo, hi in _HAN_BLOCKS for cp in range(lo, hi)}
    for lo, hi in _FAST_RANGES:
        for cp in range(lo, hi + 1):
            folded = unicodedata.normalize("NFKC", chr(cp))
            if len(folded) == 1:
                chars.add(folded)
    return sorted(chars)


def t2s_rows() -> list[tuple[str, str]]:
    """(char, conversion) for every character of :func:`t2s_domain` that OpenCC t2s changes."""
    import opencc

    chars = t2s_domain()
    # one call for all: newlines stop OpenCC from reading neighbours as phrases
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):
        converter = opencc.OpenCC("t2s")
        converted = [converter.convert(c) for c in chars]
    return [(c, out) for c, out in zip(chars, converted, strict=True) if out != c]


def pypinyin_characters() -> dict[int, str]:
    """pypinyin's character dictionary (code point -> comma-separated readings with tones).

    Read from the JSON file pypinyin ships (``import pypinyin`` would also load
    its phrase dictionary), falling back to the ordinary import.
    """
    spec = importlib.util.find_spec("pypinyin")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "pinyin_dict.json"
        if path.is_file():
            return {int(cp): readings for cp, readings in json.loads(path.read_bytes()).items()}
    from pypinyin.pinyin_dict import pinyin_dict

    return pinyin_dict


def reading_rows() -> list[tuple[str, str]]:
    """(toneless reading, characters in code point order), readings sorted."""
    from normalizers.pinyin import toneless

    by_reading: defaultdict[str, list[str]] = defaultdict(list)
    for cp, readings in sorted(pypinyin_characters().items()):
        by_reading[toneless(readings.split(",", 1)[0])].append(chr(cp))
    return [(reading, "".join(chars)) for reading, chars in sorted(by_reading.items())]


def _check(rows: list[tuple[str, ...]]) -> None:
    for row in rows:
        if any(ch in field for field in row for ch in "\t\n\r"):
            raise ValueError(f"a tab or newline in {row!r}")


def build(out_dir: Path) -> tuple[int, int]:
    """Write both files into ``out_dir``; return their row counts."""
    t2s = t2s_rows()
    readings = reading_rows()
    _check(t2s)
    _check(readings)
    opencc_version = importlib.metadata.version("opencc")
    pypinyin_version = importlib.metadata.version("pypinyin")
    with (out_dir / T2S_FILE).open("w", encoding="utf-8", newline="\n") as f:
        f.write(f"# OpenCC {opencc_version} t2s, one character at a time; built by build_char_tables.py\n")
        f.write("char\tsimplified\n")
        f.writelines(f"{c}\t{out}\n" for c, out in t2s)
    with (out_dir / READINGS_FILE).open("w", encoding="utf-8", newline="\n") as f:
        f.write(f"# pypinyin {pypinyin_version} first readings, toneless; built by build_char_tables.py\n")
        f.write("reading\tchars\n")
        f.writelines(f"{reading}\t{chars}\n" for reading, chars in readings)
    return len(t2s), len(readings)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
    n_t2s, n_readings = build(target)
    print(f"wrote {n_t2s} conversions to {T2S_FILE} and {n_readings} readings to {READINGS_FILE}")
