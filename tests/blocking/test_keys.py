"""add_blocking_keys: ID candidate keys (own key + repairs) and the masked-ID key."""

from __future__ import annotations

import polars as pl
import pytest

from blocking import add_blocking_keys, keys
from normalizers import schema as s
from normalizers.errors import SchemaError
from normalizers.ids import IdKind, normalize_id

VALID = "110101199003071233"
TYPO = "110101199003071237"  # one digit off VALID: fails the check
HMT = "810000199003071237"

ROWS = [
    # (note, id_kind, id_norm, id_key, id_mask_pattern, id_repairs, candidates, mask key)
    (
        "valid resident",
        "RESIDENT",
        VALID,
        f"RESIDENT:{VALID}",
        None,
        None,
        [f"RESIDENT:{VALID}"],
        "1101..1233",
    ),
    (
        "checksum failed",
        "RESIDENT",
        None,
        None,
        None,
        [VALID, "110101199003041237"],
        [f"RESIDENT:{VALID}", "RESIDENT:110101199003041237"],
        None,
    ),
    (
        "hmt repair keeps its kind",
        "HMT_PERMIT",
        None,
        None,
        None,
        [HMT],
        [f"HMT_PERMIT:{HMT}"],
        None,
    ),
    (
        "foreign pr repair",
        "FOREIGN_PR",
        None,
        None,
        None,
        ["911101199003071234"],
        ["FOREIGN_PR:911101199003071234"],
        None,
    ),
    ("repeated repair", "RESIDENT", None, None, None, [VALID, VALID], [f"RESIDENT:{VALID}"], None),
    (
        "valid hmt permit",
        "HMT_PERMIT",
        HMT,
        f"HMT_PERMIT:{HMT}",
        None,
        [],
        [f"HMT_PERMIT:{HMT}"],
        "8100..1237",
    ),
    ("court-list mask", "RESIDENT", None, None, "110101********1233", None, [], "1101..1233"),
    ("mask 10+4", "RESIDENT", None, None, "1101011990****1233", None, [], "1101..1233"),
    ("mask hides the head", "RESIDENT", None, None, "110*************33", None, [], None),
    ("excel truncated", "RESIDENT", None, None, "110101199003071***", None, [], None),
    (
        "hk/macau permit",
        "HK_MO_PERMIT",
        "H12345678",
        "HK_MO_PERMIT:H12345678",
        None,
        None,
        ["HK_MO_PERMIT:H12345678"],
        None,
    ),
    (
        "uscc is 18 long but no ID",
        "USCC",
        "91350100M000100Y43",
        "USCC:91350100M000100Y43",
        None,
        None,
        ["USCC:91350100M000100Y43"],
        None,
    ),
    ("no id", "UNKNOWN", None, None, None, None, [], None),
]


def _frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        [r[1:6] for r in rows],
        schema={
            s.ID_KIND: pl.String,
            s.ID_NORM: pl.String,
            s.ID_KEY: pl.String,
            s.ID_MASK_PATTERN: pl.String,
            s.ID_REPAIRS: pl.List(pl.String),
        },
        orient="row",
    )


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_keys(row: tuple) -> None:
    out = add_blocking_keys(_frame([row]))
    assert out.schema[s.KEY_ID_CANDIDATES] == pl.List(pl.String)
    assert out.schema[s.KEY_ID_MASK] == pl.String
    assert out[s.KEY_ID_CANDIDATES].to_list() == [row[6]]
    assert out[s.KEY_ID_MASK].to_list() == [row[7]]


def test_whole_frame_keeps_rows_and_columns() -> None:
    frame = _frame(ROWS).with_columns(pl.lit("x").alias("other"))
    out = add_blocking_keys(frame)
    assert out.height == len(ROWS)
    assert out.columns == [*frame.columns, *keys.DERIVED_KEYS]
    assert add_blocking_keys(out).equals(out)  # idempotent: keys are replaced, not duplicated


def test_only_the_keys_asked_for() -> None:
    frame = _frame(ROWS)
    out = add_blocking_keys(frame, columns=[s.KEY_ID_MASK, s.DOB])
    assert out.columns == [*frame.columns, s.KEY_ID_CANDIDATES, s.KEY_ID_MASK]
    assert add_blocking_keys(frame, columns=[s.DOB]).equals(frame)


def test_kind_constants_match_the_enum() -> None:
    assert keys.RESIDENT == IdKind.RESIDENT.value
    assert keys.HMT_PERMIT == IdKind.HMT_PERMIT.value
    assert keys.FOREIGN_PR == IdKind.FOREIGN_PR.value


@pytest.mark.parametrize("number", [VALID, HMT, "440106200001011230"])
def test_repair_key_equals_the_valid_ids_key(number: str) -> None:
    """A typo'd ID's repair candidate must be keyed exactly as the ID normalizer keys the valid one."""
    broken = number[:-1] + ("0" if number[-1] != "0" else "1")
    repaired = normalize_id(broken)
    assert number in repaired.repairs
    valid = normalize_id(number)
    frame = pl.DataFrame(
        {
            s.ID_KIND: [repaired.kind.value, valid.kind.value],
            s.ID_NORM: [repaired.norm, valid.norm],
            s.ID_KEY: [repaired.key, valid.key],
            s.ID_MASK_PATTERN: [repaired.mask_pattern, valid.mask_pattern],
            s.ID_REPAIRS: [list(repaired.repairs), list(valid.repairs)],
        }
    )
    broken_keys, valid_keys = add_blocking_keys(frame)[s.KEY_ID_CANDIDATES].to_list()
    assert valid.key in broken_keys
    assert valid_keys == [valid.key]


def test_masked_id_meets_full_id_through_the_normalizer() -> None:
    masked = normalize_id("110101********1233")
    full = normalize_id(VALID)
    truncated = normalize_id("1.10101199003071E+17")
    frame = pl.DataFrame(
        {
            s.ID_KIND: [r.kind.value for r in (masked, full, truncated)],
            s.ID_NORM: [r.norm for r in (masked, full, truncated)],
            s.ID_KEY: [r.key for r in (masked, full, truncated)],
            s.ID_MASK_PATTERN: [r.mask_pattern for r in (masked, full, truncated)],
            s.ID_REPAIRS: [list(r.repairs) for r in (masked, full, truncated)],
        }
    )
    assert add_blocking_keys(frame)[s.KEY_ID_MASK].to_list() == ["1101..1233", "1101..1233", None]


def test_missing_input_column() -> None:
    with pytest.raises(SchemaError, match=s.ID_REPAIRS):
        add_blocking_keys(_frame(ROWS).drop(s.ID_REPAIRS))


def test_null_repairs_and_empty_frame() -> None:
    empty = add_blocking_keys(_frame([]))
    assert empty.height == 0
    assert empty.schema[s.KEY_ID_CANDIDATES] == pl.List(pl.String)
