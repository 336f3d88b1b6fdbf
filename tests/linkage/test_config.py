"""The job file: typos fail before any data is read, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkage.config import JobConfig
from normalizers import ConfigError

JOB = """
schema_version = 1

[[sources]]
name = "tax"
path = "data/tax.csv"
encoding = "gb18030"
[sources.columns]
name = "XM"
id_number = "SFZH"

[thresholds]
match = 0.98
review = 0.6
"""


def test_job_file_loads_and_resolves_paths(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text(JOB, encoding="utf-8")
    config = JobConfig.from_toml(job)
    assert config.sources[0].columns == {"name": "XM", "id_number": "SFZH"}
    assert config.sources[0].path == (tmp_path / "data/tax.csv").resolve()
    assert config.thresholds.match == 0.98


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (JOB.replace("[thresholds]", "[tresholds]"), "unknown key 'tresholds'"),
        (JOB.replace("encoding =", "encodng ="), "unknown key 'sources.0.encodng'"),
        (JOB.replace('name = "XM"', 'nmae = "XM"'), "unknown canonical column"),
        (JOB.replace("match = 0.98", "match = 1.5"), "'thresholds.match'"),
        (JOB.replace("review = 0.6", "review = 0.99"), "must not exceed match"),
        (JOB.replace("schema_version = 1", "schema_version = 7"), "schema_version 7 is not supported"),
        ("this is [not toml", "not valid TOML"),
    ],
)
def test_bad_job_files_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    job = tmp_path / "job.toml"
    job.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        JobConfig.from_toml(job)


def test_config_is_frozen() -> None:
    config = JobConfig()
    with pytest.raises(Exception):
        config.thresholds = None  # type: ignore[misc]
