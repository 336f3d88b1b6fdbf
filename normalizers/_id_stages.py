"""Polars stages of the ID frame path: each settles one common form of ID for many rows at once.

A stage maps the (cleaned) text to layers of columns, the last being
``[FLAG, *output columns]``: rows whose flag is false are passed on to the next
stage and their output columns ignored.  Intermediate columns are materialized
in earlier layers so that the digit arithmetic is done once per row.  The
checks that would cost string work per digit (GB 11643 check, birth date,
region) are a few gathers from tables indexed by digit groups of the 17-digit
body, built once per process.

Every stage mirrors a branch of :mod:`normalizers.ids`; a property test holds
the frame path equal to the scalar path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

import numpy as np
import polars as pl

from normalizers import schema as s
from normalizers._id_forms import FIXED_LENGTH_KINDS, IdKind
from normalizers._id_repair import EARLIEST_BIRTH, HMT_REGION_CURRENT
from normalizers._vector import choose, collect
from normalizers.checksums import RESIDENT_CHECK_CHARS, RESIDENT_WEIGHTS
from normalizers.reasons import Reason
from normalizers.regions import region_table

OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    s.ID_KIND: pl.String(),
    s.ID_CLEAN: pl.String(),
    s.ID_NORM: pl.String(),
    s.ID_KEY: pl.String(),
    s.ID_REASON: pl.String(),
    s.ID_BIRTH_DATE: pl.Date(),
    s.ID_SEX: pl.String(),
    s.ID_REGION: pl.String(),
    s.ID_REGION_CURRENT: pl.String(),
    s.ID_MASK_PATTERN: pl.String(),
    s.ID_REPAIRS: pl.List(pl.String()),
}

# working columns (never in the output)
ROW = "__id_row"
HINT_OK = "__id_hint_ok"  # HINT is null or RESIDENT
HINT = "__id_hint"  # the IdKind value id_type names, or null
FLAG = "__id_settled"  # the stage settled this row
BODY = "__id_body"  # the 17 body digits as an integer; null unless all digits
CHECK = "__id_check"  # value of the check character, X = 10
BORN = "__id_born"

_RESIDENT = pl.lit(IdKind.RESIDENT.value)
_FIRST_DAY = EARLIEST_BIRTH.year * 10_000 + 101  # YYYYMMDD of the first day in tables().dates
_HMT_CODES = [int(c) for c in HMT_REGION_CURRENT]
_NO_TEXT = pl.lit(None, dtype=pl.String)


@dataclass(frozen=True, slots=True)
class _Tables:
    """Lookup tables indexed by digit groups of a 17-digit body (see :func:`tables`)."""

    head: pl.Series  # weighted sum mod 11 of digits 1-6, by their value
    middle: pl.Series  # ... of digits 7-12
    tail: pl.Series  # ... of digits 13-17
    region_status: pl.Series  # by region code: 0 unknown province, 1 issued, 2 province known only
    current_index: pl.Series  # by region code: index into ``currents``
    currents: pl.Series  # today's codes; index 0 is null
    currents_and_permits: pl.Series  # ``currents``, then today's codes of 810000, 820000, 830000
    dates: pl.Series  # by YYYYMMDD - _FIRST_DAY: that date, null if no such day or outside 1880..next year
    check_chars: pl.Series  # by weighted sum mod 11
    check_chars_by_value: pl.Series  # by check value: "0123456789X"


@cache
def tables() -> _Tables:
    """Tables that turn the checksum, region and birth-date checks into a few gathers per row."""
    w = RESIDENT_WEIGHTS

    def partial(width: int, first: int) -> pl.Series:
        # built digit by digit: index = the digits' value, most significant first
        total = np.zeros(1, dtype=np.int64)
        for j in range(width):
            total = (total[:, None] + w[first + j] * np.arange(10)).ravel()
        return pl.Series((total % 11).astype(np.int16))

    table = region_table()
    status = np.zeros(10**6, dtype=np.uint8)
    for p in table.provinces:
        status[int(p) * 10_000 : (int(p) + 1) * 10_000] = 2
    currents = sorted({c for c in table.current.values() if c})
    position = {c: i + 1 for i, c in enumerate(currents)}
    codes = np.array([int(code) for code in table.current], dtype=np.int64)
    status[codes] = 1
    current_index = np.zeros(10**6, dtype=np.uint32)
    current_index[codes] = [position[c] if c else 0 for c in table.current.values()]

    # every day from 1880 to the end of next year, at its YYYYMMDD (less _FIRST_DAY)
    days = np.arange(
        np.datetime64(EARLIEST_BIRTH.replace(month=1, day=1), "D"),
        np.datetime64(dt.date(dt.date.today().year + 2, 1, 1), "D"),
    )
    months = days.astype("datetime64[M]")
    ymd = (
        (months.astype("datetime64[Y]").astype(np.int64) + 1970) * 10_000
        + (months.astype(np.int64) % 12 + 1) * 100
        + (days - months).astype(np.int64)
        + 1
    )
    real = np.zeros(int(ymd[-1]) - _FIRST_DAY + 1, dtype=bool)
    real[ymd - _FIRST_DAY] = True
    epoch_days = np.zeros(len(real), dtype=np.int32)
    epoch_days[ymd - _FIRST_DAY] = days.astype(np.int64)
    dates = pl.select(
        pl.when(pl.lit(pl.Series(real))).then(pl.lit(pl.Series(epoch_days))).cast(pl.Date)
    ).to_series()
    return _Tables(
        head=partial(6, 0),
        middle=partial(6, 6),
        tail=partial(5, 12),
        region_status=pl.Series(status),
        current_index=pl.Series(current_index),
        currents=pl.Series([None, *currents], dtype=pl.String),
        currents_and_permits=pl.Series(
            [None, *currents, *(HMT_REGION_CURRENT[f"{p}0000"] for p in (81, 82, 83))],
            dtype=pl.String,
        ),
        dates=dates,
        check_chars=pl.Series(list(RESIDENT_CHECK_CHARS), dtype=pl.String),
        check_chars_by_value=pl.Series(list("0123456789X"), dtype=pl.String),
    )


def apply_layers(frame: pl.LazyFrame, layers: list[list[pl.Expr]]) -> pl.LazyFrame:
    """Add a stage's columns, layer after layer."""
    for layer in layers:
        frame = frame.with_columns(layer)
    return frame


