"""The sanity study's GPU configs are Table E.1's recipes (paper 002) and pass every check the
pipeline makes before its first execution (tfds' mock_data stands in for CIFAR-10, a tiny image
folder for Tiny-ImageNet); the embedded default's sweep and levels are what its comments say."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

from pathlib import Path

import gin
import numpy as np
import pytest

import pipelines.run  # noqa: F401  (registers run_pipeline, which the shipped configs bind)
from lth_tf.data import dataset as dataset_module
from pipelines.sanity import sanity

from pipeline_stubs import FirstRunStops, Stop  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _first_execution(config, bindings=(), mock=False):
    import tensorflow_datasets as tfds
    dataset_module._load_dataset.cache_clear()
    gin.clear_config()
    runner = FirstRunStops()
    try:
        gin.parse_config_files_and_bindings([str(REPO / config)], list(bindings), finalize_config=False)
        def q(name):
            try:
                return gin.query_parameter(name)
            except ValueError:  # not bound: the dataclass default applies
                return None
        bound = {name: q(name) for name in (
            "TrainingHparams.budget", "TrainingHparams.batch_size", "TrainingHparams.milestones",
            "TrainingHparams.gamma", "TrainingHparams.momentum", "TrainingHparams.weight_decay",
            "TrainingHparams.warmup", "PruningHparams.levels", "PruningHparams.fraction", "sanity.rewind",
            "sanity.learning_rates", "ModelHparams.name")}
        if mock:
            with tfds.testing.mock_data(num_examples=20), pytest.raises(Stop):
                sanity(runner)
        else:
            with pytest.raises(Stop):
                sanity(runner)
    finally:
        gin.clear_config()
        dataset_module._load_dataset.cache_clear()
    return bound, runner.first


def test_cifar10_config_is_table_e1():
    bound, (name, params) = _first_execution("configs/sanity_cifar10.gin", mock=True)
    assert bound["ModelHparams.name"] == "resnet20"
    assert bound["TrainingHparams.budget"] == "160ep" and bound["sanity.rewind"] == "8ep"
    assert bound["TrainingHparams.batch_size"] == 64 and tuple(bound["TrainingHparams.milestones"]) == ("80ep", "120ep")
    assert bound["TrainingHparams.gamma"] == 0.1 and bound["TrainingHparams.momentum"] == 0.9
    assert bound["TrainingHparams.weight_decay"] == 5e-4 and bound["TrainingHparams.warmup"] == "0it"
    assert bound["PruningHparams.fraction"] == 0.2 and bound["PruningHparams.levels"] == 14
    assert {0.005, 0.01, 0.1} <= set(bound["sanity.learning_rates"])  # Fig. A.1's rates
    # The first execution is the tuner, on the recipe above.
    assert name == "Tuning" and params.dataset.name == "cifar10" and params.model.name == "resnet20"
    assert params.training.budget == "160ep" and params.dataset.val_fraction > 0


def test_tiny_imagenet_config_is_table_e1(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    for split, count in (("train", 4), ("val", 2)):
        for cls in ("n01", "n02"):
            folder = tmp_path / split / cls
            folder.mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / f"{cls}_{i}.JPEG")
    bound, (name, params) = _first_execution("configs/sanity_tiny_imagenet.gin",
                                             [f"DatasetHparams.data_dir = '{tmp_path}'"])
    assert bound["ModelHparams.name"] == "resnet18" and bound["TrainingHparams.batch_size"] == 32
    assert bound["TrainingHparams.warmup"] == "20ep" and bound["TrainingHparams.budget"] == "160ep"
    assert tuple(bound["TrainingHparams.milestones"]) == ("80ep", "120ep") and bound["sanity.rewind"] == "8ep"
    assert bound["PruningHparams.levels"] == 14 and bound["PruningHparams.fraction"] == 0.2
    assert name == "Tuning" and params.dataset.name == "tiny_imagenet" and params.training.warmup == "20ep"


def test_embedded_default_is_what_its_comments_say():
    bound, (name, params) = _first_execution("configs/sanity.gin")
    rates = bound["sanity.learning_rates"]
    assert len(rates) == 4 and min(rates) <= 0.005 and max(rates) >= 0.3
    density = (1 - bound["PruningHparams.fraction"]) ** bound["PruningHparams.levels"]
    assert density == pytest.approx(0.8 ** 14, abs=1e-3)  # 95.6% sparsity at the last level
    assert name == "Tuning" and params.max_trials >= 1 and params.dataset.name == "mnist1d"
