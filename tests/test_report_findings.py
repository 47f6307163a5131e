"""The findings paragraph and glossary every report opens / closes with, on hand-computable
verdicts, and the stability table showing only reached sparsities."""
import numpy as np
import pandas as pd

from components.reports import report as report
from components.reports import text as report_text
from components.reports.stability import report as stability_report
from lth_tf.metrics.verdicts import VerdictRule


def _rows(variant, level, sparsity, values):
    return [{"variant": variant, "seed": s, "level": level, "sparsity": sparsity, "test_accuracy": v,
             "train_steps": 1} for s, v in enumerate(values)]


def test_findings_from_a_synthetic_results_table():
    # dense: mean 0.91, std 0.0141 -> a ticket matches from 0.8959 up.
    frame = pd.DataFrame(
        _rows("dense", 0, 0.0, [0.90, 0.92])
        + _rows("lt_imp", 1, 0.5, [0.95, 0.95]) + _rows("rr_imp", 1, 0.5, [0.80, 0.80])  # wins: gap 0.15
        + _rows("lt_imp", 2, 0.75, [0.93, 0.93]) + _rows("rr_imp", 2, 0.75, [0.70, 0.70])  # wins
        + _rows("lt_imp", 3, 0.875, [0.85, 0.85]) + _rows("rr_imp", 3, 0.875, [0.60, 0.60])  # 0.85 < 0.8959
        + _rows("lt_omp", 1, 0.5, [0.90, 0.90]) + _rows("rr_omp", 1, 0.5, [0.899, 0.899]))  # matches, no gap
    verdict = report.verdicts(frame, "test_accuracy", VerdictRule())
    text = report.findings(verdict)
    assert "`lt_imp` up to 75.0% sparsity (25% of the weights remaining), level 2 (0.9300 vs. dense 0.9100; " \
           "2 of 3 levels)" in text
    assert "None at any level from `lt_omp`" in text
    assert "Matching the dense network without a win: `lt_omp` up to 50.0% sparsity (50% of the weights remaining; 0.9000 vs. dense 0.9100)" in text
    assert "`lt_imp` clears RR" in text


def test_no_winner_is_said_so():
    rows = pd.DataFrame([{"name": "a", "level": 1, "sparsity": 0.5, "matches": False, "winning": False,
                          "value": 0.5, "reference": 0.9}])
    assert "No configuration gives winning tickets" in report_text.level_findings(rows)


def test_glossary_lists_only_the_terms_used():
    text = report_text.glossary("config mu0.9_bs128_rw0it at L5 beats rr; AIMP")
    assert "**rw0it**" in text and "**level, L5**" in text and "**AIMP**" in text
    assert "**RR / rr**" in text
    assert "EL2N" not in text and "PrAC" not in text
    assert report_text.glossary("nothing here") == ""


def _grid(levels_sparsity):
    rows = []
    for level, sparsity in levels_sparsity.items():
        for seed in (0, 1):
            rows.append({"config": "mu0.9_bs128_rw0it", "training_config": "mu0.9_bs128", "momentum": 0.9,
                         "batch_size": 128, "rewind": "0it", "seed": seed, "level": level, "sparsity": sparsity,
                         "test_accuracy": 0.9 - 0.01 * level, "val_accuracy": 0.9 - 0.01 * level})
    return pd.DataFrame(rows)


def test_unreached_sparsities_are_not_filled_with_the_last_level():
    grid = _grid({0: 0.0, 1: 0.6, 2: 0.84})
    printed, long = stability_report.ticket_table(grid, (0.0, 0.6723, 0.8926, 0.9648))
    row = printed.iloc[0]
    assert row["89.26%"] == "—" and row["96.48%"] == "—"
    assert "(L1: 60.00%)" in row["67.23%"]  # reached, not exactly: nearest level named
    assert sorted(long.target_sparsity) == [0.0, 0.6723]  # no judged row for what was never reached


def test_stability_finding_names_stable_and_unstable_configurations():
    barriers = pd.DataFrame([{"config": c, "momentum": m, "batch_size": 128, "rewind": "0it", "kind": "noise",
                              "level": l, "barrier": b, "sparsity": s}
                             for c, m, l, b, s in (("mu0.9_bs128_rw0it", 0.9, 0, 0.01, 0.0),
                                                   ("mu0.9_bs128_rw0it", 0.9, 2, 0.015, 0.5),
                                                   ("mu0_bs128_rw0it", 0.0, 0, 0.08, 0.0),
                                                   ("mu0_bs128_rw0it", 0.0, 2, 0.05, 0.5))])
    text = stability_report.stability_finding(barriers, 0.02)
    assert "`mu0.9_bs128_rw0it` (all 2 levels measured, barrier at most 0.015)" in text
    assert "Unstable at every level measured: `mu0_bs128_rw0it` (barrier 0.050 or more)" in text
    assert np.isfinite(barriers.barrier).all()


def test_prac_findings_from_hand_made_verdicts():
    from components.reports.prac import report as prac_report
    verdicts = pd.DataFrame([
        {"variant": "prac", "level": 1, "sparsity": 0.2, "mean": 0.90, "seeds": 2, "dense_mean": 0.91,
         "matches_dense": True, "matches_lt_imp": True, "clear_gap_over_random_pruning": True},
        {"variant": "prac", "level": 2, "sparsity": 0.36, "mean": 0.80, "seeds": 2, "dense_mean": 0.91,
         "matches_dense": False, "matches_lt_imp": True, "clear_gap_over_random_pruning": True},
        {"variant": "random_pruning", "level": 1, "sparsity": 0.2, "mean": 0.70, "seeds": 2, "dense_mean": 0.91,
         "matches_dense": False, "matches_lt_imp": False, "clear_gap_over_random_pruning": np.nan}])
    saved = pd.DataFrame([{"variant": "prac", "matched_level": 2, "search_steps": 300.0, "search_steps_imp": 400.0,
                           "search_saving": 0.25}])
    text = " ".join(prac_report.findings(verdicts, saved, "prac"))
    assert "`prac` up to 20.0% sparsity (80% of the weights remaining), level 1 (0.9000 vs. dense 0.9100; " \
           "1 of 2 levels)" in text
    assert "None at any level from `random_pruning`" in text
    assert "`prac` matches vanilla IMP up to 36.0% sparsity" in text
    assert "300 training steps against vanilla IMP's 400: 25% fewer" in text
