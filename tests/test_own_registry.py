"""A user's own model and dataset in a study: registered in their module (examples/my_registry.py),
imported by a gin `import` line, then named in ModelHparams / DatasetHparams like built-in ones."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import gin
import pandas as pd

from components import mask_search
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams
from pipelines.runner import Runner


def test_a_gin_import_registers_the_users_model_and_dataset_for_a_search(tmp_path):
    gin.parse_config("import examples.my_registry")
    ds = load_dataset(DatasetHparams("my_blobs"))
    assert (len(ds.train), len(ds.val), len(ds.test), ds.num_classes) == (720, 80, 200, 4)
    params = mask_search.MaskSearchParams(DatasetHparams("my_blobs"), ModelHparams("my_mlp", width=0.5),
                                          TrainingHparams(budget="2ep", batch_size=64), PruningHparams(levels=2),
                                          seed=0, export=False)
    tickets = Runner(tmp_path, verbose=False).study(lambda r: r.run(mask_search.SPEC, params))
    results = pd.read_csv(tickets.path / "results.csv")
    assert set(results["model"]) == {"my_mlp"} and set(results["dataset"]) == {"my_blobs"}
    assert results["sparsity"].round(2).tolist() == [0.0, 0.2, 0.36]
    assert results["test_accuracy"].iloc[0] > 0.5  # four well-separated blobs: far above chance (0.25)
