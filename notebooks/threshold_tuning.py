# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Tuning the match and review thresholds against a ground truth
#
# The batch job links two records when their match probability is at or above the
# **match threshold** (`thresholds.match` in the job file, 0.99 by default) and sends
# pairs in `[review, match)` to clerical review (`thresholds.review`, 0.5). This
# notebook shows what those two numbers cost and buy, on generated records whose
# true persons are known:
#
# 1. generate multi-department records with planted hard cases (`benchmarks.datagen`),
# 2. run the job once (`linkage.pipeline.run_job`),
# 3. re-cluster the job's scored pairs (`pairs.parquet`) at a grid of thresholds and
#    score each clustering against the truth (`linkage.evaluate.evaluate`).
#
# Training and scoring are not repeated: the model is the same at every threshold,
# only clustering changes, so the sweep is cheap.
#
# **Size.** `NOTEBOOK_PERSONS` sets the number of true persons (default 2,000, about
# 5,000 records, so that CI runs this notebook in seconds). Curves from so few records
# are noisy: before you act on them, raise it, e.g.
# `NOTEBOOK_PERSONS=100000 jupyter lab` (about 250,000 records, a few minutes).
# `NOTEBOOK_SEED` picks another generated population, `NOTEBOOK_OUT` keeps the run's
# files in a directory of your choice (default: a new temporary directory).
#
# The best threshold found here uses the truth labels, so it is an *oracle* figure: it
# tells you how much a threshold can matter on data like this, not what your own data
# will reach.

# %%
import math
import os
import sys
import tempfile
from io import BytesIO
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are rendered to PNG and shown inline below
import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from IPython.display import Image, display

import linkage
from linkage.clustering import cluster
from linkage.config import JobConfig
from linkage.evaluate import evaluate, report_text
from linkage.model import FSModel
from linkage.pipeline import CROSSWALK, MODEL, PAIRS, RECORDS, run_job
from normalizers import schema as s

