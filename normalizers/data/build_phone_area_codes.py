"""Derive ``phone_area_codes.tsv`` from the metadata of the ``phonenumbers`` package (Apache-2.0).

Maintainer tool, run when phonenumbers is upgraded; the package ships the
result so that phone normalization needs no per-number library call.  Usage::

    python -m normalizers.data.build_phone_area_codes normalizers/data/phone_area_codes.tsv

A mainland long-distance code (without its trunk 0) is listed when
phonenumbers accepts a 7- or 8-digit local number behind it as a fixed line.
Columns: ``code`` (``10``, ``21``, ``755`` ...) and ``place`` (the geocoder's
Chinese description, for reviewers).
"""

from __future__ import annotations

import sys
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberType, geocoder

_FIXED = (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _accepts(code: str) -> str | None:
    for length in (8, 7):
        for first in "23456789":
            local = (first + "3456789" * 2)[:length]
            number = phonenumbers.parse("+86" + code + local)
            if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _FIXED:
                return geocoder.description_for_number(number, "zh") or ""
    return None


def build(out_path: Path) -> int:
    candidates = ["10", *(f"2{d}" for d in range(10)), *(str(n) for n in range(300, 1000))]
    rows = []
    for code in candidates:
        place = _accepts(code)
        if place is not None:
            rows.append(f"{code}\t{place}")
    out_path.write_text("code\tplace\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return len(rows)


if __name__ == "__main__":
    count = build(Path(sys.argv[1]))
    print(f"{count} area codes (phonenumbers {phonenumbers.__version__})")
