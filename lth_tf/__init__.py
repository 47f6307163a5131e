"""lth-tf: find, train, probe and export lottery tickets with TensorFlow/Keras 2.

tfmot supports Keras 2 only, so the legacy-Keras switch must be set before anything imports
`tf.keras`; importing this package does that. Everywhere: `import tf_keras as keras`.

The public Python API for your own Keras model and tf.data datasets, one module per concept
(ticket_search: imp, omp, TicketSearch; keras_trainer: wrap and the Keras-fit trainer;
example_scores; barriers; exporting: export_ticket), imported on first use so `import lth_tf`
stays cheap: `lth_tf.imp`, `lth_tf.omp`, `lth_tf.wrap`, `lth_tf.error_barrier`,
`lth_tf.el2n_scores`, `lth_tf.score_examples`, `lth_tf.export_ticket`; callbacks for `model.fit`
in `lth_tf.callbacks` (RewindSnapshot, ForgettingTracker, MaskEnforcer, IMPDriver).
"""
import os

from lth_tf import quiet_import

quiet_import.install()  # TensorFlow's C++ start-up lines, whenever it is first imported (quiet_import.py)
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# name -> module of the public API, imported on first attribute access (PEP 562).
_LAZY = {
    "imp": "lth_tf.ticket_search", "omp": "lth_tf.ticket_search", "TicketSearch": "lth_tf.ticket_search",
    "wrap": "lth_tf.keras_trainer", "Level": "lth_tf.keras_trainer", "TrainedNetwork": "lth_tf.keras_trainer",
    "el2n_scores": "lth_tf.example_scores", "score_examples": "lth_tf.example_scores",
    "ExampleScores": "lth_tf.example_scores", "error_barrier": "lth_tf.barriers", "Barrier": "lth_tf.barriers",
    "export_ticket": "lth_tf.exporting", "ConfigError": "lth_tf.errors",
    "RewindSnapshot": "lth_tf.callbacks", "ForgettingTracker": "lth_tf.callbacks",
    "MaskEnforcer": "lth_tf.callbacks", "IMPDriver": "lth_tf.callbacks",
}
_SUBMODULES = ("callbacks", "errors", "keras_utils", "lottery")
__all__ = sorted(_LAZY)


def __dir__():
    """The public API (the lazy names are not in globals() until first used), not `os`."""
    return sorted(set(__all__) | set(_SUBMODULES) | {n for n in globals() if n.startswith("__")})


def __getattr__(name):
    import importlib
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"lth_tf.{name}")
    raise AttributeError(f"module 'lth_tf' has no attribute {name!r}")
