"""Our linker side by side with Splink and recordlinkage on the same data, in one table.

    python -m benchmarks.compare --records 100000 --seed 1
    python -m benchmarks.compare --persons 4000 --tools splink,recordlinkage --timeout 600
    python -m benchmarks.compare --dataset febrl3
    python -m benchmarks.compare --smoke

The data are generated (or converted, for ``--dataset febrl3|febrl4|historical50k``)
once into the work directory as ``records.parquet`` and ``truth.parquet``.  Each tool
then runs in its own process, ``python -m benchmarks.peers.<tool> --records ...
--out WORKDIR/<tool>``, with a timeout (on the Latin-script sets ours also gets
``--config WORKDIR/ours_job.toml``, which selects ``preset = "latin"``: see
:data:`OURS_JOBS`); its process tree's resident memory is polled (psutil) and the
tool's own getrusage peak is read from its ``stats.json``, the larger being reported.
Each crosswalk is scored against the truth with :func:`linkage.evaluate.evaluate`;
for tools that also write their scored pairs, the F1-best clustering threshold is
found by a sweep against the truth and shown as an extra, marked row (it uses the
labels, so it flatters the tool).

A tool that crashes, times out or is not installed keeps its row with the reason,
and the last lines of its stderr follow the table; the harness itself exits 0 unless
its own arguments or data are wrong.  The table and a JSON of every number are also
written to the work directory (``results.md``, ``results.json``).

``--smoke`` is a tiny run with short timeouts for CI (well under a minute).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import polars as pl

from benchmarks import public_datasets
from benchmarks._compare_table import ToolResult, render_markdown
from benchmarks._datagen_persons import PARENT_CHILD, SAME_NAME_BIRTHDAY, TWINS
from benchmarks._threshold_sweep import best_threshold, cluster_at
from benchmarks.peers import _runner as R
from linkage.evaluate import (
    HARD_CASE,
    HARD_GROUP,
    LEFT_ROW,
    RIGHT_ROW,
    EvaluationReport,
    evaluate,
)
from normalizers import schema as S

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
RECORDS_FILE: Final = "records.parquet"
TRUTH_FILE: Final = "truth.parquet"
STDERR_FILE: Final = "stderr.log"
STDOUT_FILE: Final = "stdout.log"
STDERR_TAIL_LINES: Final = 12
POLL_SECONDS: Final = 0.05
DEFAULT_PERSONS: Final = 4000
DEFAULT_TIMEOUT: Final = 3600.0
SMOKE_PERSONS: Final = 200
SMOKE_TIMEOUT: Final = 45.0
PAIRED_HARD_CASES: Final[tuple[str, ...]] = (TWINS, SAME_NAME_BIRTHDAY, PARENT_CHILD)
_CLUSTER: Final = "_cluster"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """How to run a tool: its peer module, and the package it needs (skipped when absent)."""

    module: str
    package: str | None = None


TOOLS: Final[dict[str, ToolSpec]] = {
    "ours": ToolSpec("benchmarks.peers.ours"),
    "splink": ToolSpec("benchmarks.peers.splink_peer", "splink"),
    "recordlinkage": ToolSpec("benchmarks.peers.recordlinkage_peer", "recordlinkage"),
}


@dataclass(frozen=True, slots=True)
class ProcessRun:
    """How a tool's process ended and what it cost."""

    returncode: int | None  # None when killed at the timeout
    timed_out: bool
    wall_seconds: float
    peak_rss_mib: float  # polled over the process tree; 0.0 without psutil
    stderr_tail: tuple[str, ...]


