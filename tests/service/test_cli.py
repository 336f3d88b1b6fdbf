"""The service's commands: keys, lists, and `linkage serve` as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import polars as pl
from typer.testing import CliRunner

from linkage.cli import ExitCode, app
from linkage.service import list_entries, list_info, list_keys, read_audit
from linkage.store import IdentityStore
from normalizers import schema as s

runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/identity.db"
    key = _ok(
        "keys", "create", "--store", url, "--name", "tax", "--role", "query", "--role", "steward"
    )
    assert key.strip().startswith("lk_") and len(key.strip()) > 40
    listed = _ok("keys", "list", "--store", url)
    assert "tax" in listed and "query,steward" in listed and key.strip() not in listed
    _ok("keys", "revoke", "--store", url, "--name", "tax")
    with IdentityStore.open(url) as store:
        (row,) = list_keys(store).iter_rows(named=True)
    assert row["revoked_at"] is not None
    again = runner.invoke(app, ["keys", "revoke", "--store", url, "--name", "tax"])
    assert again.exit_code == ExitCode.CONFIG
    bad_role = runner.invoke(
        app, ["keys", "create", "--store", url, "--name", "x", "--role", "root"]
    )
    assert bad_role.exit_code == ExitCode.CONFIG and "root" in bad_role.output
    no_store = runner.invoke(app, ["keys", "create", "--name", "x", "--role", "query"])
    assert no_store.exit_code == ExitCode.USAGE


def test_lists_load_replaces_a_list(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/identity.db"
    path = tmp_path / "black.csv"
    pl.DataFrame({s.NAME: ["张三", "李四"], s.ID_NUMBER: ["110101199003071234", None]}).write_csv(
        path
    )
    _ok("lists", "load", "court", str(path), "--store", url, "--kind", "black")
    pl.DataFrame({s.NAME: ["王五"]}).write_csv(path)
    _ok("lists", "load", "court", str(path), "--store", url, "--kind", "red")
    with IdentityStore.open(url) as store:
        info = list_info(store, "court")
        entries = list_entries(store, "court")
    assert info is not None and (info.kind, info.entries) == ("red", 1)
    assert entries[s.NAME].to_list() == ["王五"] and entries[s.SOURCE].to_list() == ["black"]
    missing = runner.invoke(
        app, ["lists", "load", "court", str(tmp_path / "no.csv"), "--store", url]
    )
    assert missing.exit_code == ExitCode.INPUT
    bad_kind = runner.invoke(
        app, ["lists", "load", "c", str(path), "--store", url, "--kind", "grey"]
    )
    assert bad_kind.exit_code == ExitCode.CONFIG


def test_serve_refuses_a_store_without_a_model(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--store", f"sqlite:///{tmp_path}/identity.db"])
    assert result.exit_code == ExitCode.CONFIG
    assert "no trained model" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_end_to_end(tmp_path: Path) -> None:
    """`linkage run` builds a store, `keys create` a key; `serve` answers, then stops."""
    sample = tmp_path / "sample.csv"
    _ok("sample", str(sample), "--quiet")
    url = f"sqlite:///{tmp_path}/identity.db"
    _ok("run", "--input", str(sample), "--out", str(tmp_path / "out"), "--store", url, "--quiet")
    key = _ok("keys", "create", "--store", url, "--name", "e2e", "--role", "query").strip()
    port = _free_port()
    linkage = Path(sys.executable).with_name("linkage")
    process = subprocess.Popen(
        [str(linkage), "serve", "--store", url, "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning"},
    )
    try:
        headers = {"Authorization": f"Bearer {key}"}
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as c:
            while True:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "serve did not answer within 120 s"
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            linked = pl.read_csv(sample, infer_schema=False).join(
                pl.read_parquet(tmp_path / "out" / "crosswalk.parquet"), on=[s.SOURCE, s.RECORD_ID]
            )
            row = linked.row(0, named=True)
            response = c.post(
                "/v1/resolve",
                json={"purpose": "e2e", "record": {col: row.get(col) for col in s.RAW_COLUMNS}},
            )
        assert response.status_code == 200, response.text
        assert response.json()["results"][0]["status"] == "known"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output = process.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
    assert process.returncode == 0, output
    assert "Traceback" not in output
    with IdentityStore.open(url) as store:
        audit = read_audit(store)
    assert audit["endpoint"].to_list()[-1] == "/v1/resolve"  # flushed at shutdown
    assert audit["key_name"].to_list()[-1] == "e2e"
