"""The batch job end to end: through the Python API and through the real `linkage` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from linkage.config import JobConfig
from linkage.pipeline import CROSSWALK, OUTPUT_FILES, PERSONS, REJECTS, REVIEW, run_job
from normalizers import schema as s
from normalizers.checksums import resident_check_char

SAMPLE = Path(__file__).resolve().parents[2] / "linkage" / "sample" / "records.csv"


def linkage_command() -> list[str]:
    """The installed console script (what a steward types), else the module."""
    exe = shutil.which("linkage")
    return [exe] if exe else [sys.executable, "-m", "linkage"]


def resident_id(body17: str) -> str:
    return body17 + resident_check_char(body17)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("run")
    return out, run_job([SAMPLE], out)


def test_all_outputs_are_written(sample_run) -> None:
    out, result = sample_run
    for name in OUTPUT_FILES:
        assert (out / name).exists(), name
    assert (out / "identity.db").exists()
    crosswalk = pl.read_parquet(out / CROSSWALK)
    assert crosswalk.columns == [s.SOURCE, s.RECORD_ID, s.PERSON_ID, s.MATCH_PROBABILITY]
    persons = pl.read_parquet(out / PERSONS)
    assert persons.height == crosswalk[s.PERSON_ID].n_unique() == result.persons
    assert persons["records"].sum() == crosswalk.height
    review = pl.read_parquet(out / REVIEW)
    assert {"name_l", "name_r", s.MATCH_PROBABILITY, "why"} <= set(review.columns)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["input_rows"] == summary["linked_rows"] + summary["rejected_rows"]


def test_sample_is_linked_accurately(sample_run) -> None:
    from linkage.evaluate import evaluate

    out, _ = sample_run
    truth = pl.read_csv(SAMPLE.with_name("truth.csv"), infer_schema=False)
    report = evaluate(truth, pl.read_parquet(out / CROSSWALK))
    # the bundled sample is small; these bounds catch a broken stage, not a tuning change
    assert report.pairwise.precision >= 0.99
    assert report.pairwise.recall >= 0.95


def test_row_accounting_with_malformed_rows(tmp_path: Path) -> None:
    good = resident_id("11010519800101123")
    frame = pl.DataFrame(
        {
            s.SOURCE: ["tax", "tax", "tax", None, "tax", "court", "tax"],
            s.RECORD_ID: ["1", "2", "2", "4", "5", "6", None],
            s.NAME: ["张伟", "张伟", "重复", "无来源", None, "\x00\ufffd", "无编号"],
            s.ID_NUMBER: [good, good, None, good, "not an id", "!!!", good],
            s.BIRTH_DATE: ["1980-01-01", "1980/1/1", "x" * 10_000, None, "32/13/1990", None, None],
        }
    )
    # beside a realistic extract: the model is trained on the data it links
    frame = pl.concat([frame, pl.read_csv(SAMPLE, infer_schema=False)], how="diagonal_relaxed")
    path = tmp_path / "dirty.parquet"
    frame.write_parquet(path)
    result = run_job([path], tmp_path / "out")
    crosswalk = pl.read_parquet(tmp_path / "out" / CROSSWALK)
    rejects = pl.read_parquet(tmp_path / "out" / REJECTS)
    assert crosswalk.height + rejects.height == frame.height == result.input_rows
    reasons = dict(zip(rejects["input_row"].to_list(), rejects["reason"].to_list()))
    assert reasons[2] == "RECORD_DUPLICATE_KEY"
    assert reasons[3] == "RECORD_MISSING_KEY"
    assert reasons[6] == "RECORD_MISSING_KEY"
    assert reasons[4] == "RECORD_NO_USABLE_FIELD"  # no name, an ID that is not one
    # the two clean records of one person are one person
    linked = crosswalk.filter(pl.col(s.RECORD_ID).is_in(["1", "2"]) & (pl.col(s.SOURCE) == "tax"))
    assert linked[s.PERSON_ID].n_unique() == 1


def test_different_valid_ids_never_share_a_person(tmp_path: Path) -> None:
    # twins on paper: same name, birth date, phone and address, two valid resident IDs
    a, b = resident_id("11010519800101123"), resident_id("11010519800101125")
    rows = []
    for i, (dept, number) in enumerate([("police", a), ("tax", b), ("bank", a), ("hospital", b)]):
        rows.append({
            s.SOURCE: dept, s.RECORD_ID: str(i), s.NAME: "王芳", s.ID_NUMBER: number,
            s.BIRTH_DATE: "1980-01-01", s.PHONE: "13812345678",
            s.ADDRESS: "北京市朝阳区建国路1号",
        })
    filler = pl.read_csv(SAMPLE, infer_schema=False)
    frame = pl.concat([pl.DataFrame(rows), filler], how="diagonal_relaxed")
    path = tmp_path / "twins.parquet"
    frame.write_parquet(path)
    run_job([path], tmp_path / "out")
    crosswalk = pl.read_parquet(tmp_path / "out" / CROSSWALK)
    records = frame.select(s.SOURCE, s.RECORD_ID, s.ID_NUMBER).join(
        crosswalk, on=[s.SOURCE, s.RECORD_ID]
    )
    per_person = records.filter(pl.col(s.ID_NUMBER).is_in([a, b])).group_by(s.PERSON_ID).agg(
        pl.col(s.ID_NUMBER).n_unique()
    )
    assert per_person[s.ID_NUMBER].max() == 1


def test_rerun_is_deterministic(tmp_path: Path) -> None:
    first = run_job([SAMPLE], tmp_path / "a")
    second = run_job([SAMPLE], tmp_path / "b")
    a = pl.read_parquet(tmp_path / "a" / CROSSWALK).sort(s.SOURCE, s.RECORD_ID)
    b = pl.read_parquet(tmp_path / "b" / CROSSWALK).sort(s.SOURCE, s.RECORD_ID)
    assert a[s.PERSON_ID].to_list() == b[s.PERSON_ID].to_list()
    assert first.persons == second.persons


def test_rerun_with_more_records_keeps_person_ids(tmp_path: Path) -> None:
    from benchmarks.datagen import generate

    records, _ = generate(600, seed=5)
    first = records.sample(fraction=0.9, seed=1, shuffle=True)
    store = f"sqlite:///{tmp_path / 'identity.db'}"
    (tmp_path / "first.parquet").parent.mkdir(exist_ok=True)
    first.write_parquet(tmp_path / "first.parquet")
    records.write_parquet(tmp_path / "all.parquet")
    run_job([tmp_path / "first.parquet"], tmp_path / "run1", store_url=store)
    result = run_job([tmp_path / "all.parquet"], tmp_path / "run2", store_url=store)
    before = pl.read_parquet(tmp_path / "run1" / CROSSWALK)
    after = pl.read_parquet(tmp_path / "run2" / CROSSWALK)
    kept = before.join(after, on=[s.SOURCE, s.RECORD_ID], suffix="_after")
    same = (kept[s.PERSON_ID] == kept[f"{s.PERSON_ID}_after"]).mean()
    assert same >= 0.99
    assert sum(result.events.values()) > 0  # new persons at least were created


def test_job_file_maps_department_columns(tmp_path: Path) -> None:
    dept = pl.read_csv(SAMPLE, infer_schema=False).rename(
        {s.NAME: "XM", s.ID_NUMBER: "SFZH", s.BIRTH_DATE: "CSRQ", s.RECORD_ID: "BH"}
    ).drop(s.SOURCE)
    dept.write_csv(tmp_path / "dept.csv")
    (tmp_path / "job.toml").write_text(
        '[[sources]]\nname = "dept"\npath = "dept.csv"\n'
        '[sources.columns]\nname = "XM"\nid_number = "SFZH"\nbirth_date = "CSRQ"\nrecord_id = "BH"\n'
        "[thresholds]\nmatch = 0.98\nreview = 0.4\n",
        encoding="utf-8",
    )
    result = run_job([], tmp_path / "out", JobConfig.from_toml(tmp_path / "job.toml"))
    assert result.linked_rows + result.rejected_rows == dept.height
    assert result.model.match_threshold == 0.98


# ------------------------------------------------------------------ the CLI


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*linkage_command(), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def test_cli_run_explain_and_evaluate(tmp_path: Path) -> None:
    done = run_cli("run", "--input", str(SAMPLE), "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "input rows =" in done.stderr and "rejected" in done.stderr
    crosswalk = pl.read_parquet(tmp_path / "out" / CROSSWALK)
    person = crosswalk.group_by(s.PERSON_ID).len().sort("len", descending=True)[s.PERSON_ID][0]
    members = crosswalk.filter(pl.col(s.PERSON_ID) == person)
    a, b = (f"{r[0]}:{r[1]}" for r in members.select(s.SOURCE, s.RECORD_ID).head(2).iter_rows())

    explained = run_cli("explain", "--out", "out", a, b, cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr
    assert "prior" in explained.stdout and "probability" in explained.stdout

    formed = run_cli("explain", "--out", "out", "--person", person, cwd=tmp_path)
    assert formed.returncode == 0, formed.stderr
    assert person in formed.stdout and "kept" in formed.stdout
    # ID numbers are masked in what a steward sees
    ids = pl.read_csv(SAMPLE, infer_schema=False)[s.ID_NUMBER].drop_nulls().to_list()
    assert not any(len(i) == 18 and i in formed.stdout for i in ids)

    scored = run_cli(
        "evaluate", "--truth", str(SAMPLE.with_name("truth.csv")), "--pred", "out/crosswalk.parquet",
        "--json", cwd=tmp_path,
    )
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["pairwise"]["precision"] >= 0.99


def test_cli_exit_codes(tmp_path: Path) -> None:
    missing = run_cli("run", "--input", "nope.csv", "--out", "out", cwd=tmp_path)
    assert missing.returncode == 3 and "no such file" in missing.stderr
    (tmp_path / "bad.toml").write_text("[tresholds]\nmatch = 0.9\n", encoding="utf-8")
    bad = run_cli("run", "--config", "bad.toml", "--out", "out", cwd=tmp_path)
    assert bad.returncode == 4 and "tresholds" in bad.stderr
    nothing = run_cli("run", "--out", "out", cwd=tmp_path)
    assert nothing.returncode == 4 and "no input" in nothing.stderr
    usage = run_cli("run", "--no-such-option", cwd=tmp_path)
    assert usage.returncode == 2
