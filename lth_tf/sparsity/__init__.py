"""Masks (numpy) and the tfmot wrappers that hold them in a Keras model."""
from lth_tf.sparsity import masks, wrapping  # noqa: F401
