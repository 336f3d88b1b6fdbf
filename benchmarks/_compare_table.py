"""One row per tool run and the single table :mod:`benchmarks.compare` prints.

The table is GitHub markdown, which also reads well in a terminal, so that a run's
output can be pasted into ``benchmarks/RESULTS.md`` as is.  Failed, timed-out and
skipped tools keep their row (status says why); the last lines of a failed tool's
stderr follow the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

Status = Literal["ok", "failed", "timeout", "skipped"]
DASH: Final = "—"
ORACLE_MARK: Final = "†"

COLUMNS: Final[tuple[str, ...]] = (
    "tool",
    "status",
    "records",
    "cand. pairs",
    "block R",
    "P",
    "R",
    "F1",
    "B³ F1",
    "hard merge",
    "stages (s)",
    "total s",
    "peak RSS MiB",
    "time ×ours",
    "mem ×ours",
)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What one tool did on one data set; metrics are None when it produced nothing."""

    tool: str
    status: Status
    records: int
    candidate_pairs: int | None = None
    blocking_recall: float | None = None  # true pairs among the candidates / all true pairs
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    bcubed_f1: float | None = None
    hard_merge_rate: float | None = None  # merged / planted hard-case pairs, all kinds
    stages: tuple[tuple[str, float], ...] = ()
    total_seconds: float | None = None  # wall time of the tool's process
    peak_rss_mib: float | None = None
    threshold: float | None = None
    oracle: bool = False  # threshold chosen with the truth labels
    detail: str = ""  # "exit 3", "after 600 s", "splink not installed"
    stderr_tail: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if self.threshold is None:
            return self.tool
        mark = ORACLE_MARK if self.oracle else ""
        return f"{self.tool} @{_threshold(self.threshold)}{mark}"


def _threshold(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _num(value: float | None, digits: int = 4) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def _count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def _seconds(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def _stages(stages: Sequence[tuple[str, float]]) -> str:
    return " · ".join(f"{name} {_seconds(seconds)}" for name, seconds in stages) or DASH


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return DASH
    return f"{value / base:.2f}×"


def baseline_of(results: Sequence[ToolResult], baseline: str) -> ToolResult | None:
    """The baseline tool's successful run (its own threshold, not an oracle row)."""
    for result in results:
        if result.tool == baseline and result.status == "ok" and not result.oracle:
            return result
    return None


def _status(result: ToolResult) -> str:
    return result.status if not result.detail else f"{result.status} ({result.detail})"


def row_cells(result: ToolResult, base: ToolResult | None) -> list[str]:
    """The table cells of one result, in :data:`COLUMNS` order."""
    ok = result.status == "ok"
    return [
        result.label,
        _status(result),
        _count(result.records),
        _count(result.candidate_pairs),
        _num(result.blocking_recall),
        _num(result.precision),
        _num(result.recall),
        _num(result.f1),
        _num(result.bcubed_f1),
        DASH if result.hard_merge_rate is None else f"{result.hard_merge_rate:.2%}",
        _stages(result.stages),
        DASH if result.total_seconds is None else _seconds(result.total_seconds),
        DASH if result.peak_rss_mib is None else f"{result.peak_rss_mib:,.0f}",
        _ratio(result.total_seconds, base.total_seconds if base else None) if ok else DASH,
        _ratio(result.peak_rss_mib, base.peak_rss_mib if base else None) if ok else DASH,
    ]


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def render_markdown(
    results: Sequence[ToolResult], *, baseline: str = "ours", title: str | None = None
) -> str:
    """The results as one markdown table, then footnotes and failed tools' stderr."""
    base = baseline_of(results, baseline)
    rows = [list(COLUMNS), *(row_cells(r, base) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    right = {i for i, c in enumerate(COLUMNS) if c not in ("tool", "status", "stages (s)")}

    def line(cells: list[str]) -> str:
        padded = [
            _escape(c).rjust(w) if i in right else _escape(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + ":" if i in right else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    out = [f"### {title}", ""] if title else []
    out += [line(rows[0]), rule, *(line(r) for r in rows[1:])]
    notes = []
    if any(r.oracle for r in results):
        notes.append(
            f"{ORACLE_MARK} threshold chosen to maximise pairwise F1 against the truth labels: "
            "an upper bound that no unlabelled run can reach, and it flatters the tool."
        )
    if any(r.hard_merge_rate is not None for r in results):
        notes.append(
            "hard merge: share of the planted twins, same-name-and-birthday and parent/child "
            "persons put in one cluster with another person of the same kind (lower is better)."
        )
    if base is None:
        notes.append(f"No successful `{baseline}` run: the ratio columns are empty.")
    notes.append(
        "block R: share of the true pairs among the tool's candidate pairs (blocking "
        "recall; clustering can still join pairs never compared). total s: wall time of the tool's "
        "process, start-up and imports included; peak RSS: largest resident memory of its "
        "process tree."
    )
    out += [""] + [f"- {n}" for n in notes]
    for result in results:
        if result.status in ("failed", "timeout") and result.stderr_tail:
            out += ["", f"`{result.tool}` {_status(result)}, last lines of stderr:", "```"]
            out += list(result.stderr_tail)
            out.append("```")
    return "\n".join(out) + "\n"
