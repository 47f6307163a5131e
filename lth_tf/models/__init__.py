"""Model registry: MLPs, Conv-2/4/6, ResNets, VGGs, MobileNet v1 (1-D and 2-D), width-scalable."""
from lth_tf.models import mobilenet, resnet, simple, vgg  # noqa: F401  (register the builders)
from lth_tf.models.registry import ModelHparams, build_model, known_models, register  # noqa: F401
