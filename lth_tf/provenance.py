"""Where a result came from: code version, library versions and hardware.

Recorded in every artifact (`artifact.json` "provenance") and in every exported ticket, so a
number can be traced to the code and machine that produced it."""
import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

_LIBRARIES = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "tensorflow-datasets",
              "numpy", "gin-config", "keras-tuner", "lth-tf")


def _git(*args) -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


@functools.lru_cache(maxsize=1)
def collect() -> dict:
    """{git_commit, git_dirty, python, platform, libraries {name: version}, devices [..]}.

    `git_commit` is "" outside a git checkout (an installed wheel); `git_dirty` says whether
    tracked files differed from that commit. Cached: one process has one provenance."""
    import tensorflow as tf
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    commit = _git("rev-parse", "HEAD")
    return {
        "git_commit": commit,
        "git_dirty": bool(commit) and bool(_git("status", "--porcelain", "--untracked-files=no")),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": versions,
        "devices": [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()],
    }
