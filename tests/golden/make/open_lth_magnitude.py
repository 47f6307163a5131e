"""Writes tests/golden/open_lth_magnitude.npz: open_lth's global magnitude pruning, 3 rounds.

Run in a scratch environment with torch (never a dependency of lth-tf), from anywhere:
    python open_lth_magnitude.py /path/to/open_lth OUT.npz
It imports and calls `pruning.sparse_global.Strategy.prune` of facebookresearch/open_lth;
nothing of the authors' code is copied here. `models.base` is replaced by a stub before the
import: its `DistributedDataParallel(Model, torch.nn.parallel.DistributedDataParallel)` class
cannot be created on torch 2.x (inconsistent MRO), and `Strategy.prune` uses only the model's
`prunable_layer_names` and `state_dict()`.
"""
import sys
import types

import numpy as np
import torch

repo, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, repo)
import models  # noqa: E402  (the package only; its base module is stubbed)

stub = types.ModuleType("models.base")
stub.Model = torch.nn.Module
sys.modules["models.base"] = models.base = stub
from pruning.mask import Mask  # noqa: E402
from pruning.sparse_global import PruningHparams, Strategy  # noqa: E402

SHAPES = {"fc1.weight": (8, 10), "fc2.weight": (6, 8), "fc3.weight": (4, 6)}  # torch layout (out, in)


class Net(torch.nn.Module):
    def __init__(self, weights):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = (torch.nn.Linear(s[1], s[0]) for s in SHAPES.values())
        with torch.no_grad():
            for name, value in weights.items():
                self.state_dict()[name].copy_(torch.as_tensor(value))

    @property
    def prunable_layer_names(self):
        return list(SHAPES)


rng = np.random.default_rng(20)
base = {n: rng.normal(size=s).astype(np.float32) for n, s in SHAPES.items()}
record, mask = {}, None
for r in (1, 2, 3):
    # the weights "trained" before round r: correlated with the others, as IMP's are
    weights = {n: (w + 0.5 * rng.normal(size=w.shape)).astype(np.float32) for n, w in base.items()}
    mask = Strategy.prune(PruningHparams("sparse_global", 0.2), Net(weights), mask)
    for n in SHAPES:
        record[f"weights_{r}/{n}"] = weights[n]
        record[f"mask_{r}/{n}"] = mask.numpy()[n].astype(np.uint8)
    record[f"kept_{r}"] = np.int64(sum(int(v.sum()) for v in mask.numpy().values()))
    mask = Mask(mask.numpy())
record["layers"] = np.array(list(SHAPES))
record["pruning_fraction"] = np.float64(0.2)
record["count_convention"] = np.array(
    "open_lth prunes ceil(0.2 * R) + 1 of the R remaining weights, plus any tied with the threshold: "
    "threshold = sorted(|w|)[ceil(0.2 * R)], kept = |w| > threshold")
np.savez_compressed(out, **record)
print({k: int(v) for k, v in record.items() if k.startswith("kept")})
