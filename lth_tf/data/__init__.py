"""Datasets: registry (embedded offline sets, tfds, image folders), splits, input pipelines."""
from lth_tf.data import class_split  # noqa: F401  (resolves class-split names '<base>_classes_0-1-2')
from lth_tf.data import embedded  # noqa: F401  (registers mnist1d, digits)
from lth_tf.data import image_folder  # noqa: F401  (registers image_folder, tiny_imagenet)
from lth_tf.data import tfds_source  # noqa: F401  (registers mnist, cifar10, ...; imports tfds lazily)
from lth_tf.data.dataset import (Dataset, DatasetHparams, RawData, Split, known_datasets,  # noqa: F401
                                 load_dataset, register)
from lth_tf.data.pipeline import eval_batches, steps_per_epoch, train_batches  # noqa: F401
from lth_tf.data.streaming import StreamedSplit, is_streamed  # noqa: F401