PERSONS = int(os.environ.get("NOTEBOOK_PERSONS", "2000"))
SEED = int(os.environ.get("NOTEBOOK_SEED", "1"))
WORK = Path(os.environ.get("NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="linkage-thresholds-"))
WORK.mkdir(parents=True, exist_ok=True)
pl.Config.set_tbl_rows(60)
pl.Config.set_tbl_cols(30)


def _add_checkout_to_path() -> Path:
    """Make ``benchmarks`` importable: the generator ships with the source tree, not the wheel."""
    candidates = [
        os.environ.get("NOTEBOOK_CHECKOUT"),
        Path(linkage.__file__).resolve().parents[1],  # an editable install
        Path.cwd(),
        *Path.cwd().resolve().parents,  # Jupyter starts in notebooks/
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "benchmarks" / "datagen.py").is_file():
            root = str(Path(candidate).resolve())
            if root not in sys.path:
                sys.path.append(root)  # appended: the installed linkage still wins
            return Path(root)
    raise RuntimeError(
        "benchmarks/datagen.py not found: run from a checkout of the repository "
        "or set NOTEBOOK_CHECKOUT to its root"
    )


CHECKOUT = _add_checkout_to_path()
from benchmarks.datagen import generate


def show(fig: plt.Figure) -> None:
    """Render a figure as an inline PNG (no JavaScript, no network) and free it."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="png"))


def weight_of(probability: float) -> float:
    """The match weight (log2 odds) of a probability: how the job's thresholds map to bits."""
    return math.log2(probability / (1.0 - probability))


def probability_of(weight: float) -> float:
    return 1.0 / (1.0 + 2.0 ** (-weight))


print(f"{PERSONS:,} persons, seed {SEED}; working directory {WORK}")

# %% [markdown]
# ## Generate records and run the job
#
# `truth` has one row per record: the true `person_id`, and for planted traps the
# `hard_case` kind (twins, same name and birthday, parent and child, recycled phone,
# guardian's ID on a child's record) with the `hard_group` of persons a linker could
# wrongly merge.

# %%
records_in, truth = generate(PERSONS, seed=SEED)
input_path = WORK / "records.parquet"
records_in.write_parquet(input_path)
out = WORK / "out"
result = run_job([input_path], out)
print(result.accounting_line)
print("stage timings (s):", {stage: round(t, 2) for stage, t in result.timings.items()})
truth.group_by(s.HARD_CASE).len().sort(s.HARD_CASE)

# %% [markdown]
# ## The job's own result
#
# The crosswalk as written, scored against the truth. Precision is the share of linked
# pairs that are the same person; a false merge puts two people in one credit identity,
# which costs more than a missed link.

# %%
model = FSModel.from_json((out / MODEL).read_text(encoding="utf-8"))
MATCH, REVIEW = model.match_threshold, model.review_threshold
baseline_report = evaluate(truth, pl.read_parquet(out / CROSSWALK))
print(report_text(baseline_report))

# %% [markdown]
# ## Re-clustering at any threshold
#
# `pairs.parquet` holds every scored candidate pair (`row_l`, `row_r`, `match_weight`,
# `match_probability`); `records.parquet` the normalized records, rejected ones
# included. The job clusters the linkable records (no `record_reason`) with
# `linkage.clustering.cluster(records, scored, threshold=..., max_cluster_size=...)`
# and its default constraints (one checked resident ID per person ...); we do the same.
# The first check proves it: at the job's own threshold we get the job's persons back.

# %%
pairs = pl.read_parquet(out / PAIRS)
linkable = pl.read_parquet(out / RECORDS).filter(pl.col(s.RECORD_REASON).is_null())
MAX_CLUSTER_SIZE = JobConfig().clustering.max_cluster_size  # the run used the default job file
keys = linkable.select(s.ROW_ID, s.SOURCE, s.RECORD_ID)


def clusters_at(threshold: float) -> pl.DataFrame:
    """ROW_ID, SOURCE, RECORD_ID and PERSON_ID (a cluster number) when linking at ``threshold``."""
    result = cluster(linkable, pairs, threshold=threshold, max_cluster_size=MAX_CLUSTER_SIZE)
    return keys.join(
        result.clusters.select(s.ROW_ID, pl.col(s.CLUSTER_ID).alias(s.PERSON_ID)), on=s.ROW_ID
    )


def same_partition(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Whether two crosswalks group the same records together (person ids may differ)."""
    both = a.join(b, on=[s.SOURCE, s.RECORD_ID], suffix="_b")
    groups = both.group_by(s.PERSON_ID).agg(pl.col(f"{s.PERSON_ID}_b").n_unique().alias("n"))
    back = both.group_by(f"{s.PERSON_ID}_b").agg(pl.col(s.PERSON_ID).n_unique().alias("n"))
    return both.height == a.height == b.height and groups["n"].max() == 1 and back["n"].max() == 1


job_crosswalk = pl.read_parquet(out / CROSSWALK)
assert same_partition(clusters_at(MATCH), job_crosswalk), "re-clustering differs from the job"
print(f"re-clustering at {MATCH} gives the job's {job_crosswalk[s.PERSON_ID].n_unique():,} persons")

# %% [markdown]
# ## Label each scored pair with the truth
#
# A pair is a true match when both records belong to one true person. Pairs without
# identity evidence (neither the ID nor the name agrees) or with a veto (only the
# surname agrees) are capped at the review threshold's weight: that is the spike you
# will see there (0 bits for 0.5).

# %%
true_person = keys.join(
    truth.select(s.SOURCE, s.RECORD_ID, s.PERSON_ID), on=[s.SOURCE, s.RECORD_ID], how="left"
).select(s.ROW_ID, s.PERSON_ID)
labelled = (
    pairs.select(s.ROW_L, s.ROW_R, s.RULE, s.MATCH_WEIGHT, s.MATCH_PROBABILITY)
    .join(true_person.rename({s.ROW_ID: s.ROW_L, s.PERSON_ID: "person_l"}), on=s.ROW_L, how="left")
    .join(true_person.rename({s.ROW_ID: s.ROW_R, s.PERSON_ID: "person_r"}), on=s.ROW_R, how="left")
    .with_columns((pl.col("person_l") == pl.col("person_r")).fill_null(False).alias("true_match"))
)
labelled.group_by("true_match").agg(
    pl.len().alias("pairs"),
    pl.col(s.MATCH_WEIGHT).median().alias("median weight"),
    (pl.col(s.MATCH_PROBABILITY) >= MATCH).sum().alias("at or above match"),
).sort("true_match")

# %% [markdown]
# ## Precision, recall and F1 as the match threshold moves
#
# Each point is a full re-clustering, constraints included, scored pairwise against the
# truth. The x axis is the threshold's match weight, log2(p / (1 − p)): 0.99 is 6.6
# bits, 0.999 is 10 bits, 0.5 is 0.

# %%
MATCH_W, REVIEW_W = weight_of(MATCH), weight_of(REVIEW)
grid_w = np.unique(np.concatenate([np.arange(-8.0, 36.0, 1.0), [MATCH_W, REVIEW_W]]))
hard_kinds = sorted(truth[s.HARD_CASE].drop_nulls().unique().to_list())

crosswalks: dict[float, pl.DataFrame] = {}
rows = []
for w in grid_w:
    threshold = probability_of(float(w))
    crosswalk = clusters_at(threshold)
    crosswalks[float(w)] = crosswalk
    report = evaluate(truth, crosswalk, by_source=False)
    hard = {f"merge {h.kind}": h.merge_rate for h in report.hard_cases}
    rows.append({
        "weight": float(w),
        "threshold": threshold,
        "precision": report.pairwise.precision,
        "recall": report.pairwise.recall,
        "f1": report.pairwise.f1,
        "persons": crosswalk[s.PERSON_ID].n_unique(),
        "false_merge_pairs": report.pairwise.false_merge_pairs,
        "missed_pairs": report.pairwise.missed_pairs,
        "overmerged_clusters": report.overmerged_clusters,
        **{f"merge {kind}": hard.get(f"merge {kind}", 0.0) for kind in hard_kinds},
    })
sweep = pl.DataFrame(rows)
# a match threshold below the review threshold is not a valid job file: leave it out of the choice
best = (
    sweep.filter(pl.col("weight") >= REVIEW_W)
    .sort(["f1", "weight"], descending=True)
    .row(0, named=True)
)
print(
    f"job threshold {MATCH} ({MATCH_W:.1f} bits): F1 "
    f"{sweep.filter(pl.col('weight') == MATCH_W)['f1'][0]:.4f}; oracle best on this grid "
    f"(at or above review): {best['threshold']:.6g} ({best['weight']:.1f} bits), "
    f"F1 {best['f1']:.4f}"
)


def shade_invalid(ax: plt.Axes) -> None:
    """Grey out match thresholds below the review threshold (a job file refuses them)."""
    ax.axvspan(grid_w.min(), REVIEW_W, color="grey", alpha=0.12, linewidth=0)

# %%
fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, height_ratios=(3, 2))
for metric, colour in (("precision", "#1f77b4"), ("recall", "#ff7f0e"), ("f1", "#2ca02c")):
    top.plot(sweep["weight"], sweep[metric], marker=".", label=metric, color=colour)
top.set_ylabel("pairwise score")
top.set_title(f"Pairwise precision / recall / F1 by match threshold ({truth.height:,} records)")
bottom.plot(sweep["weight"], sweep["false_merge_pairs"], marker=".", color="#d62728",
            label="false-merge pairs")
bottom.plot(sweep["weight"], sweep["missed_pairs"], marker=".", color="#9467bd",
            label="missed pairs")
bottom.set_yscale("symlog", linthresh=1)
bottom.set_ylabel("pairs (symlog)")
bottom.set_xlabel("match threshold as match weight (bits)")
for ax in (top, bottom):
    shade_invalid(ax)
    ax.axvline(MATCH_W, color="#2e7d4f", linestyle="--", label=f"match {MATCH:g}")
    ax.axvline(REVIEW_W, color="#d08c2e", linestyle=":", label=f"review {REVIEW:g}")
    ax.axvline(best["weight"], color="grey", linestyle="-.", linewidth=1,
               label=f"best F1 (oracle) {best['threshold']:.4g}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
show(fig)

# %% [markdown]
# The grey region left of the review line is not a valid match threshold: it would link
# the pairs the model deliberately held back (no identity evidence, or a veto), and the
# job refuses such a job file (`review` must not exceed `match`). Read F1 with care:
# it weighs a false merge and a missed link alike, while for a credit database a false
# merge (two people sharing one credit identity) is the costlier error, so the lower
# panel's red curve matters more than the top panel's green one.

# %% [markdown]
# ## The match-weight distribution
#
# Every scored pair by match weight, split by the truth, with counts on a log scale so
# that the few pairs near the thresholds are visible next to the many far from them.
# Pairs of different persons to the right of the match line are false links; pairs of
# one person to the left of the review line are missed without a steward seeing them.

# %%
finite = labelled.filter(pl.col(s.MATCH_WEIGHT).is_finite())
weights = finite[s.MATCH_WEIGHT].to_numpy()
bins = np.arange(math.floor(min(weights.min(), REVIEW_W)) - 1, math.ceil(weights.max()) + 2, 1.0)
fig, ax = plt.subplots(figsize=(9, 4.5))
ax.hist(
    [finite.filter(pl.col("true_match"))[s.MATCH_WEIGHT].to_numpy(),
     finite.filter(~pl.col("true_match"))[s.MATCH_WEIGHT].to_numpy()],
    bins=bins, stacked=True, log=True, color=["#4c9f70", "#c0504d"],
    label=["same person", "different persons"],
)
ax.axvline(MATCH_W, color="#2e7d4f", linestyle="--", linewidth=2,
           label=f"match {MATCH:g} ({MATCH_W:.1f} bits)")
ax.axvline(REVIEW_W, color="#d08c2e", linestyle=":", linewidth=2,
           label=f"review {REVIEW:g} ({REVIEW_W:.1f} bits)")
ax.set_xlabel("match weight (log2 odds, prior included)")
ax.set_ylabel("scored pairs (log scale)")
ax.set_title(f"{labelled.height:,} scored candidate pairs by match weight")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
show(fig)
if finite.height < labelled.height:
    print(f"{labelled.height - finite.height:,} pairs with an infinite weight are not drawn")

# %% [markdown]
# ## The review band as the review threshold moves
#
# With the match threshold fixed, the band is the pairs with `review <= p < match`.
# Lowering the review threshold sends more pairs to stewards; the useful ones are the
# true matches among them (links a steward can recover). Pairs cut by constraints also
# go to review whatever the thresholds; they are not counted here.

# %%
review_grid_w = np.unique(
    np.concatenate([np.arange(-20.0, math.floor(MATCH_W) + 1, 1.0), [REVIEW_W]])
)
review_grid_w = review_grid_w[review_grid_w < MATCH_W]
band_rows = []
for w in review_grid_w:
    review = probability_of(float(w))
    in_band = labelled.filter(
        (pl.col(s.MATCH_PROBABILITY) >= review) & (pl.col(s.MATCH_PROBABILITY) < MATCH)
    )
    true_in_band = int(in_band["true_match"].sum())
    band_rows.append({
        "review_weight": float(w),
        "review_threshold": review,
        "band_pairs": in_band.height,
        "true_matches": true_in_band,
        "different_persons": in_band.height - true_in_band,
    })
band = pl.DataFrame(band_rows)
missed_below = labelled.filter(pl.col("true_match") & (pl.col(s.MATCH_PROBABILITY) < MATCH)).height

fig, ax = plt.subplots(figsize=(9, 4))
ax.plot(band["review_weight"], band["band_pairs"], marker=".", label="pairs in the review band")
ax.plot(band["review_weight"], band["true_matches"], marker=".", color="#4c9f70",
        label="... of which the same person")
ax.axhline(missed_below, color="grey", linewidth=1,
           label=f"all true matches below match ({missed_below:,})")
ax.axvline(REVIEW_W, color="#d08c2e", linestyle=":", label=f"review {REVIEW:g} (current)")
ax.set_xlabel("review threshold as match weight (bits)")
ax.set_ylabel("pairs")
ax.set_title(f"Review band [review, {MATCH:g}) as the review threshold moves")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
show(fig)
band.filter(pl.col("review_weight").is_in([-10.0, -5.0, -2.0, REVIEW_W, 2.0, 4.0]))

# %% [markdown]
# ## What changes when the match threshold moves
#
# Each row compares a candidate match threshold with the job's own:
#
# * **links gained / lost**: scored pairs that cross the threshold, split by the truth
#   (a gained true link is good, a gained false link is a wrong merge);
# * **persons merged**: the job's persons that would share a person with another one;
#   **persons split**: the job's persons that would fall apart;
# * **false-merge / missed pairs**: pairwise, over the whole clustering;
# * **review band**: pairs in `[review, match)` with the current review threshold;
# * **merge …**: the share of planted hard-case pairs (different persons) that end in
#   one person: the traps a threshold is most likely to spring.
#
# A false link gained does not always merge persons: the clustering constraints (one
# checked resident ID per person ...) cut many such links, and those pairs go to review.

# %%
candidates = sorted({0.7, 0.9, 0.95, 0.98, MATCH, 0.995, 0.999, 0.9999, 0.99999, 0.999999})
candidates = [c for c in candidates if c > REVIEW]
base = clusters_at(MATCH).select(s.ROW_ID, pl.col(s.PERSON_ID).alias("base"))
base_links = labelled.filter(pl.col(s.MATCH_PROBABILITY) >= MATCH)


def moved(threshold: float) -> dict[str, object]:
    links = labelled.filter(pl.col(s.MATCH_PROBABILITY) >= threshold)
    gained = links.join(base_links, on=[s.ROW_L, s.ROW_R], how="anti")
    lost = base_links.join(links, on=[s.ROW_L, s.ROW_R], how="anti")
    crosswalk = clusters_at(threshold)
    both = crosswalk.select(s.ROW_ID, pl.col(s.PERSON_ID).alias("new")).join(base, on=s.ROW_ID)
    merged = both.group_by("new").agg(pl.col("base").unique()).filter(pl.col("base").list.len() > 1)
    split = both.group_by("base").agg(pl.col("new").n_unique()).filter(pl.col("new") > 1)
    report = evaluate(truth, crosswalk, by_source=False)
    hard = {h.kind: h.merge_rate for h in report.hard_cases}
    return {
        "match": threshold,
        "bits": round(weight_of(threshold), 1),
        "true links gained": int(gained["true_match"].sum()),
        "false links gained": int((~gained["true_match"]).sum()),
        "true links lost": int(lost["true_match"].sum()),
        "false links lost": int((~lost["true_match"]).sum()),
        "persons": crosswalk[s.PERSON_ID].n_unique(),
        "persons merged": int(merged["base"].list.len().sum() or 0),
        "persons split": split.height,
        "false-merge pairs": report.pairwise.false_merge_pairs,
        "missed pairs": report.pairwise.missed_pairs,
        "precision": round(report.pairwise.precision, 4),
        "recall": round(report.pairwise.recall, 4),
        "review band": labelled.filter(
            (pl.col(s.MATCH_PROBABILITY) >= REVIEW) & (pl.col(s.MATCH_PROBABILITY) < threshold)
        ).height,
        **{f"merge {kind}": round(hard.get(kind, 0.0), 3) for kind in hard_kinds},
    }


changes = pl.DataFrame([moved(c) for c in candidates])
display(changes)

# %% [markdown]
# ## Hard-case merge rates across the whole sweep
#
# The share of each kind's planted pairs (records of different persons that look
# alike) that end in one person; 0 means none was merged at that threshold.

# %%
fig, ax = plt.subplots(figsize=(9, 4))
shade_invalid(ax)
for kind in hard_kinds:
    ax.plot(sweep["weight"], sweep[f"merge {kind}"], marker=".", label=kind)
ax.axvline(MATCH_W, color="#2e7d4f", linestyle="--", label=f"match {MATCH:g}")
ax.set_xlabel("match threshold as match weight (bits)")
ax.set_ylabel("planted pairs merged (share)")
ax.set_title("Hard-case merge rate by match threshold")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
show(fig)

# %% [markdown]
# ## Applying a choice
#
# Thresholds live in the job file (`linkage run --config job.toml`):
#
# ```toml
# schema_version = 1
#
# [thresholds]
# match = 0.999    # pairs at or above are linked
# review = 0.5     # pairs in [review, match) go to clerical review
# ```
#
# Before changing them for production, rerun this notebook with a larger
# `NOTEBOOK_PERSONS` (and, where you have one, on a labelled sample of your own
# departments' records: `linkage evaluate --truth ... --pred crosswalk.parquet`).