# ------------------------------------------------------------------ processes
def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (0 once it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total


def _tail(path: Path, lines: int = STDERR_TAIL_LINES) -> tuple[str, ...]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return tuple(kept[-lines:])


def run_process(
    command: list[str], *, timeout: float, log_dir: Path, cwd: Path = REPO_ROOT
) -> ProcessRun:
    """Run ``command`` in its own session, polling its memory; kill its group at the timeout.

    Its stdout and stderr go to files in ``log_dir``.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    have_psutil = importlib.util.find_spec("psutil") is not None
    peak = 0
    timed_out = False
    stderr_path = log_dir / STDERR_FILE
    with open(log_dir / STDOUT_FILE, "wb") as out, open(stderr_path, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True
        )
        while process.poll() is None:
            if have_psutil:
                peak = max(peak, _tree_rss(process.pid))
            if time.perf_counter() - started > timeout:
                timed_out = True
                try:
                    os.killpg(process.pid, signal.SIGKILL)  # the group this call started
                except ProcessLookupError:
                    pass
                process.wait()
                break
            time.sleep(POLL_SECONDS)
        wall = time.perf_counter() - started
    return ProcessRun(
        returncode=None if timed_out else process.returncode,
        timed_out=timed_out,
        wall_seconds=wall,
        peak_rss_mib=peak / 2**20,
        stderr_tail=_tail(stderr_path),
    )


def tool_command(tool: str, records: Path, out: Path, *, job: Path | None = None) -> list[str]:
    """The command running ``tool``; ``job`` is our job file (other tools take none)."""
    spec = TOOLS[tool]
    command = [sys.executable, "-m", spec.module, "--records", str(records), "--out", str(out)]
    if tool == "ours" and job is not None:
        command += ["--config", str(job)]
    return command


OURS_JOB_FILE: Final = "ours_job.toml"
_LATIN_JOB: Final = 'schema_version = 1\npreset = "latin"\n'
OURS_JOBS: Final[dict[str, str]] = {
    "febrl3": _LATIN_JOB,
    "febrl4": _LATIN_JOB,
    # historical figures born from the Middle Ages on (a few dates are BC: out of range)
    "historical50k": _LATIN_JOB + "[normalize]\nmin_birth_year = 1000\n",
}
"""Our job file per data set: the Latin-script sets run with the ``latin`` preset (the peers
keep their one configuration, written for Chinese records)."""


def write_ours_job(dataset: str, workdir: Path) -> Path | None:
    """Write our job file for ``dataset`` into ``workdir`` (None: the defaults need none)."""
    text = OURS_JOBS.get(dataset)
    if text is None:
        return None
    path = workdir / OURS_JOB_FILE
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ scoring
def hard_merge_rate(truth: pl.DataFrame, crosswalk: pl.DataFrame) -> float | None:
    """Share of planted hard-case persons put in one cluster with their confusable partner.

    Only the kinds whose truth flags both persons of a planted pair count
    (:data:`PAIRED_HARD_CASES`); ``recycled_phone`` and ``guardian_id`` flag one person's
    records, so the truth names no partner for them.  Without a ``hard_group``
    column the partner is any other person of the same kind: merges between two
    unrelated planted pairs are rare, and unlike evaluate()'s pair rate (whose
    denominator then counts every cross-person pair of the kind) this does not
    shrink as the data grow.  None when nothing was planted.
    """
    if HARD_CASE not in truth.columns:
        return None
    group = [HARD_CASE, HARD_GROUP] if HARD_GROUP in truth.columns else [HARD_CASE]
    planted = truth.filter(pl.col(HARD_CASE).is_in(PAIRED_HARD_CASES)).select(
        *group, S.SOURCE, S.RECORD_ID, public_datasets.PERSON_ID
    )
    if planted.is_empty():
        return None
    clusters = crosswalk.select(
        pl.col(S.SOURCE).cast(pl.String),
        pl.col(S.RECORD_ID).cast(pl.String),
        pl.col(public_datasets.PERSON_ID).cast(pl.String).alias(_CLUSTER),
    )
    joined = planted.join(clusters, on=[S.SOURCE, S.RECORD_ID], how="left").with_columns(
        # an unplaced record is its own cluster
        pl.col(_CLUSTER).fill_null(pl.concat_str(S.SOURCE, pl.lit("\x1f"), S.RECORD_ID))
    )
    persons = (
        joined.with_columns(
            pl.col(public_datasets.PERSON_ID).n_unique().over(*group, _CLUSTER).alias("_n")
        )
        .group_by(*group, public_datasets.PERSON_ID)
        .agg((pl.col("_n") > 1).any().alias("_merged"))
    )
    return float(persons.get_column("_merged").mean())


def _scored(
    base: ToolResult,
    report: EvaluationReport,
    hard_rate: float | None,
    *,
    threshold: float | None,
    oracle: bool,
) -> ToolResult:
    return ToolResult(
        **{
            **asdict(base),
            "precision": report.pairwise.precision,
            "recall": report.pairwise.recall,
            "f1": report.pairwise.f1,
            "bcubed_f1": report.bcubed.f1,
            "hard_merge_rate": hard_rate,
            "threshold": threshold,
            "oracle": oracle,
        }
    )


def _read_stats(out: Path) -> dict:
    try:
        return json.loads((out / R.STATS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def score_tool(
    tool: str, run: ProcessRun, out: Path, truth: pl.DataFrame, keys: pl.DataFrame
) -> list[ToolResult]:
    """The tool's row, and an oracle-threshold row when it wrote its scored pairs."""
    stats = _read_stats(out)
    peak = max(run.peak_rss_mib, float(stats.get("peak_rss_mib") or 0.0)) or None
    base = ToolResult(
        tool=tool,
        status="ok",
        records=keys.height,
        candidate_pairs=stats.get("candidate_pairs"),
        stages=tuple((str(n), float(s)) for n, s in stats.get("stages", [])),
        total_seconds=run.wall_seconds,
        peak_rss_mib=peak,
        stderr_tail=run.stderr_tail,
    )
    if run.timed_out:
        return [_failed(base, "timeout", f"killed after {run.wall_seconds:.0f} s")]
    if run.returncode != 0:
        return [_failed(base, "failed", f"exit {run.returncode}")]
    pairs_path = out / R.PAIRS_FILE
    try:
        crosswalk = pl.read_parquet(out / R.CROSSWALK_FILE)
        pairs = pl.read_parquet(pairs_path) if pairs_path.is_file() else None
        report = evaluate(
            truth,
            crosswalk,
            by_source=False,
            candidate_pairs=None
            if pairs is None
            else pairs.select(pl.col(R.ROW_L).alias(LEFT_ROW), pl.col(R.ROW_R).alias(RIGHT_ROW)),
        )
    except Exception as exc:  # noqa: BLE001 - a bad output is that tool's failure, not ours
        return [_failed(base, "failed", f"unusable output: {exc}")]
    if report.blocking is not None:
        base = ToolResult(
            **{
                **asdict(base),
                "candidate_pairs": report.blocking.candidate_pairs,
                "blocking_recall": report.blocking.recall,
            }
        )
    rows = [
        _scored(
            base,
            report,
            hard_merge_rate(truth, crosswalk),
            threshold=stats.get("threshold"),
            oracle=False,
        )
    ]
    if pairs is not None:
        try:
            threshold, best = best_threshold(truth, keys, pairs)
            best_crosswalk = cluster_at(keys, pairs, threshold)
        except Exception as exc:  # noqa: BLE001
            rows.append(_failed(base, "failed", f"threshold sweep: {exc}"))
        else:
            rows.append(
                _scored(
                    base,
                    best,
                    hard_merge_rate(truth, best_crosswalk),
                    threshold=threshold,
                    oracle=True,
                )
            )
    return rows