def _outputs(
    *,
    clean: pl.Expr,
    norm: pl.Expr,
    reason: pl.Expr,
    born: pl.Expr,
    sex: pl.Expr,
    region: pl.Expr,
    mask: pl.Expr,
    region_int: pl.Expr | None = None,
    kind: pl.Expr = _RESIDENT,
    current: pl.Expr | None = None,
) -> list[pl.Expr]:
    t = tables()
    if region_int is None:
        region_int = _between(region.str.to_integer(strict=False), 0, 10**6 - 1)
    if current is None:
        current = pl.lit(t.currents).gather(pl.lit(t.current_index).gather(region_int))
    return [
        kind.alias(s.ID_KIND),
        clean.alias(s.ID_CLEAN),
        norm.alias(s.ID_NORM),
        pl.concat_str(kind, pl.lit(":"), norm).alias(s.ID_KEY),
        reason.alias(s.ID_REASON),
        born.alias(s.ID_BIRTH_DATE),
        sex.alias(s.ID_SEX),
        region.alias(s.ID_REGION),
        current.alias(s.ID_REGION_CURRENT),
        mask.alias(s.ID_MASK_PATTERN),
        pl.lit([], dtype=pl.List(pl.String)).alias(s.ID_REPAIRS),
    ]


def _between(value: pl.Expr, low: int, high: int) -> pl.Expr:
    """``value`` where it lies in [low, high], else null (keeps table gathers in bounds)."""
    return pl.when(value.is_between(low, high)).then(value)


