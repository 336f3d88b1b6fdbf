"""The comparison harness end to end in its CI mode, and its handling of bad tools.

The smoke run generates ~500 records and runs every tool whose package is
installed, each in its own process; it must finish well under a minute.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from benchmarks import compare
from benchmarks.peers import _runner as R


def _installed_tools() -> list[str]:
    return [
        tool
        for tool, spec in compare.TOOLS.items()
        if spec.package is None or importlib.util.find_spec(spec.package) is not None
    ]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list, Path, float]:
    workdir = tmp_path_factory.mktemp("compare-smoke")
    tools = ",".join(_installed_tools())
    args = compare._parse(["--smoke", "--workdir", str(workdir), "--tools", tools])
    started = time.perf_counter()
    table, results = compare.run(args)
    return table, results, workdir, time.perf_counter() - started


def test_smoke_runs_every_installed_tool_and_prints_one_table(smoke) -> None:
    table, results, workdir, elapsed = smoke
    tools = _installed_tools()
    assert [r.tool for r in results if not r.oracle] == tools
    assert table.count("\n| tool ") == 1
    for tool in tools:
        assert f"| {tool}" in table
    assert (workdir / "results.md").read_text(encoding="utf-8") == table
    assert (workdir / "results.json").is_file()
    assert elapsed < 120, f"smoke mode took {elapsed:.0f} s"


@pytest.mark.parametrize("tool", ["splink", "recordlinkage"])
def test_smoke_peers_link_most_pairs(smoke, tool: str) -> None:
    _table, results, workdir, _elapsed = smoke
    if importlib.util.find_spec(compare.TOOLS[tool].package) is None:
        pytest.skip(f"{compare.TOOLS[tool].package} not installed")
    own = next(r for r in results if r.tool == tool and not r.oracle)
    assert own.status == "ok", own.stderr_tail
    assert own.f1 is not None and own.f1 > 0.8
    assert own.candidate_pairs and own.candidate_pairs > 0
    assert own.peak_rss_mib and own.peak_rss_mib > 10
    assert own.stages and own.total_seconds and own.total_seconds > 0
    crosswalk = pl.read_parquet(workdir / tool / R.CROSSWALK_FILE)
    assert crosswalk.columns == ["source", "record_id", R.PERSON_ID]
    assert crosswalk.height == own.records
    # the sweep's grid holds the tool's own threshold, so the oracle cannot do worse
    oracle = next(r for r in results if r.tool == tool and r.oracle)
    assert oracle.f1 is not None and oracle.f1 >= own.f1 - 1e-9


def test_smoke_ours_has_a_row_even_before_the_cli_exists(smoke) -> None:
    _table, results, _workdir, _elapsed = smoke
    ours = next(r for r in results if r.tool == "ours" and not r.oracle)
    assert ours.status in ("ok", "failed")
    if ours.status == "failed":
        assert ours.stderr_tail, "a failed tool shows its stderr"


def test_a_tool_that_hangs_is_killed_at_the_timeout(tmp_path: Path) -> None:
    started = time.perf_counter()
    run = compare.run_process(
        [sys.executable, "-c", "import time; time.sleep(60)"], timeout=1.0, log_dir=tmp_path
    )
    assert run.timed_out and run.returncode is None
    assert time.perf_counter() - started < 30
    keys = pl.DataFrame({"source": ["a"], "record_id": ["1"]})
    truth = keys.with_columns(person_id=pl.lit("p"))
    (row,) = compare.score_tool("hanger", run, tmp_path, truth, keys)
    assert row.status == "timeout" and row.f1 is None


def test_a_tool_that_crashes_shows_its_stderr(tmp_path: Path) -> None:
    code = "import sys; print('working', file=sys.stderr); sys.exit('boom: bad input')"
    run = compare.run_process([sys.executable, "-c", code], timeout=30, log_dir=tmp_path)
    assert run.returncode == 1 and not run.timed_out
    assert run.stderr_tail[-1] == "boom: bad input"
    keys = pl.DataFrame({"source": ["a"], "record_id": ["1"]})
    truth = keys.with_columns(person_id=pl.lit("p"))
    (row,) = compare.score_tool("crasher", run, tmp_path, truth, keys)
    assert row.status == "failed" and row.detail == "exit 1"
    assert row.stderr_tail[-1] == "boom: bad input"


def test_a_tool_with_an_unreadable_crosswalk_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / R.CROSSWALK_FILE).write_text("not parquet", encoding="utf-8")
    run = compare.run_process([sys.executable, "-c", "pass"], timeout=30, log_dir=tmp_path)
    keys = pl.DataFrame({"source": ["a"], "record_id": ["1"]})
    truth = keys.with_columns(person_id=pl.lit("p"))
    (row,) = compare.score_tool("liar", run, tmp_path, truth, keys)
    assert row.status == "failed" and row.detail.startswith("unusable output")


def test_arguments_are_validated() -> None:
    with pytest.raises(SystemExit):
        compare._parse(["--tools", "ours,dedupe"])
    with pytest.raises(SystemExit):
        compare._parse(["--dataset", "febrl3", "--records", "100"])
    args = compare._parse(["--records", "1000"])
    assert args.persons == 400 and args.dataset == "generated"
    smoke = compare._parse(["--smoke", "--timeout", "999"])
    assert smoke.persons == compare.SMOKE_PERSONS and smoke.timeout == compare.SMOKE_TIMEOUT
