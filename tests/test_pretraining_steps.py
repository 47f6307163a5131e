"""The one meaning of 'ep' (lth_tf.training.hparams.to_steps): a pass over the examples the
training runs on; for Pretraining on a subset S, a pass over S."""
import math

from components import pretraining, subset_slimming
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.models import ModelHparams
from lth_tf.training import TrainingHparams
from pipelines.runner import Runner

DATA = DatasetHparams(name="digits")
MODEL = ModelHparams(width=0.1)
TRAINING = TrainingHparams(budget="3ep", batch_size=64)


def test_pretraining_epochs_count_passes_over_the_subset(tmp_path):
    runner = Runner(tmp_path, verbose=False)
    subset = runner.run(subset_slimming.SPEC, subset_slimming.SubsetSlimmingParams(DATA, rule="random_balanced", size=100))
    weights = runner.run(pretraining.SPEC, pretraining.PretrainingParams(DATA, MODEL, TRAINING, steps="2ep"),
                         subset=subset)
    summary = weights.metadata["summary"]
    assert summary["subset_size"] == 100
    assert summary["steps"] == 2 * math.ceil(100 / 64) == 4  # two passes over S, by hand
    everything = runner.run(pretraining.SPEC, pretraining.PretrainingParams(DATA, MODEL, TRAINING, steps="1ep"))
    n = len(load_dataset(DATA).train)
    assert everything.metadata["summary"]["steps"] == math.ceil(n / 64) > 4  # one pass over all data
