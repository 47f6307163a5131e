"""The data-diet schedule of Paul et al. 2022 (004, §3, Fig. 5, Appendix A): pre-training lengths
t*/2 and t*, EL2N scored at the paper's step, all CIFAR-10 training images, and the study on an
empty validation split."""
import gin
import numpy as np
import pandas as pd
import pytest

from lth_tf.data import DatasetHparams, steps_per_epoch
from lth_tf.errors import ConfigError
from lth_tf.training import TrainingHparams, to_steps
from pipelines.data_diet import data_diet
from pipelines.runner import Runner


def parsed(config):
    from pipelines import run
    run.register_everything()
    gin.clear_config()
    run.parse_config(config, [])


def test_cifar10_config_trains_on_all_50000_images_and_scores_el2n_at_step_7800():
    try:
        parsed("configs/data_diet_cifar10.gin")
        dataset, training = DatasetHparams(), TrainingHparams()
        assert dataset.val_fraction == 0.0
        spe = steps_per_epoch(round(50000 * (1 - dataset.val_fraction)), training.batch_size)
        # Appendix A: "ResNet-20 and t = 7800 iterations for CIFAR-10"; 62,400 training steps.
        assert to_steps(gin.query_parameter("data_diet.scoring_steps"), spe) == 7800
        assert training.total_steps(spe) == 62400
    finally:
        gin.clear_config()


def test_default_config_scores_el2n_at_the_papers_fraction_of_training():
    # The paper scores at 7,800 of 62,400 steps (1/8 of training); the default trains 20 epochs.
    try:
        parsed("configs/data_diet.gin")
        training = TrainingHparams()
        for spe in (57, 100):
            scoring, total = to_steps(gin.query_parameter("data_diet.scoring_steps"), spe), training.total_steps(spe)
            assert abs(scoring - total * 7800 / 62400) <= 0.5  # up to rounding to a whole step
    finally:
        gin.clear_config()


@pytest.fixture
def empty_val_gin():
    gin.clear_config()
    gin.parse_config("""
        DatasetHparams.name = 'digits'
        DatasetHparams.val_fraction = 0.0
        ModelHparams.width = 0.1
        TrainingHparams.budget = '2ep'
        TrainingHparams.batch_size = 64
        pretrain/TrainingHparams.lr = 0.2
        PruningHparams.levels = 1
        PruningHparams.fraction = 0.5
        MaskSearchParams.export = False
    """)
    yield
    gin.clear_config()


def test_study_runs_on_an_empty_validation_split_with_both_pretraining_lengths(tmp_path, empty_val_gin):
    data_diet(Runner(tmp_path, verbose=False), baselines=("0it",), t_star="8it", pretrain_steps=("4it", "8it"),
              schemes=("all",), label_noise=())
    results = pd.read_csv(tmp_path / "results.csv")
    assert list(dict.fromkeys(results["variant"])) == ["rewind_init", "pretrain_all_4it", "pretrain_all_8it"]
    assert results["val_accuracy"].isna().all() and results["test_accuracy"].notna().all()
    # All 1,437 digits training images (no hold-out): 23 steps per epoch of 64.
    assert (results["subset_size"].iloc[2:] == 1437).all()
    rows = results.set_index(["variant", "level"])
    total = 2 * 23
    for t in (4, 8):
        np.testing.assert_array_equal(rows.loc[f"pretrain_all_{t}it"]["train_steps"],
                                      [t + (total - t) * (level + 1) for level in range(2)])
    report = (tmp_path / "report.md").read_text()
    # The reference w_t* is all data pre-trained for t* steps (the paper's w_{t*}), and the report says so.
    assert "The reference w_t* is `pretrain_all_8it` (all data pre-trained for t* = 8it)" in report
    assert "weakly dominates w_t*" in report and "2 pooled standard errors" in report
    matrix_row, = [line for line in report.splitlines() if line.startswith("| pretrain_all_8it |") and "·" in line]
    cells = matrix_row.strip("| ").split(" | ")
    assert set(cells[1:-1]) <= {"D", "W", "-", "·"} and cells[-1] == "yes (reference)"  # + matching column
    matching_row, = [line for line in report.splitlines() if line.startswith("| pretrain_all_8it | yes (reference)")]


def test_reference_w_tstar_must_be_trained(tmp_path, empty_val_gin):
    with pytest.raises(ConfigError, match="t_star"):
        data_diet(Runner(tmp_path, verbose=False), baselines=("0it",), t_star="8it", pretrain_steps=("4it",),
                  schemes=("all",), label_noise=())
    with pytest.raises(ConfigError, match="positive"):
        data_diet(Runner(tmp_path, verbose=False), baselines=("0it",), t_star="0it", schemes=("all",))
