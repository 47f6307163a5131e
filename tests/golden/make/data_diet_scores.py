"""Writes tests/golden/data_diet_scores.npz: EL2N and GraNd of a small MLP, dense and masked,
from mansheej/data_diet (data_diet/scores.py: `compute_scores` with score_type 'l2_error' (EL2N)
and 'grad_norm' (GraNd)), in JAX.

Run in a scratch environment with jax and flax (never dependencies of lth-tf):
    python data_diet_scores.py /path/to/data_diet OUT.npz
Nothing of the authors' code is copied here. data_diet/data.py (imported by scores.py) imports
tensorflow and tensorflow_datasets at the top for its loaders; `compute_scores` does not use
them, so they are replaced by empty stub modules. The network is given to `compute_scores` as
`fn(params, state, X)` (its interface), a plain JAX MLP whose kernels are multiplied by the
masks (all ones for the dense network), so GraNd's gradient is taken with respect to the raw
parameters, zero at pruned positions.
"""
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_platform_name", "cpu")
repo, out = sys.argv[1:3]
for name in ("tensorflow", "tensorflow_datasets"):
    sys.modules[name] = types.ModuleType(name)
sys.path.insert(0, repo)
from data_diet.scores import compute_scores  # noqa: E402

rng = np.random.default_rng(24)
SIZES, EXAMPLES, CLASSES = (8, 6, 6, 3), 16, 3
x = rng.normal(size=(EXAMPLES, SIZES[0])).astype(np.float32)
y = rng.integers(0, CLASSES, EXAMPLES)
onehot = np.eye(CLASSES, dtype=np.float32)[y]
params = {}
for i, (a, b) in enumerate(zip(SIZES, SIZES[1:]), 1):
    params[f"fc{i}/kernel"] = (rng.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32)  # Keras layout (in, out)
    params[f"fc{i}/bias"] = rng.normal(0, 0.1, size=b).astype(np.float32)
masks = {f"fc{i}": (rng.random((a, b)) < 0.5).astype(np.float32) for i, (a, b) in enumerate(zip(SIZES, SIZES[1:]), 1)}
layers = len(SIZES) - 1


def network(mask):
    def fn(p, state, X):
        h = X
        for i in range(1, layers + 1):
            h = h @ (p[f"fc{i}/kernel"] * mask[f"fc{i}"]) + p[f"fc{i}/bias"]
            if i < layers:
                h = jax.nn.relu(h)
        return h
    return fn


record = {"x": x, "y": y, **{f"params/{k}": v for k, v in params.items()}, **{f"masks/{k}": v for k, v in masks.items()}}
jparams = {k: jnp.asarray(v) for k, v in params.items()}
for kind, mask in (("dense", {k: np.ones_like(v) for k, v in masks.items()}), ("masked", masks)):
    for score, score_type in (("el2n", "l2_error"), ("grand", "grad_norm")):
        record[f"{kind}/{score}"] = compute_scores(network(mask), jparams, None, x, onehot, 8, score_type)
np.savez_compressed(out, **record)
print({k: v for k, v in record.items() if "/" in k and k.split("/")[0] in ("dense", "masked")})
