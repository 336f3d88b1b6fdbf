"""The notebooks run top to bottom, as a reader would run them.

Each plain-text notebook (jupytext percent format) is converted in memory and
executed by nbclient on the ``python3`` kernel in a temporary working
directory; any cell error fails the test with the cell's traceback.  The data
is kept small (NOTEBOOK_PERSONS, 2,000 persons unless set) so both notebooks
finish in well under two minutes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "python3"
CELL_TIMEOUT_S = 300
CI_PERSONS = "2000"

# notebook -> the least number of inline PNG charts it must render
EXPECTED_CHARTS = {"threshold_tuning": 4, "steward_tour": 2}


def test_every_notebook_is_tested() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.py")) == sorted(EXPECTED_CHARTS)


def test_python3_kernel_is_this_interpreter() -> None:
    """The kernel must import the linkage installed here, not some other environment's."""
    argv0 = KernelSpecManager().get_kernel_spec(KERNEL).argv[0]
    # jupyter_client runs a bare "python"/"python3"/"python3.X" as sys.executable
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    assert argv0 in bare or Path(argv0).resolve() == Path(sys.executable).resolve(), (
        f"the {KERNEL!r} kernelspec runs {argv0}, not {sys.executable}: install ipykernel in "
        "this environment or remove the other kernelspec (jupyter kernelspec list)"
    )


@pytest.mark.parametrize("name", sorted(EXPECTED_CHARTS))
def test_notebook_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel inherits this environment
    monkeypatch.setenv("NOTEBOOK_PERSONS", os.environ.get("NOTEBOOK_PERSONS", CI_PERSONS))
    monkeypatch.setenv("NOTEBOOK_CHECKOUT", str(ROOT))
    monkeypatch.setenv("NOTEBOOK_OUT", str(tmp_path / "run"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("COLUMNS", "120")  # width of rich's tables in the kernel and the CLI

    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    assert not any(cell.get("outputs") for cell in notebook.cells), "outputs are never committed"
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError (with the traceback) on the first failing cell
    nbformat.validate(notebook)

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    errors = [out for out in outputs if out.output_type == "error"]
    assert not errors, errors
    charts = sum("image/png" in out.get("data", {}) for out in outputs)
    assert charts >= EXPECTED_CHARTS[name], f"{name}: {charts} inline PNG chart(s) rendered"
