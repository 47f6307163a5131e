"""Pre-training on subsets, MaskSearch rewinding to pre-trained weights, and the data-diet
pipeline end to end on a tiny setting."""
import gin
import numpy as np
import pandas as pd
import pytest

from components import mask_search, pretraining, subset_slimming
from lth_tf import lottery
from lth_tf.data import DatasetHparams
from lth_tf.errors import ConfigError
from lth_tf.io import load_npz, read_json
from lth_tf.lottery.levels import search_steps_of
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, to_steps
from pipelines.data_diet import data_diet
from pipelines.runner import Runner

DATA = DatasetHparams(name="digits")
MODEL = ModelHparams(width=0.1)
TRAINING = TrainingHparams(budget="3ep", batch_size=64)  # 21 steps per epoch on digits


def test_search_from_pretrained_weights(tmp_path):
    runner = Runner(tmp_path, verbose=False)
    subset = runner.run(subset_slimming.SPEC, subset_slimming.SubsetSlimmingParams(DATA, rule="random_balanced", size=50))
    weights = runner.run(pretraining.SPEC, pretraining.PretrainingParams(DATA, MODEL, TRAINING, steps="10it"),
                         subset=subset)
    summary = weights.metadata["summary"]
    assert summary["steps"] == 10 and summary["train_steps"] == 10 and summary["subset_size"] == 50
    tickets = runner.run(mask_search.SPEC, mask_search.MaskSearchParams(
        DATA, MODEL, TRAINING, PruningHparams(levels=2), seed=0, export=False), pretrained=weights)
    # Every level rewinds to the pre-trained weights, at step t_r = 10.
    pre = load_npz(weights.path / "weights.npz")
    for level in range(3):
        rewind = tickets.load(level)["rewind"]
        assert all(np.array_equal(rewind[k], pre[k]) for k in pre)
    results = pd.read_csv(tickets.path / "results.csv")
    total = 3 * 21
    assert (results["rewind_step"] == 10).all() and (results["own_steps"] == total - 10).all()
    # train_steps: pre-training, the dense run from t_r, then each earlier level's retraining.
    np.testing.assert_array_equal(results["train_steps"], [10 + (total - 10) * (level + 1) for level in range(3)])
    with pytest.raises(ConfigError, match="rewind"):
        runner.run(mask_search.SPEC, mask_search.MaskSearchParams(
            DATA, MODEL, TRAINING, PruningHparams(levels=1, rewind="5it"), export=False), pretrained=weights)


def test_search_steps_without_upstream_work_are_unchanged():
    for method in ("imp", "omp", "random"):
        for level in (1, 3):
            old = {"imp": 100 + (level - 1) * (100 - 7), "omp": 100, "random": 0}[method]
            plan = lottery.Plan(method, 3, 0.2, "global", rewind_step=7, seed=0)
            assert search_steps_of(plan, level, 100) == old


def artifacts(root, component):
    return [read_json(p / "artifact.json") for p in (root / "artifacts" / component).iterdir()]


@pytest.fixture
def tiny_gin():
    gin.clear_config()
    gin.parse_config("""
        DatasetHparams.name = 'digits'
        ModelHparams.width = 0.1
        TrainingHparams.budget = '2ep'
        TrainingHparams.batch_size = 64
        pretrain/TrainingHparams.lr = 0.2
        PruningHparams.levels = 2
        PruningHparams.fraction = 0.5
        DataScoringParams.batch_size = 256
        MaskSearchParams.export = False
    """)
    yield
    gin.clear_config()


