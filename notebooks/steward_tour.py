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
# # A data steward's tour of a linkage run
#
# You look after the person identities that the batch job builds from the
# departments' extracts. This notebook runs the job on the bundled sample (949
# records of ten departments) plus a small late extract with problems, and then walks
# through what a steward checks after every run:
#
# 1. the row accounting in `summary.json`: every input row is linked or rejected;
# 2. where `report.html` is, and what it is for;
# 3. the rejected rows and their reasons, and the field-level reason codes;
# 4. the review file: the pairs the job would not decide alone;
# 5. why a pair scored as it did (the weight waterfall);
# 6. the largest persons, with ID and phone numbers masked;
# 7. how good the run is, against the sample's ground truth.
#
# Everything here is also a command (`linkage run`, `linkage explain`,
# `linkage evaluate`); the cells show both. Set `NOTEBOOK_OUT` to keep the run's
# files somewhere you choose (default: a new temporary directory).

# %%
import json
import math
import os
import subprocess
import sys
import tempfile
from importlib import resources
from io import BytesIO
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are rendered to PNG and shown inline below
import matplotlib.pyplot as plt
import polars as pl
from IPython.display import Image, display

from linkage.evaluate import evaluate, report_text
from linkage.explain import explain_records, person_records
from linkage.model import PairExplanation
from linkage.pipeline import (
    CROSSWALK,
    OUTPUT_FILES,
    PERSONS,
    RECORDS,
    REJECTS,
    REPORT,
    REVIEW,
    SUMMARY,
)
from normalizers import schema as s
from normalizers.frame import reason_counts
from normalizers.masking import mask_id, mask_phone
from normalizers.reasons import Reason

