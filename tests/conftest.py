"""Test set-up: import lth_tf first (legacy Keras), make the repo importable, deterministic ops."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401
from lth_tf.training.seeding import enable_determinism  # noqa: E402

enable_determinism()
