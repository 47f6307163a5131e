"""lth-tf: find, train, probe and export lottery tickets with TensorFlow/Keras 2.

tfmot supports Keras 2 only, so the legacy-Keras switch must be set before anything imports
`tf.keras`; importing this package does that. Everywhere: `import tf_keras as keras`.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
