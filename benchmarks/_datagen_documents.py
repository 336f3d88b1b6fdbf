"""The persons' documents and the final person frame.

Resident IDs (GB 11643: region code of first issue, birth date, sequence with
the sex in its parity, check character; the 15-digit form for people whose
first card predates 2000), passports, HK/Macau/Taiwan travel and residence
permits, foreigners' permanent residence IDs of the 2017 and 2023 forms and
individual businesses' unified social credit codes, computed vectorized from
the drafted persons; then every person attribute as one polars frame.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from benchmarks import _datagen_names as N
from benchmarks import _datagen_persons as H
from benchmarks import _datagen_places as P
from benchmarks import _datagen_tables as T
from normalizers.checksums import (
    RESIDENT_CHECK_CHARS,
    RESIDENT_WEIGHTS,
    USCC_ALPHABET,
    uscc_check_char,
)

# ------------------------------------------------------------------ documents


def _ymd(birth: np.ndarray) -> np.ndarray:
    y = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    m = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    return y * 10000 + m * 100 + day


def check_chars(body17: np.ndarray) -> np.ndarray:
    """GB 11643 check characters for 17-digit bodies given as int64 (vectorized)."""
    total = np.zeros(len(body17), dtype=np.int64)
    rest = body17.copy()
    for weight in reversed(RESIDENT_WEIGHTS):
        total += (rest % 10) * weight
        rest //= 10
    return np.array(list(RESIDENT_CHECK_CHARS))[total % 11]


def _resident_ids(
    rng: np.random.Generator, d: H.Draft, rows: np.ndarray, twin_of: np.ndarray
) -> np.ndarray:
    """17-digit bodies (region, birth date, sequence with sex parity), distinct; twins get neighbouring sequences."""
    base = d.region[rows] * 10**11 + _ymd(d.birth[rows]) * 1000
    sex = d.male[rows].astype(np.int64)
    seq = rng.integers(0, 500, rows.size) * 2 + sex
    pos = np.full(d.n, -1, dtype=np.int64)
    pos[rows] = np.arange(rows.size)
    twins = np.flatnonzero(twin_of[rows] >= 0)
    if twins.size:
        a_seq = seq[pos[twin_of[rows[twins]]]]
        seq[twins] = ((a_seq // 2 + 1 + rng.integers(0, 2, twins.size)) % 500) * 2 + sex[twins]
    body = base + seq
    for _ in range(100):
        _, first = np.unique(body, return_index=True)
        dup = np.ones(rows.size, dtype=bool)
        dup[first] = False
        if not dup.any():
            return body
        body[dup] = base[dup] + rng.integers(0, 500, int(dup.sum())) * 2 + sex[dup]
    raise RuntimeError("could not make resident IDs distinct")


def _digits(values: np.ndarray, width: int) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64).cast(pl.String).str.zfill(width)


def _fill_template(rng: np.random.Generator, template: str, n: int) -> np.ndarray:
    """Strings like 'M########' with random letters (A) and digits (#), as an object array."""
    letters = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ"))
    cols = []
    for ch in template:
        if ch == "#":
            cols.append(rng.integers(0, 10, n).astype(str))
        elif ch == "A":
            cols.append(letters[rng.integers(0, len(letters), n)])
        else:
            cols.append(np.full(n, ch))
    out = cols[0].astype(object)
    for c in cols[1:]:
        out = out + c.astype(object)
    return out


def _to_series(values: np.ndarray, name: str) -> pl.Series:
    return pl.Series(name, values.tolist(), dtype=pl.String)


def build_persons(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """The person frame: one row per true person (row number = person index)."""
    d = H.draft(rng, n)
    H.plant_hard_cases(rng, d)
    kind, male = d.kind, d.male
    mainland = kind == H.MAINLAND
    hmt = (kind >= H.HONG_KONG) & (kind <= H.TAIWAN)
    foreign = kind == H.FOREIGN
    ymd = _ymd(d.birth)
    years = d.year

    # resident IDs (and the 15-digit form for people whose first card predates 2000)
    id18 = np.full(n, None, dtype=object)
    id15 = np.full(n, None, dtype=object)
    rows = np.flatnonzero(mainland)
    body = _resident_ids(rng, d, rows, d.twin_of)
    id18[rows] = (_digits(body, 17) + pl.Series(check_chars(body))).to_numpy()
    old = years[rows] < 2000
    id15[rows[old]] = _digits(
        d.region[rows[old]] * 10**9 + (ymd[rows[old]] % 10**6) * 1000 + body[old] % 1000, 15
    ).to_numpy()

    # passports of mainland adults who travel: G (2007-2012), E, then EA.. when E numbers ran out
    passport = np.full(n, None, dtype=object)
    travels = mainland & (years <= 2005) & (rng.random(n) < 0.3)
    rows = np.flatnonzero(travels)
    series = rng.choice(3, size=rows.size, p=[0.25, 0.6, 0.15])
    numbers = P.unique_draws(rng, rows.size, 0, 10**8)
    ea = np.array(["EA", "EB", "EC", "ED"])[rng.integers(0, 4, rows.size)]
    passport[rows] = np.where(
        series == 0,
        "G" + _digits(numbers, 8).to_numpy().astype(str),
        np.where(
            series == 1,
            "E" + _digits(numbers, 8).to_numpy().astype(str),
            ea + _digits(numbers % 10**7, 7).to_numpy().astype(str),
        ),
    ).astype(object)

    # HK/Macau/Taiwan: travel permits and (for some) residence permits
    permit = np.full(n, None, dtype=object)
    res_permit = np.full(n, None, dtype=object)
    rows = np.flatnonzero(hmt)
    numbers = _digits(P.unique_draws(rng, rows.size, 0, 10**8), 8).to_numpy().astype(str)
    reissue = (
        _digits(rng.choice(4, size=rows.size, p=[0.55, 0.3, 0.1, 0.05]), 2).to_numpy().astype(str)
    )
    letter = np.where(kind[rows] == H.HONG_KONG, "H", "M")
    permit[rows] = np.where(kind[rows] == H.TAIWAN, numbers, letter + numbers + reissue).astype(
        object
    )
    holders = rows[rng.random(rows.size) < 0.4]
    region_code = np.array([0, 810000, 820000, 830000])[kind[holders]]
    body = (
        region_code * 10**11
        + ymd[holders] * 1000
        + rng.integers(0, 500, holders.size) * 2
        + male[holders]
    )
    res_permit[holders] = (_digits(body, 17) + pl.Series(check_chars(body))).to_numpy()

    # foreigners: passport of their country, permanent residence ID of 2017 and/or 2023 form
    nationality = np.full(n, -1, dtype=np.int64)
    pr2017 = np.full(n, None, dtype=object)
    pr2023 = np.full(n, None, dtype=object)
    rows = np.flatnonzero(foreign)
    nationality[rows] = rng.choice(len(T.NATIONALITIES), size=rows.size, p=T.NATIONALITY_WEIGHTS)
    for i, (alpha3, numeric, _, template) in enumerate(T.NATIONALITIES):
        sub = rows[nationality[rows] == i]
        passport[sub] = _fill_template(rng, template, sub.size)
        accepted = P.region_index().current[d.home["county"][sub]] // 10000
        form = rng.choice(3, size=sub.size, p=[0.35, 0.4, 0.25])  # 2017 only, 2023 only, both
        old_form = sub[form != 1]
        pr2017[old_form] = (
            alpha3
            + _digits(accepted[form != 1] * 100 + rng.integers(0, 100, old_form.size), 4)
            + _digits(ymd[old_form] % 10**6, 6)
            + _digits(rng.integers(0, 100, old_form.size), 2)
        ).to_numpy()
        new_form = sub[form != 0]
        body = (
            9 * 10**16
            + accepted[form != 0] * 10**14
            + int(numeric) * 10**11
            + ymd[new_form] * 1000
            + rng.integers(0, 500, new_form.size) * 2
            + male[new_form]
        )
        pr2023[new_form] = (_digits(body, 17) + pl.Series(check_chars(body))).to_numpy()

    # individual businesses: H.USCC of category 9 (individual) 2 (industrial and commercial household)
    uscc = np.full(n, None, dtype=object)
    rows = np.flatnonzero(mainland & (years <= 1998) & (rng.random(n) < 0.01))
    home_codes = P.region_index().current[d.home["county"][rows]]
    alphabet = np.array(list(USCC_ALPHABET))
    org = alphabet[rng.integers(0, len(alphabet), (rows.size, 7))]
    bodies = ["92" + str(c) + "MA" + "".join(o) for c, o in zip(home_codes, org)]
    uscc[rows] = [b + uscc_check_char(b) for b in bodies]

    # names of persons not built from indices
    special = d.special.copy()
    simplified = np.full(n, None, dtype=object)
    lat_sur = np.full(n, None, dtype=object)
    lat_given = np.full(n, None, dtype=object)
    pin_sur = np.full(n, None, dtype=object)
    pin_given = np.full(n, None, dtype=object)
    english = np.full(n, None, dtype=object)
    sp = np.flatnonzero(d.special_latin != None)
    split = [s.split(" ", 1) for s in d.special_latin[sp]]
    lat_sur[sp] = [s[-1] if len(s) > 1 else s[0] for s in split]  # father's name stands as surname
    lat_given[sp] = [s[0] if len(s) > 1 else "" for s in split]
    rows = np.flatnonzero(hmt)
    hn = N.draw_hmt_names(rng, kind[rows], male[rows])
    special[rows], simplified[rows] = hn["trad"], hn["simp"]
    lat_sur[rows], lat_given[rows] = hn["lat_sur"], hn["lat_given"]
    pin_sur[rows], pin_given[rows], english[rows] = hn["pin_sur"], hn["pin_given"], hn["english"]
    rows = np.flatnonzero(foreign)
    fn = N.draw_foreign_names(rng, nationality[rows], male[rows])
    special[rows], lat_sur[rows], lat_given[rows] = fn["chinese"], fn["lat_sur"], fn["lat_given"]

    # HK/Macau/Taiwan home addresses; landlines for older mainland people
    hmt_address = np.full(n, None, dtype=object)
    hmt_address[hmt] = P.hmt_home_addresses(rng, kind[hmt])
    landline = np.full(n, None, dtype=object)
    rows = np.flatnonzero(mainland & (years < 1970) & (rng.random(n) < 0.25))
    landline[rows] = P.draw_landlines(
        rng, P.region_index().province_of_current[d.home["county"][rows]]
    )

    recycled = d.hard_case == H.RECYCLED_PHONE
    partner = np.maximum(d.partner, 0)
    recycled_number = np.where(
        recycled & (d.phone_old > 0) & (d.phone_old == d.phone[partner]),
        d.phone_old,
        np.where(recycled & (d.phone > 0) & (d.phone == d.phone_old[partner]), d.phone, 0),
    )
    guardian_id18 = np.where(d.guardian >= 0, id18[np.maximum(d.guardian, 0)], None)

    abbr = {int(k): v[1] for k, v in T.PROVINCES.items()}
    home_province = P.region_index().province_of_current[d.home["county"]]
    ethnicity = np.where(
        d.ethnicity >= 0, np.array(T.ETHNICITIES, dtype=object)[np.maximum(d.ethnicity, 0)], None
    )

    frame = pl.DataFrame(
        {
            H.PERSON_ID: _digits(np.arange(n), 8).to_numpy(),
            H.KIND: kind,
            H.MALE: male,
            H.BIRTH: d.birth,
            H.SUR: d.sur,
            H.G1: d.g1,
            H.G2: d.g2,
        }
    ).with_columns((pl.lit("P") + pl.col(H.PERSON_ID)).alias(H.PERSON_ID))
    frame = frame.with_columns(
        _to_series(special, H.NAME_SPECIAL),
        _to_series(simplified, H.NAME_SIMPLIFIED),
        _to_series(lat_sur, H.LAT_SUR),
        _to_series(lat_given, H.LAT_GIVEN),
        _to_series(pin_sur, H.PIN_SUR),
        _to_series(pin_given, H.PIN_GIVEN),
        _to_series(english, H.ENGLISH_NAME),
        _to_series(ethnicity, H.ETHNICITY),
        pl.Series(H.BIRTH_REGION, d.region),
        _to_series(
            np.array([abbr.get(int(p), "京") for p in home_province], dtype=object), H.PROVINCE_ABBR
        ),
        _to_series(id18, H.ID18),
        _to_series(id15, H.ID15),
        _to_series(passport, H.PASSPORT),
        _to_series(permit, H.PERMIT),
        _to_series(res_permit, H.RES_PERMIT),
        _to_series(pr2017, H.PR2017),
        _to_series(pr2023, H.PR2023),
        _to_series(uscc, H.USCC),
        _phone_series(d.phone, H.PHONE),
        _phone_series(d.phone_old, H.PHONE_OLD),
        _to_series(landline, H.LANDLINE),
        _to_series(hmt_address, H.HMT_ADDRESS),
        pl.Series(H.HOME_CODE, P.region_index().current[d.home["county"]]),
        _to_series(d.hard_case, H.HARD_CASE),
        pl.Series(H.PARTNER, d.partner),
        pl.Series(H.GUARDIAN_ROW, d.guardian),
        _to_series(guardian_id18, H.GUARDIAN_ID18),
        _phone_series(recycled_number, H.RECYCLED_NUMBER),
        *(pl.Series(f"home_{k}", v) for k, v in d.home.items()),
        *(pl.Series(f"old_{k}", v) for k, v in d.old_home.items()),
        pl.Series("has_old_home", d.has_old_home),
    )
    # Han names and their pinyin from indices
    latin_sur, latin_given = N.han_latin_exprs(H.SUR, H.G1, H.G2)
    indexed = pl.col(H.SUR) >= 0
    frame = frame.with_columns(
        pl.when(indexed)
        .then(N.han_name_expr(H.SUR, H.G1, H.G2))
        .otherwise(pl.col(H.NAME_SPECIAL))
        .alias(H.NAME_SPECIAL),
        pl.when(indexed).then(latin_sur).otherwise(pl.col(H.LAT_SUR)).alias(H.LAT_SUR),
        pl.when(indexed).then(latin_given).otherwise(pl.col(H.LAT_GIVEN)).alias(H.LAT_GIVEN),
    )
    home_prefix = P.county_prefix_expr("home")
    frame = frame.with_columns(
        pl.concat_str(home_prefix, P.address_detail_expr("home")).alias(H.ADDRESS),
        pl.when(pl.col("has_old_home"))
        .then(pl.concat_str(P.county_prefix_expr("old"), P.address_detail_expr("old")))
        .alias(H.ADDRESS_OLD),
    )
    return frame.drop(
        [c for c in frame.columns if c.startswith(("home_", "old_"))] + ["has_old_home"]
    )


def _phone_series(numbers: np.ndarray, name: str) -> pl.Series:
    s = pl.Series(name, numbers, dtype=pl.Int64)
    return pl.select(pl.when(s > 0).then(s.cast(pl.String))).to_series().alias(name)