def _failed(base: ToolResult, status: str, detail: str) -> ToolResult:
    return ToolResult(**{**asdict(base), "status": status, "detail": detail})


# ------------------------------------------------------------------ data
def _dataset_title(dataset: str, truth: pl.DataFrame, seed: int | None) -> str:
    sizes = truth.group_by(public_datasets.PERSON_ID).len().get_column("len")
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    seeded = f", seed {seed}" if seed is not None else ""
    return (
        f"{dataset}: {truth.height:,} records, {sizes.len():,} persons, "
        f"{true_pairs:,} true pairs{seeded}"
    )


def write_dataset(
    dataset: str, workdir: Path, *, persons: int, seed: int
) -> tuple[Path, pl.DataFrame]:
    """Generate or convert the data once; returns the records path and the truth."""
    records, truth = public_datasets.load(dataset, persons=persons, seed=seed)
    workdir.mkdir(parents=True, exist_ok=True)
    records_path = workdir / RECORDS_FILE
    records.write_parquet(records_path)
    truth.write_parquet(workdir / TRUTH_FILE)
    return records_path, truth


# ------------------------------------------------------------------ main
def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare", description=__doc__.split("\n\n")[0]
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--persons", type=int, help=f"true persons (default {DEFAULT_PERSONS})")
    size.add_argument("--records", type=int, help="target record count (persons derived)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dataset", choices=public_datasets.DATASETS, default="generated")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated tool names")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per tool")
    parser.add_argument("--workdir", type=Path, help="where data and outputs go (default: temp)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"CI mode: {SMOKE_PERSONS} persons, {SMOKE_TIMEOUT:.0f} s timeouts",
    )
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown or not tools:
        parser.error(f"--tools: unknown {unknown}; choose from {sorted(TOOLS)}")
    args.tools = tools
    if args.dataset != "generated" and (args.records is not None or args.persons is not None):
        parser.error("--records/--persons only apply to --dataset generated")
    if args.smoke:
        args.dataset, args.persons, args.records = "generated", SMOKE_PERSONS, None
        args.timeout = min(args.timeout, SMOKE_TIMEOUT)
    if args.records is not None:
        from benchmarks.datagen import persons_for_records

        args.persons = persons_for_records(args.records)
    if args.persons is None:
        args.persons = DEFAULT_PERSONS
    if args.persons < 1:
        parser.error("--persons/--records must be positive")
    return args


