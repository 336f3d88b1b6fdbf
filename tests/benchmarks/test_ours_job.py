"""The harness runs ours with the latin preset on the Latin-script sets, and only there."""

from __future__ import annotations

from pathlib import Path

from benchmarks.compare import OURS_JOBS, tool_command, write_ours_job
from linkage.config import JobConfig


def test_latin_sets_get_the_latin_preset(tmp_path: Path) -> None:
    for dataset in ("febrl3", "febrl4", "historical50k"):
        path = write_ours_job(dataset, tmp_path)
        assert path is not None
        assert JobConfig.from_toml(path).preset == "latin"
    assert JobConfig.from_toml(tmp_path / "ours_job.toml").normalize.min_birth_year == 1000
    assert write_ours_job("generated", tmp_path / "none") is None
    assert set(OURS_JOBS) == {"febrl3", "febrl4", "historical50k"}


def test_only_ours_gets_the_job_file(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    records, out = tmp_path / "r.parquet", tmp_path / "out"
    assert tool_command("ours", records, out, job=job)[-2:] == ["--config", str(job)]
    assert "--config" not in tool_command("splink", records, out, job=job)
    assert "--config" not in tool_command("ours", records, out)
