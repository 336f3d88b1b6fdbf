"""The job file: a frozen, versioned pydantic model read from TOML.

A typo fails before any data is read, with a message naming the key::

    schema_version = 1
    preset = "chinese"            # or "latin": Western names (linkage.presets)
    model = "run1/model.json"     # optional: score with this trained model instead of training
                                  # (relative to the job file; `--model` overrides it)

    [[sources]]
    name = "tax"                  # becomes the records' `source`
    path = "tax_2024.csv"         # relative to the job file
    encoding = "gb18030"          # optional; detected otherwise
    [sources.columns]             # canonical column = the department's column
    record_id = "NSRBH"
    name = "XM"
    id_number = "SFZH"
    birth_date = "CSRQ"

    [thresholds]
    match = 0.99                  # pairs at or above are linked
    review = 0.5                  # pairs in [review, match) go to clerical review

    [normalize]
    min_birth_year = 1880         # earlier birth dates are out of range
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from normalizers import schema
from normalizers.dates import MIN_YEAR, check_min_year
from normalizers.errors import ConfigError

CURRENT_SCHEMA_VERSION = 1

Preset = Literal["chinese", "latin"]
"""Named sets of blocking rules and comparisons (:mod:`linkage.presets`)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceConfig(_Frozen):
    """One department's extract and how its columns map onto the canonical schema."""

    name: str = Field(min_length=1)
    path: Path
    format: Literal["csv", "parquet", "ndjson", "excel"] | None = None
    encoding: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("columns")
    @classmethod
    def _canonical_targets(cls, columns: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(columns) - set(schema.RAW_COLUMNS))
        if unknown:
            raise ValueError(
                f"unknown canonical column(s) {unknown}; expected some of {list(schema.RAW_COLUMNS)}"
            )
        return columns


class Thresholds(_Frozen):
    match: float = Field(0.99, gt=0.0, lt=1.0)
    review: float = Field(0.5, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.match:
            raise ValueError(f"review ({self.review}) must not exceed match ({self.match})")
        return self


class NormalizeConfig(_Frozen):
    min_birth_year: int = Field(
        MIN_YEAR,
        description="earlier birth dates are out of range; historical records need a lower floor",
    )

    @field_validator("min_birth_year")
    @classmethod
    def _a_past_year(cls, year: int) -> int:
        check_min_year(year)  # ConfigError is a ValueError: pydantic reports it under the key
        return year


class BlockingRuleConfig(_Frozen):
    name: str
    columns: tuple[str, ...] = Field(min_length=1)
    max_block_size: int = Field(1000, gt=1)


class TrainingConfig(_Frozen):
    u_pairs: int = Field(1_000_000, gt=1000, description="random record pairs used to estimate u")
    min_records: int = Field(
        50,
        ge=2,
        description=(
            "fewer linkable records (or no candidate pair): no model is trained and every record "
            "is its own person, unless a model is given"
        ),
    )
    max_em_iterations: int = Field(50, gt=0)
    seed: int = 0


class ClusteringConfig(_Frozen):
    max_cluster_size: int = Field(200, gt=1, description="larger clusters raise an alarm")


class JobConfig(_Frozen):
    """Everything a linkage run needs besides the data."""

    schema_version: Literal[1] = 1
    preset: Preset = "chinese"  # blocking rules and comparisons: see linkage.presets
    sources: tuple[SourceConfig, ...] = ()
    thresholds: Thresholds = Thresholds()
    normalize: NormalizeConfig = NormalizeConfig()
    blocking: tuple[BlockingRuleConfig, ...] | None = None  # None: the preset's rules
    training: TrainingConfig = TrainingConfig()
    clustering: ClusteringConfig = ClusteringConfig()
    store: str | None = None  # SQLAlchemy URL; None: sqlite file in the output directory
    model: Path | None = None  # a trained model.json to score with instead of training

    @classmethod
    def from_toml(cls, path: str | Path) -> JobConfig:
        """Read and validate a job file; relative source paths resolve against its folder."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such job file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        for source in data.get("sources", []) or []:
            if isinstance(source, dict) and "path" in source:
                source["path"] = str((path.parent / source["path"]).resolve())
        if isinstance(data.get("model"), str):
            data["model"] = str((path.parent / data["model"]).resolve())
        return cls.from_dict(data, origin=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, origin: str = "job") -> JobConfig:
        version = data.get("schema_version", CURRENT_SCHEMA_VERSION)
        if version != CURRENT_SCHEMA_VERSION:
            raise ConfigError(
                f"{origin}: schema_version {version!r} is not supported by this version "
                f"(expected {CURRENT_SCHEMA_VERSION}); upgrade chengxin-linkage or rewrite the file"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"{origin}: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key '{key}'")
        else:
            parts.append(f"'{key}': {err['msg']}")
    return "; ".join(parts)
