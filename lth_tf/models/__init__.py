"""Model registry: MLPs, Conv-2/4/6, ResNets, VGGs (1-D and 2-D), with a width multiplier."""
from lth_tf.models import simple  # noqa: F401  (registers the builders)
from lth_tf.models.registry import ModelHparams, build_model, known_models, register  # noqa: F401