def run(args: argparse.Namespace) -> tuple[str, list[ToolResult]]:
    """Generate the data, run and score every tool; the rendered table and the rows."""
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="linkage-compare-"))
    print(f"work dir: {workdir}", file=sys.stderr)
    started = time.perf_counter()
    records_path, truth = write_dataset(args.dataset, workdir, persons=args.persons, seed=args.seed)
    job = write_ours_job(args.dataset, workdir)
    keys = pl.read_parquet(records_path, columns=[S.SOURCE, S.RECORD_ID])
    if not keys.equals(truth.select(S.SOURCE, S.RECORD_ID)):
        raise ValueError("truth rows must be in the records' order (pairs use row numbers)")
    print(
        f"data: {keys.height:,} records in {time.perf_counter() - started:.1f} s", file=sys.stderr
    )

    results: list[ToolResult] = []
    versions: dict[str, str] = {}
    for tool in args.tools:
        spec = TOOLS[tool]
        if spec.package and importlib.util.find_spec(spec.package) is None:
            results.append(
                ToolResult(tool, "skipped", keys.height, detail=f"{spec.package} not installed")
            )
            continue
        out = workdir / tool
        print(f"running {tool} (timeout {args.timeout:.0f} s) ...", file=sys.stderr, flush=True)
        process = run_process(
            tool_command(tool, records_path, out, job=job), timeout=args.timeout, log_dir=out
        )
        rows = score_tool(tool, process, out, truth, keys)
        results.extend(rows)
        version = _read_stats(out).get("version")
        if version and rows[0].status == "ok":
            versions[tool] = str(version)
        print(f"  {tool}: {rows[0].status} in {process.wall_seconds:.1f} s", file=sys.stderr)

    seed = args.seed if args.dataset == "generated" else None
    table = render_markdown(results, title=_dataset_title(args.dataset, truth, seed))
    if versions:
        table += "- versions: " + ", ".join(f"{t} {v}" for t, v in versions.items()) + "\n"
    (workdir / "results.md").write_text(table, encoding="utf-8")
    payload = {
        "dataset": args.dataset,
        "persons": args.persons if args.dataset == "generated" else None,
        "seed": seed,
        "records": keys.height,
        "cpu_count": os.cpu_count(),
        "versions": versions,
        "results": [asdict(r) for r in results],
    }
    (workdir / "results.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return table, results


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    table, _ = run(args)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
