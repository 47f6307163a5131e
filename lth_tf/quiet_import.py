"""TensorFlow imported without its C++ start-up lines.

TensorFlow's C++ runtime writes a few lines to file descriptor 2 while its libraries load, before
absl logging is initialized, so TF_CPP_MIN_LOG_LEVEL cannot silence them: "WARNING: All log
messages before absl::InitializeLog() is called are written to STDERR", "oneDNN custom
operations are on", "Could not find cuda drivers"; and, at the first device query on a machine
with CUDA libraries but no GPU, "E0000 ... failed call to cuInit". A newcomer's first command
should not print an E line, so `install()` (called by `import lth_tf`, which does not import
TensorFlow itself) puts a finder first on `sys.meta_path` that, for the first
`import tensorflow`, points descriptor 2 at /dev/null while TensorFlow loads and lists its
devices. Python errors raised by the import still propagate. A TF_CPP_MIN_LOG_LEVEL of 0 or 1
set before `import lth_tf` keeps the lines.
"""
import contextlib
import importlib.abc
import importlib.util
import os
import sys


@contextlib.contextmanager
def stderr_silenced():
    """Descriptor 2 (where C++ code writes) points at /dev/null inside the block."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with descriptor 2 silenced."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        try:
            with stderr_silenced():
                self.loader.exec_module(module)
                config = getattr(module, "config", None)
                if config is not None:  # the first device query writes the cuInit line
                    config.list_physical_devices()  # (listing does not start the runtime)
        finally:  # the module keeps TensorFlow's own loader
            module.__loader__ = module.__spec__.loader = self.loader


class _QuietFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        uninstall()  # one import only; and find_spec below must not come back here
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


_FINDER = _QuietFinder()


def install():
    """Silences the first `import tensorflow` of this process (a no-op once it is imported, or
    when the user asked for TensorFlow's C++ logs with TF_CPP_MIN_LOG_LEVEL=0 or 1)."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") in ("0", "1"):
        return
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall():
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
