"""Derive ``surnames.tsv`` from wainshine/Chinese-Names-Corpus (Apache-2.0) plus the classical compound surnames.

Maintainer tool, run once when the reference data changes; the package ships the
result.  Usage::

    python -m normalizers.data.build_surnames \\
        ../shared/reference-data/wainshine__Chinese-Names-Corpus

Output columns: ``surname``, ``tf`` (the corpus' frequency score; empty for
compounds the corpus lacks), ``kind`` (``single`` or ``compound``), ``prefer``
(compounds only: ``compound`` when a name starting with these characters is
read with the compound surname, ``single`` when its first character is a common
surname and its second a common given-name character, so that the single
reading is the likelier one and the compound only the alternative) and
``source``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

# Misspellings in the corpus list (殴阳 for 欧阳, 夏候 for 夏侯, 冷狐 for 令狐,
# 刘傅 for 刘付): keeping them would make typos look like real compounds.
_CORPUS_TYPOS = frozenset({"殴阳", "夏候", "冷狐", "刘傅"})

# Compound surnames of the Baijiaxing and of modern registers that the corpus
# list lacks; the Manchu clan names are still written in full by some families.
_EXTRA_COMPOUNDS = (
    "单于", "东郭", "公良", "谷梁", "梁丘", "羊舌", "微生", "漆雕", "壤驷", "子车",
    "仉督", "宰父", "夹谷", "东门", "归海", "范姜", "张简", "张廖", "爱新觉罗",
    "叶赫那拉", "钮祜禄",
)

# Compounds whose first character is a common single surname and whose second is
# a common given-name character: 宗政伟 is far more often 宗 + 政伟.
_PREFER_SINGLE = frozenset({"宗政", "乐正", "张简", "张廖", "范姜", "刘付", "公良"})


def build(source_dir: Path, out_path: Path) -> int:
    import polars as pl  # maintainer tool only; fastexcel reads the workbook

    frame = pl.read_excel(source_dir / "Chinese_Names_Corpus" / "Chinese_Family_Name（1k）.xlsx")
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for surname, tf in frame.sort("TF", descending=True, maintain_order=True).iter_rows():
        surname = surname.strip()
        if not surname or surname in _CORPUS_TYPOS or surname in seen:
            continue
        seen.add(surname)
        compound = len(surname) > 1
        rows.append(
            {
                "surname": surname,
                "tf": f"{tf:g}",
                "kind": "compound" if compound else "single",
                "prefer": ("single" if surname in _PREFER_SINGLE else "compound") if compound else "",
                "source": "wainshine",
            }
        )
    for surname in _EXTRA_COMPOUNDS:
        if surname not in seen:
            seen.add(surname)
            rows.append(
                {
                    "surname": surname,
                    "tf": "",
                    "kind": "compound",
                    "prefer": "single" if surname in _PREFER_SINGLE else "compound",
                    "source": "baijiaxing",
                }
            )
    with out_path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


if __name__ == "__main__":
    n = build(Path(sys.argv[1]), Path(__file__).with_name("surnames.tsv"))
    print(f"wrote {n} surnames")
