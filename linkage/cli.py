"""The ``linkage`` command: what a data steward runs.

Exit codes (also in the README): 0 success; 1 an unexpected internal error;
2 bad command-line usage; 3 an input file (or a --model file) cannot be read or lacks required
columns; 4 an invalid job configuration, including a --model file of another schema version or
with comparisons other than the job's; 5 a run finished but its row accounting does not balance.
"""

from __future__ import annotations

import logging
import sys
import time
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from normalizers.errors import ConfigError, InputFileError, LinkageError, SchemaError

app = typer.Typer(
    name="linkage",
    help="Entity resolution for Chinese personal identity records.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("linkage")


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USAGE = 2
    INPUT = 3
    CONFIG = 4
    ACCOUNTING = 5


def _console(quiet: bool) -> Console:
    return Console(stderr=True, quiet=quiet, highlight=False)


def _fail(console: Console, exc: LinkageError) -> typer.Exit:
    code = ExitCode.INPUT if isinstance(exc, (InputFileError, SchemaError)) else (
        ExitCode.CONFIG if isinstance(exc, ConfigError) else ExitCode.INTERNAL
    )
    Console(stderr=True).print(f"[red]error:[/red] {exc}")
    return typer.Exit(int(code))


QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary output (for scripts).")]


@app.command()
def normalize(
    input: Annotated[Path, typer.Argument(help="CSV, Excel, Parquet or NDJSON file in the canonical schema.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file; its suffix picks the format.")],
    encoding: Annotated[
        Optional[str], typer.Option(help="Text encoding of a CSV input (default: detect UTF-8/GB18030).")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Write canonical columns and reason codes next to the raw ones, and summarize reasons per field."""
    from linkage.io import read_records, write_frame
    from normalizers.frame import FIELDS, normalize_frame, reason_counts

    console = _console(quiet)
    started = time.perf_counter()
    try:
        raw = read_records(input, encoding=encoding)
        with Progress(
            TextColumn("[bold]normalize[/bold] {task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total} fields"), TimeElapsedColumn(),
            console=console, transient=True,
        ) as bar:
            task = bar.add_task(f"{raw.height:,} records", total=len(FIELDS))
            seen: list[str] = []

            def advance(field: str) -> None:
                if seen:
                    bar.advance(task)
                seen.append(field)
                bar.update(task, description=f"{raw.height:,} records: {field}")

            normalized = normalize_frame(raw, progress=advance)
            bar.update(task, completed=len(FIELDS))
        write_frame(normalized, out)
    except LinkageError as exc:
        raise _fail(console, exc) from None
    elapsed = time.perf_counter() - started
    console.print(_reason_table(reason_counts(normalized), normalized.height))
    console.print(f"{normalized.height:,} records normalized in {elapsed:.2f} s -> {out}")


@app.command()
def sample(
    path: Annotated[Path, typer.Argument(help="Where to write the bundled sample records (CSV, UTF-8).")],
    quiet: QuietOpt = False,
) -> None:
    """Write the bundled sample of multi-department records, to try the other commands on."""
    from importlib import resources

    data = resources.files("linkage").joinpath("sample/records.csv").read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    records = data.count(b"\n") - 1
    _console(quiet).print(f"wrote {records:,} sample records -> {path}")


@app.command()
def evaluate(
    truth: Annotated[Path, typer.Option(help="Ground truth: source, record_id, person_id [, hard_case, hard_group].")],
    pred: Annotated[Path, typer.Option(help="Predicted crosswalk: source, record_id, person_id.")],
    pairs: Annotated[
        Optional[Path], typer.Option(help="Candidate pairs (row_l, row_r as truth row numbers) for blocking recall.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Score a crosswalk against ground truth: pairwise and B-cubed P/R/F1, per source, hard cases."""
    import json

    from linkage.evaluate import evaluate as run_evaluation
    from linkage.evaluate import report_table
    from linkage.io import read_records

    console = _console(quiet)
    try:
        truth_frame = read_records(truth)
        pred_frame = read_records(pred)
        pair_frame = read_records(pairs) if pairs is not None else None
        report = run_evaluation(truth_frame, pred_frame, candidate_pairs=pair_frame)
    except LinkageError as exc:
        raise _fail(console, exc) from None
    if json_out:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        console.print(report_table(report))


@app.command()
def run(
    input: Annotated[
        Optional[list[Path]],
        typer.Option("--input", "-i", help="Input file in the canonical schema (repeatable)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out"),
    config: Annotated[
        Optional[Path], typer.Option("--config", "-c", help="TOML job file (sources, thresholds, rules).")
    ] = None,
    store: Annotated[
        Optional[str],
        typer.Option(help="Identity store URL (default: sqlite file OUT/identity.db)."),
    ] = None,
    model: Annotated[
        Optional[Path],
        typer.Option(
            "--model", "-m",
            help="Score with this trained model.json (e.g. an earlier run's) instead of training.",
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Link the records of many departments into persons and write crosswalk, persons, rejects, review, model and report."""
    from linkage.config import JobConfig
    from linkage.pipeline import AccountingError, run_job

    console = _console(quiet)
    try:
        job = JobConfig.from_toml(config) if config is not None else JobConfig()
        if not input and not job.sources:
            raise ConfigError("no input: give --input FILE or a --config job file with [[sources]]")
        with _StageDisplay(console) as display:
            result = run_job(
                list(input or ()), out, job, store_url=store, on_stage=display.update, model=model
            )
    except AccountingError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(int(ExitCode.ACCOUNTING)) from None
    except LinkageError as exc:
        raise _fail(console, exc) from None
    for warning in result.warnings:
        Console(stderr=True, highlight=False).print(f"[yellow]warning:[/yellow] {warning}")
    console.print(f"[bold]{result.accounting_line}[/bold]")
    if result.model_source is not None:
        console.print(f"scored with the model from {result.model_source}")
    console.print(
        f"{result.candidate_pairs:,} candidate pairs, {result.review_pairs:,} for review; "
        f"{sum(result.timings.values()):.1f} s; outputs in {out}"
    )


class _StageDisplay:
    """One line per pipeline stage: a spinner while it runs, its counts and time when done."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.fields[mark]}"), TextColumn("[bold]{task.fields[stage]:<9}[/bold]"),
            TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
        )
        self._tasks: dict[str, object] = {}

    def __enter__(self) -> _StageDisplay:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def update(self, stage: str, message: str) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task("…", total=1, stage=stage, mark="[yellow]•[/]")
        elif message:
            self._progress.update(self._tasks[stage], description=message, completed=1, mark="[green]✓[/]")


@app.command()
def explain(
    pair: Annotated[
        Optional[list[str]], typer.Argument(help="Two records as SOURCE:RECORD_ID SOURCE:RECORD_ID.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory of a run.")] = Path("out"),
    person: Annotated[Optional[str], typer.Option(help="Show how this person was formed.")] = None,
) -> None:
    """Explain a pair's score (waterfall of comparison weights) or how a person was formed."""
    from linkage.explain import explain_person_table, explain_pair_table

    console = Console()
    try:
        if person is not None:
            if pair:
                raise ConfigError("give either two records or --person, not both")
            for table in explain_person_table(out, person):
                console.print(table)
        else:
            if not pair or len(pair) != 2:
                raise ConfigError("expected two records as SOURCE:RECORD_ID SOURCE:RECORD_ID")
            console.print(explain_pair_table(out, pair[0], pair[1]))
    except LinkageError as exc:
        raise _fail(console, exc) from None


# ------------------------------------------------------------------ service
StoreOpt = Annotated[
    str,
    typer.Option(
        "--store",
        help="Identity store URL: sqlite:///DIR/identity.db or postgresql+psycopg://user@host/db.",
    ),
]
StoreSchemaOpt = Annotated[
    Optional[str],
    typer.Option("--store-schema", help="PostgreSQL schema holding the store's tables."),
]
keys_app = typer.Typer(
    help="API keys of the HTTP service: stored hashed, each shown once when created.",
    no_args_is_help=True,
)
lists_app = typer.Typer(
    help="Red and black lists held in the store, for /v1/screen.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
app.add_typer(lists_app, name="lists")


def _open_store(url: str, schema: str | None):  # -> IdentityStore
    from linkage.store import IdentityStore

    return IdentityStore.open(url, schema=schema)


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


@app.command()
def serve(
    store: StoreOpt,
    store_schema: StoreSchemaOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    resolve_workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Resolver replicas in processes of their own (each as much memory as the "
            "service): resolves go to them first, so a second core serves.",
        ),
    ] = 0,
) -> None:
    """Serve the resolve-identity HTTP API over the store (see README "Service")."""
    console = _console(False)
    try:
        import uvicorn

        from linkage.service.app import create_app
    except ImportError as exc:
        console.print(
            f"[red]error:[/red] the service needs the 'service' extra ({exc.name} is missing): "
            "pip install 'chengxin-linkage[service]'"
        )
        raise typer.Exit(int(ExitCode.CONFIG)) from None
    try:
        with _open_store(store, store_schema) as opened:
            if opened.latest_model() is None:
                raise ConfigError(
                    f"store {_shown(store)} holds no trained model: run `linkage run --store URL` "
                    "into it first"
                )
    except LinkageError as exc:
        raise _fail(console, exc) from None
    console.print(f"serving {_shown(store)} on http://{host}:{port} (OpenAPI at /openapi.json)")
    # no access log: request lines would repeat what the audit table records, and paths name persons
    uvicorn.run(
        create_app(store, store_schema=store_schema, resolve_workers=resolve_workers),
        host=host, port=port, log_level=log_level,
        access_log=False,
    )


@keys_app.command("create")
def keys_create(
    store: StoreOpt,
    name: Annotated[
        str, typer.Option("--name", help="Who holds the key (unique; in every audit row).")
    ],
    role: Annotated[
        list[str], typer.Option("--role", help="query, ingest, steward or admin (repeatable).")
    ],
    store_schema: StoreSchemaOpt = None,
) -> None:
    """Create an API key and print it once on stdout (only its SHA-256 is stored)."""
    from linkage.service.auth import create_key

    console = _console(False)
    try:
        with _open_store(store, store_schema) as opened:
            key = create_key(opened, name, role)
    except LinkageError as exc:
        raise _fail(console, exc) from None
    typer.echo(key)
    console.print(
        f"key {name!r} created with role(s) {', '.join(sorted(set(role)))}; "
        "it is shown only this once: store it now"
    )


@keys_app.command("list")
def keys_list(store: StoreOpt, store_schema: StoreSchemaOpt = None) -> None:
    """List the keys: name, roles, created, revoked (never the key or its hash)."""
    from linkage.service.auth import list_keys

    console = _console(False)
    try:
        with _open_store(store, store_schema) as opened:
            keys = list_keys(opened)
    except LinkageError as exc:
        raise _fail(console, exc) from None
    table = Table(title=f"API keys ({keys.height})")
    for column in ("name", "roles", "created", "revoked"):
        table.add_column(column)
    for name, roles, created, revoked in keys.iter_rows():
        table.add_row(
            name, roles, f"{created:%Y-%m-%d %H:%M:%S}Z",
            "" if revoked is None else f"{revoked:%Y-%m-%d %H:%M:%S}Z",
        )
    Console(highlight=False).print(table)


@keys_app.command("revoke")
def keys_revoke(
    store: StoreOpt,
    name: Annotated[str, typer.Option("--name", help="The key to revoke.")],
    store_schema: StoreSchemaOpt = None,
) -> None:
    """Revoke a key; a running service refuses it within seconds."""
    from linkage.service.auth import revoke_key

    console = _console(False)
    try:
        with _open_store(store, store_schema) as opened:
            if not revoke_key(opened, name):
                raise ConfigError(f"key name: no unrevoked key named {name!r}")
    except LinkageError as exc:
        raise _fail(console, exc) from None
    console.print(f"key {name!r} revoked")


@lists_app.command("load")
def lists_load(
    name: Annotated[str, typer.Argument(help="The list's name (screen requests give it).")],
    file: Annotated[
        Path, typer.Argument(help="CSV, Excel, Parquet or NDJSON in the canonical schema.")
    ],
    store: StoreOpt,
    kind: Annotated[str, typer.Option(help="red, black or other.")] = "black",
    encoding: Annotated[
        Optional[str],
        typer.Option(help="Text encoding of a CSV file (default: detect UTF-8/GB18030)."),
    ] = None,
    store_schema: StoreSchemaOpt = None,
) -> None:
    """Load (or replace) a named list from a file; a running service picks it up within seconds."""
    from linkage.io import read_source
    from linkage.service.lists import load_list

    console = _console(False)
    try:
        frame = read_source(file, encoding=encoding)
        with _open_store(store, store_schema) as opened:
            info = load_list(opened, name, frame, kind, origin=str(file))  # type: ignore[arg-type]
    except LinkageError as exc:
        raise _fail(console, exc) from None
    console.print(f"list {info.name!r} ({info.kind}): {info.entries:,} entries loaded from {file}")


def _reason_table(counts, total: int) -> Table:
    table = Table(title="Reason codes per field", show_lines=False)
    table.add_column("field")
    table.add_column("reason")
    table.add_column("records", justify="right")
    table.add_column("share", justify="right")
    for field, reason, count in counts.iter_rows():
        table.add_row(field, reason, f"{count:,}", f"{count / max(total, 1):.1%}")
    return table


def main() -> None:  # pragma: no cover - console entry for `python -m linkage`
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
