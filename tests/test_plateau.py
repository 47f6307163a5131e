"""The plateau check (lth_tf/metrics/plateau.py) on hand-made histories, and its section in every
default study's report (components/reports/plateau.py) on stub ticket searches."""
import dataclasses
from pathlib import Path
from types import SimpleNamespace

import lth_tf  # noqa: F401  (first: it sets TF_USE_LEGACY_KERAS)
import numpy as np
import pandas as pd
import pytest

from components.reports.stability import report as stability_report
from components.artifacts import Tickets
from components.mask_search import MaskSearchParams
from components.reports.data_diet import sections as diet_sections
from components.reports.prac import sections as prac_sections
from components.reports.sanity import sections as sanity_sections
from lth_tf.data import DatasetHparams
from lth_tf.io import atomic_path, write_csv, write_json
from lth_tf.metrics.plateau import plateau
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams
from pipelines.runner import _describe


def _history(curve, spe=10, start=0):
    return [{"epoch": (start + spe * (i + 1)) / spe, "step": start + spe * (i + 1), "val_accuracy": a}
            for i, a in enumerate(curve)]


def test_a_run_still_rising_in_its_last_fifth_has_not_reached_its_plateau():
    # 10 epochs: 80% is epoch 8 exactly; 0.70 -> 0.72 is 2 points in the last 20%.
    check = plateau(_history([0.3, 0.4, 0.5, 0.6, 0.65, 0.67, 0.69, 0.70, 0.71, 0.72]))
    assert (check.at_80, check.at_end) == pytest.approx((0.70, 0.72)) and check.gain == pytest.approx(0.02)
    assert not check.reached


def test_a_flat_end_reaches_it_and_a_noisy_dip_does_not_count_as_gain():
    flat = plateau(_history([0.3, 0.5, 0.6, 0.7, 0.702, 0.68, 0.703, 0.701, 0.704, 0.699]))
    assert flat.reached and flat.gain == pytest.approx(0.001)  # best so far: 0.703 at 80%, 0.704 at the end
    # A dip and recovery (0.6 -> 0.5 -> 0.6) gains nothing over the best so far.
    dip = plateau(_history([0.4, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.5, 0.6]))
    assert dip.gain == 0.0 and dip.reached


def test_the_value_at_80_percent_is_interpolated_between_epochs():
    # 6 epochs: 80% is step 48, between epoch 4 (0.60) and epoch 5 (0.70): 0.68, not epoch 4's 0.60.
    check = plateau(_history([0.3, 0.4, 0.5, 0.6, 0.7, 0.7]))
    assert check.at_80 == pytest.approx(0.68) and check.gain == pytest.approx(0.02) and not check.reached


def test_the_window_is_the_runs_own_steps_from_its_start():
    # A run from step 100 (a rewound or pre-trained start) to 200: 80% is step 180, not 160.
    history = _history([0.5, 0.6, 0.7, 0.8, 0.9, 0.91, 0.92, 0.93, 0.94, 0.945], start=100)
    assert plateau(history, start_step=100).at_80 == pytest.approx(0.93)
    assert plateau(history).at_80 == pytest.approx(0.91)  # counted from step 0: step 160


def test_too_few_epochs_or_no_validation():
    one = plateau(_history([0.9]))  # its only epoch ends at 100%: nothing known at 80%
    assert np.isnan(one.at_80) and not one.reached
    with pytest.raises(ValueError, match="no validation accuracy"):
        plateau(_history([float("nan")] * 3))


# --- the report sections, on stub searches (artifact.json + level_00/{history.csv, metrics.json}) ---

def _search(root: Path, name: str, curve, seed=0, lr=0.1, momentum=0.9, batch_size=128, rewind="0it", start=0):
    params = MaskSearchParams(DatasetHparams("mnist1d"), ModelHparams("lenet_300_100"),
                              TrainingHparams(lr=lr, momentum=momentum, batch_size=batch_size),
                              PruningHparams(rewind=rewind), seed=seed, export=False)
    path = root / name
    path.mkdir(parents=True)
    write_json(path / "artifact.json", {"type": "Tickets", "producer": "MaskSearch", "parameters": _describe(params),
                                        "inputs": {}, "summary": {}, "files": {}})
    with atomic_path(path / "level_00", is_dir=True) as unit:
        write_csv(unit / "history.csv", pd.DataFrame(_history(curve, start=start)))
        write_json(unit / "metrics.json", {"own_steps": 10 * len(curve)})
    return Tickets.at(path)


