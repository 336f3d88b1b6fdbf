"""`linkage run` at the edges: empty, all-rejected and tiny inputs, and scoring with a given model.

Through the real command (typer's CliRunner, in process); one trained sample run is shared.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from linkage.cli import ExitCode, app
from linkage.config import JobConfig
from linkage.model import FSModel, ModelMismatchError, check_model_matches, load_model
from linkage.pipeline import (
    CROSSWALK,
    MODEL,
    OUTPUT_FILES,
    PERSONS,
    REJECTS,
    REVIEW,
    SUMMARY,
    UNTRAINED,
    run_job,
)
from linkage.presets import preset_comparisons
from normalizers import schema as s
from normalizers.errors import ConfigError, InputFileError

SAMPLE = Path(__file__).resolve().parents[2] / "linkage" / "sample" / "records.csv"
PARQUET_OUTPUTS = [name for name in OUTPUT_FILES if name.endswith(".parquet")]

runner = CliRunner()


def linkage_run(*args: str) -> tuple[int, str]:
    """Exit code and the output (stdout and stderr) with line wrapping undone."""
    result = runner.invoke(app, ["run", *args], env={"COLUMNS": "250"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output directory of a normal run on the bundled sample (it trains a model)."""
    out = tmp_path_factory.mktemp("trained")
    run_job([SAMPLE], out)
    return out


@pytest.fixture(scope="module")
def sample() -> pl.DataFrame:
    return pl.read_csv(SAMPLE, infer_schema=False)


def _person_with_id(sample: pl.DataFrame) -> pl.DataFrame:
    """One record with an ID number, and the same record again under another record ID."""
    row = sample.filter(pl.col(s.ID_NUMBER).str.len_chars() == 18).head(1)
    return pl.concat([row, row.with_columns(pl.lit("again").alias(s.RECORD_ID))])


def _schemas(out: Path) -> dict[str, pl.Schema]:
    return {name: pl.read_parquet_schema(out / name) for name in PARQUET_OUTPUTS}


def _summary(out: Path) -> dict:
    return json.loads((out / SUMMARY).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- no model


def test_cli_header_only_inputs_write_empty_outputs(
    tmp_path: Path, trained: Path, sample: pl.DataFrame
) -> None:
    sample.head(0).write_csv(tmp_path / "empty.csv")
    sample.head(0).write_parquet(tmp_path / "empty.parquet")
    for inputs, out in (
        (["-i", str(tmp_path / "empty.csv")], tmp_path / "one"),
        (
            ["-i", str(tmp_path / "empty.csv"), "-i", str(tmp_path / "empty.parquet")],
            tmp_path / "two",
        ),
    ):
        code, output = linkage_run(*inputs, "--out", str(out))
        assert code == ExitCode.OK, output
        assert "0 input rows = 0 linked to 0 persons + 0 rejected" in output
        assert "warning: no model trained" in output
        for name in OUTPUT_FILES:
            assert (out / name).exists(), name
        # empty, with the columns of a normal run
        assert _schemas(out) == _schemas(trained)
        assert all(pl.read_parquet(out / name).height == 0 for name in PARQUET_OUTPUTS)
        summary = _summary(out)
        assert summary["input_rows"] == summary["linked_rows"] == summary["rejected_rows"] == 0
        assert summary["model"]["method"] == UNTRAINED and summary["warnings"]
        assert (
            FSModel.from_json((out / MODEL).read_text(encoding="utf-8")).training.method
            == UNTRAINED
        )
        assert "No model was trained" in (out / "report.html").read_text(encoding="utf-8")


def test_cli_all_rows_rejected(tmp_path: Path) -> None:
    pl.DataFrame(
        {
            s.SOURCE: ["tax", "tax", "court"],
            s.RECORD_ID: ["1", "2", "3"],
            s.NAME: [None, "", None],
            s.ID_NUMBER: ["not an id", None, "!!!"],
        }
    ).write_csv(tmp_path / "bad.csv")
    code, output = linkage_run("-i", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "out"))
    assert code == ExitCode.OK, output
    assert "3 input rows = 0 linked to 0 persons + 3 rejected" in output
    rejects = pl.read_parquet(tmp_path / "out" / REJECTS)
    assert rejects["reason"].to_list() == ["RECORD_NO_USABLE_FIELD"] * 3
    assert pl.read_parquet(tmp_path / "out" / CROSSWALK).height == 0
    assert pl.read_parquet(tmp_path / "out" / PERSONS).height == 0


