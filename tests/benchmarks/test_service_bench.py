"""The service benchmark runs end to end on a small store (its figures are not checked here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import service_bench


def test_service_bench_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--records", "3000", "--work", str(tmp_path), "--seconds", "1", "--requests", "10",
            "--concurrency", "1"]
    service_bench.main(argv)
    out = capsys.readouterr().out
    assert "batch/service agreement on 200 stored records: 100.0%" in out
    for scenario in service_bench.SCENARIOS:
        line = next(x for x in out.splitlines() if x.startswith(scenario.name + " "))
        assert "{200:" in line and "}" in line, line
    # a second run reuses the store and serves a fresh copy of it
    service_bench.main(argv)
    assert "reusing the store" in capsys.readouterr().out
