"""Check characters of the national identifier standards.

* GB 11643-1999 citizen identity number: ISO 7064 MOD 11-2 over 17 digits.
  Also used by HK/Macau/Taiwan residence permits and the 2023 foreigners'
  permanent-residence ID.
* GB 32100-2015 unified social credit code: MOD 31 over 17 characters.
"""

from __future__ import annotations

RESIDENT_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}


def resident_check_char(body17: str) -> str:
    """The GB 11643 check character for 17 leading digits.

    >>> resident_check_char("11010519491231002")
    'X'
    """
    if len(body17) != 17 or not body17.isascii() or not body17.isdigit():
        raise ValueError(f"body17: expected 17 ASCII digits (got {len(body17)} characters)")
    total = sum(int(d) * w for d, w in zip(body17, RESIDENT_WEIGHTS))
    return RESIDENT_CHECK_CHARS[total % 11]


def resident_checksum_ok(id18: str) -> bool:
    """True when an 18-character number (17 digits + check) satisfies MOD 11-2."""
    if len(id18) != 18 or not id18[:17].isascii() or not id18[:17].isdigit():
        return False
    return resident_check_char(id18[:17]) == id18[17]


def uscc_check_char(body17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a USCC."""
    try:
        total = sum(_USCC_VALUE[c] * w for c, w in zip(body17, USCC_WEIGHTS, strict=True))
    except (KeyError, ValueError):
        raise ValueError("body17: expected 17 characters of the USCC alphabet") from None
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_checksum_ok(code: str) -> bool:
    """True when an 18-character unified social credit code has a correct check character."""
    if len(code) != 18:
        return False
    try:
        return uscc_check_char(code[:17]) == code[17]
    except ValueError:
        return False
