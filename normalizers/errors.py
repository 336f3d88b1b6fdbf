"""The exception tree of the project.

::

    LinkageError                      every error this project raises on purpose
    ├── NormalizationError            strict (on_error="raise") normalizers: a raw value is unusable
    ├── SchemaError                   input columns missing or of the wrong kind
    ├── ConfigError                   a job file or option is invalid (names the key)
    └── InputFileError                an input file cannot be read (format, encoding)

Messages name the field, the value (masked when it is an ID or phone number) and
what was expected, so that they can be logged without leaking personal data.
"""

from __future__ import annotations

from typing import Literal

from normalizers.reasons import Reason

OnError = Literal["reject", "raise"]
"""Error policy: batch paths ``reject`` (null value + reason code); strict paths ``raise``."""


class LinkageError(Exception):
    """Base class of every exception this project raises on purpose."""


class NormalizationError(LinkageError, ValueError):
    """A raw value cannot be normalized under ``on_error="raise"``.

    ``value`` is already masked when the field holds an ID or phone number.
    """

    def __init__(self, field: str, value: str | None, expected: str, reason: Reason) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        self.reason = reason
        shown = "null" if value is None else repr(value)
        super().__init__(f"{field}: expected {expected} (got {shown}; reason {reason.value})")


class SchemaError(LinkageError, ValueError):
    """Input columns are missing or not of the expected kind."""


class ConfigError(LinkageError, ValueError):
    """A job file or option is invalid; the message names the key."""


class InputFileError(LinkageError, OSError):
    """An input file cannot be read: unknown format, undecodable bytes, unreadable sheet."""


def check_on_error(on_error: str) -> OnError:
    """Validate an ``on_error`` argument at the call, naming the bad value."""
    if on_error not in ("reject", "raise"):
        raise ConfigError(f"on_error: expected 'reject' or 'raise' (got {on_error!r})")
    return on_error  # type: ignore[return-value]
