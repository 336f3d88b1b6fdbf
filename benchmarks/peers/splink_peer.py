"""Splink 5 on DuckDB, configured as a competent Splink user would for this data.

    python -m benchmarks.peers.splink_peer --records records.parquet --out out/splink

Cleaning is the peer-side :mod:`benchmarks.peers._prep` (NFKC, OpenCC t2s, pypinyin,
15->18 ID upgrade, date formats, digits-only phones).  The model follows Splink's own
tutorials, adapted to the columns:

* prediction blocking: exact ID; exact cleaned name (alone: about a third of the
  records have neither a birth date nor a full ID, and name + DOB left 8% of the true
  pairs uncompared at 10k records); pinyin + DOB; phone; surname pinyin + DOB;
  surname pinyin + address;
* comparisons: ID (exact, Levenshtein <= 1, <= 2); name as one comparison because
  the Han name and its pinyin are not independent (exact Han name with term-frequency
  adjustment, exact pinyin, Jaro-Winkler >= 0.92, >= 0.8 on pinyin); date of birth
  (Splink's DateOfBirthComparison); exact phone; exact sex; address (exact,
  Jaro-Winkler >= 0.9, >= 0.75);
* λ from deterministic rules (ID; pinyin + DOB) at an assumed recall of 0.8; u by
  random sampling; m by EM over two blocking rules (pinyin, then DOB), as in the
  tutorials;
* predict, then connected components at ``--threshold`` (default 0.9).

The scored pairs are written too, so that the harness can report the F1-best
threshold (a figure that uses the labels and so flatters the peer).
"""

from __future__ import annotations

import logging
import sys
from typing import Final

import numpy as np
import polars as pl

from benchmarks.peers import _prep as P
from benchmarks.peers import _runner as R

TOOL: Final = "splink"
U_MAX_PAIRS: Final = 1e7  # Splink suggests 1e7 "while testing", 1e8-1e9 for final models
EM_MAX_PAIRS: Final = 2e6
LAMBDA_RECALL: Final = 0.8
CLUSTER_ID: Final = "cluster_id"


def _settings() -> object:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel(P.NAME_PY),
            cll.ExactMatchLevel(P.NAME_CLEAN, term_frequency_adjustments=True),
            cll.ExactMatchLevel(P.NAME_PY),
            cll.JaroWinklerLevel(P.NAME_PY, 0.92),
            cll.JaroWinklerLevel(P.NAME_PY, 0.8),
            cll.ElseLevel(),
        ],
        comparison_description="Han name, then its pinyin",
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=P.UID,
        comparisons=[
            cl.LevenshteinAtThresholds(P.ID, [1, 2]),
            name,
            cl.DateOfBirthComparison(P.DOB, input_is_string=False),
            cl.ExactMatch(P.PHONE),
            cl.ExactMatch(P.SEX),
            cl.JaroWinklerAtThresholds(P.ADDRESS, [0.9, 0.75]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on(P.ID),
            # the name alone, not name + DOB: a third of the records (court, volunteer,
            # hospital) have neither a birth date nor a full ID
            block_on(P.NAME_CLEAN),
            block_on(P.NAME_PY, P.DOB),
            block_on(P.PHONE),
            block_on(P.SURNAME_PY, P.DOB),
            block_on(P.SURNAME_PY, P.ADDRESS),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def main(argv: list[str] | None = None) -> None:
    args = R.parse_args("splink_peer", argv, __doc__)
    try:
        import splink
        from splink import DuckDBAPI, Linker, block_on
    except ImportError as exc:
        raise R.PeerError(f"splink is not installed ({exc}); pip install 'splink>=5'") from exc

    stages = R.Stages()
    notes: list[str] = []
    with stages.stage("load"):
        records = R.read_records(args.records)
    with stages.stage("prepare"):
        prepared = P.prepare(records)
    with stages.stage("train"):
        db_api = DuckDBAPI()
        table = db_api.register(prepared.to_arrow(), dataset_display_name="records")
        linker = Linker(table, _settings(), log_level=logging.WARNING)
        try:
            linker.training.estimate_probability_two_random_records_match(
                [block_on(P.ID), block_on(P.NAME_PY, P.DOB)], recall=LAMBDA_RECALL
            )
        except Exception as exc:  # noqa: BLE001 - keep the default prior, say so
            notes.append(f"lambda estimate failed, default prior kept: {exc}")
        linker.training.estimate_u_using_random_sampling(
            max_pairs=min(U_MAX_PAIRS, max(1e5, prepared.height**2 / 4)), seed=args.seed
        )
        for rule in (block_on(P.NAME_PY), block_on(P.DOB)):
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, max_pairs=EM_MAX_PAIRS
                )
            except Exception as exc:  # noqa: BLE001 - small inputs may leave EM nothing to do
                notes.append(f"EM on {rule!r} failed: {exc}")
    with stages.stage("predict"):
        predictions = linker.inference.predict()
        candidate_pairs = predictions.query_sql("select count(*) as n from {this}").as_dict()
        pairs = pl.from_arrow(
            predictions.query_sql(
                f"select {P.UID}_l as {R.ROW_L}, {P.UID}_r as {R.ROW_R}, match_probability "
                "from {this}"
            ).as_pyarrow_table()
        )
    with stages.stage("cluster"):
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=args.threshold
        )
        by_row = (
            pl.from_arrow(clusters.as_pyarrow_table())
            .select(pl.col(P.UID), pl.col(CLUSTER_ID).rank("dense").cast(pl.Int64))
            .sort(P.UID)
        )
        labels = np.full(records.height, -1, dtype=np.int64)
        labels[by_row.get_column(P.UID).to_numpy()] = by_row.get_column(CLUSTER_ID).to_numpy()
        # any record Splink did not return stays alone
        missing = labels < 0
        labels[missing] = labels.max(initial=0) + 1 + np.arange(int(missing.sum()))
    R.write_outputs(
        args.out,
        tool=TOOL,
        version=splink.__version__,
        crosswalk_frame=R.crosswalk(records, labels),
        stages=stages,
        candidate_pairs=int(candidate_pairs["n"][0]),
        threshold=args.threshold,
        pairs=pairs,
        notes=notes,
    )


if __name__ == "__main__":
    sys.exit(R.run_main(main))
