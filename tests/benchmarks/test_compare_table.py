"""The comparison table: one markdown row per tool run, ratios to ours, failures explained."""

from __future__ import annotations

from benchmarks._compare_table import COLUMNS, DASH, ToolResult, render_markdown

OURS = ToolResult(
    tool="ours",
    status="ok",
    records=10_000,
    candidate_pairs=25_000,
    precision=0.99,
    recall=0.98,
    f1=0.985,
    bcubed_f1=0.99,
    hard_merge_rate=0.05,
    stages=(("normalize", 1.5), ("link", 2.25)),
    total_seconds=5.0,
    peak_rss_mib=400.0,
)
PEER = ToolResult(
    tool="splink",
    status="ok",
    records=10_000,
    candidate_pairs=1_234_567,
    precision=0.9,
    blocking_recall=0.95,
    recall=0.8,
    f1=0.847,
    bcubed_f1=0.9,
    hard_merge_rate=0.5,
    stages=(("train", 60.0), ("predict", 3.0)),
    total_seconds=15.0,
    peak_rss_mib=1200.0,
    threshold=0.9,
)


def _rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


def _named(text: str) -> dict[str, dict[str, str]]:
    """Body rows by tool label, each as {column: cell}."""
    return {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in _rows(text)[1:]}


def test_one_row_per_result_with_every_column() -> None:
    text = render_markdown([OURS, PEER], title="generated: 10,000 records")
    rows = _rows(text)
    assert text.startswith("### generated: 10,000 records\n")
    assert rows[0] == list(COLUMNS)
    assert len(rows) == 3 and all(len(r) == len(COLUMNS) for r in rows)
    peer = dict(zip(COLUMNS, rows[2], strict=True))
    assert peer["tool"] == "splink @0.9"
    assert peer["cand. pairs"] == "1,234,567" and peer["block R"] == "0.9500"
    assert peer["P"] == "0.9000" and peer["F1"] == "0.8470"
    assert peer["hard merge"] == "50.00%"
    assert peer["stages (s)"] == "train 60.0 · predict 3.00"
    assert peer["time ×ours"] == "3.00×" and peer["mem ×ours"] == "3.00×"
    ours = dict(zip(COLUMNS, rows[1], strict=True))
    assert ours["time ×ours"] == "1.00×" and ours["tool"] == "ours"


def test_columns_line_up_and_the_rule_marks_numbers_right_aligned() -> None:
    lines = [line for line in render_markdown([OURS, PEER]).splitlines() if line.startswith("|")]
    assert len({len(line) for line in lines}) == 1
    rule = dict(zip(COLUMNS, lines[1].strip("|").split("|"), strict=True))
    assert rule["tool"].endswith("-") and rule["stages (s)"].endswith("-")
    assert rule["records"].endswith(":") and rule["F1"].endswith(":")


def test_failures_keep_their_row_and_show_stderr() -> None:
    crashed = ToolResult(
        tool="recordlinkage",
        status="failed",
        records=10_000,
        detail="exit 1",
        total_seconds=2.0,
        stderr_tail=("Traceback ...", "MemoryError"),
    )
    hung = ToolResult(tool="slow", status="timeout", records=10_000, detail="killed after 60 s")
    missing = ToolResult(tool="dedupe", status="skipped", records=10_000, detail="not installed")
    text = render_markdown([OURS, crashed, hung, missing])
    rows = _named(text)
    assert rows["recordlinkage"]["status"] == "failed (exit 1)"
    assert rows["recordlinkage"]["F1"] == DASH and rows["recordlinkage"]["time ×ours"] == DASH
    assert rows["slow"]["status"] == "timeout (killed after 60 s)"
    assert rows["dedupe"]["status"] == "skipped (not installed)"
    assert (
        "`recordlinkage` failed (exit 1), last lines of stderr:\n"
        "```\nTraceback ...\nMemoryError\n```" in text
    )


def test_without_a_successful_ours_the_ratios_are_empty() -> None:
    broken = ToolResult(tool="ours", status="failed", records=10, detail="exit 3")
    text = render_markdown([broken, PEER])
    peer = _named(text)["splink @0.9"]
    assert peer["time ×ours"] == DASH and peer["mem ×ours"] == DASH
    assert "No successful `ours` run" in text


def test_oracle_rows_are_marked_and_explained() -> None:
    oracle = ToolResult(
        **{**{f: getattr(PEER, f) for f in PEER.__slots__}, "threshold": 0.995, "oracle": True}
    )
    text = render_markdown([OURS, PEER, oracle])
    assert _rows(text)[3][0] == "splink @0.995†"
    assert "† threshold chosen to maximise pairwise F1 against the truth labels" in text


def test_pipes_in_cells_are_escaped() -> None:
    odd = ToolResult(tool="a|b", status="failed", records=1, detail="x|y")
    line = next(ln for ln in render_markdown([odd]).splitlines() if ln.startswith("| a"))
    assert "a\\|b" in line and "failed (x\\|y)" in line