def test_cli_one_row(tmp_path: Path, sample: pl.DataFrame) -> None:
    sample.head(1).write_csv(tmp_path / "one.csv")
    code, output = linkage_run("-i", str(tmp_path / "one.csv"), "--out", str(tmp_path / "out"))
    assert code == ExitCode.OK, output
    assert "1 input rows = 1 linked to 1 persons + 0 rejected" in output
    assert pl.read_parquet(tmp_path / "out" / PERSONS)["records"].to_list() == [1]


def test_cli_two_rows_without_a_model_are_not_linked_but_reviewed(
    tmp_path: Path, sample: pl.DataFrame
) -> None:
    _person_with_id(sample).write_csv(tmp_path / "two.csv")
    code, output = linkage_run("-i", str(tmp_path / "two.csv"), "--out", str(tmp_path / "out"))
    assert code == ExitCode.OK, output
    assert "2 input rows = 2 linked to 2 persons + 0 rejected" in output
    assert "no model trained" in output and "--model" in output
    review = pl.read_parquet(tmp_path / "out" / REVIEW)
    assert review["why"].to_list() == [UNTRAINED]
    assert review["record_id_l"].to_list() + review["record_id_r"].to_list() != []
    # the placeholder is never stored as the store's model, and --model refuses it
    with pytest.raises(ModelMismatchError, match="untrained"):
        load_model(tmp_path / "out" / MODEL)


def test_min_records_is_configurable(tmp_path: Path, sample: pl.DataFrame) -> None:
    _person_with_id(sample).write_csv(tmp_path / "two.csv")
    config = JobConfig.from_dict({"training": {"min_records": 2}})
    result = run_job([tmp_path / "two.csv"], tmp_path / "out", config)  # EM on one pair: no crash
    assert result.model.training.method == "em" and not result.warnings
    assert result.linked_rows == 2


# ------------------------------------------------------------ a given model


def test_cli_model_reuse_links_a_small_batch(
    tmp_path: Path, trained: Path, sample: pl.DataFrame
) -> None:
    model_path = trained / MODEL
    _person_with_id(sample).write_csv(tmp_path / "two.csv")
    out = tmp_path / "out"
    code, output = linkage_run(
        "-i", str(tmp_path / "two.csv"), "--out", str(out), "--model", str(model_path)
    )
    assert code == ExitCode.OK, output
    assert f"reused model from {model_path}" in output
    assert "2 input rows = 2 linked to 1 persons + 0 rejected" in output
    assert "warning" not in output
    given = FSModel.from_json(model_path.read_text(encoding="utf-8"))
    assert FSModel.from_json((out / MODEL).read_text(encoding="utf-8")) == given
    assert _summary(out)["model"] == {"method": "em", "source": str(model_path)}
    assert "Reused model from" in (out / "report.html").read_text(encoding="utf-8")

    # one row and no rows score with it too
    sample.head(1).write_csv(tmp_path / "one.csv")
    sample.head(0).write_csv(tmp_path / "empty.csv")
    for name in ("one.csv", "empty.csv"):
        code, output = linkage_run(
            "-i",
            str(tmp_path / name),
            "--out",
            str(tmp_path / f"out_{name}"),
            "--model",
            str(model_path),
        )
        assert code == ExitCode.OK, output
        assert "reused model from" in output


def test_a_small_batch_is_scored_with_the_stores_model(
    tmp_path: Path, sample: pl.DataFrame
) -> None:
    """Too few records to train, but the store an earlier run wrote holds its model."""
    store = f"sqlite:///{tmp_path / 'identity.db'}"
    run_job([SAMPLE], tmp_path / "first", store_url=store)
    _person_with_id(sample).write_csv(tmp_path / "two.csv")
    code, output = linkage_run(
        "-i", str(tmp_path / "two.csv"), "--out", str(tmp_path / "out"), "--store", store
    )
    assert code == ExitCode.OK, output
    assert "too few records to train: reused the store's model" in output
    assert "2 input rows = 2 linked to 1 persons + 0 rejected" in output
    assert "no model trained" not in output
    # without a store there is no model to fall back on
    code, output = linkage_run("-i", str(tmp_path / "two.csv"), "--out", str(tmp_path / "bare"))
    assert code == ExitCode.OK and "no model trained" in output


