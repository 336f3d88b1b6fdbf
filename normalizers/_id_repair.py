"""What the digits of an 18-digit GB 11643 number mean, and single-edit repairs of failed ones.

Repairs use the structure of ISO 7064 MOD 11-2 instead of brute force: the
weighted sum of all 18 positions (check character weight 1, X = 10) must be
1 mod 11, and every weight is invertible mod 11, so each position admits at
most one replacement digit that fixes the sum.  A failed ID therefore has at
most 18 substitution candidates and 17 transposition candidates.
"""

from __future__ import annotations

import datetime as dt
from operator import mul

from normalizers._id_forms import IdKind, kind_of_18
from normalizers.checksums import RESIDENT_WEIGHTS
from normalizers.reasons import Reason
from normalizers.regions import region_table

EARLIEST_BIRTH = dt.date(1880, 1, 1)
_WEIGHTS = (*RESIDENT_WEIGHTS, 1)
_INVERSE = tuple(pow(w, -1, 11) for w in _WEIGHTS)
_CHECK_VALUES = "0123456789X"  # the character whose value is the index
# Taiwan has no GB/T 2260 code of its own in ID numbers: permits use 830000, the table 710000.
HMT_REGION_CURRENT: dict[str, str] = {"810000": "810000", "820000": "820000", "830000": "710000"}


def birth_date_of(digits8: str, today: dt.date | None = None) -> dt.date | None:
    """The date YYYYMMDD names, or None unless it is a real date from 1880 to today."""
    if len(digits8) != 8 or not digits8.isascii() or not digits8.isdigit():
        return None
    try:
        born = dt.date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:]))
    except ValueError:
        return None
    if not EARLIEST_BIRTH <= born <= (today or dt.date.today()):
        return None
    return born


def sex_of(digit: str) -> str | None:
    """'M' for an odd 17th digit, 'F' for an even one."""
    if len(digit) == 1 and digit.isascii() and digit.isdigit():
        return "M" if int(digit) % 2 else "F"
    return None


def region_of(kind: IdKind, number: str) -> tuple[Reason | None, str | None, str | None]:
    """(rejecting reason or None, region as issued, region today) of an 18-digit number.

    A county code never issued but under a known province is kept: such IDs are
    nearly always real, issued under 市辖区-style codes the published lists omit.
    """
    code = number[:6]
    if kind is IdKind.HMT_PERMIT:
        return None, code, HMT_REGION_CURRENT.get(code)
    if kind is IdKind.FOREIGN_PR:
        return None, None, None  # the digits after the 9 are not a GB/T 2260 code
    if not code.isdigit():
        return None, None, None
    table = region_table()
    if table.is_known(code):
        return None, code, table.current_code(code)
    if table.province_known(code):
        return None, code, None
    return Reason.ID_UNKNOWN_REGION, code, None


def _region_known(failed_kind: IdKind, number: str) -> bool:
    """True when a repair candidate names an issued region.

    Candidates may change the kind (a resident ID mistyped with a leading 9
    reads as a foreigner's number), but a foreigner's number has no region to
    vouch for it, so it is offered only as a repair of one.
    """
    kind = kind_of_18(number)
    if kind is IdKind.HMT_PERMIT:
        return True
    if kind is IdKind.FOREIGN_PR:
        return failed_kind is IdKind.FOREIGN_PR
    return region_table().is_known(number[:6])


def checksum_ok(number: str) -> bool:
    """GB 11643 MOD 11-2 over 18 characters: resident_checksum_ok, faster on the hot path."""
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    last = number[17]
    if last == "X":
        check = 10
    elif "0" <= last <= "9":
        check = ord(last) - 48
    else:
        return False
    return (sum(map(mul, _WEIGHTS, map(int, number[:17]))) + check) % 11 == 1


def _values(number: str) -> list[int | None]:
    values: list[int | None] = [ord(c) - 48 if "0" <= c <= "9" else None for c in number]
    if number[17] == "X":
        values[17] = 10
    return values


def repairs_of(number: str, birth_date: dt.date | None = None) -> tuple[str, ...]:
    """Valid IDs one substitution or one adjacent transposition away from a failed 18-character ID.

    A candidate must pass the check, name a real birth date and an issued
    region of the same kind of number, and, when the record's own
    ``birth_date`` is given, agree with it.
    """
    if len(number) != 18:
        return ()
    values = _values(number)
    unreadable = [i for i, v in enumerate(values) if v is None]
    if len(unreadable) > 1:
        return ()
    total = sum(w * v for w, v in zip(_WEIGHTS, values) if v is not None)
    candidates: set[str] = set()
    for i in unreadable or range(18):
        old = values[i]
        rest = total - (_WEIGHTS[i] * old if old is not None else 0)
        needed = (1 - rest) * _INVERSE[i] % 11
        if needed != old and (needed < 10 or i == 17):
            candidates.add(number[:i] + _CHECK_VALUES[needed] + number[i + 1 :])
    if not unreadable:
        for i in range(17):
            a, b = values[i], values[i + 1]
            if a == b or (i == 16 and b == 10):  # X cannot move into the body
                continue
            delta = (_WEIGHTS[i] - _WEIGHTS[i + 1]) * (b - a)  # type: ignore[operator]
            if (total + delta) % 11 == 1:
                candidates.add(number[:i] + number[i + 1] + number[i] + number[i + 2 :])
    if not candidates:
        return ()
    today = dt.date.today()
    kind = kind_of_18(number)
    # most candidates share the original's region and date: judge each distinct part once
    regions: dict[str, bool] = {}
    dates: dict[str, bool] = {}
    good = []
    for c in candidates:
        region_ok = regions.get(c[:6])
        if region_ok is None:
            region_ok = regions[c[:6]] = _region_known(kind, c)
        date_ok = dates.get(c[6:14])
        if date_ok is None:
            born = birth_date_of(c[6:14], today)
            date_ok = dates[c[6:14]] = born is not None and (
                birth_date is None or born == birth_date
            )
        if region_ok and date_ok:
            good.append(c)
    return tuple(sorted(good))