WORK = Path(os.environ.get("NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="linkage-tour-"))
WORK.mkdir(parents=True, exist_ok=True)
OUT = WORK / "out"
pl.Config.set_tbl_rows(40)
pl.Config.set_fmt_str_lengths(120)


def show(fig: plt.Figure) -> None:
    """Render a figure as an inline PNG (no JavaScript, no network) and free it."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="png"))


def masked(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every ID and phone column masked: what may be shown on a screen."""
    def named(*bases: str) -> list[str]:  # the column itself or its side in a pair (_l, _r)
        wanted = {f"{base}{side}" for base in bases for side in ("", "_l", "_r")}
        return [c for c in frame.columns if c in wanted]

    id_columns, phone_columns = named(s.ID_NUMBER, s.ID_NORM), named(s.PHONE, s.PHONE_NORM)
    return frame.with_columns(
        *(pl.col(c).map_elements(mask_id, return_dtype=pl.String) for c in id_columns),
        *(pl.col(c).map_elements(mask_phone, return_dtype=pl.String) for c in phone_columns),
    )


print(f"working directory: {WORK}")

# %% [markdown]
# ## The input: the bundled sample and a late extract
#
# `linkage sample sample.csv` writes the bundled sample; in Python it is a package
# resource. Its columns are the canonical raw schema (`source`, `record_id`, `name`,
# `id_number`, `birth_date`, `phone`, ...): each department's own column names are
# mapped onto it in a job file.

# %%
sample_path = WORK / "sample.csv"
sample_path.write_bytes(resources.files("linkage").joinpath("sample/records.csv").read_bytes())
sample = pl.read_csv(sample_path, infer_schema=False)
print(f"{sample.height:,} sample records from {sample[s.SOURCE].n_unique()} departments")
display(sample.group_by(s.SOURCE).len().sort("len", descending=True))
masked(sample.head(5))

# %% [markdown]
# A late extract from the civil-affairs office arrives with the usual problems: a row
# without a record number, a row sent twice, a row with nothing to identify anyone
# by, and one person the police extract already holds, written the civil-affairs way
# (spaces in the ID number, a Chinese-style date).

# %%
known = sample.row(0, named=True)  # a person the police extract already holds
spaced_id = " ".join((known[s.ID_NUMBER][:6], known[s.ID_NUMBER][6:14], known[s.ID_NUMBER][14:]))
chinese_date = "{}年{}月{}日".format(*known[s.BIRTH_DATE].split("-"))
late = pl.DataFrame(
    [
        {s.RECORD_ID: "MZ-0001", s.NAME: known[s.NAME], s.ID_NUMBER: spaced_id,
         s.BIRTH_DATE: chinese_date, s.SEX: known[s.SEX]},
        {s.RECORD_ID: None, s.NAME: "王芳", s.BIRTH_DATE: "1990-01-01"},  # no record number
        {s.RECORD_ID: "MZ-0001", s.NAME: known[s.NAME]},  # the first row, sent again
        {s.RECORD_ID: "MZ-0003", s.NAME: "不详", s.ID_NUMBER: "无"},  # "unknown" / "none"
        {s.RECORD_ID: "MZ-0004", s.NAME: "赵敏", s.BIRTH_DATE: "1990-02-30", s.SEX: "女"},
    ],
    schema={c: pl.String for c in (s.RECORD_ID, s.NAME, s.ID_NUMBER, s.BIRTH_DATE, s.SEX)},
).select(pl.lit("civil_affairs").alias(s.SOURCE), pl.all())
late_path = WORK / "civil_affairs_late.csv"
late.write_csv(late_path)
masked(late)

# %% [markdown]
# ## Run the job
#
# The same command a steward types, run from here. Exit codes: 0 success, 2 bad usage,
# 3 an input file cannot be read, 4 an invalid job file, 5 the row accounting does not
# balance (nothing to trust in that run), 1 anything unexpected.

# %%
command = [
    sys.executable, "-m", "linkage", "run",
    "--input", str(sample_path), "--input", str(late_path), "--out", str(OUT),
]
print("$ linkage run --input sample.csv --input civil_affairs_late.csv --out out")
# plain text: the kernel asks child processes for colour, which a captured log does not want
env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
env.update(NO_COLOR="1", TERM="dumb")
done = subprocess.run(
    command, capture_output=True, text=True, encoding="utf-8", env=env, check=False
)
print(done.stdout + done.stderr)
if done.returncode != 0:
    raise RuntimeError(f"linkage run exited with {done.returncode}")

# %% [markdown]
# ## The row accounting: `summary.json`
#
# The first thing to read. Every input row is either linked to a person (a row of
# `crosswalk.parquet`) or rejected with a reason (a row of `rejects.parquet`); the job
# checks this itself and exits with code 5 if it does not hold, but a steward confirms
# it from the files, because that is what is handed on.
#
# The identity events say what happened to person IDs: on a first run every person is
# created. Run again into the same output directory and the identity store
# (`out/identity.db`) gives every person its old ID back, so there are no events;
# when later runs merge, split or move earlier persons, that shows here (`MERGE`,
# `SPLIT`, `MOVE`, `RETIRE`).

# %%
summary = json.loads((OUT / SUMMARY).read_text(encoding="utf-8"))
crosswalk = pl.read_parquet(OUT / CROSSWALK)
rejects = pl.read_parquet(OUT / REJECTS)
print(
    f"{summary['input_rows']:,} input rows = {summary['linked_rows']:,} linked to "
    f"{summary['persons']:,} persons + {summary['rejected_rows']:,} rejected"
)
assert summary["input_rows"] == summary["linked_rows"] + summary["rejected_rows"]
assert crosswalk.height + rejects.height == summary["input_rows"] == sample.height + late.height
print(f"candidate pairs {summary['candidate_pairs']:,}, sent to review {summary['review_pairs']:,}")
print("thresholds:", summary["thresholds"])
print("clusters:", {k: summary["clusters"][k] for k in ("clusters", "edges_kept", "edges_cut")},
      "violations:", summary["clusters"]["violations"] or "none")
print("identity events:", summary["events"])
print("stage timings (s):", summary["timings_s"])

# %% [markdown]
# ## The report and the other outputs
#
# `report.html` is one self-contained page (no script, no link to anything outside it)
# with the counts, charts of the match weights and the cluster sizes, the model and the
# reason codes. It holds counts only, no name, ID or phone number, so it is the file to
# pass to people who should not see personal data. Open it in any browser.

# %%
print(f"report: {(OUT / REPORT).resolve().as_uri()}")
pl.DataFrame(
    {"file": list(OUTPUT_FILES), "bytes": [(OUT / name).stat().st_size for name in OUTPUT_FILES]}
)

# %% [markdown]
# ## Rejected rows and why
#
# `rejects.parquet` names each rejected row by its source, record id and `input_row`
# (its 0-based position in the stacked inputs, for rows without a record id), with a
# reason code. Every code is documented in `normalizers.reasons`.

# %%
def meaning(column: str = "reason") -> pl.Expr:
    """The documented meaning of each reason code."""
    return pl.col(column).map_elements(lambda code: Reason(code).doc, return_dtype=pl.String)


rejects.with_columns(meaning().alias("meaning"))

# %% [markdown]
# Field-level problems do not reject a row: the field is set aside (or repaired) and
# the rest of the record is still linked. `records.parquet` keeps a reason code per
# field; here are the codes other than `OK` and `MISSING` (empty fields), with their
# meaning. The same table, with the missing counts, is in `report.html`.

# %%
records = pl.read_parquet(OUT / RECORDS)
field_reasons = reason_counts(records).filter(
    ~pl.col("reason").is_in([Reason.OK.value, Reason.MISSING.value])
)
field_reasons.with_columns(meaning().alias("meaning"))

# %% [markdown]
# ## The review file
#
# `review.parquet` holds the pairs the job would not decide alone, both records side by
# side: `why` is `uncertain` for pairs in the review band (probability between the
# review and the match threshold) or the name of the constraint that cut a strong link
# (e.g. two different checked resident IDs in one would-be person). These are the
# steward's work list, strongest first.

# %%
review = pl.read_parquet(OUT / REVIEW)
display(review.group_by("why").len())
side_by_side = [
    "why", s.MATCH_PROBABILITY,
    *(
        f"{c}_{side}"
        for side in ("l", "r")
        for c in (s.SOURCE, s.RECORD_ID, s.NAME, s.ID_NUMBER, s.BIRTH_DATE)
    ),
]
masked(review.select(side_by_side).head(10))

# %% [markdown]
# ## Why did a pair score as it did?
#
# `linkage explain SOURCE:RECORD_ID SOURCE:RECORD_ID --out out` prints the waterfall
# of the model's weights: the prior (how likely two random records are one person),
# then each comparison's level and weight in bits (log2 of m/u), summed into the match
# weight and the probability. In Python it is `linkage.explain.explain_records`.
#
# First the civil-affairs record against the police record of the same person.

# %%
def waterfall(explanation: PairExplanation, title: str) -> None:
    """Bars from the prior through each comparison to the final match weight."""
    frame = explanation.to_frame()
    labels = ["prior"] + [
        f"{row['comparison']}\n{row['label'] or 'missing'}"
        for row in frame.slice(1).iter_rows(named=True)
    ]
    weights = frame["weight"].to_list()
    starts = [0.0, *frame["cumulative"].to_list()[:-1]]
    labels.append("total (capped)" if explanation.capped else "total")
    weights.append(explanation.match_weight)
    starts.append(0.0)
    ends = [a + w for a, w in zip(starts, weights)]
    lines = {name: math.log2(p / (1 - p)) for name, p in summary["thresholds"].items()}

    fig, ax = plt.subplots(figsize=(9, 4.5))
    colours = ["#7f7f7f"] + ["#4c9f70" if w > 0 else "#c0504d" for w in weights[1:-1]] + ["#1f77b4"]
    ax.bar(range(len(weights)), weights, bottom=starts, color=colours,
           edgecolor="black", linewidth=0.5)
    lo = min(0.0, *starts, *ends, *lines.values())
    hi = max(0.0, *starts, *ends, *lines.values())
    pad = 0.1 * (hi - lo or 1.0)
    ax.set_ylim(lo - pad, hi + pad)
    for i, (start, end, weight) in enumerate(zip(starts, ends, weights)):
        up = weight >= 0
        ax.annotate(f"{weight:+.1f}", (i, max(start, end) if up else min(start, end)),
                    xytext=(0, 2 if up else -2), textcoords="offset points",
                    ha="center", va="bottom" if up else "top", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.6)
    for (name, weight), style in zip(lines.items(), ("--", ":")):
        p = summary["thresholds"][name]
        ax.axhline(weight, color="#d08c2e" if name == "review" else "#2e7d4f", linestyle=style,
                   linewidth=1.2, label=f"{name} threshold {p:g} ({weight:+.1f} bits)")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("match weight (bits)")
    ax.set_title(f"{title}: {explanation.match_weight:+.1f} bits, "
                 f"probability {explanation.match_probability:.6f}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    show(fig)


pair = (f"police:{known[s.RECORD_ID]}", "civil_affairs:MZ-0001")
explanation = explain_records(OUT, *pair)
waterfall(explanation, "police vs civil_affairs")
explanation.to_frame()

# %% [markdown]
# Then the strongest uncertain pair of the review file: the comparisons that pulled it
# below the match threshold are the red bars.

# %%
uncertain = review.filter(pl.col("why") == "uncertain")
if uncertain.height:
    top = uncertain.row(0, named=True)
    left = f"{top[s.SOURCE + '_l']}:{top[s.RECORD_ID + '_l']}"
    right = f"{top[s.SOURCE + '_r']}:{top[s.RECORD_ID + '_r']}"
    print(f"$ linkage explain {left} {right} --out out")
    explanation = explain_records(OUT, left, right)
    waterfall(explanation, "top review pair")
    display(explanation.to_frame())
else:
    print("no uncertain pairs in this run")

# %% [markdown]
# ## The largest persons
#
# `persons.parquet` has one row per person: the most frequent canonical value of each
# field among its records, and how many records and departments it holds. Unusually
# large persons are the first place to look for a wrong merge. ID numbers are masked
# for display; the file itself is personal data.

# %%
persons = pl.read_parquet(OUT / PERSONS)
print(f"{persons.height:,} persons; records per person:")
display(persons.group_by("records").len().sort("records"))
largest = persons.sort(["records", s.PERSON_ID], descending=[True, False])
masked(largest.head(5))

# %% [markdown]
# `linkage explain --person PERSON_ID --out out` (in Python `person_records`) shows a
# person's records, masked, and the edges that joined them (`kept`) or were cut by a
# constraint (`cut`).

# %%
biggest = largest[s.PERSON_ID][0]
print(f"$ linkage explain --person {biggest} --out out")
person_rows, person_edges = person_records(OUT, biggest)
display(person_rows)
person_edges.sort(s.MATCH_WEIGHT, descending=True)

# %% [markdown]
# ## How good is the run? The sample's ground truth
#
# The sample ships with its truth (`sample/truth.csv`: the true person of each record,
# and the planted hard cases: twins, same name and birthday, parent and child, a
# recycled phone number, a guardian's ID on a child's record). The same report is
# `linkage evaluate --truth truth.csv --pred out/crosswalk.parquet`. The late extract's
# records are not in the truth: they are counted as "predicted records not in truth"
# and otherwise ignored.

# %%
truth = pl.read_csv(
    resources.files("linkage").joinpath("sample/truth.csv").read_bytes(), infer_schema=False
)
report = evaluate(truth, crosswalk)
print(report_text(report))
late_linked = crosswalk.filter(pl.col(s.SOURCE) == "civil_affairs").height
assert report.pred_not_in_truth == late_linked

# %% [markdown]
# ## Where next
#
# * `notebooks/threshold_tuning.py`: what moving the match and review thresholds would
#   change, measured on generated data with known truth.
# * `linkage run --help`, `linkage explain --help`, `linkage evaluate --help`.
