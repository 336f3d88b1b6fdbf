"""Speed of blocking on synthetic normalized records (no normalizer needed).

    python -m benchmarks.blocking_bench --records 1000000
    python -m benchmarks.blocking_bench --records 1000000 --datagen

Builds the normalized key columns directly with numpy + polars (not timed):
persons with ~2.5 records each, surnames by real frequency (benchmarks/data/
surnames.tsv when present), skewed given names, birth dates 1930-2015, 60% of
records with an ID key, some checksum-failed IDs with repairs, masked IDs,
romanized-name records, shared placeholder phones and IDs (oversized blocks),
1% rejects.  Then times estimate_pairs and generate_pairs with the default rules
and prints time, peak RSS, pair counts and recall against the truth.  With
``--datagen`` the records come from benchmarks.datagen through normalize_frame.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import resource
import time
from pathlib import Path

import numpy as np
import polars as pl

from blocking import blocking_recall, default_rules, estimate_pairs, generate_pairs, recall_by_rule
from normalizers import schema as s

_SURNAMES = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "surnames.tsv"
_SYLLABLES = [
    "wei",
    "fang",
    "na",
    "min",
    "jing",
    "li",
    "qiang",
    "lei",
    "jun",
    "yang",
    "yong",
    "yan",
    "jie",
    "tao",
    "ming",
    "chao",
    "xiu",
    "hua",
    "ping",
    "gang",
    "gui",
    "ying",
    "hong",
    "hui",
    "xia",
    "dan",
    "ling",
    "juan",
    "bo",
    "bin",
    "lin",
    "hao",
    "yu",
    "xin",
    "jia",
    "yi",
    "zhi",
    "wen",
    "chen",
    "long",
    "peng",
    "fei",
    "rui",
    "kai",
    "ting",
    "xue",
    "mei",
    "lan",
    "qing",
    "shan",
    "feng",
    "yun",
    "tian",
    "hai",
    "bao",
    "guo",
    "dong",
    "ning",
    "an",
    "cheng",
    "zhong",
    "kang",
    "le",
    "zi",
    "han",
    "hang",
]


def _surnames(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if _SURNAMES.exists():
        table = pl.read_csv(_SURNAMES, separator="\t")
        names = table.get_column("pinyin").to_numpy()
        weights = table.get_column("tf").cast(pl.Float64).to_numpy()
    else:  # a Zipf stand-in
        names = np.array([f"s{i}" for i in range(500)])
        weights = 1.0 / np.arange(1, 501)
    return names, weights / weights.sum()


def synthetic_records(n: int, seed: int = 1) -> tuple[pl.DataFrame, pl.Series]:
    """(records with the normalized columns the default rules read, true person per row)."""
    rng = np.random.default_rng(seed)
    persons = max(1, int(n / 2.5))
    surname_names, surname_p = _surnames(rng)
    syll = np.array(_SYLLABLES)
    syll_p = 1.0 / np.arange(1, len(syll) + 1) ** 0.8
    syll_p /= syll_p.sum()
    # person attributes
    p_surname = surname_names[rng.choice(len(surname_names), persons, p=surname_p)]
    g1 = syll[rng.choice(len(syll), persons, p=syll_p)]
    g2 = syll[rng.choice(len(syll), persons, p=syll_p)]
    one_syllable = rng.random(persons) < 0.3
    p_given = np.where(one_syllable, g1, np.char.add(np.char.add(g1, " "), g2))
    first = dt.date(1930, 1, 1).toordinal()
    last = dt.date(2015, 12, 31).toordinal()
    p_dob = rng.integers(first, last + 1, persons) - dt.date(1970, 1, 1).toordinal()
    p_sex = np.where(rng.random(persons) < 0.5, "M", "F")
    p_region = rng.choice(
        np.array(["110101", "310104", "440106", "510107", "330106", "420102"]), persons
    )
    p_seq = rng.integers(0, 10_000, persons)
    p_phone = rng.integers(13_000_000_000, 19_999_999_999, persons)

    person = rng.integers(0, persons, n)
    frame = pl.DataFrame(
        {
            "_person": person,
            "_surname": p_surname[person],
            "_given": p_given[person],
            "_dob": p_dob[person],
            "_sex": p_sex[person],
            "_region": p_region[person],
            "_seq": p_seq[person],
            "_phone": p_phone[person],
        }
    )
    u = rng.random((8, n))
    frame = frame.with_columns(
        pl.Series("_u_id", u[0]),
        pl.Series("_u_dob", u[1]),
        pl.Series("_u_phone", u[2]),
        pl.Series("_u_typo", u[3]),
        pl.Series("_u_latin", u[4]),
        pl.Series("_u_reject", u[5]),
        pl.Series("_u_sex", u[6]),
        pl.Series("_typo", syll[rng.choice(len(syll), n, p=syll_p)]),
        pl.Series("_placeholder", u[7]),
    )
    dob = pl.col("_dob").cast(pl.Date)
    id_number = (
        pl.col("_region") + dob.dt.strftime("%Y%m%d") + pl.col("_seq").cast(pl.String).str.zfill(4)
    )
    given = pl.when(pl.col("_u_typo") < 0.03).then(pl.col("_typo")).otherwise(pl.col("_given"))
    pinyin = pl.col("_surname") + " " + given
    latin = pl.col("_u_latin") < 0.05
    id_kind = pl.col("_u_id")
    has_id = id_kind < 0.60
    repaired = (id_kind >= 0.60) & (id_kind < 0.62)
    masked = (id_kind >= 0.62) & (id_kind < 0.65)
    placeholder_phone = pl.col("_placeholder") < 0.003  # 3,000 records share one office line
    placeholder_id = (pl.col("_placeholder") >= 0.003) & (pl.col("_placeholder") < 0.0045)
    records = frame.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias(s.ROW_ID),
        pl.when(pl.col("_u_reject") < 0.01)
        .then(pl.lit("RECORD_NO_USABLE_FIELD"))
        .alias(s.RECORD_REASON),
        pl.when(placeholder_id)
        .then(pl.lit("RESIDENT:110101199001011237"))
        .when(has_id)
        .then("RESIDENT:" + id_number)
        .alias(s.ID_KEY),
        # a failed ID has several repair candidates; one is right, the others are strangers' IDs
        pl.when(repaired)
        .then(pl.concat_list(id_number, id_number.str.reverse()))
        .alias(s.ID_REPAIRS),
        pl.when(has_id).then(id_number).alias(s.ID_NORM),
        pl.when(has_id).then(pl.lit("RESIDENT")).alias(s.ID_KIND),
        pl.when(masked)
        .then(id_number.str.head(6) + "********" + id_number.str.tail(4))
        .alias(s.ID_MASK_PATTERN),
        pl.when(~latin)
        .then(pl.col("_surname") + given.str.replace_all(" ", ""))
        .alias(s.NAME_NORM),
        pl.when(~latin).then(pinyin).alias(s.NAME_PINYIN),
        pl.when(~latin).then(pl.col("_surname")).alias(s.NAME_SURNAME_PINYIN),
        pl.when(pl.col("_u_dob") < 0.85).then(dob).alias(s.DOB),
        pl.when(pl.col("_u_sex") < 0.9).then(pl.col("_sex")).alias(s.SEX_BEST),
        pl.when(placeholder_phone)
        .then(pl.lit("+8613800138000"))
        .when(pl.col("_u_phone") < 0.5)
        .then("+86" + pl.col("_phone").cast(pl.String))
        .alias(s.PHONE_NORM),
        pl.when(latin)
        .then(pl.concat_list(pinyin, given + " " + pl.col("_surname")))
        .otherwise(pl.concat_list(pinyin))
        .alias(s.NAME_KEYS),
    )
    from blocking import add_blocking_keys  # keys built the way the pipeline builds them

    records = add_blocking_keys(records)
    # rejected records are never blocked: they take part in no true pair
    truth = (
        pl.select(
            pl.when(records.get_column(s.RECORD_REASON).is_null()).then(frame.get_column("_person"))
        )
        .to_series()
        .alias("person")
    )
    return records, truth


def datagen_records(n: int, seed: int = 1) -> tuple[pl.DataFrame, pl.Series]:
    """Generated department records (benchmarks.datagen, ~2.5 per person), normalized, with keys."""
    from benchmarks.datagen import generate
    from blocking import add_blocking_keys
    from normalizers.frame import normalize_frame

    raw, truth = generate(max(1, int(n / 2.5)), seed=seed)
    records = add_blocking_keys(normalize_frame(raw))
    person = (
        records.select(s.ROW_ID, s.SOURCE, s.RECORD_ID, s.RECORD_REASON)
        .join(truth, on=[s.SOURCE, s.RECORD_ID], how="left", maintain_order="left")
        .select(pl.when(pl.col(s.RECORD_REASON).is_null()).then(pl.col("person_id")))
        .to_series()
        .alias("person")
    )
    return records, person


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--datagen",
        action="store_true",
        help="use benchmarks.datagen + normalize_frame (about --records records) instead",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    t0 = time.perf_counter()
    if args.datagen:
        records, truth = datagen_records(args.records, args.seed)
    else:
        records, truth = synthetic_records(args.records, args.seed)
    print(f"built {records.height:,} records in {time.perf_counter() - t0:.1f} s (not timed)")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    t0, c0 = time.perf_counter(), cpu()
    estimate = estimate_pairs(records)
    t_estimate, c_estimate = time.perf_counter() - t0, cpu() - c0
    t0, c0 = time.perf_counter(), cpu()
    result = generate_pairs(records)
    t_generate, c_generate = time.perf_counter() - t0, cpu() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    with pl.Config(tbl_rows=20, tbl_cols=12, tbl_width_chars=160):
        print(estimate)
        print(result.counts)
        print(recall_by_rule(result.pairs, truth, [r.name for r in default_rules()]))
    print(
        f"estimate_pairs: {t_estimate:.2f} s wall, {c_estimate:.2f} s CPU; "
        f"generate_pairs: {t_generate:.2f} s wall, {c_generate:.2f} s CPU "
        f"({records.height / t_generate:,.0f} records/s)"
    )
    print(f"pairs: {result.pairs.height:,}; recall {blocking_recall(result.pairs, truth):.4f}")
    print(
        f"peak RSS: {rss_before:,.0f} MiB after building the records, {rss:,.0f} MiB after blocking"
    )


if __name__ == "__main__":
    main()
