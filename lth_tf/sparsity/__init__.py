"""Masks (numpy), the tfmot wrappers that hold them in a Keras model, and the registries of
pruning criteria and baselines. saliency registers SNIP, GraSP and SynFlow as criteria: it is
imported here so the criteria registry is complete whichever module is imported first."""
from lth_tf.sparsity import masks, wrapping, criteria, saliency, baselines  # noqa: F401
