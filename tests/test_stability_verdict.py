"""The stability report's winning-ticket mark follows the shared VerdictRule on validation
accuracy (003 §3.1), and the barrier split is checked before any work (003 eq. 3: validation
error by default). Toy frames and parameter objects only: no training."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

from pathlib import Path

import gin
import numpy as np
import pandas as pd
import pytest

from components.stability.instability import InstabilityParams
from components.stability.rewind import RewindSearchParams
from components.reports.stability.report import StabilityReportParams, ticket_table, verdict_metric
from lth_tf.errors import ConfigError
from lth_tf.metrics.verdicts import VerdictRule
import pipelines.run  # noqa: F401  (registers run_pipeline, which the shipped configs bind)
from pipelines.stability import stability

CONFIG = "mu0_bs64_rw0it"


def _grid(dense_val, ticket_val, dense_test=None, ticket_test=None):
    """Two seeds of one configuration: level 0 (dense) and level 1 (ticket, 20% sparse)."""
    dense_test = dense_val if dense_test is None else dense_test
    ticket_test = ticket_val if ticket_test is None else ticket_test
    rows = []
    for level, val, test in ((0, dense_val, dense_test), (1, ticket_val, ticket_test)):
        for seed, (v, t) in enumerate(zip(val, test)):
            rows.append({"config": CONFIG, "momentum": 0.0, "batch_size": 64, "rewind": "0it", "level": level,
                         "sparsity": 0.2 * level, "seed": seed, "val_accuracy": v, "test_accuracy": t})
    return pd.DataFrame(rows)


def _baseline(variant, val):
    return pd.DataFrame([{"config": CONFIG, "level": 1, "variant": variant, "seed": s, "val_accuracy": v,
                          "test_accuracy": v} for s, v in enumerate(val)])


def _ticket_row(grid, baselines=None, metric="val_accuracy"):
    _, long = ticket_table(grid, (0.2,), baselines, VerdictRule(), metric)
    return long.iloc[0]


def test_ticket_within_one_dense_std_is_winning():
    # Dense 0.80 / 0.90 (mean 0.85, std 0.071); ticket mean 0.83: below the dense mean (the old
    # rule said no), within one std of it (matching).
    row = _ticket_row(_grid([0.80, 0.90], [0.82, 0.84]))
    assert row.matches_dense and row.winning


def test_ticket_must_clearly_beat_its_baselines():
    grid = _grid([0.80, 0.80], [0.85, 0.85])  # above the dense network: matching
    tied = _ticket_row(grid, _baseline("rr_imp", [0.85, 0.85]))
    assert tied.matches_dense and not tied.winning and tied.baselines_not_beaten == "rr_imp"
    row = _ticket_row(grid, pd.concat([_baseline("rr_imp", [0.70, 0.71]), _baseline("random_mask", [0.84, 0.849])]))
    assert not row.winning and row.baselines_beaten == "rr_imp" and row.baselines_not_beaten == "random_mask"
    row = _ticket_row(grid, pd.concat([_baseline("rr_imp", [0.70, 0.71]), _baseline("random_mask", [0.60, 0.62])]))
    assert row.winning and row.baselines_beaten == "random_mask rr_imp"


def test_winning_is_judged_on_validation_accuracy():
    # Test accuracy says the ticket beats the dense network, validation accuracy that it does not.
    grid = _grid([0.80, 0.80], [0.70, 0.70], dense_test=[0.80, 0.80], ticket_test=[0.90, 0.90])
    assert verdict_metric(grid, "val_accuracy") == "val_accuracy"
    row = _ticket_row(grid)
    assert not row.winning and row["mean"] == pytest.approx(0.9) and row.judged_mean == pytest.approx(0.7)
    assert _ticket_row(grid, metric="test_accuracy").winning
    no_val = grid.assign(val_accuracy=np.nan)
    assert verdict_metric(no_val, "val_accuracy") == "test_accuracy"
    with pytest.raises(ConfigError, match="verdict_metric"):
        StabilityReportParams(verdict_metric="train_accuracy")


def test_barrier_split_defaults_to_validation_and_is_checked_at_construction():
    assert InstabilityParams().split == "val" and RewindSearchParams().split == "val"
    for params in (InstabilityParams, RewindSearchParams):
        with pytest.raises(ConfigError, match="not an evaluation split"):
            params(split="train")
        assert params(split="test").split == "test"


class _Stop(Exception):
    pass


class _Runner:
    """Records whether the pipeline got as far as running a component."""
    output_dir = Path("/nonexistent")
    ran = False

    def run(self, spec, params, **inputs):
        self.ran = True
        raise _Stop


@pytest.mark.parametrize("binding, message", [
    ("InstabilityParams.split = 'validation'", "not an evaluation split"),
    ("DatasetHparams.val_fraction = 0.0", "needs a validation split"),
])
def test_bad_barrier_split_fails_before_any_search(binding, message):
    repo = Path(__file__).resolve().parents[1]
    gin.clear_config()
    runner = _Runner()
    try:
        gin.parse_config_files_and_bindings([str(repo / "configs/stability.gin")], [binding], finalize_config=False)
        with pytest.raises(ConfigError, match=message):
            stability(runner)
    finally:
        gin.clear_config()
    assert not runner.ran


def test_late_rewinding_finding_is_measured_not_implied():
    """The report says whether IMP from init falls behind late rewinding on this run, by the
    one verdict rule at the highest level."""
    import pandas as pd

    from components.reports.stability.report import late_rewinding_finding
    from lth_tf.metrics.verdicts import VerdictRule

    def grid(init, late):
        rows = []
        for config, (a, b) in {"mu0.9_bs128": (init, late), "mu0_bs512": (init, late)}.items():
            for rewind, acc in (("0it", a), ("1ep", b)):
                rows += [{"training_config": config, "rewind": rewind, "level": lvl, "sparsity": 1 - 0.8 ** lvl,
                          "seed": s, "test_accuracy": acc + 0.001 * s} for lvl in (0, 5) for s in (0, 1)]
        return pd.DataFrame(rows)
    rule = VerdictRule()
    assert "late rewinding is clearly better in 2 of 2" in late_rewinding_finding(grid(0.60, 0.70), rule)
    assert "falls behind late rewinding here" in late_rewinding_finding(grid(0.60, 0.70), rule)
    said = late_rewinding_finding(grid(0.70, 0.60), rule)
    assert "rewinding to init clearly better in 2" in said and "does not fall behind" in said
    assert "neither in 2" in late_rewinding_finding(grid(0.70, 0.7001), rule)
    assert late_rewinding_finding(grid(0.7, 0.7).query("rewind == '0it'"), rule) == ""
