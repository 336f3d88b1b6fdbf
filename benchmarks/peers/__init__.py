"""Peer linkers run by :mod:`benchmarks.compare`, each as ``python -m benchmarks.peers.<tool>``.

Every peer reads one records file in the canonical raw schema and writes into its
output directory (contract in :mod:`benchmarks.peers._runner`):

* ``crosswalk.parquet``: source, record_id, person_id (one row per input record);
* ``stats.json``: stage timings, candidate-pair count, peak RSS, notes;
* optionally ``pairs.parquet``: row_l, row_r, match_probability of the scored pairs
  (row numbers of the input file), on which the harness measures blocking recall and
  sweeps clustering thresholds.
"""
