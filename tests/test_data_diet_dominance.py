"""Dominance and matching initializations as the data-diet paper defines them (Paul et al. 2022,
§3, Definitions 3.1 and 3.2), on hand-made accuracy curves: no training."""
import numpy as np
import pandas as pd
import pytest

from components.reports.data_diet.report import DataDietReportParams, dominance, dominance_matrix, matching, mean_pm_std, \
    relation
from lth_tf.errors import ConfigError
from lth_tf.metrics.verdicts import VerdictRule


def summary_of(curves, stds=None, seeds=1):
    """A summary_table-like frame: level 0 (dense) plus sparse levels 1..n per variant."""
    rows = []
    for variant, accs in curves.items():
        std = (stds or {}).get(variant, [0.0] * len(accs))
        rows.append({"variant": variant, "level": 0, "sparsity": 0.0, "mean": 0.9, "std": 0.0, "seeds": seeds,
                     "train_steps": 1})
        for level, (acc, s) in enumerate(zip(accs, std), start=1):
            rows.append({"variant": variant, "level": level, "sparsity": 1 - 0.5 ** level, "mean": acc, "std": s,
                         "seeds": seeds, "train_steps": 1})
    return pd.DataFrame(rows)


def pair(table, a, b):
    row, = table[(table.a == a) & (table.b == b)].itertuples()
    return row


def test_identical_curves_weakly_dominate_each_other_and_neither_dominates():
    # Before the fix, "dominates" meant no-worse: each of two identical curves "dominated" the other.
    table = dominance(summary_of({"a": [0.8, 0.7, 0.6], "b": [0.8, 0.7, 0.6]}))
    for x, y in (("a", "b"), ("b", "a")):
        assert pair(table, x, y).weakly_dominates and not pair(table, x, y).dominates
    assert relation([0.8, 0.7], [0.8, 0.7]) == "W"


def test_strictly_above_everywhere_dominates_and_the_lower_curve_neither():
    table = dominance(summary_of({"high": [0.81, 0.71, 0.61], "low": [0.8, 0.7, 0.6]}))
    assert pair(table, "high", "low").dominates and pair(table, "high", "low").weakly_dominates
    assert not pair(table, "low", "high").dominates and not pair(table, "low", "high").weakly_dominates
    assert relation([0.81, 0.71], [0.8, 0.7]) == "D" and relation([0.8, 0.7], [0.81, 0.71]) == "-"


def test_better_everywhere_but_equal_at_one_level_is_weak_dominance_only():
    table = dominance(summary_of({"a": [0.85, 0.7, 0.65], "b": [0.8, 0.7, 0.6]}))
    assert pair(table, "a", "b").weakly_dominates and not pair(table, "a", "b").dominates
    assert not pair(table, "b", "a").weakly_dominates


def test_a_tiny_loss_at_one_level_breaks_weak_dominance_whatever_the_seed_std():
    # Before the fix, weak dominance allowed a loss up to max(tolerance, std): here 0.001 < std 0.02.
    summary = summary_of({"a": [0.9, 0.699, 0.7], "b": [0.8, 0.7, 0.6]},
                         stds={"a": [0.02] * 3, "b": [0.02] * 3}, seeds=3)
    row = pair(dominance(summary), "a", "b")
    assert not row.weakly_dominates and not row.dominates
    assert row.max_std_a == pytest.approx(0.02) and row.worst_gap == pytest.approx(-0.001)


def test_crossing_curves_and_float_rounding():
    table = dominance(summary_of({"a": [0.9, 0.5], "b": [0.8, 0.6]}))
    assert not pair(table, "a", "b").weakly_dominates and not pair(table, "b", "a").weakly_dominates
    # Means equal up to float rounding count as equal (0.1 + 0.2 != 0.3 in binary floating point).
    assert relation([0.1 + 0.2], [0.3]) == "W" and relation([0.3], [0.1 + 0.2]) == "W"
    assert relation([], []) == "-" and relation([np.nan], [0.5]) == "-"


