"""ID numbers: golden formats, strict mode, repairs, the frame path against the scalar path."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from normalizers import schema
from normalizers._id_forms import parse_hint
from normalizers._id_repair import checksum_ok
from normalizers.checksums import resident_check_char, resident_checksum_ok, uscc_check_char
from normalizers.errors import ConfigError, NormalizationError, SchemaError
from normalizers.ids import IdKind, IdResult, id_columns, normalize_id, upgrade_15_to_18
from normalizers.masking import mask_id
from normalizers.reasons import Reason
from normalizers.regions import region_table

OUTPUT_COLUMNS = [
    schema.ID_KIND,
    schema.ID_CLEAN,
    schema.ID_NORM,
    schema.ID_KEY,
    schema.ID_REASON,
    schema.ID_BIRTH_DATE,
    schema.ID_SEX,
    schema.ID_REGION,
    schema.ID_REGION_CURRENT,
    schema.ID_MASK_PATTERN,
    schema.ID_REPAIRS,
]


def make_id(body17: str) -> str:
    return body17 + resident_check_char(body17)


def as_row(r: IdResult) -> tuple:
    return (
        r.kind.value,
        r.clean,
        r.norm,
        r.key,
        r.reason.value,
        r.birth_date,
        r.sex,
        r.region,
        r.region_current,
        r.mask_pattern,
        list(r.repairs),
    )


def frame_of(
    values: list, id_types: list | None = None, births: list | None = None
) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            schema.ID_NUMBER: values,
            schema.ID_TYPE: id_types or [None] * n,
            schema.BIRTH_DATE_NORM: births or [None] * n,
        },
        schema={
            schema.ID_NUMBER: pl.String,
            schema.ID_TYPE: pl.String,
            schema.BIRTH_DATE_NORM: pl.Date,
        },
    )


# ------------------------------------------------------------------ strategies

COUNTIES = sorted(c for c, periods in region_table().by_code.items() if periods[-1].level == 3)

births = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31))


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(COUNTIES))
    born = draw(births)
    seq = draw(st.integers(0, 999))
    return make_id(f"{region}{born:%Y%m%d}{seq:03d}")


@st.composite
def legacy_ids(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(COUNTIES))
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31)))
    return f"{region}{born:%y%m%d}{draw(st.integers(0, 999)):03d}"


@st.composite
def dirty_ids(draw: st.DrawFn) -> str:
    """Forms real extracts hold: formatted, legacy, mistyped, masked, mangled, other documents."""
    valid = draw(valid_ids())
    kind = draw(st.integers(0, 17))
    i = draw(st.integers(0, 16))
    digit = str(draw(st.integers(0, 9)))
    if kind == 0:
        return " " + valid[:6] + " " + valid[6:] + "\u3000"
    if kind == 1:
        return valid.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    if kind == 2:
        return "'" + valid[:17] + valid[17].lower()
    if kind == 3:
        return draw(legacy_ids())
    if kind == 4:
        return valid[:i] + digit + valid[i + 1 :]
    if kind == 5:
        return valid[:i] + valid[i + 1] + valid[i] + valid[i + 2 :]
    if kind == 6:
        return valid[:15] + "000"
    if kind == 7:
        return valid[: draw(st.integers(0, 8))] + "*" * 8 + valid[draw(st.integers(10, 18)) :]
    if kind == 8:
        return valid[:6] + "*" * 8 + valid[14:]
    if kind == 9:
        return f"{valid[0]}.{valid[1:15]}E+17"
    if kind == 10:
        return draw(
            st.sampled_from(["H12345678", "M1234567801", "05231468", "05231468(B)", "E12345678"])
        )
    if kind == 11:
        return valid[:i] + draw(st.sampled_from("OIBX*")) + valid[i + 1 :]
    if kind == 12:
        return (
            draw(st.sampled_from(["810000", "820000", "830000", "9"]))
            + valid[len("9") :][:11]
            + valid[12:]
        )
    if kind == 13:
        legacy = draw(legacy_ids())
        return legacy[:6] + "******" + legacy[12:]
    if kind == 14:
        return draw(st.text(alphabet="0123456789Xx*-. '", min_size=0, max_size=20))
    if kind == 15:
        return valid + ".0"
    if kind == 16:
        return draw(st.text(max_size=20))
    return valid


id_type_hints = st.sampled_from(
    [None, None, None, "身份证", "111", "护照", "台胞证", "统一社会信用代码", "其他"]
)


# ------------------------------------------------------------------ golden table


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


@pytest.mark.golden("ids")
def test_golden(row: dict) -> None:
    result = normalize_id(row["input"], id_type=row["id_type"], birth_date=_date(row["birth_date"]))
    assert (result.reason.value, result.kind.value) == (row["reason"], row["kind"])
    assert result.norm == row["expected"]
    assert result.key == row["key"]
    assert result.reason.rejects == (result.norm is None)


@pytest.mark.golden("ids")
def test_golden_frame_matches_scalar(row: dict) -> None:
    births = [_date(row["birth_date"])]
    out = id_columns(frame_of([row["input"]], [row["id_type"]], births))
    scalar = normalize_id(row["input"], id_type=row["id_type"], birth_date=births[0])
    assert out.row(0) == as_row(scalar)


def test_golden_table_as_one_frame() -> None:
    rows = _golden_table()
    assert len(rows) >= 60
    frame = frame_of(
        [r["input"] for r in rows],
        [r["id_type"] for r in rows],
        [_date(r["birth_date"]) for r in rows],
    )
    out = id_columns(frame)
    assert out[schema.ID_NORM].to_list() == [r["expected"] for r in rows]
    assert out[schema.ID_REASON].to_list() == [r["reason"] for r in rows]


def _golden_table() -> list[dict]:
    path = Path(__file__).parents[1] / "golden" / "ids.tsv"
    with path.open(encoding="utf-8", newline="") as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    return [
        {k: (None if v == r"\N" else v) for k, v in row.items()}
        for row in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    ]


# ------------------------------------------------------------------ details of the scalar path

A = make_id("11010119900307123")  # 东城区, 1990-03-07, 17th digit 3: male


def test_valid_resident_fields() -> None:
    r = normalize_id(A)
    assert r == IdResult(
        IdKind.RESIDENT,
        A,
        A,
        f"RESIDENT:{A}",
        Reason.OK,
        dt.date(1990, 3, 7),
        "M",
        "110101",
        "110101",
        None,
        (),
    )
    assert normalize_id(make_id("44030519851012002")).sex == "F"


def test_retired_region_maps_forward_and_unknown_county_is_kept() -> None:
    retired = normalize_id(make_id("11010319650101201"))  # 崇文区, merged into 东城区 in 2010
    assert (retired.reason, retired.region, retired.region_current) == (
        Reason.OK,
        "110103",
        "110101",
    )
    unknown = normalize_id(make_id("11019919800101101"))
    assert (unknown.reason, unknown.region, unknown.region_current) == (Reason.OK, "110199", None)
    assert normalize_id(make_id("24010119800101101")).reason == Reason.ID_UNKNOWN_REGION


def test_birth_date_range() -> None:
    today = dt.date.today()
    assert normalize_id(make_id(f"110101{today:%Y%m%d}001")).reason == Reason.OK
    tomorrow = today + dt.timedelta(days=1)
    assert normalize_id(make_id(f"110101{tomorrow:%Y%m%d}001")).reason == Reason.ID_BAD_BIRTH_DATE
    assert normalize_id(make_id("11010118800101001")).reason == Reason.OK
    assert normalize_id(make_id("11010118791231001")).reason == Reason.ID_BAD_BIRTH_DATE


@pytest.mark.parametrize(
    ("value", "pattern", "born", "sex", "region"),
    [
        ("4403**********123X", "4403**********123X", None, "M", None),
        ("110101********1234", "110101********1234", None, "M", "110101"),
        ("110101XXXXXXXX1234", "110101********1234", None, "M", "110101"),
        ("110101××××××××1234", "110101********1234", None, "M", "110101"),
        ("110101＊＊＊＊＊＊＊＊1234", "110101********1234", None, "M", "110101"),
        ("1101011990****1234", "1101011990****1234", None, "M", "110101"),
        ("110101****1234", "110101********1234", None, "M", "110101"),
        ("******19900307****", "******19900307****", dt.date(1990, 3, 7), None, None),
        ("110101199003071XXX", "110101199003071***", dt.date(1990, 3, 7), None, "110101"),
        ("110101******122", "11010119******122*", None, "F", "110101"),  # legacy 15, widened
        ("810000**********12", "810000**********12", None, "M", "810000"),
    ],
)
def test_masks(
    value: str, pattern: str, born: dt.date | None, sex: str | None, region: str | None
) -> None:
    r = normalize_id(value)
    assert (r.reason, r.norm, r.key) == (Reason.ID_MASKED, None, None)
    assert (r.mask_pattern, r.birth_date, r.sex, r.region) == (pattern, born, sex, region)


def test_x_check_character_is_not_a_mask() -> None:
    x = next(
        make_id(f"51010419880615{i:03d}")
        for i in range(1000)
        if make_id(f"51010419880615{i:03d}")[-1] == "X"
    )
    assert normalize_id(x).reason == Reason.OK
    assert normalize_id(x[:6] + "********" + x[14:]).mask_pattern == x[:6] + "********" + x[14:]


def test_spreadsheet_truncation() -> None:
    for value in (A[:15] + "000", f"{A[0]}.{A[1:15]}E+17", A[:15] + "000.0"):
        r = normalize_id(value)
        assert r.reason == Reason.ID_EXCEL_TRUNCATED, value
        assert (r.mask_pattern, r.repairs, r.birth_date, r.sex) == (
            A[:15] + "***",
            (),
            dt.date(1990, 3, 7),
            None,
        )
    assert (
        normalize_id("1.10101E+17").mask_pattern == "11010" + "*" * 13
    )  # last shown digit may be rounded
    # a 15-digit legacy ID survives a spreadsheet: 15 significant digits are exact
    legacy = normalize_id("1.10101650101123E+14")
    assert (legacy.reason, legacy.norm) == (
        Reason.ID_LEGACY_15_UPGRADED,
        upgrade_15_to_18("110101650101123"),
    )


def test_checksum_failure_repairs() -> None:
    typo = A[:10] + "4" + A[11:]
    r = normalize_id(typo)
    assert (r.reason, r.kind, r.norm, r.key) == (
        Reason.ID_CHECKSUM_FAILED,
        IdKind.RESIDENT,
        None,
        None,
    )
    assert A in r.repairs and list(r.repairs) == sorted(r.repairs)
    assert all(resident_checksum_ok(c) for c in r.repairs)
    narrowed = normalize_id(typo, birth_date=dt.date(1990, 3, 7))
    assert A in narrowed.repairs
    assert all(c[6:14] == "19900307" for c in narrowed.repairs)
    assert set(narrowed.repairs) <= set(r.repairs)
    swapped = normalize_id(A[:12] + A[13] + A[12] + A[14:], birth_date=dt.date(1990, 3, 7))
    assert A in swapped.repairs
    assert normalize_id(A[:12] + "O" + A[13:], birth_date=dt.date(1990, 3, 7)).repairs == (A,)


def test_other_documents() -> None:
    assert normalize_id("H1234567801").key == "HK_MO_PERMIT:H12345678"
    assert normalize_id("H12345678", id_type="护照").kind == IdKind.PASSPORT
    assert normalize_id("05231468（B）").norm == "05231468(B)"
    assert normalize_id("0523146801").key == "TW_PERMIT:05231468"
    assert normalize_id("05231468", id_type="护照").kind == IdKind.PASSPORT
    assert (
        normalize_id("C01X00T47").kind == IdKind.UNKNOWN
    )  # not clearly a passport without the hint
    business = "92440300MA5FXY123"
    r = normalize_id(business + uscc_check_char(business))
    assert (r.kind, r.individual_business) == (IdKind.USCC, True)
    assert not normalize_id(A).individual_business
    hmt = normalize_id(make_id("83000019700101303"))
    assert (hmt.kind, hmt.region, hmt.region_current, hmt.birth_date) == (
        IdKind.HMT_PERMIT,
        "830000",
        "710000",
        dt.date(1970, 1, 1),
    )


@pytest.mark.parametrize(
    ("id_type", "kind"),
    [
        ("身份证", IdKind.RESIDENT),
        ("居民身份证", IdKind.RESIDENT),
        ("01", IdKind.RESIDENT),
        ("111", IdKind.RESIDENT),
        ("护照", IdKind.PASSPORT),
        ("414", IdKind.PASSPORT),
        ("港澳通行证", IdKind.HK_MO_PERMIT),
        ("516", IdKind.HK_MO_PERMIT),
        ("台胞证", IdKind.TW_PERMIT),
        ("511", IdKind.TW_PERMIT),
        ("外国人永久居留身份证", IdKind.FOREIGN_PR),
        ("553", IdKind.FOREIGN_PR),
        ("港澳台居民居住证", IdKind.HMT_PERMIT),
        ("统一社会信用代码", IdKind.USCC),
    ],
)
def test_id_type_hints(id_type: str, kind: IdKind) -> None:
    assert parse_hint(id_type) == kind
    assert parse_hint(f" {id_type} ") == kind


# ------------------------------------------------------------------ strict mode and errors


def test_raise_names_field_masked_value_and_expectation() -> None:
    value = "11010119900307123"
    with pytest.raises(NormalizationError) as info:
        normalize_id(value, on_error="raise")
    message = str(info.value)
    assert info.value.field == schema.ID_NUMBER == "id_number"
    assert info.value.reason == Reason.ID_BAD_LENGTH
    assert schema.ID_NUMBER in message and mask_id(value) in message and "18-digit" in message
    assert value not in message


@pytest.mark.parametrize(
    "value", [A[:10] + "4" + A[11:], A[:15] + "000", A[:6] + "********" + A[14:], None, "张三"]
)
def test_raise_shows_only_the_masked_number(value: str | None) -> None:
    with pytest.raises(NormalizationError) as info:
        normalize_id(value, on_error="raise")
    assert info.value.value == mask_id(value)
    if value and "*" not in value:
        assert value not in str(info.value)
    assert normalize_id(A, on_error="raise").norm == A


def test_on_error_is_validated() -> None:
    with pytest.raises(ConfigError, match="on_error"):
        normalize_id(A, on_error="ignore")  # type: ignore[arg-type]


def test_upgrade_15_to_18() -> None:
    assert upgrade_15_to_18("110105491231002") == "11010519491231002X"
    for bad in ("11010549123100", "1101054912310021", "11010549123100A", "", None):
        with pytest.raises(NormalizationError) as info:
            upgrade_15_to_18(bad)  # type: ignore[arg-type]
        assert info.value.field == schema.ID_NUMBER


def test_result_is_frozen() -> None:
    with pytest.raises(AttributeError):
        normalize_id(A).norm = None  # type: ignore[misc]


# ------------------------------------------------------------------ properties


@given(legacy_ids())
def test_upgrade_keeps_birth_date_and_yields_valid_check(legacy: str) -> None:
    upgraded = upgrade_15_to_18(legacy)
    assert resident_checksum_ok(upgraded)
    assert upgraded[6:14] == "19" + legacy[6:12]
    assert upgraded[:6] == legacy[:6] and upgraded[14:17] == legacy[12:]
    r = normalize_id(legacy)
    assert (r.reason, r.norm) == (Reason.ID_LEGACY_15_UPGRADED, upgraded)
    assert r.birth_date == dt.date(1900 + int(legacy[6:8]), int(legacy[8:10]), int(legacy[10:12]))


@given(valid_ids(), st.integers(0, 17), st.integers(1, 10))
def test_checksum_detects_every_single_substitution(valid: str, i: int, shift: int) -> None:
    alphabet = "0123456789X" if i == 17 else "0123456789"
    old = alphabet.index(valid[i])
    assume(shift < len(alphabet))
    wrong = valid[:i] + alphabet[(old + shift) % len(alphabet)] + valid[i + 1 :]
    assert not resident_checksum_ok(wrong)
    assert normalize_id(wrong).reason.rejects


@given(st.one_of(valid_ids(), st.text(alphabet="0123456789X", min_size=17, max_size=19)))
def test_fast_checksum_agrees_with_reference(value: str) -> None:
    assert checksum_ok(value) == resident_checksum_ok(value)


@given(valid_ids(), st.integers(0, 16))
def test_checksum_detects_every_adjacent_transposition(valid: str, i: int) -> None:
    assume(valid[i] != valid[i + 1] and valid[i + 1] != "X")
    swapped = valid[:i] + valid[i + 1] + valid[i] + valid[i + 2 :]
    assert not resident_checksum_ok(swapped)


@given(valid_ids(), st.integers(0, 17), st.integers(1, 9))
def test_single_digit_error_is_repaired_when_birth_date_given(
    valid: str, i: int, shift: int
) -> None:
    assume(valid[i] != "X")
    wrong = valid[:i] + str((int(valid[i]) + shift) % 10) + valid[i + 1 :]
    born = dt.date(int(valid[6:10]), int(valid[10:12]), int(valid[12:14]))
    r = normalize_id(wrong, birth_date=born)
    # a typo that happens to end in 000 reads as spreadsheet truncation; one that
    # happens to form a valid all-digit USCC reads as one
    assume(r.reason is not Reason.ID_EXCEL_TRUNCATED and r.kind is not IdKind.USCC)
    assert r.reason == Reason.ID_CHECKSUM_FAILED
    assert valid in r.repairs


@given(
    st.text(max_size=60), st.one_of(st.none(), st.text(max_size=10)), st.one_of(st.none(), births)
)
def test_reject_path_never_raises(value: str, id_type: str | None, born: dt.date | None) -> None:
    r = normalize_id(value, id_type=id_type, birth_date=born)
    assert isinstance(r.reason, Reason)
    assert (r.norm is None) == r.reason.rejects
    assert (r.key is None) == (r.norm is None)
    assert r.mask_pattern is None or len(r.mask_pattern) == 18


@given(dirty_ids(), id_type_hints)
@example("132624290201841", "统一社会信用代码")  # a legacy ID whose upgrade passes the USCC check too
def test_idempotent(value: str, id_type: str | None) -> None:
    r = normalize_id(value, id_type=id_type)
    assume(r.norm is not None)
    again = normalize_id(r.norm, id_type=id_type)  # the hint decides ambiguous forms (H12345678)
    assert (again.norm, again.key, again.kind) == (r.norm, r.key, r.kind)
    agrees = parse_hint(id_type) in (None, r.kind)
    assert again.reason == (Reason.OK if agrees else Reason.ID_TYPE_MISMATCH)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(dirty_ids(), id_type_hints, st.one_of(st.none(), births)), min_size=1, max_size=40
    )
)
def test_frame_matches_scalar(rows: list[tuple]) -> None:
    # enough valid IDs that the vectorized stages, not only the scalar residue, are exercised
    frame = frame_of(*map(list, zip(*rows, strict=True)))
    out = id_columns(frame)
    expected = [as_row(normalize_id(v, id_type=t, birth_date=b)) for v, t, b in rows]
    assert out.rows() == expected


# ------------------------------------------------------------------ the frame path


def test_frame_schema_order_and_optional_columns() -> None:
    values = [
        A,
        None,
        " " + A,
        "110101900307123",
        "4403**********123X",
        "H12345678",
        A[:15] + "000",
    ]
    out = id_columns(pl.DataFrame({schema.ID_NUMBER: values, "x": range(len(values))}))
    assert out.columns == OUTPUT_COLUMNS
    assert out.schema[schema.ID_BIRTH_DATE] == pl.Date
    assert out.schema[schema.ID_REPAIRS] == pl.List(pl.String)
    assert out[schema.ID_REASON].to_list() == [
        "OK",
        "MISSING",
        "CLEANED",
        "ID_LEGACY_15_UPGRADED",
        "ID_MASKED",
        "OK",
        "ID_EXCEL_TRUNCATED",
    ]
    assert out.rows() == [as_row(normalize_id(v)) for v in values]


def test_frame_reads_integer_ids_and_birth_dates() -> None:
    typo = A[:10] + "4" + A[11:]
    frame = pl.DataFrame(
        {
            schema.ID_NUMBER: [int(A), int(typo)],
            schema.BIRTH_DATE_NORM: [None, dt.date(1990, 3, 7)],
        }
    )
    out = id_columns(frame)
    assert out[schema.ID_NORM].to_list() == [A, None]
    assert out[schema.ID_REPAIRS].to_list()[1] == list(
        normalize_id(typo, birth_date=dt.date(1990, 3, 7)).repairs
    )


def test_frame_empty_and_missing_column() -> None:
    empty = id_columns(pl.DataFrame(schema={schema.ID_NUMBER: pl.String}))
    assert empty.height == 0 and empty.columns == OUTPUT_COLUMNS
    with pytest.raises(SchemaError, match=schema.ID_NUMBER):
        id_columns(pl.DataFrame({"other": [A]}))