RISING = [0.3, 0.4, 0.5, 0.6, 0.65, 0.67, 0.69, 0.70, 0.71, 0.72]
FLAT = [0.3, 0.5, 0.6, 0.7, 0.702, 0.70, 0.703, 0.701, 0.704, 0.699]


def test_stability_report_checks_each_training_configuration_and_flags_the_unconverged(tmp_path):
    searches = [_search(tmp_path, "a", FLAT, seed=0, rewind="0it"),
                _search(tmp_path, "b", RISING, seed=0, rewind="1ep"),  # the same dense network: not read again
                _search(tmp_path, "c", FLAT, seed=1),
                _search(tmp_path, "d", FLAT, seed=0, momentum=0.0, batch_size=512),
                _search(tmp_path, "e", RISING, seed=1, momentum=0.0, batch_size=512)]
    out = tmp_path / "report"
    out.mkdir()
    s = stability_report.plateau(SimpleNamespace(inputs={"searches": searches}, out=out))
    table = pd.read_csv(out / "plateau.csv")
    assert list(table.configuration) == ["mu0.9_bs128", "mu0_bs512"] and list(table.seeds) == [2, 2]
    assert list(table.reached) == ["yes", "no"]  # mu0_bs512's seed 1 is still rising
    assert "| mu0_bs512 | 2 |" in s.text and "val. accuracy at 80%" in s.text
    assert s.findings == ("The dense network of 1 configuration (mu0_bs512) did not reach its plateau (its last 20% "
                          "of training gained 0.5 point of validation accuracy or more): it was still improving when "
                          "training stopped, so comparisons with it are confounded by under-training.",)
    assert s.summary["plateau_missed"] == 1
    assert "plateau" in [f.__name__ for f in stability_report.SECTIONS]


def test_searches_without_a_validation_split_say_the_check_was_not_made(tmp_path):
    searches = [_search(tmp_path, "a", [float("nan")] * 4)]
    out = tmp_path / "report"
    out.mkdir()
    s = stability_report.plateau(SimpleNamespace(inputs={"searches": searches}, out=out))
    assert "Not checked: the dense networks were trained without a validation split" in s.text
    assert not (out / "plateau.csv").exists() and not s.findings


def test_sanity_data_diet_and_prac_reports_show_the_check(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    sanity = sanity_sections.plateau(SimpleNamespace(inputs={"searches": [
        _search(tmp_path, "s1", RISING, lr=0.005), _search(tmp_path, "s2", FLAT, lr=0.3)]}, out=out))
    assert "| lr 0.005 | 1 |" in sanity.text and "1 learning rate (lr 0.005) did not reach" in sanity.findings[0]
    # Data diet: one row per variant; a pre-trained start (step 60) is the run's own start.
    diet = diet_sections.plateau(SimpleNamespace(
        artifacts=[_search(tmp_path, "d1", FLAT), _search(tmp_path, "d2", FLAT, start=60)],
        p=SimpleNamespace(variants=("rewind_init", "pretrain_all_60it")), out=out))
    assert "| pretrain_all_60it | 1 |" in diet.text
    assert diet.findings == ("The dense network of every variant reached its plateau (its last 20% of training "
                             "gained less than 0.5 point of validation accuracy).",)
    prac = prac_sections.plateau(SimpleNamespace(inputs={"vanilla": [_search(tmp_path, "v", RISING)]}, out=out))
    assert "| vanilla IMP | 1 |" in prac.text and "1 recipe (vanilla IMP) did not reach" in prac.findings[0]
    # No dense network to judge (e.g. PrAC without vanilla IMP): no section.
    assert prac_sections.plateau(SimpleNamespace(inputs={}, out=out)).text == ""
