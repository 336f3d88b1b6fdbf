"""recordlinkage 0.16 (pandas), configured as its documentation suggests, unsupervised.

    python -m benchmarks.peers.recordlinkage_peer --records records.parquet --out out/rl

Cleaning is the peer-side :mod:`benchmarks.peers._prep`, shared with the Splink peer.
Then:

* a multi-pass index: Block on the ID, on cleaned name + DOB, on phone, and a
  SortedNeighbourhood pass (window 5) over the sorted pinyin name;
* binary comparison features (the ECM classifier wants 0/1 vectors): ID Levenshtein
  similarity >= 0.85 (catches one typo or a transposition), exact cleaned name,
  pinyin Jaro-Winkler >= 0.9, date of birth (exact 1, day/month swapped 0.5,
  binarized at 0.4 so a swap counts as agreement), exact phone, exact sex, address
  Jaro-Winkler >= 0.85;
* ``ECMClassifier`` (Fellegi-Sunter fitted by EM, no labels); pairs with a match
  probability >= ``--threshold`` (default 0.5, the classifier's own decision rule)
  are linked, and clusters are their connected components.

It is slow on large inputs (pandas and per-pair Python string metrics): that is a
finding, and the harness's timeout bounds it.
"""

from __future__ import annotations

import sys
import warnings
from datetime import date
from typing import Final

import numpy as np
import polars as pl

from benchmarks.peers import _prep as P
from benchmarks.peers import _runner as R

TOOL: Final = "recordlinkage"
ECM_DECISION: Final = 0.5  # ECMClassifier.predict links pairs whose probability exceeds this
WINDOW: Final = 5
DOB_AGREES: Final = 0.4  # binarization cut: exact (1.0) and day/month swap (0.5) agree
NS_FIRST: Final = date(1678, 1, 1)  # within pandas' datetime64[ns] range
NS_LAST: Final = date(2261, 12, 31)


def main(argv: list[str] | None = None) -> None:
    args = R.parse_args("recordlinkage_peer", argv, __doc__, default_threshold=ECM_DECISION)
    threshold = args.threshold
    warnings.simplefilter("ignore")  # pandas/recordlinkage deprecation noise on stderr
    try:
        import recordlinkage as rl
        from recordlinkage.index import Block, SortedNeighbourhood
    except ImportError as exc:
        raise R.PeerError(f"recordlinkage is not installed ({exc})") from exc

    stages = R.Stages()
    notes: list[str] = []
    with stages.stage("load"):
        records = R.read_records(args.records)
    with stages.stage("prepare"):
        prepared = P.prepare(records)
        frame = prepared.drop(P.DOB).to_pandas().set_index(P.UID)
        # Compare.date wants datetime64[ns], which ends at 1677..2262: historical
        # data fall outside, and then dates are compared as text instead.
        dob = prepared.get_column(P.DOB)
        dates_fit = bool(dob.drop_nulls().is_between(NS_FIRST, NS_LAST).all())
        if dates_fit:
            frame[P.DOB] = dob.cast(pl.Datetime("ns")).to_numpy()
        else:
            notes.append("birth dates outside 1677-2262: compared as exact text, not Compare.date")
    with stages.stage("index"):
        indexer = rl.Index()
        indexer.add(Block(P.ID))
        indexer.add(Block([P.NAME_CLEAN, P.DOB_TEXT]))
        indexer.add(Block(P.PHONE))
        indexer.add(SortedNeighbourhood(P.NAME_PY, window=WINDOW))
        candidates = indexer.index(frame)
    with stages.stage("compare"):
        compare = rl.Compare()
        compare.string(P.ID, P.ID, method="levenshtein", threshold=0.85, label="id")
        compare.exact(P.NAME_CLEAN, P.NAME_CLEAN, label="name")
        compare.string(P.NAME_PY, P.NAME_PY, method="jarowinkler", threshold=0.9, label="pinyin")
        if dates_fit:
            compare.date(P.DOB, P.DOB, label="dob")
        else:
            compare.exact(P.DOB_TEXT, P.DOB_TEXT, label="dob")
        compare.exact(P.PHONE, P.PHONE, label="phone")
        compare.exact(P.SEX, P.SEX, label="sex")
        compare.string(P.ADDRESS, P.ADDRESS, method="jarowinkler", threshold=0.85, label="address")
        features = compare.compute(candidates, frame)
    with stages.stage("classify"):
        if len(features):
            classifier = rl.ECMClassifier(binarize=DOB_AGREES)
            classifier.fit(features)
            probability = np.asarray(classifier.prob(features), dtype=np.float64)
        else:
            probability = np.zeros(0)
            notes.append("no candidate pairs")
    with stages.stage("cluster"):
        left = candidates.get_level_values(0).to_numpy(dtype=np.int64)
        right = candidates.get_level_values(1).to_numpy(dtype=np.int64)
        linked = probability >= threshold
        labels = R.connected_components(records.height, left[linked], right[linked])
    R.write_outputs(
        args.out,
        tool=TOOL,
        version=rl.__version__,
        crosswalk_frame=R.crosswalk(records, labels),
        stages=stages,
        candidate_pairs=len(candidates),
        threshold=threshold,
        pairs=pl.DataFrame({R.ROW_L: left, R.ROW_R: right, R.MATCH_PROBABILITY: probability}),
        notes=notes,
    )


if __name__ == "__main__":
    sys.exit(R.run_main(main))
