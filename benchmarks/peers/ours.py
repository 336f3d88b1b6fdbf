"""Our library, run the way a user runs it: the ``linkage run`` batch job in a subprocess.

    python -m benchmarks.peers.ours --records records.parquet --out out/ours [--config job.toml]

Runs ``python -m linkage run --input RECORDS --out OUT/run [--config JOB]`` and
converts what it writes into the peer contract of :mod:`benchmarks.peers._runner`:

* ``OUT/run/crosswalk.parquet`` (source, record_id, person_id[, match_probability])
  becomes ``OUT/crosswalk.parquet``;
* stage timings and the candidate-pair count are taken from the first JSON file of
  :data:`REPORT_FILES` in ``OUT/run`` (``summary.json`` of ``linkage run``) that has a
  ``timings_s`` or ``stages`` entry (a ``{name: seconds}`` mapping or a list of
  ``[name, seconds]``) and a ``candidate_pairs`` count; failing that, from printed
  lines such as ``normalize 1.23 s`` or ``[blocking] 0.5s``; failing that, the run is
  one stage;
* a ``pairs.parquet`` with ``row_l``, ``row_r``, ``match_probability`` in ``OUT/run``
  is passed on for the harness's threshold sweep.

Its ``edges.parquet`` holds only the pairs kept for clustering, not every scored
candidate, so it is not passed on: ours gets no blocking-recall or oracle row until
the run writes all scored pairs as ``pairs.parquet``.  Without a ``run`` command (an
older CLI) this exits with code 3 and says so; the harness shows that in its table.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

from benchmarks.peers import _runner as R
from normalizers import schema as S

TOOL: Final = "ours"
RUN_DIR: Final = "run"
REPORT_FILES: Final = ("summary.json", "stats.json", "timings.json", "report.json")
STAGE_KEYS: Final = ("timings_s", "stages")  # summary.json of `linkage run` says timings_s
_STAGE_LINE: Final = re.compile(
    r"^\W*\[?(?P<name>[A-Za-z][\w /-]{0,40}?)\]?\s*[:=|]?\s+"
    r"(?P<seconds>\d+(?:\.\d+)?)\s*s(?:ec(?:onds)?)?\b"
)
_NOT_STAGES: Final = frozenset({"total", "elapsed", "wall", "run", "done"})
_NO_COMMAND: Final = ("No such command", "no such command")


def _stages_from_report(run_dir: Path) -> tuple[list[tuple[str, float]], int | None] | None:
    for name in REPORT_FILES:
        path = run_dir / name
        if not path.is_file():
            continue
        try:
            report: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(report, dict):
            continue
        stages = next((report[k] for k in STAGE_KEYS if k in report), None)
        if isinstance(stages, dict):
            stages = list(stages.items())
        if not isinstance(stages, list):
            continue
        try:
            parsed = [(str(n), float(s)) for n, s in stages]
        except (TypeError, ValueError):
            continue
        pairs = report.get("candidate_pairs")
        return parsed, int(pairs) if isinstance(pairs, int | float) else None
    return None


def stages_from_text(text: str) -> list[tuple[str, float]]:
    """``(stage, seconds)`` from printed lines like ``normalize 1.23 s`` or ``[blocking] 0.5s``."""
    found = []
    for line in text.splitlines():
        match = _STAGE_LINE.match(line.strip())
        if match and match.group("name").strip().lower() not in _NOT_STAGES:
            found.append((match.group("name").strip(), float(match.group("seconds"))))
    return found


def main(argv: list[str] | None = None) -> None:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--config", type=Path, help="job file passed to `linkage run --config`")
    known, rest = extra.parse_known_args(argv)
    args = R.parse_args("ours", rest, __doc__)
    run_dir = args.out / RUN_DIR
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "linkage",
        "run",
        "--input",
        str(args.records),
        "--out",
        str(run_dir),
    ]
    if known.config is not None:
        command += ["--config", str(known.config)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    total = time.perf_counter() - started
    sys.stderr.write(done.stderr[-20_000:])
    if done.returncode != 0:
        if any(marker in done.stderr for marker in _NO_COMMAND):
            raise R.PeerError(
                "`linkage run` does not exist yet: the CLI has no 'run' command "
                "(benchmarks/peers/ours.py runs it once it does)"
            )
        raise R.PeerError(f"`linkage run` failed with exit code {done.returncode}")
    produced = run_dir / R.CROSSWALK_FILE
    if not produced.is_file():
        raise R.PeerError(f"`linkage run` wrote no {produced}")

    stages = R.Stages()
    candidate_pairs = None
    report = _stages_from_report(run_dir)
    if report is not None:
        stages.seconds, candidate_pairs = report
    else:
        stages.seconds = stages_from_text(done.stdout + "\n" + done.stderr)
    if not stages.seconds:
        stages.seconds = [("run", total)]
    notes = [f"wall time of the CLI process: {total:.2f} s"]

    import polars as pl  # only now: the wrapper's memory counts in the tool's process tree

    crosswalk = pl.read_parquet(produced).select(
        pl.col(S.SOURCE).cast(pl.String), pl.col(S.RECORD_ID).cast(pl.String), R.PERSON_ID
    )
    pairs_path = run_dir / R.PAIRS_FILE
    pairs = pl.read_parquet(pairs_path) if pairs_path.is_file() else None
    R.write_outputs(
        args.out,
        tool=TOOL,
        version=_version(),
        crosswalk_frame=crosswalk,
        stages=stages,
        candidate_pairs=candidate_pairs,
        threshold=None,
        pairs=pairs,
        notes=notes,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chengxin-linkage")
    except PackageNotFoundError:
        return "source"


if __name__ == "__main__":
    sys.exit(R.run_main(main))
