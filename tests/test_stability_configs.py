"""configs/stability_cifar10.gin is the paper's recipe (003 Appendix G, App. C.3, §5.1 Table 6)
and passes every check the pipeline makes before its first search; tfds' mock_data stands in for
CIFAR-10 and the transfer targets, which this machine does not have."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

from pathlib import Path

import gin
import pytest

from lth_tf.data import dataset as dataset_module
from lth_tf.training import to_steps
import pipelines.run  # noqa: F401  (registers run_pipeline, which the shipped configs bind)
from pipelines.stability import stability

from pipeline_stubs import FirstRunStops, Stop  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_cifar10_config_is_the_papers_recipe_and_validates():
    import tensorflow_datasets as tfds

    dataset_module._load_dataset.cache_clear()
    gin.clear_config()
    try:
        gin.parse_config_files_and_bindings([str(REPO / "configs/stability_cifar10.gin")], [], finalize_config=False)
        runner = FirstRunStops()
        with tfds.testing.mock_data(num_examples=20), pytest.raises(Stop):
            stability(runner)  # every check (names, levels, candidates, transfer shapes) passed
        q = gin.query_parameter
        assert tuple(q("stability.batch_sizes")) == (100, 256) and tuple(q("stability.momenta")) == (0.0, 0.9)
        assert tuple(q("stability.seeds")) == (0, 1, 2) and tuple(q("stability.rewind_points")) == ("0it", "2ep")
        candidates = q("RewindSearchParams.candidates")
        epochs = [to_steps(c, 1, "candidates") for c in candidates]  # at one step per epoch: epochs
        assert epochs == sorted(epochs) and max(epochs) == 50 and {18, 24, 43, 47} <= set(epochs)
        assert q("InstabilityParams.split") == "val" and q("RewindSearchParams.split") == "val"
        assert set(q("stability.transfer_targets")) == {"mnist", "cifar100", "svhn_cropped"}
        assert tuple(q("TransferParams.levels")) == (10,)  # 89.26%, Table 6
    finally:
        gin.clear_config()
        dataset_module._load_dataset.cache_clear()
    name, params = runner.first
    assert name == "MaskSearch" and params.model.name == "resnet18" and params.dataset.name == "cifar10"
    assert params.training.budget == "200ep" and params.training.lr == 0.1 and params.training.schedule == "cosine"
    assert params.training.weight_decay == 1e-4 and params.training.batch_size == 100
    assert params.pruning.levels == 25 and params.pruning.fraction == 0.2 and params.dataset.val_fraction == 0.1
