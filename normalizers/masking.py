"""Masking of ID and phone numbers for logs, error messages and service responses.

Personal data never appears in full outside the data itself: ``110101********1234``.
"""

from __future__ import annotations


def mask_id(value: str | None) -> str | None:
    """Mask an ID-like string, keeping at most the first 6 and last 4 characters.

    Short values keep proportionally less, so that nothing shorter than 8
    characters is ever shown in full.

    >>> mask_id("110101199003071234")
    '110101********1234'
    >>> mask_id("H12345678")
    'H1*****78'
    """
    if value is None:
        return None
    s = str(value)
    n = len(s)
    if n >= 14:
        head, tail = 6, 4
    elif n >= 8:
        head, tail = 2, 2
    elif n >= 4:
        head, tail = 1, 1
    else:
        return "*" * n
    return s[:head] + "*" * (n - head - tail) + s[-tail:]


def mask_phone(value: str | None) -> str | None:
    """Mask a phone number, keeping the first 3 and last 4 digits of long numbers.

    >>> mask_phone("13812345678")
    '138****5678'
    >>> mask_phone("+85291234567")
    '+85*****4567'
    """
    if value is None:
        return None
    s = str(value)
    n = len(s)
    if n >= 9:
        head, tail = 3, 4
    elif n >= 5:
        head, tail = 1, 2
    else:
        return "*" * n
    return s[:head] + "*" * (n - head - tail) + s[-tail:]