def test_only_common_sparse_levels_count_and_the_dense_level_does_not():
    summary = summary_of({"short": [0.9], "long": [0.8, 0.95]})
    summary.loc[(summary.variant == "short") & (summary.level == 0), "mean"] = 0.1  # dense level: ignored
    row = pair(dominance(summary), "short", "long")
    assert row.levels == 1 and row.dominates


def test_matrix_marks_d_w_and_dash():
    summary = summary_of({"high": [0.9, 0.8], "tie": [0.8, 0.8], "low": [0.8, 0.7]})
    matrix = dominance_matrix(dominance(summary), ["high", "tie", "low"]).set_index("A \\ B")
    assert matrix.loc["high", "low"] == "D" and matrix.loc["tie", "low"] == "W" and matrix.loc["high", "tie"] == "W"
    assert matrix.loc["low", "high"] == "-" and matrix.loc["low", "tie"] == "-" and matrix.loc["tie", "tie"] == "·"


def test_matching_initialization_is_weak_dominance_of_the_reference():
    summary = summary_of({"w_tstar": [0.8, 0.7, 0.6], "tie": [0.8, 0.7, 0.6], "easy": [0.82, 0.72, 0.62],
                          "dips": [0.9, 0.9, 0.599]})
    table = matching(summary, dominance(summary), "w_tstar", VerdictRule()).set_index("variant")
    assert table.loc["w_tstar", "matching initialization"] == "yes (reference)"
    assert table.loc["tie", "matching initialization"] == "yes" and table.loc["tie", "dominates w_t*"] == "no"
    assert table.loc["easy", "matching initialization"] == "yes" and table.loc["easy", "dominates w_t*"] == "yes"
    assert table.loc["dips", "matching initialization"] == "no"
    # The clear-gap rule is reported beside it: one seed, so 0.5 points decide; a 0.1-point dip is no clear gap.
    assert table.loc["dips", "w_t* clearly better at levels"] == ""
    assert table.loc["dips", "clearly better than w_t* at levels"] == "1 2"
    assert table.loc["easy", "clearly better than w_t* at levels"] == "1 2 3"


def test_seed_std_is_shown_beside_the_means():
    summary = summary_of({"a": [0.8, 0.7]}, stds={"a": [0.01, 0.02]}, seeds=3)
    table = mean_pm_std(summary, ["a"]).set_index("level")
    assert table.loc[1, "a"] == "0.8000 ± 0.0100" and table.loc[2, "a"] == "0.7000 ± 0.0200"
    assert mean_pm_std(summary_of({"a": [0.8]}), ["a"]).set_index("level").loc[1, "a"] == "0.8000"
    assert matching(summary, dominance(summary), "a", VerdictRule()).loc[0, "max seed std"] == pytest.approx(0.02)


def test_reference_must_be_a_variant():
    with pytest.raises(ConfigError, match="reference"):
        DataDietReportParams(("a", "b"), ("all", "init"), reference="c")


def test_pretraining_needed_finding_is_measured_on_this_run():
    """The report says whether IMP from init falls behind w_t* at the highest level (one rule)."""
    from components.reports.data_diet.report import pretraining_needed_finding

    def summary(init, ref):
        rows = []
        for variant, acc in (("rewind_init", init), ("pretrain_all_120it", ref)):
            rows += [{"variant": variant, "level": lvl, "sparsity": 1 - 0.7 ** lvl, "mean": acc, "std": 0.002, "seeds": 2}
                     for lvl in (0, 10)]
        return pd.DataFrame(rows)
    rule = VerdictRule()
    assert "falls behind, as on CIFAR-10" in pretraining_needed_finding(summary(0.60, 0.70), "pretrain_all_120it", rule)
    said = pretraining_needed_finding(summary(0.70, 0.60), "pretrain_all_120it", rule)
    assert "rewinding to init is clearly better" in said and "does not fall behind" in said
    assert "no clear gap" in pretraining_needed_finding(summary(0.70, 0.701), "pretrain_all_120it", rule)
    assert pretraining_needed_finding(summary(0.7, 0.7), "rewind_120it", rule) == ""
