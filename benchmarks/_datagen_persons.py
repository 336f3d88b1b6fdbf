"""The true persons behind the records: who they are, where they live, their phones, and the planted hard cases.

Everything is drawn as numpy arrays (one element per person, a :class:`Draft`);
hard cases are planted on the arrays by copying the fields that make two
different persons look alike.  ``_datagen_documents`` then derives their
documents and turns the draft into the person frame whose columns are named here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchmarks import _datagen_names as N
from benchmarks import _datagen_places as P
from benchmarks import _datagen_tables as T

# person kinds
MAINLAND, HONG_KONG, MACAU, TAIWAN, FOREIGN = 0, 1, 2, 3, 4
KIND_SHARES = (0.975, 0.006, 0.002, 0.007, 0.010)

# hard cases (values of the truth's hard_case column)
TWINS = "twins"
SAME_NAME_BIRTHDAY = "same_name_birthday"
PARENT_CHILD = "parent_child"
RECYCLED_PHONE = "recycled_phone"
GUARDIAN_ID = "guardian_id"
HARD_CASES = (TWINS, SAME_NAME_BIRTHDAY, PARENT_CHILD, RECYCLED_PHONE, GUARDIAN_ID)
# pairs planted per person
HARD_CASE_RATES = {
    TWINS: 0.006,
    SAME_NAME_BIRTHDAY: 0.006,
    PARENT_CHILD: 0.008,
    RECYCLED_PHONE: 0.005,
}
GUARDIAN_SHARE = (
    0.4  # of parent/child pairs: the child is a minor whose records may carry the parent's ID
)

# person frame columns (internal to the generator)
PERSON_ID = "person_id"
KIND = "kind"
MALE = "male"
BIRTH = "birth"
SUR, G1, G2 = "sur", "g1", "g2"
NAME_SPECIAL = "name_special"  # name string for persons without index-built Han names
NAME_SIMPLIFIED = "name_simplified"  # HK/Macau/Taiwan names as mainland systems write them
LAT_SUR, LAT_GIVEN = (
    "lat_sur",
    "lat_given",
)  # own romanization (pinyin, Cantonese, Wade-Giles, foreign)
PIN_SUR, PIN_GIVEN = "pin_sur", "pin_given"  # mainland pinyin of HK/Macau/Taiwan names
ENGLISH_NAME = "english_name"
ETHNICITY = "true_ethnicity"  # person columns never share a name with record columns
BIRTH_REGION = "birth_region"
PROVINCE_ABBR = "province_abbr"
ID18, ID15 = "id18", "id15"
PASSPORT = "passport"
PERMIT = "permit"  # HK/Macau/Taiwan travel permit
RES_PERMIT = "res_permit"  # HK/Macau/Taiwan residence permit (GB 11643 form)
PR2017, PR2023 = "pr2017", "pr2023"  # foreigners' permanent residence IDs
USCC = "uscc"  # individual businesses
PHONE, PHONE_OLD, LANDLINE = "phone_now", "phone_old", "landline"
ADDRESS, ADDRESS_OLD = "address_now", "address_old"
HMT_ADDRESS = "hmt_address"
HOME_CODE = "residence_code"  # county code of the current home
HARD_CASE = "planted_case"  # the hard case the person was planted for
PARTNER = "partner"  # row of the other person of the hard-case pair, -1 if none
GUARDIAN_ROW = (
    "guardian_row"  # child's guardian row when the child's records may carry the guardian's ID
)
GUARDIAN_ID18 = "guardian_id18"  # that guardian's resident ID
RECYCLED_NUMBER = (
    "recycled_number"  # the phone number two persons of a recycled-phone pair both had
)


@dataclass
class Draft:
    """Person attributes as arrays while they are drawn and hard cases planted."""

    n: int
    kind: np.ndarray
    male: np.ndarray
    birth: np.ndarray  # datetime64[D]
    region: np.ndarray  # int64 county code of the ID, 0 if none
    ethnicity: np.ndarray  # index into T.ETHNICITIES, -1 unknown
    sur: np.ndarray
    g1: np.ndarray
    g2: np.ndarray
    special: np.ndarray  # object: name string or None
    special_latin: np.ndarray
    phone: np.ndarray  # int64, 0 none
    phone_old: np.ndarray
    home: dict[str, np.ndarray]  # address parts
    old_home: dict[str, np.ndarray]
    has_old_home: np.ndarray
    hard_case: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    partner: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    guardian: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    twin_of: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def year(self) -> np.ndarray:
        return self.birth.astype("datetime64[Y]").astype(np.int64) + 1970


def random_days(rng: np.random.Generator, years: np.ndarray) -> np.ndarray:
    start = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    end = (years - 1969).astype("datetime64[Y]").astype("datetime64[D]")
    length = (end - start).astype(np.int64)
    return start + (rng.random(len(years)) * length).astype(np.int64)


def _birth_years(rng: np.random.Generator, n: int, kind: np.ndarray) -> np.ndarray:
    years = np.arange(1930, 2016)
    # a rough population pyramid of people alive today
    w = np.interp(
        years,
        [1930, 1945, 1955, 1962, 1970, 1990, 2000, 2010, 2015],
        [0.1, 0.4, 0.7, 0.9, 1.2, 1.0, 0.8, 0.9, 0.8],
    )
    out = years[rng.choice(len(years), size=n, p=w / w.sum())]
    # residents from outside the mainland registered here are mostly working-age adults
    other = kind != MAINLAND
    out[other] = rng.integers(1950, 2004, int(other.sum()))
    return out


def _ethnicities(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    out = np.zeros(len(region), dtype=np.int16)  # 0 = 汉族
    province = region // 10000
    codes = {e: i for i, e in enumerate(T.ETHNICITIES)}
    for prefix in T.PROVINCES:
        rows = np.flatnonzero(province == int(prefix))
        mix = T.PROVINCE_ETHNICITY.get(prefix, T.DEFAULT_ETHNICITY)
        names = ["汉族", *mix]
        p = np.array([1 - sum(mix.values()), *mix.values()])
        out[rows] = np.array([codes[e] for e in names])[rng.choice(len(names), size=rows.size, p=p)]
    return out


def _han_names(rng: np.random.Generator, d: Draft, rows: np.ndarray) -> None:
    """Draw surname and given name indices for ``rows`` (by era, sex and ethnicity)."""
    years = d.year[rows]
    d.sur[rows] = N.draw_surnames(rng, rows.size)
    d.g1[rows], d.g2[rows] = N.draw_given(rng, years, d.male[rows])
    for ethnicity in T.ETHNIC_SURNAMES:
        eth = T.ETHNICITIES.index(ethnicity)
        sub = rows[(d.ethnicity[rows] == eth) & (rng.random(rows.size) < 0.5)]
        d.sur[sub] = N.ethnic_surnames(rng, ethnicity, sub.size)
    common = rows[
        (years >= 1950) & (years < 2000) & (rng.random(rows.size) < T.COMMON_FULL_NAME_SHARE)
    ]
    d.sur[common], d.g1[common], d.g2[common] = N.common_full_names(rng, d.male[common])


def draft(rng: np.random.Generator, n: int) -> Draft:
    kind = rng.choice(len(KIND_SHARES), size=n, p=KIND_SHARES).astype(np.int8)
    male = rng.random(n) < 0.51
    years = _birth_years(rng, n, kind)
    birth = random_days(rng, years)
    mainland = kind == MAINLAND
    region = np.zeros(n, dtype=np.int64)
    issue_years = np.clip(years, 1984, P.LAST_YEAR)
    region[mainland] = P.draw_birth_regions(rng, issue_years[mainland])
    ethnicity = np.full(n, -1, dtype=np.int16)
    ethnicity[mainland] = _ethnicities(rng, region[mainland])
    d = Draft(
        n=n,
        kind=kind,
        male=male,
        birth=birth,
        region=region,
        ethnicity=ethnicity,
        sur=np.full(n, -1, dtype=np.int32),
        g1=np.full(n, -1, dtype=np.int32),
        g2=np.full(n, -1, dtype=np.int32),
        special=np.full(n, None, dtype=object),
        special_latin=np.full(n, None, dtype=object),
        phone=np.zeros(n, dtype=np.int64),
        phone_old=np.zeros(n, dtype=np.int64),
        home={},
        old_home={},
        has_old_home=np.zeros(n, dtype=bool),
    )
    # names: minorities with their own naming customs, the rest Han-style
    special_kind = np.full(n, "", dtype=object)
    eth_name = np.array(T.ETHNICITIES, dtype=object)[np.maximum(ethnicity, 0)]
    u = rng.random(n)
    special_kind[mainland & np.isin(eth_name, ["维吾尔族", "哈萨克族"])] = "dot"
    special_kind[mainland & (eth_name == "藏族") & (u < 0.9)] = "tibetan"
    special_kind[mainland & (eth_name == "蒙古族") & (u < 0.4)] = "mongolian"
    for k in ("dot", "tibetan", "mongolian"):
        rows = np.flatnonzero(special_kind == k)
        d.special[rows], d.special_latin[rows] = N.draw_special_names(rng, k, male[rows])
    _han_names(rng, d, np.flatnonzero(mainland & (special_kind == "")))
    # homes: most live where they were born; a quarter moved, mostly towards the big cities
    home = np.zeros(n, dtype=np.int64)
    home[mainland] = P.residence_of(region[mainland], rng)
    moved = (rng.random(n) < 0.25) | ~mainland
    home[moved] = P.draw_current_counties(rng, int(moved.sum()), migrants=True)
    d.home = P.draw_address_parts(rng, home)
    # an older address: in the birth county for movers, elsewhere in town for some others
    d.has_old_home = (moved & mainland) | (rng.random(n) < 0.10)
    old_county = np.where(
        moved & mainland, P.residence_of(np.where(mainland, region, 110101), rng), home
    )
    d.old_home = P.draw_address_parts(rng, old_county)
    # phones: the very old may have none; some changed number
    has_phone = ~((years < 1945) & (rng.random(n) < 0.3))
    numbers = P.draw_mobiles(rng, 2 * n)
    d.phone = np.where(has_phone, numbers[:n], 0)
    d.phone_old = np.where(has_phone & (rng.random(n) < 0.15), numbers[n:], 0)
    return d


# ----------------------------------------------------------------- hard cases


class _Picker:
    """Draws disjoint sets of persons for the hard cases."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.order = rng.permutation(n)
        self.used = np.zeros(n, dtype=bool)

    def pick(self, count: int, eligible: np.ndarray) -> np.ndarray:
        free = self.order[eligible[self.order] & ~self.used[self.order]]
        chosen = free[:count]
        self.used[chosen] = True
        return chosen