def test_job_file_model_and_thresholds(tmp_path: Path, trained: Path, sample: pl.DataFrame) -> None:
    _person_with_id(sample).write_csv(tmp_path / "two.csv")
    model_rel = Path("..") / trained.name / MODEL
    (trained.parent / "job").mkdir(exist_ok=True)
    job = trained.parent / "job" / "job.toml"
    job.write_text(f'model = "{model_rel.as_posix()}"\n', encoding="utf-8")
    config = JobConfig.from_toml(job)
    assert config.model == (trained / MODEL).resolve()
    result = run_job([tmp_path / "two.csv"], tmp_path / "a", config)
    assert result.model_source == str((trained / MODEL).resolve())
    given = load_model(trained / MODEL)
    assert result.model.match_threshold == given.match_threshold
    # a [thresholds] table in the job file replaces the model's
    job.write_text(
        f'model = "{model_rel.as_posix()}"\n[thresholds]\nmatch = 0.97\nreview = 0.3\n',
        encoding="utf-8",
    )
    result = run_job([tmp_path / "two.csv"], tmp_path / "b", JobConfig.from_toml(job))
    assert (result.model.match_threshold, result.model.review_threshold) == (0.97, 0.3)
    assert result.model.comparisons == given.comparisons


def test_cli_mismatching_models_fail_before_reading(
    tmp_path: Path, trained: Path, sample: pl.DataFrame
) -> None:
    sample.head(5).write_csv(tmp_path / "in.csv")
    good = json.loads((trained / MODEL).read_text(encoding="utf-8"))
    args = ("-i", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out"))

    # another preset: other comparisons
    (tmp_path / "latin.toml").write_text('preset = "latin"\n', encoding="utf-8")
    code, output = linkage_run(
        *args, "--config", str(tmp_path / "latin.toml"), "--model", str(trained / MODEL)
    )
    assert code == ExitCode.CONFIG, output
    assert "comparisons differ" in output and "'id'" in output

    # another schema version
    (tmp_path / "v2.json").write_text(json.dumps({**good, "schema_version": 2}), encoding="utf-8")
    code, output = linkage_run(*args, "--model", str(tmp_path / "v2.json"))
    assert code == ExitCode.CONFIG and "schema_version" in output and "newer" in output

    # a comparison defined otherwise
    other = json.loads(json.dumps(good))
    name = next(c for c in other["comparisons"] if c["name"] == "name")
    name["definition"]["fuzzy_threshold"] = 0.5
    (tmp_path / "other.json").write_text(json.dumps(other), encoding="utf-8")
    code, output = linkage_run(*args, "--model", str(tmp_path / "other.json"))
    assert code == ExitCode.CONFIG, output
    assert "comparison name: definition differs (fuzzy_threshold: model 0.5" in output

    # no such file: an input problem
    code, output = linkage_run(*args, "--model", str(tmp_path / "nope.json"))
    assert code == ExitCode.INPUT and "no such file" in output

    assert not (tmp_path / "out").exists()  # nothing written: checked before any data is read


def test_check_model_matches_names_level_differences(trained: Path) -> None:
    model = load_model(trained / MODEL)
    comps = preset_comparisons("chinese")
    check_model_matches(model, comps)
    data = model.model_dump()
    sex = next(c for c in data["comparisons"] if c["name"] == "sex")
    sex["levels"][-1]["label"] = "unequal"
    changed = FSModel.model_validate(data)
    with pytest.raises(ModelMismatchError, match=r"comparison sex: levels differ .*'unequal'"):
        check_model_matches(changed, comps)
    with pytest.raises(ModelMismatchError, match="order differs"):
        check_model_matches(model, (*comps[1:], comps[0]))
    assert issubclass(ModelMismatchError, ConfigError)
    with pytest.raises(InputFileError):
        load_model(trained / "missing.json")
