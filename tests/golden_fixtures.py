"""Reading the golden fixtures of tests/golden/ (outputs of the papers' authors' code; see
tests/golden/README.md): one npz per reference, keys 'group/.../name'."""
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).parent / "golden"


def load(name: str) -> dict:
    with np.load(GOLDEN / f"{name}.npz") as data:
        return {k: data[k] for k in data.files}


def group(fixture: dict, prefix: str, suffix: str = "") -> dict:
    """{middle: array} of the keys 'prefix/<middle>suffix' (e.g. the layers of one mask)."""
    start = prefix + "/"
    return {k[len(start):len(k) - len(suffix)]: v for k, v in fixture.items()
            if k.startswith(start) and k.endswith(suffix)}
