"""The one winning-ticket rule (lth_tf/metrics/verdicts.py), on hand-computed cases."""
import numpy as np
import pytest

from lth_tf.errors import ConfigError
from lth_tf.metrics.verdicts import Stats, VerdictRule


def test_stats_use_sample_std_and_ignore_nan():
    s = Stats.of([0.70, 0.72, np.nan])
    assert s.n == 2 and s.mean == pytest.approx(0.71)
    assert s.std == pytest.approx(np.sqrt(2) * 0.01)  # ddof=1
    assert Stats.of([0.5]).std == 0.0


def test_matching_is_within_one_reference_std_or_better():
    rule = VerdictRule()
    dense = [0.70, 0.72]  # mean 0.71, std 0.01414
    assert rule.matches([0.697], dense)  # 0.697 >= 0.71 - 0.01414 = 0.69586
    assert not rule.matches([0.695], dense)
    assert rule.matches([0.80], dense)
    # one reference seed: std 0, so the ticket must be at least as good
    assert rule.matches([0.70], [0.70]) and not rule.matches([0.6999], [0.70])
    assert not rule.matches([], dense)


def test_clear_gap_needs_two_pooled_standard_errors_and_half_a_point():
    rule = VerdictRule(std_errors=2.0, min_gap=0.005)
    # single seeds: standard error 0, so the 0.5-point floor decides (a 0.05-point margin is no win)
    assert not rule.clear_gap([0.7005], [0.7000])
    assert rule.clear_gap([0.7060], [0.7000])
    # three seeds each, std 0.02: pooled SE = sqrt(2 * 0.02**2 / 3) = 0.01633; threshold 0.03266
    a, b = [0.78, 0.80, 0.82], [0.755, 0.775, 0.795]
    assert rule.threshold(a, b) == pytest.approx(2 * np.sqrt(2 * 0.02 ** 2 / 3))
    assert not rule.clear_gap(a, b)  # gap 0.025 < 0.0327
    assert rule.clear_gap(a, [0.735, 0.755, 0.775])  # gap 0.045
    assert not rule.clear_gap(b, a)  # direction matters
    assert not rule.clear_gap(a, [])


def test_rule_rejects_out_of_range_settings():
    with pytest.raises(ConfigError, match="min_gap"):
        VerdictRule(min_gap=1.5)
    with pytest.raises(ConfigError, match="std_errors"):
        VerdictRule(std_errors=-1)
    assert "2 pooled standard errors" in VerdictRule().describe()


def test_report_verdict_uses_the_rule_not_a_bare_margin():
    """components/reports/report.py used to call a 0.05-point margin over RR a win; by the one rule a
    single-seed margin must exceed 0.5 point, and matching uses the dense network's std."""
    import pandas as pd

    from components.reports.report import verdicts

    def rows(variant, level, accs):
        return [{"variant": variant, "level": level, "seed": s, "sparsity": 1 - 0.8 ** level, "test_accuracy": a}
                for s, a in enumerate(accs)]
    frame = pd.DataFrame(rows("dense", 0, [0.70, 0.72]) + rows("lt_imp", 1, [0.7005]) + rows("rr_imp", 1, [0.7000])
                         + rows("lt_imp", 2, [0.72]) + rows("rr_imp", 2, [0.69]) + rows("lt_imp", 3, [0.68])
                         + rows("rr_imp", 3, [0.60]))
    v = verdicts(frame, "test_accuracy", VerdictRule()).set_index("level")
    assert not v.loc[1, "winning"] and v.loc[1, "why_not"] == "no clear gap over RR"
    assert v.loc[2, "winning"] and v.loc[2, "why_not"] == ""
    # 0.68 < 0.71 - 0.0141: below dense by more than one dense std, though far above RR
    assert not v.loc[3, "winning"] and v.loc[3, "why_not"] == "does not match dense"
