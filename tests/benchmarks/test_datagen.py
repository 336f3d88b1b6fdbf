"""Tests of the seeded multi-department data generator (benchmarks.datagen)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import polars as pl
import pytest

from benchmarks import datagen
from normalizers import schema as S
from normalizers.checksums import resident_checksum_ok
from normalizers.regions import region_table

PERSONS = 4000
SEED = 7
RESIDENT_LABELS = ("居民身份证", "身份证")


@pytest.fixture(scope="module")
def generated() -> tuple[pl.DataFrame, pl.DataFrame]:
    return datagen.generate(PERSONS, seed=SEED)


@pytest.fixture(scope="module")
def joined(generated: tuple[pl.DataFrame, pl.DataFrame]) -> pl.DataFrame:
    records, truth = generated
    return pl.concat([records, truth.drop(S.SOURCE, S.RECORD_ID)], how="horizontal")


def test_same_seed_same_frames_other_seed_other_frames(
    generated: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    records, truth = datagen.generate(PERSONS, seed=SEED)
    assert records.equals(generated[0])
    assert truth.equals(generated[1])
    other, _ = datagen.generate(PERSONS, seed=SEED + 1)
    assert not other.equals(records)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        records, truth = datagen.generate(500, seed=3)
        datagen.write(records, truth, tmp_path / name, per_source=True)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_schema(generated: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    records, truth = generated
    assert records.columns == list(S.RAW_COLUMNS)
    assert all(dtype == pl.String for dtype in records.dtypes)
    assert truth.columns == list(datagen.TRUTH_COLUMNS)
    assert records.select(pl.struct(S.SOURCE, S.RECORD_ID).is_unique().all()).item()
    assert set(records[S.SOURCE].unique()) == set(datagen.SOURCES)
    assert records[S.SOURCE].null_count() == 0 and records[S.RECORD_ID].null_count() == 0


def test_truth_covers_every_record(generated: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    records, truth = generated
    assert truth.height == records.height
    assert truth.select(S.SOURCE, S.RECORD_ID).equals(records.select(S.SOURCE, S.RECORD_ID))
    assert truth["person_id"].null_count() == 0
    persons = truth["person_id"].n_unique()
    assert persons <= PERSONS
    assert 2.0 < records.height / persons < 3.2  # about 2.5 records per person
    per_person = truth.group_by("person_id").agg(pl.col(S.SOURCE).n_unique().alias("n"))["n"]
    assert per_person.max() <= 6 and (per_person == 1).mean() > 0.2


def test_hard_cases_present_and_at_least_two_percent_pairs(joined: pl.DataFrame) -> None:
    labelled = joined.filter(pl.col("hard_case").is_not_null())
    assert set(labelled["hard_case"].unique()) == set(datagen.HARD_CASES)
    pairs = labelled["person_id"].n_unique() / 2
    assert pairs >= 0.02 * PERSONS


def test_twins_share_birth_date_region_and_surname(joined: pl.DataFrame) -> None:
    twins = joined.filter(
        (pl.col("hard_case") == "twins")
        & pl.col(S.SOURCE).eq("police")
        & pl.col("errors").is_null()
    ).with_columns(pl.col(S.ID_NUMBER).str.slice(0, 14).alias("stem"))
    pairs = twins.group_by("stem").agg(
        pl.col("person_id").n_unique().alias("n"),
        pl.col(S.NAME).str.slice(0, 1).n_unique().alias("surnames"),
    )
    both = pairs.filter(pl.col("n") == 2)
    assert both.height > 0
    # compound surnames aside, twins carry one surname
    assert (both["surnames"] == 1).mean() > 0.9


def test_same_name_same_birthday_pairs_come_from_different_provinces(joined: pl.DataFrame) -> None:
    police = joined.filter(
        (pl.col("hard_case") == "same_name_birthday")
        & (pl.col(S.SOURCE) == "police")
        & pl.col("errors").is_null()
    )
    groups = police.group_by(S.NAME, S.BIRTH_DATE).agg(
        pl.col("person_id").n_unique().alias("persons"),
        pl.col(S.ID_NUMBER).str.slice(0, 2).n_unique().alias("provinces"),
    )
    both = groups.filter(pl.col("persons") == 2)
    assert both.height > 0
    assert (both["provinces"] == 2).all()


def test_guardian_records_carry_another_persons_valid_id(joined: pl.DataFrame) -> None:
    guardian = joined.filter(pl.col("hard_case") == "guardian_id")
    assert guardian.height > 0
    clean = guardian.filter(pl.col("errors") == "guardian_id")
    owners = joined.filter(pl.col(S.SOURCE) == "police").select(
        S.ID_NUMBER, pl.col("person_id").alias("owner")
    )
    matched = clean.join(owners, on=S.ID_NUMBER, how="inner")
    assert (matched["owner"] != matched["person_id"]).all()


def test_clean_resident_ids_pass_the_checksum_and_carry_the_sex(joined: pl.DataFrame) -> None:
    clean = joined.filter(
        pl.col("errors").is_null()
        & pl.col(S.ID_TYPE).is_in(RESIDENT_LABELS)
        & pl.col(S.ID_NUMBER).str.contains(r"^\d{17}[\dX]$")
    )
    assert clean.height > 1000
    assert all(resident_checksum_ok(x) for x in clean[S.ID_NUMBER])
    police = clean.filter(pl.col(S.SOURCE) == "police")
    odd = police[S.ID_NUMBER].str.slice(16, 1).cast(pl.Int32) % 2 == 1
    assert (odd == (police[S.SEX] == "男")).all()


def test_ids_use_real_region_codes_including_retired_ones(joined: pl.DataFrame) -> None:
    table = region_table()
    police = joined.filter(
        (pl.col(S.SOURCE) == "police") & (pl.col(S.ID_NUMBER).str.len_chars() == 18)
    )
    codes = police[S.ID_NUMBER].str.slice(0, 6).unique().to_list()
    local = [c for c in codes if not c.startswith(("81", "82", "83", "9"))]
    assert all(table.is_known(c) for c in local)
    assert any(not table.latest(c).in_use for c in local)


def test_clean_legacy_15_digit_ids_have_a_real_date(joined: pl.DataFrame) -> None:
    legacy = joined.filter(
        pl.col(S.ID_NUMBER).str.contains(r"^\d{15}$") & pl.col("errors").is_null()
    )
    assert legacy.height > 0
    dates = ("19" + legacy[S.ID_NUMBER].str.slice(6, 6)).str.to_date("%Y%m%d", strict=False)
    assert dates.null_count() == 0


def test_document_formats(joined: pl.DataFrame) -> None:
    def numbers(kind_pattern: str) -> pl.Series:
        clean = pl.col("errors").is_null() & (
            pl.col(S.SOURCE) != "court"
        )  # the court masks numbers
        return joined.filter(pl.col(S.ID_TYPE).str.contains(kind_pattern) & clean)[S.ID_NUMBER]

    assert numbers("护照").str.contains(r"^[A-Z0-9]{8,9}$").all()
    assert numbers("^(港澳居民来往内地通行证|回乡证)$").str.contains(r"^[HM]\d{10}$").all()
    assert numbers("^(台湾居民来往大陆通行证|台胞证)$").str.contains(r"^\d{8}$").all()
    residence = numbers("居住证")
    assert residence.str.contains(r"^8[123]0000\d{11}[\dX]$").all()
    permanent = numbers("永久居留")
    assert permanent.str.contains(r"^([A-Z]{3}\d{12}|9\d{16}[\dX])$").all()
    assert any(x.startswith("9") and resident_checksum_ok(x) for x in permanent)
    uscc = numbers("信用代码")
    assert uscc.len() > 0 and uscc.str.starts_with("92").all()


def test_court_publishes_masked_ids(joined: pl.DataFrame) -> None:
    court = joined.filter((pl.col(S.SOURCE) == "court") & pl.col(S.ID_NUMBER).is_not_null())
    masked = court.filter(pl.col(S.ID_NUMBER).str.contains("*", literal=True))
    assert masked.height > 0.8 * court.height
    assert masked[S.ID_NUMBER].str.contains(r"^\d{4,10}\*{4,10}\d{3}[\dX]$").all()


def test_names_collide_and_minority_names_are_present(joined: pl.DataFrame) -> None:
    per_name = (
        joined.filter(pl.col(S.SOURCE) == "police")
        .group_by(S.NAME)
        .agg(pl.col("person_id").n_unique().alias("n"))
    )
    assert per_name["n"].max() >= 3
    names = joined[S.NAME].drop_nulls()
    assert names.str.contains("·", literal=True).any()
    assert names.str.contains(" ", literal=True).any()
    assert names.str.contains(r"^[\u4e00-\u9fff]{2,4}$").mean() > 0.9
    latin = joined[S.NAME_LATIN].drop_nulls()
    assert latin.str.contains(r"^[A-Z]+ [A-Z]+$").any()
    hk = joined.filter(pl.col(S.SOURCE) == "hmt_office")[S.NAME_LATIN].drop_nulls()
    assert hk.str.contains(
        r"(?i)\b(CHAN|WONG|CHEUNG|LEE|NG|LAU|CHANG|HSU|CHEN|LEUNG|HO|LAM|TSANG|HUANG|LIN)\b"
    ).any()


def test_formats_vary_across_departments(joined: pl.DataFrame) -> None:
    dates = joined[S.BIRTH_DATE].drop_nulls()
    for pattern in (
        r"^\d{4}-\d{2}-\d{2}$",
        r"^\d{8}$",
        r"^\d{4}年\d{1,2}月\d{1,2}日$",
        r"^\d{4}/\d{1,2}/\d{1,2}$",
    ):
        assert dates.str.contains(pattern).any(), pattern
    phones = joined[S.PHONE].drop_nulls()
    assert phones.str.contains(r"^1\d{10}$").mean() > 0.5
    assert phones.str.contains(r"^\+86").any() and phones.str.contains("-").any()
    assert set(joined[S.SEX].drop_nulls().unique()) >= {"男", "女", "M", "F", "1", "2"}
    ethnicity = joined.filter(pl.col(S.SOURCE) == "police")[S.ETHNICITY]
    assert ethnicity.null_count() < 0.05 * ethnicity.len() and (ethnicity == "汉族").mean() > 0.8
    assert set(joined[S.ETHNICITY].drop_nulls().unique()) >= {"汉族", "汉", "01"}


def test_per_source_files_use_their_encodings(tmp_path: Path) -> None:
    records, truth = datagen.generate(800, seed=11)
    datagen.write(records, truth, tmp_path, fmt="csv", per_source=True)
    manifest = json.loads((tmp_path / "sources" / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest) == set(datagen.SOURCES)
    assert manifest["tax"]["encoding"] == "gb18030"
    total = 0
    for entry in manifest.values():
        raw = (tmp_path / "sources" / entry["file"]).read_bytes()
        frame = pl.read_csv(raw.decode(entry["encoding"]).encode("utf-8"), infer_schema=False)
        assert frame.columns == list(S.RAW_COLUMNS)
        total += frame.height
    assert total == records.height
    tax = (tmp_path / "sources" / "tax.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        tax.decode("utf-8")
    assert pl.read_csv(tmp_path / "records.csv", infer_schema=False).height == records.height


def test_cli_writes_files_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert datagen.main(["--records", "1000", "--seed", "5", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "records:" in err and "twins" in err
    records = pl.read_parquet(tmp_path / "records.parquet")
    truth = pl.read_parquet(tmp_path / "truth.parquet")
    assert truth.height == records.height
    assert 500 < records.height < 1500


def test_rejects_non_positive_sizes() -> None:
    with pytest.raises(ValueError, match="persons"):
        datagen.generate(0)


def test_does_not_depend_on_normalizer_name_or_id_modules() -> None:
    folder = Path(datagen.__file__).parent
    sources = "".join(p.read_text(encoding="utf-8") for p in folder.glob("*datagen*.py"))
    imported = set(
        re.findall(r"from normalizers(?:\.(\w+))? import|import normalizers\.(\w+)", sources)
    )
    modules = {a or b for a, b in imported}
    assert modules <= {"checksums", "regions", "schema", ""}
