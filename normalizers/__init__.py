"""Normalizers: raw values of Chinese personal identity records -> canonical values + reason codes."""

from normalizers.errors import (
    ConfigError,
    InputFileError,
    LinkageError,
    NormalizationError,
    OnError,
    SchemaError,
)
from normalizers.masking import mask_id, mask_phone
from normalizers.reasons import REASON_DOCS, Reason

__all__ = [
    "REASON_DOCS",
    "ConfigError",
    "InputFileError",
    "LinkageError",
    "NormalizationError",
    "OnError",
    "Reason",
    "SchemaError",
    "mask_id",
    "mask_phone",
]
