"""Derive ``regions.tsv`` from the yescallop/areacodes data set (CC0-1.0).

Maintainer tool, run once when the reference data changes; the package ships the
result.  Usage::

    python -m normalizers.data.build_regions ../shared/reference-data/yescallop__areacodes

Each output row is one period of use of one GB/T 2260 code (codes were reused, so
a code may have several rows): ``code``, ``name``, ``province``, ``prefecture``,
``level`` (1 province, 2 prefecture, 3 county), ``start``, ``end`` (first year no
longer in use, empty while in use) and ``current``: the in-use code the area maps
to today, following successor chains (the code itself while in use).
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

_LEVELS = {"省级": 1, "地级": 2, "县级": 3}
_SUCCESSOR = re.compile(r"^(\d{6})(?:\[(\d{4})\])?$")


def build(source_dir: Path, out_path: Path) -> int:
    rows = []
    with (source_dir / "result.csv").open(encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            successors = []
            for part in filter(None, (r["新代码"] or "").split(";")):
                m = _SUCCESSOR.match(part)
                if m and not m.group(2):  # bracketed ones are partial transfers of in-use areas
                    successors.append(m.group(1))
            rows.append(
                {
                    "code": r["代码"],
                    "name": r["名称"],
                    "province": r["一级行政区"],
                    "prefecture": r["二级行政区"],
                    "level": _LEVELS[r["级别"]],
                    "start": int(r["启用时间"]),
                    "end": int(r["变更/弃用时间"]) if r["变更/弃用时间"] else None,
                    "in_use": r["状态"] == "在用",
                    "successors": successors,
                }
            )
    latest: dict[str, dict] = {}
    for r in rows:
        if r["code"] not in latest or r["start"] >= latest[r["code"]]["start"]:
            latest[r["code"]] = r

    def current(code: str, seen: frozenset[str] = frozenset()) -> str:
        r = latest.get(code)
        if r is None or r["in_use"] or code in seen:
            return code
        if not r["successors"]:
            return ""  # abolished without a successor (e.g. prefecture-level 地区)
        return current(r["successors"][0], seen | {code})

    with out_path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["code", "name", "province", "prefecture", "level", "start", "end", "current"])
        for r in sorted(rows, key=lambda r: (r["code"], r["start"])):
            cur = r["code"] if r["in_use"] else (r["successors"] and current(r["successors"][0], frozenset({r["code"]}))) or ""
            w.writerow([r["code"], r["name"], r["province"], r["prefecture"], r["level"], r["start"], r["end"] or "", cur])
    return len(rows)


if __name__ == "__main__":
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference-data/yescallop__areacodes")
    n = build(src, Path(__file__).with_name("regions.tsv"))
    print(f"wrote {n} rows")