def _copy_home(d: Draft, dst: np.ndarray, src: np.ndarray) -> None:
    for part in d.home:
        d.home[part][dst] = d.home[part][src]
    d.has_old_home[dst] = False


def _distinct_given(rng: np.random.Generator, d: Draft, b: np.ndarray, a: np.ndarray) -> None:
    """Redraw b's given name until it differs from a's."""
    for _ in range(20):
        same = (d.g1[b] == d.g1[a]) & (d.g2[b] == d.g2[a])
        if not same.any():
            return
        rows = b[same]
        d.g1[rows], d.g2[rows] = N.draw_given(rng, d.year[rows], d.male[rows])


def plant_hard_cases(rng: np.random.Generator, d: Draft) -> None:
    n = d.n
    d.hard_case = np.full(n, None, dtype=object)
    d.partner = np.full(n, -1, dtype=np.int64)
    d.guardian = np.full(n, -1, dtype=np.int64)
    d.twin_of = np.full(n, -1, dtype=np.int64)
    counts = {case: round(rate * n) for case, rate in HARD_CASE_RATES.items()}
    picker = _Picker(rng, n)
    han = (d.kind == MAINLAND) & (d.sur >= 0)
    years = d.year

    def mark(case: str, a: np.ndarray, b: np.ndarray) -> None:
        d.hard_case[a] = case
        d.hard_case[b] = case
        d.partner[a], d.partner[b] = b, a

    # twins: same surname, birth date, birth county, home and household phone
    a = picker.pick(counts[TWINS], han & (years >= 1950))
    b = picker.pick(a.size, han)
    a = a[: b.size]
    d.birth[b], d.region[b], d.sur[b], d.ethnicity[b] = (
        d.birth[a],
        d.region[a],
        d.sur[a],
        d.ethnicity[a],
    )
    d.g1[b], d.g2[b] = N.draw_given(rng, d.year[b], d.male[b])
    share_first = (d.g2[a] >= 0) & (d.g2[b] >= 0) & (rng.random(b.size) < 0.4)
    d.g1[b[share_first]] = d.g1[a[share_first]]
    _distinct_given(rng, d, b, a)
    _copy_home(d, b, a)
    d.phone[b], d.phone_old[b] = d.phone[a], 0
    d.twin_of[b] = a
    mark(TWINS, a, b)

    # same name and birthday, different persons from different provinces
    a = picker.pick(counts[SAME_NAME_BIRTHDAY], han)
    b = picker.pick(a.size, han)
    a = a[: b.size]
    d.birth[b], d.sur[b], d.g1[b], d.g2[b], d.male[b] = (
        d.birth[a],
        d.sur[a],
        d.g1[a],
        d.g2[a],
        d.male[a],
    )
    issue = np.clip(d.year[b], 1984, P.LAST_YEAR)
    d.region[b] = P.draw_birth_regions(rng, issue)
    for _ in range(50):
        same = d.region[b] // 10000 == d.region[a] // 10000
        if not same.any():
            break
        d.region[b[same]] = P.draw_birth_regions(rng, issue[same])
    d.home["county"][b] = P.residence_of(d.region[b], rng)
    mark(SAME_NAME_BIRTHDAY, a, b)

    # parent and child sharing home and phone; some children minors whose forms carry the parent's ID
    total = counts[PARENT_CHILD]
    n_guardian = round(total * GUARDIAN_SHARE)
    guardian_parents = picker.pick(n_guardian, han & (years >= 1972) & (years <= 1990))
    other_parents = picker.pick(
        total - guardian_parents.size, han & (years >= 1940) & (years <= 1990)
    )
    parents = np.concatenate([guardian_parents, other_parents])
    children = picker.pick(parents.size, han)
    parents = parents[: children.size]
    minor = np.zeros(children.size, dtype=bool)
    minor[: min(guardian_parents.size, children.size)] = True
    py = d.year[parents]
    child_year = np.where(
        minor,
        rng.integers(np.maximum(2006, py + 20), 2016),
        np.minimum(py + rng.integers(20, 36, py.size), 2015),
    )
    d.birth[children] = random_days(rng, child_year)
    home_codes = P.region_index().current[d.home["county"][parents]]
    d.region[children] = P.draw_regions_in_province(
        rng, np.clip(child_year, 1984, P.LAST_YEAR), home_codes // 10000
    )
    d.ethnicity[children] = d.ethnicity[parents]
    d.g1[children], d.g2[children] = N.draw_given(rng, child_year, d.male[children])
    keep = rng.random(children.size) < 0.85
    d.sur[children[keep]] = d.sur[parents[keep]]
    _copy_home(d, children, parents)
    d.phone[children], d.phone_old[children] = d.phone[parents], 0
    d.guardian[children[minor]] = parents[minor]
    mark(PARENT_CHILD, parents, children)

    # a number given up by one person and later assigned to another
    has_phone = d.phone > 0
    a = picker.pick(counts[RECYCLED_PHONE], has_phone)
    b = picker.pick(a.size, has_phone)
    a = a[: b.size]
    d.phone_old[a] = d.phone[b]
    mark(RECYCLED_PHONE, a, b)