def _weighted_mod11(body: pl.Expr) -> pl.Expr:
    """GB 11643 weighted sum mod 11 of a 17-digit body, from three table lookups."""
    t = tables()
    total = (
        pl.lit(t.head).gather(body // 10**11)
        + pl.lit(t.middle).gather(body // 10**5 % 10**6)
        + pl.lit(t.tail).gather(body % 10**5)
    )
    return total % 11


def _born(body: pl.Expr) -> pl.Expr:
    """The birth date in digits 7-14 of a 17-digit body; null unless real and from 1880 to today."""
    t = tables()
    index = _between(body // 1000 % 10**8 - _FIRST_DAY, 0, len(t.dates) - 1)
    date = pl.lit(t.dates).gather(index)
    return pl.when(date <= dt.date.today()).then(date)


def _region_status(body: pl.Expr) -> pl.Expr:
    return pl.lit(tables().region_status).gather(body // 10**11)


def _special_prefix(body: pl.Expr) -> pl.Expr:
    """Bodies the scalar path reads as HK/Macau/Taiwan permits or foreigners' PR IDs."""
    return (body >= 9 * 10**16) | (body // 10**11).is_in(_HMT_CODES)


def _special_text(text: pl.Expr) -> pl.Expr:
    """The same test on a text whose body may be masked."""
    hmt = text.str.slice(0, 6).is_in(list(HMT_REGION_CURRENT)).fill_null(False)
    return text.str.starts_with("9") | hmt


def _sex(digit: pl.Expr) -> pl.Expr:
    """'M' for an odd digit, 'F' for an even one (GB 11643: the 17th digit)."""
    return pl.lit(pl.Series(["F", "M"])).gather(digit % 2)


def _body_and_check(clean: pl.Expr) -> list[pl.Expr]:
    """Columns ``BODY`` (17-digit body or null) and ``CHECK`` (0-10) of an 18-character text."""
    # a cast needs all 17 characters to be ASCII digits to reach 10**16; signs or spaces cannot
    number = clean.str.head(17).cast(pl.Int64, strict=False)
    check = pl.when(clean.str.ends_with("X")).then(pl.lit(10, pl.Int64))
    check = check.otherwise(clean.str.tail(1).cast(pl.Int64, strict=False))
    return [_between(number, 10**16, 10**17 - 1).alias(BODY), check.alias(CHECK)]


def resident_18(clean: pl.Expr, *, as_is: bool = False) -> list[list[pl.Expr]]:
    """Valid 18-digit GB 11643 numbers (``as_is``: ``clean`` is the raw value itself).

    Mainland resident IDs, and the HK/Macau/Taiwan residence permits and
    foreigners' PR IDs that share the form.  A hint naming another kind gives
    ``ID_TYPE_MISMATCH``; one naming a USCC is left to the scalar path, which
    tries that reading first.  With ``as_is`` missing numbers are settled too
    (every other output is null for them already).
    """
    body = pl.col(BODY)
    born = pl.col(BORN)
    hint = pl.col(HINT)
    prefix = body // 10**11
    hmt = prefix.is_in(_HMT_CODES)
    foreign = body >= 9 * 10**16
    missing = pl.col(s.ID_NUMBER).is_null() if as_is else pl.lit(False)
    kind = choose(
        (missing, IdKind.UNKNOWN.value),
        (hmt, IdKind.HMT_PERMIT.value),
        (foreign, IdKind.FOREIGN_PR.value),
        otherwise=IdKind.RESIDENT.value,
    )
    settled = (
        ((_weighted_mod11(body) + pl.col(CHECK)) % 11 == 1)
        & born.is_not_null()
        & ((_region_status(body) > 0) | hmt | foreign)
        & ~hint.eq_missing(pl.lit(IdKind.USCC.value))
        & (clean.str.len_bytes() == 18)
    )
    cleaned = pl.lit(False) if as_is else clean != pl.col(s.ID_NUMBER)
    reason = choose(
        (missing, Reason.MISSING.value),
        (hint.is_not_null() & (hint != pl.col(s.ID_KIND)), Reason.ID_TYPE_MISMATCH.value),
        (cleaned, Reason.CLEANED.value),
        otherwise=Reason.OK.value,
    )
    t = tables()
    # today's region as an index into the table of current codes; permits' after it
    hmt_index = pl.lit(len(t.currents), dtype=pl.Int64) + prefix // 10_000 - 81
    current_index = (
        pl.when(hmt).then(hmt_index).when(~foreign).then(pl.lit(t.current_index).gather(prefix))
    )
    current = pl.lit(t.currents_and_permits).gather(current_index)
    return [
        _body_and_check(clean),
        [_born(body).alias(BORN), kind.alias(s.ID_KIND)],
        [
            (settled.fill_null(False) | missing).alias(FLAG),
            *_outputs(
                clean=clean,
                norm=clean,
                reason=reason,
                born=born,
                sex=_sex(body),
                region=pl.when(~foreign).then(clean.str.slice(0, 6)),
                mask=_NO_TEXT,
                kind=pl.col(s.ID_KIND),
                current=current,
            ),
        ],
    ]


def _visible_parts(clean: pl.Expr, reason: Reason, pattern: pl.Expr) -> list[pl.Expr]:
    """Masked and truncated numbers: no norm or key, but what the visible characters reveal."""
    date = pattern.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    region = pattern.str.slice(0, 6)
    return _outputs(
        clean=clean,
        norm=_NO_TEXT,
        reason=pl.lit(reason.value),
        born=pl.when(date.is_between(EARLIEST_BIRTH, dt.date.today())).then(date),
        sex=_sex(pattern.str.slice(16, 1).str.to_integer(strict=False)),
        region=pl.when(region.str.contains(r"^[0-9]{6}$")).then(region),
        mask=pattern,
    )


def truncated_18(clean: pl.Expr) -> list[list[pl.Expr]]:
    """Failing all-digit numbers ending in 000: a spreadsheet kept only 15 digits."""
    body = pl.col(BODY)
    usccish = _region_status(body // 10**9 % 10**6 * 10**11) == 1  # a region code in digits 3-8
    settled = (
        ((_weighted_mod11(body) + pl.col(CHECK)) % 11 != 1)
        & clean.str.ends_with("000")
        & ~_special_prefix(body)
        & pl.col(HINT_OK)
        # the scalar path reads such a number as a possible USCC: leave it to that path
        & ~usccish
    )
    pattern = clean.str.slice(0, 15) + pl.lit("***")
    return [
        _body_and_check(clean),
        [
            settled.fill_null(False).alias(FLAG),
            *_visible_parts(clean, Reason.ID_EXCEL_TRUNCATED, pattern),
        ],
    ]


def masked_18(clean: pl.Expr) -> list[pl.Expr]:
    """18-character masks with * (失信被执行人 lists and the like)."""
    settled = (
        clean.str.contains(r"^[0-9*]{17}[0-9X*]$")
        & clean.str.contains("*", literal=True)
        & ~_special_text(clean)
        & pl.col(HINT_OK)
    )
    return [[settled.fill_null(False).alias(FLAG), *_visible_parts(clean, Reason.ID_MASKED, clean)]]


def legacy_15(clean: pl.Expr) -> list[list[pl.Expr]]:
    """15-digit IDs: insert the century 19 after the region and compute the check character."""
    number = _between(clean.str.to_integer(strict=False), 10**14, 10**15 - 1)
    body = pl.col(BODY)
    born = pl.col(BORN)
    settled = born.is_not_null() & (_region_status(body) > 0) & clean.str.contains(r"^[0-9]{15}$")
    norm = body.cast(pl.String) + pl.lit(tables().check_chars).gather(_weighted_mod11(body))
    return [
        [(number // 10**9 * 10**11 + 19 * 10**9 + number % 10**9).alias(BODY)],
        [_born(body).alias(BORN)],
        [
            settled.fill_null(False).alias(FLAG),
            *_outputs(
                clean=clean,
                norm=norm,
                reason=pl.lit(Reason.ID_LEGACY_15_UPGRADED.value),
                born=born,
                sex=_sex(body),
                region=clean.str.slice(0, 6),
                mask=_NO_TEXT,
                region_int=body // 10**11,
            ),
        ],
    ]


def documents(clean: pl.Expr, hint: pl.Expr) -> list[list[pl.Expr]]:
    """HK/Macau and Taiwan permits, foreigners' 2017 PR IDs and passports, in their plain forms.

    ``clean`` is the raw value itself, which must be 5 to 17 upper-case ASCII
    letters and digits (cleaning leaves those unchanged), not 15 digits and
    without XXX (the scalar path reads those as legacy IDs and masks); ``hint``
    is the :class:`IdKind` value the id_type names, or null.  Values no
    document form accepts are left to the scalar path.
    """
    passport_hint = hint.eq_missing(pl.lit(IdKind.PASSPORT.value))
    hk_mo = ~passport_hint & clean.str.contains(r"^[HM][0-9]{8}(?:[0-9]{2})?$")
    foreign_pr = clean.str.contains(r"^[A-Z]{3}[0-9]{12}$")
    tw_parts = clean.str.extract_groups(r"^([0-9]{8})([0-9]{2})?([A-Z])?$")
    tw_number = tw_parts.struct.field("1")
    tw = (
        tw_number.is_not_null()
        & ~passport_hint
        & ~hint.is_in([kind.value for kind in FIXED_LENGTH_KINDS]).fill_null(False)
    )
    length = clean.str.len_bytes()
    passport = (length.is_in([8, 9]) & clean.str.contains(r"^[A-Z]{1,2}[0-9]{7,8}$")) | (
        passport_hint & ~clean.str.contains(r"^[A-Z]+$")
    )
    kind = (
        pl.when(hk_mo)
        .then(pl.lit(IdKind.HK_MO_PERMIT.value))
        .when(foreign_pr)
        .then(pl.lit(IdKind.FOREIGN_PR.value))
        .when(tw)
        .then(pl.lit(IdKind.TW_PERMIT.value))
        .when(passport)
        .then(pl.lit(IdKind.PASSPORT.value))
    )
    suffix = tw_parts.struct.field("3")
    norm = (
        pl.when(pl.col(s.ID_KIND) == IdKind.TW_PERMIT.value)
        .then(
            pl.concat_str(
                tw_number,
                tw_parts.struct.field("2").fill_null(""),
                pl.when(suffix.is_not_null()).then(pl.lit("(") + suffix + pl.lit(")")).otherwise(
                    pl.lit("")
                ),
            )
        )
        .otherwise(clean)
    )
    key_value = (
        pl.when(pl.col(s.ID_KIND) == IdKind.HK_MO_PERMIT.value)
        .then(clean.str.slice(0, 9))
        .when(pl.col(s.ID_KIND) == IdKind.TW_PERMIT.value)
        .then(clean.str.slice(0, 8))
        .otherwise(clean)
    )
    reason = (
        pl.when(hint.is_not_null() & (hint != pl.col(s.ID_KIND)))
        .then(pl.lit(Reason.ID_TYPE_MISMATCH.value))
        .when(pl.col(s.ID_NORM) != clean)
        .then(pl.lit(Reason.CLEANED.value))
        .otherwise(pl.lit(Reason.OK.value))
    )
    none = pl.lit(None, dtype=pl.String)
    return [
        [kind.alias(s.ID_KIND)],
        [norm.alias(s.ID_NORM)],
        [
            pl.col(s.ID_KIND).is_not_null().alias(FLAG),
            pl.col(s.ID_KIND),
            clean.alias(s.ID_CLEAN),
            pl.col(s.ID_NORM),
            pl.concat_str(pl.col(s.ID_KIND), pl.lit(":"), key_value).alias(s.ID_KEY),
            reason.alias(s.ID_REASON),
            pl.lit(None, dtype=pl.Date).alias(s.ID_BIRTH_DATE),
            none.alias(s.ID_SEX),
            none.alias(s.ID_REGION),
            none.alias(s.ID_REGION_CURRENT),
            none.alias(s.ID_MASK_PATTERN),
            pl.lit([], dtype=pl.List(pl.String)).alias(s.ID_REPAIRS),
        ],
    ]


# ------------------------------------------------------------------ repairs
# A failed all-digit ID has at most 18 substitution and 17 transposition
# repairs (see normalizers._id_repair); they are enumerated here for all failed
# rows at once by crossing them with the 35 edit operations.

_POSITION = "__id_pos"  # the (first) position an edit touches
_SUBSTITUTE = "__id_sub"  # True: substitution at _POSITION; False: swap with the next position
_TOTAL = "__id_total"  # weighted sum of all 18 positions mod 11 (1 when valid)
_CANDIDATE = "__id_candidate"
_BATCH = 200_000  # failed rows per cross join with the edits
_EDITS = pl.DataFrame(
    {
        _SUBSTITUTE: [True] * 18 + [False] * 17,
        _POSITION: list(range(18)) + list(range(17)),
    }
)
_WEIGHTS18 = (*RESIDENT_WEIGHTS, 1)
# by position, padded so that "the next position" of the check character is in bounds
_POWER = pl.Series([10 ** (16 - i) for i in range(17)] + [1, 1])  # place value of a body digit
_WEIGHT = pl.Series([*_WEIGHTS18, 0])
_INVERSE = pl.Series([pow(w, -1, 11) for w in _WEIGHTS18])


def checksum_failed_18(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All-digit 18-character resident IDs failing the check, with their repairs."""
    body, check = pl.col(BODY), pl.col(CHECK)
    usccish = _region_status(body // 10**9 % 10**6 * 10**11) == 1
    flagged = apply_layers(
        rows.lazy(),
        [
            _body_and_check(pl.col(s.ID_CLEAN)),
            [((_weighted_mod11(body) + check) % 11).alias(_TOTAL)],
            [
                (
                    (pl.col(_TOTAL) != 1)
                    & ~pl.col(s.ID_CLEAN).str.ends_with("000")
                    & ~_special_prefix(body)
                    & pl.col(HINT_OK)
                    & ~usccish
                )
                .fill_null(False)
                .alias(FLAG)
            ],
        ],
    ).pipe(collect)
    failed = flagged.filter(pl.col(FLAG))
    rest = flagged.filter(~pl.col(FLAG)).select(rows.columns)

    # 35 candidates per failed row: batches keep a source of nothing but failures in memory
    repairs = pl.concat(
        [_repairs(failed.slice(start, _BATCH)) for start in range(0, failed.height, _BATCH)]
        or [_repairs(failed)]
    )
    none = pl.lit(None, dtype=pl.String)
    settled = (
        failed.lazy()
        .select(ROW, s.ID_CLEAN)
        .join(repairs.lazy(), on=ROW, how="left")
        .select(
            ROW,
            _RESIDENT.alias(s.ID_KIND),
            pl.col(s.ID_CLEAN),
            none.alias(s.ID_NORM),
            none.alias(s.ID_KEY),
            pl.lit(Reason.ID_CHECKSUM_FAILED.value).alias(s.ID_REASON),
            pl.lit(None, dtype=pl.Date).alias(s.ID_BIRTH_DATE),
            none.alias(s.ID_SEX),
            none.alias(s.ID_REGION),
            none.alias(s.ID_REGION_CURRENT),
            none.alias(s.ID_MASK_PATTERN),
            pl.col(s.ID_REPAIRS).fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .pipe(collect)
    )
    return settled, rest


def _repairs(failed: pl.DataFrame) -> pl.DataFrame:
    """(ROW, repairs) for failed rows with at least one repair."""
    body, check = pl.col(BODY), pl.col(CHECK)
    pos = pl.col(_POSITION)
    power, weight = pl.lit(_POWER).gather(pos), pl.lit(_WEIGHT).gather(pos)
    nxt_power, nxt_weight = pl.lit(_POWER).gather(pos + 1), pl.lit(_WEIGHT).gather(pos + 1)
    here = pl.when(pos < 17).then(body // power % 10).otherwise(check)
    there = pl.when(pos < 16).then(body // nxt_power % 10).otherwise(check)
    fix = (here + (1 - pl.col(_TOTAL)) * pl.lit(_INVERSE).gather(pos)) % 11
    substitute = pl.col(_SUBSTITUTE)
    swap_ok = (here != there) & (
        (pl.col(_TOTAL) + (weight - nxt_weight) * (there - here)) % 11 == 1
    )
    usable = pl.when(substitute).then((fix < 10) | (pos == 17)).otherwise(swap_ok & (there < 10))
    new_body = (
        pl.when(substitute & (pos < 17))
        .then(body + (fix - here) * power)
        .when(substitute)
        .then(body)
        .when(pos < 16)
        .then(body + (there - here) * (power - nxt_power))
        .otherwise(body + (there - here))  # digit 17 swapped with the check character
    )
    new_check = (
        pl.when(substitute & (pos == 17)).then(fix).when(~substitute & (pos == 16)).then(here)
    )
    new_born = _born(pl.col(BODY))
    record_born = pl.col(s.BIRTH_DATE_NORM)
    return (
        failed.lazy()
        .select(ROW, BODY, CHECK, _TOTAL, s.BIRTH_DATE_NORM)
        .join(_EDITS.lazy(), how="cross")
        .filter(usable)
        .with_columns(new_body.alias(BODY), new_check.otherwise(check).alias(CHECK))
        .filter(
            # an issued region, or a HK/Macau/Taiwan permit; never a foreigner's number
            ((_region_status(body) == 1) | (body // 10**11).is_in(_HMT_CODES))
            & new_born.is_not_null()
            & (record_born.is_null() | (new_born == record_born))
        )
        .select(
            ROW,
            (body.cast(pl.String) + pl.lit(tables().check_chars_by_value).gather(check)).alias(
                _CANDIDATE
            ),
        )
        .group_by(ROW)
        .agg(pl.col(_CANDIDATE).unique().sort().alias(s.ID_REPAIRS))
        .pipe(collect)
    )
