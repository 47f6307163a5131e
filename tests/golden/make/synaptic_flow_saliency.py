"""Writes tests/golden/synaptic_flow_saliency.npz: SNIP, GraSP, SynFlow scores and masks (global)
and layer-wise magnitude masks, from ganguli-lab/Synaptic-Flow, on a small MLP and on the same
MLP with BatchNorm.

Run in a scratch environment with torch (never a dependency of lth-tf):
    python synaptic_flow_saliency.py /path/to/Synaptic-Flow OUT.npz
It imports the authors' `prune.prune_loop`, `Pruners.pruners.{SNIP, GraSP, SynFlow, Mag}`,
`Utils.generator.masked_parameters`, `Models.mlp.fc` and `Layers.layers` and calls them; nothing
of their code is copied here. One pruning iteration (epochs=1, single shot) to density 0.5 of
the Linear weights (biases and BatchNorm parameters are not pruned: masked_parameters' defaults).

BatchNorm mode (`prune_loop(train_mode=...)`): eval mode for all three (the loop's default), as
lth-tf scores them (lth_tf/sparsity/saliency.py says why); on the BN network the train-mode SNIP
and GraSP scores are stored too ('..._other_mode'), so the test can check that the fixture tells
the two modes apart.
"""
import copy
import sys
import types

import numpy as np
import torch

repo, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, repo)
sys.modules.setdefault("tqdm", types.SimpleNamespace(tqdm=lambda it: it))  # prune.py's progress bar only
from Layers import layers  # noqa: E402
from Models import mlp  # noqa: E402
from Pruners import pruners  # noqa: E402
from Utils import generator  # noqa: E402
from prune import prune_loop  # noqa: E402

torch.manual_seed(0)
rng = np.random.default_rng(21)
IN, HIDDEN, CLASSES, EXAMPLES, DENSITY = 8, 6, 3, 32, 0.5
x = rng.normal(size=(EXAMPLES, IN)).astype(np.float32)
y = rng.integers(0, CLASSES, EXAMPLES)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(y)),
                                     batch_size=EXAMPLES, shuffle=False)


def networks():
    plain = mlp.fc((IN,), CLASSES, L=3, N=HIDDEN)
    bn = torch.nn.Sequential(layers.Linear(IN, HIDDEN), layers.BatchNorm1d(HIDDEN), torch.nn.ReLU(),
                             layers.Linear(HIDDEN, HIDDEN), layers.BatchNorm1d(HIDDEN), torch.nn.ReLU(),
                             layers.Linear(HIDDEN, CLASSES))
    with torch.no_grad():
        for module in bn.modules():
            if isinstance(module, torch.nn.BatchNorm1d):  # non-trivial statistics and affine parameters
                module.weight.copy_(torch.as_tensor(rng.uniform(0.5, 1.5, HIDDEN)))
                module.bias.copy_(torch.as_tensor(rng.normal(0, 0.2, HIDDEN)))
                module.running_mean.copy_(torch.as_tensor(rng.normal(0, 0.3, HIDDEN)))
                module.running_var.copy_(torch.as_tensor(rng.uniform(0.5, 2.0, HIDDEN)))
    return {"mlp": plain, "bn": bn}


def state_arrays(model, prefix):
    """Linear weights in torch layout (out, in), biases, BN parameters and statistics."""
    found, i, j = {}, 0, 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            i += 1
            found[f"{prefix}/fc{i}/kernel"] = module.weight.detach().numpy().copy()
            found[f"{prefix}/fc{i}/bias"] = module.bias.detach().numpy().copy()
        elif isinstance(module, torch.nn.BatchNorm1d):
            j += 1
            for name in ("weight", "bias", "running_mean", "running_var"):
                found[f"{prefix}/bn{j}/{name}"] = getattr(module, name).detach().numpy().copy()
    return found


def run(model, method, scope, train_mode):
    model = copy.deepcopy(model)
    pruner = getattr(pruners, method)(generator.masked_parameters(model, False, False, False))
    prune_loop(model, torch.nn.CrossEntropyLoss(), pruner, loader, "cpu", DENSITY, "exponential", scope, 1,
               train_mode=train_mode)
    scores = [pruner.scores[id(p)].detach().numpy().copy() for _, p in pruner.masked_parameters]
    masks = [m.detach().numpy().astype(np.uint8) for m, _ in pruner.masked_parameters]
    return scores, masks


record = {"x": x, "y": y, "density": np.float64(DENSITY)}
for kind, model in networks().items():
    model.eval()
    record.update(state_arrays(model, kind))
    for method, scope, train_mode in (("SNIP", "global", False), ("GraSP", "global", False),
                                      ("SynFlow", "global", False), ("Mag", "local", False)):
        scores, masks = run(model, method, scope, train_mode)
        for i, (s, m) in enumerate(zip(scores, masks), 1):
            record[f"{kind}/{method.lower()}/fc{i}/score"] = s
            record[f"{kind}/{method.lower()}/fc{i}/mask"] = m
        if kind == "bn" and method in ("SNIP", "GraSP"):
            for i, s in enumerate(run(model, method, scope, not train_mode)[0], 1):
                record[f"{kind}/{method.lower()}_other_mode/fc{i}/score"] = s
        zeros = sum(int((s == 0).sum()) for s in scores)
        print(kind, method, "kept", sum(int(m.sum()) for m in masks), "of", sum(m.size for m in masks),
              "zero scores", zeros)
np.savez_compressed(out, **record)