def test_data_diet_pipeline_end_to_end(tmp_path, tiny_gin):
    runner = Runner(tmp_path, verbose=False)
    data_diet(runner, baselines=("0it", "8it"), pretrain_steps=("8it",), schemes=("el2n_easy",),
              fractions=(0.2,), label_noise=(0.5,), noise_schemes=("el2n_easy_balanced",), scoring_networks=2,
              scoring_steps="5it", t_star="8it")
    results = pd.read_csv(tmp_path / "results.csv")
    assert list(results.columns[:14]) == ["study", "variant", "seed", "level", "sparsity", "val_accuracy",
                                          "test_accuracy", "train_steps", "scheme", "subset_size", "subset_fraction",
                                          "label_noise", "pretrain_steps", "scoring_steps"]
    variants = ["rewind_init", "rewind_8it", "pretrain_el2n_easy_20pct", "pretrain_noise50pct_el2n_easy_balanced_20pct"]
    assert list(dict.fromkeys(results["variant"])) == variants
    assert len(results) == 3 * len(variants) and (results["study"] == "data_diet").all()
    np.testing.assert_allclose(results.groupby("level")["sparsity"].first(), [0, 0.5, 0.75])
    rows = results.set_index(["variant", "level"])
    total = 2 * 21
    # EL2N subset: 2 scoring networks x 5 steps, 8 pre-training steps, then IMP from step 8.
    easy = rows.loc["pretrain_el2n_easy_20pct"]
    assert easy.loc[0, "scoring_steps"] == 10 and easy.loc[0, "pretrain_steps"] == 8
    np.testing.assert_array_equal(easy["train_steps"], [18 + (total - 8) * (level + 1) for level in range(3)])
    noisy = rows.loc["pretrain_noise50pct_el2n_easy_balanced_20pct"]
    assert noisy.loc[0, "label_noise"] == 0.5 and noisy.loc[0, "subset_size"] == round(0.2 * 1293)
    np.testing.assert_array_equal(rows.loc["rewind_init"]["train_steps"], [total * (level + 1) for level in range(3)])
    # Reports: dominance over every ordered pair, the markdown report and the plot.
    dominance = pd.read_csv(tmp_path / "dominance.csv")
    assert len(dominance) == len(variants) * (len(variants) - 1)
    assert (dominance["weakly_dominates"] | ~dominance["dominates"]).all()  # dominance implies weak dominance
    # Dominance is strict: A dominating B and B dominating A cannot both hold.
    both = dominance.merge(dominance, left_on=["a", "b"], right_on=["b", "a"])
    assert not (both["dominates_x"] & both["dominates_y"]).any()
    report = (tmp_path / "report.md").read_text()
    assert "dominates" in report and "accuracy_vs_sparsity.png" in report
    assert len(pd.read_csv(tmp_path / "plateau.csv")) == len(set(variants))  # the plateau check per variant
    # No baseline pre-trains 'all' here, so the reference w_t* is standard IMP rewinding to t* = 8 steps.
    assert "The reference w_t* is `rewind_8it`" in report and "Definition 3.2" in report
    assert (tmp_path / "accuracy_vs_sparsity.png").exists()
    # The noisy pre-training saw the corrupted labels; its EL2N subset is class balanced.
    noisy_pretraining, = [a for a in artifacts(tmp_path, "Pretraining") if a["summary"]["label_noise"] == 0.5]
    assert "labels" in noisy_pretraining["inputs"]
    noisy_subset, = [a for a in artifacts(tmp_path, "SubsetSlimming") if a["summary"]["rule"] == "easiest"
                     and a["summary"].get("noise") == 0.5]
    assert max(noisy_subset["summary"]["class_histogram"]) - min(noisy_subset["summary"]["class_histogram"]) <= 1
    # A rerun reuses every artifact and writes the same results.
    again = Runner(tmp_path, verbose=False)
    data_diet(again, baselines=("0it", "8it"), pretrain_steps=("8it",), schemes=("el2n_easy",),
              fractions=(0.2,), label_noise=(0.5,), noise_schemes=("el2n_easy_balanced",), scoring_networks=2,
              scoring_steps="5it", t_star="8it")
    assert not again.executed
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "results.csv"), results)


def test_bad_scheme_names_fail_before_training(tmp_path, tiny_gin):
    with pytest.raises(ConfigError, match="el2n_easy"):
        data_diet(Runner(tmp_path, verbose=False), schemes=("el2n_medium",))


@pytest.mark.parametrize("config", ["configs/data_diet.gin", "configs/data_diet_cifar10.gin"])
def test_configs_parse(config):
    from pipelines import run
    run.register_everything()
    gin.clear_config()
    try:
        run.parse_config(config, [])
        assert gin.query_parameter("run_pipeline.pipeline").selector == "data_diet"
        training, pruning = TrainingHparams(), PruningHparams()
        with gin.config_scope("pretrain"):
            pretrain = TrainingHparams()
        assert pretrain.schedule == "constant" and pretrain.lr > training.lr and training.batch_size == 128
        assert pruning.method == "imp" and DatasetHparams().name in ("mnist1d", "cifar10")
        if "cifar10" in config:
            assert ModelHparams().name == "resnet20" and training.budget == "62400it" and pretrain.lr == 0.4
            assert gin.query_parameter("data_diet.baselines") == ("0it", "200it", "400it")
        # The paper's schedule (004, §3 and Fig. 5): subsets pre-trained for t*/2 and t* steps.
        t_star = to_steps(gin.query_parameter("data_diet.t_star"), 1)
        lengths = [to_steps(s, 1) for s in gin.query_parameter("data_diet.pretrain_steps")]
        assert lengths == [t_star // 2, t_star] and t_star == (400 if "cifar10" in config else 120)
        assert [to_steps(s, 1) for s in gin.query_parameter("data_diet.noise_pretrain_steps")] == [t_star // 2]
        assert "all" in gin.query_parameter("data_diet.schemes")  # w_{t*/2} and w_{t*}, the reference
    finally:
        gin.clear_config()
