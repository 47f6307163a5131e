"""`import lth_tf` makes TensorFlow's first import quiet (lth_tf/quiet_import.py) and `dir(lth_tf)`
lists the public API."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lth_tf

REPO = Path(__file__).resolve().parents[1]
# TensorFlow's C++ start-up lines: absl's banner, then I/W/E lines such as "I0000 00:00:... port.cc:153]
# oneDNN custom operations are on", "... Could not find cuda drivers", "E0000 ... failed call to cuInit".
CPP_LINE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl::InitializeLog)|oneDNN|cuda|cuInit",
                      re.MULTILINE)


@pytest.mark.parametrize("first", ["lth_tf", "pipelines.run"])  # the API; the main job (python -m pipelines.run)
def test_importing_lth_tf_then_tensorflow_prints_no_cpp_start_up_lines(first):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a new user's shell
    code = (f"import {first}\nimport tensorflow as tf\n"
            "tf.config.list_physical_devices()\nprint(int(tf.constant(1) + 1))\n")  # device query: the cuInit line
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "2\n", done.stderr[-2000:]
    assert not CPP_LINE.search(done.stderr), done.stderr[-2000:]


def test_dir_lists_the_public_api():
    names = dir(lth_tf)
    for name in ("imp", "omp", "wrap", "error_barrier", "el2n_scores", "score_examples", "export_ticket",
                 "RewindSnapshot", "ForgettingTracker", "MaskEnforcer", "IMPDriver", "ConfigError", "callbacks"):
        assert name in names and hasattr(lth_tf, name)
    assert "os" not in names and set(lth_tf.__all__) <= set(names)
