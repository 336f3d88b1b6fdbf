"""Regenerate ``surnames.tsv`` from the Chinese-Names-Corpus surname workbook.

Usage: ``python -m benchmarks.data.build_surnames PATH/Chinese_Family_Name（1k）.xlsx``

Keeps surnames with a corpus frequency above the floor of 5 (the corpus gives
every rare surname exactly 5, including many characters that are not surnames
in practice) plus a hand-picked set of real compound surnames, and adds the
surname reading in toneless pinyin.  Surname readings differ from the common
reading of the character (单 Shan, 曾 Zeng, 区 Ou), so pypinyin's answer is
corrected from a table; the result is checked into the repository so that the
generator's world model does not move when pypinyin changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
from pypinyin import Style, lazy_pinyin

COMPOUND = ("欧阳", "上官", "司马", "诸葛", "东方", "皇甫", "令狐", "慕容", "司徒", "尉迟", "公孙", "夏侯", "端木")

SURNAME_READINGS = {
    "曾": "zeng", "翟": "zhai", "覃": "qin", "单": "shan", "解": "xie", "缪": "miao", "仇": "qiu",
    "查": "zha", "乐": "yue", "区": "ou", "朴": "piao", "盖": "ge", "薄": "bo", "种": "chong",
    "员": "yun", "秘": "bi", "召": "shao", "繁": "po", "都": "du", "能": "nai", "句": "gou",
    "藏": "zang", "隗": "wei", "么": "yao", "长": "chang", "沈": "shen", "尉迟": "yuchi",
    "万俟": "moqi", "澹台": "tantai", "宓": "mi", "华": "hua", "任": "ren", "纪": "ji",
    "宁": "ning", "柏": "bai", "曲": "qu", "郇": "huan", "贲": "ben", "眭": "sui",
    "卜": "bu", "阚": "kan",
}


def build(xlsx: Path) -> pl.DataFrame:
    frame = pl.read_excel(xlsx).rename({"NameB": "surname", "TF": "tf"})
    frame = frame.filter((pl.col("tf") > 5) | pl.col("surname").is_in(COMPOUND))
    readings = [
        SURNAME_READINGS.get(s) or "".join(lazy_pinyin(s, style=Style.NORMAL)).replace("v", "ü")
        for s in frame["surname"]
    ]
    return frame.with_columns(
        pl.col("tf").cast(pl.Int64), pl.Series("pinyin", readings, dtype=pl.String)
    )


if __name__ == "__main__":
    out = Path(__file__).with_name("surnames.tsv")
    build(Path(sys.argv[1])).write_csv(out, separator="\t")
    print(f"wrote {out}", file=sys.stderr)
