"""Writes tests/golden/prac_sets.npz: PrAC-LTH's CEP and PrAC sets and its early-bird masks and
mask distances, from VITA-Group/PrAC-LTH (main_PrAC_imp.py: `prune_aware_example`,
`concate_sequence`; utils/pruner.py: `return_current_mask`, `calculate_hamming_distance`,
`prune_model_custom`, `cnt_model_para`, `cnt_remain_para`) on a small conv net.

Run in a scratch environment with torch and torchvision (never dependencies of lth-tf):
    python prac_sets.py /path/to/PrAC-LTH OUT.npz
Nothing of the authors' code is copied here. To run it on a CPU without its data sets:
- main_PrAC_imp.py's imports of matplotlib, advertorch and the repository's dataset and model
  modules (which need torchvision.models.utils, gone from torchvision) are empty stub modules;
- `setup_model_dataset_PIE` (the CIFAR loader) is replaced by one returning this net and its
  fixed examples, `.cuda()` is the identity and `torch.load` maps to the CPU;
- the global `args` that `main()` would parse is given (gpu 0, print_freq).
"""
import argparse
import collections
import os
import sys
import tempfile
import types

import numpy as np
import torch

repo, out = sys.argv[1:3]
for name in ("matplotlib", "matplotlib.pyplot", "advertorch", "advertorch.utils", "dataset", "models", "models.vgg",
             "models.resnet", "models.resnets"):
    sys.modules[name] = types.ModuleType(name)
sys.modules["advertorch.utils"].NormalizeByChannelMeanStd = None
for name, attrs in (("models.vgg", ("vgg16_bn",)), ("models.resnet", ("resnet18", "resnet50")),
                    ("models.resnets", ("resnet20", "resnet56"))):
    for attr in attrs:
        setattr(sys.modules[name], attr, None)
sys.path.insert(0, repo)
import main_PrAC_imp as prac  # noqa: E402
from utils import pruner  # noqa: E402

torch.Tensor.cuda = lambda self, *a, **k: self
torch.nn.Module.cuda = lambda self, *a, **k: self
_load = torch.load
torch.load = lambda f, map_location=None, **k: _load(f, map_location="cpu", weights_only=False)
prac.args = argparse.Namespace(gpu=0, print_freq=1000)

rng = np.random.default_rng(25)
torch.manual_seed(25)
EXAMPLES, CLASSES = 40, 3
x = rng.normal(size=(EXAMPLES, 1, 5, 5)).astype(np.float32)  # torch layout NCHW
y = rng.integers(0, CLASSES, EXAMPLES)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(y)),
                                     batch_size=16, shuffle=False)


def net(state=None):
    model = torch.nn.Sequential(collections.OrderedDict(
        conv1=torch.nn.Conv2d(1, 4, 3, padding=1), relu1=torch.nn.ReLU(), conv2=torch.nn.Conv2d(4, 4, 3, padding=1),
        relu2=torch.nn.ReLU(), pool=torch.nn.AdaptiveAvgPool2d(1), flat=torch.nn.Flatten(), fc=torch.nn.Linear(4, CLASSES)))
    if state is not None:
        model.load_state_dict(state)
    return model


def arrays(model, prefix):
    return {f"{prefix}/{k}": v.detach().numpy().copy() for k, v in model.state_dict().items()}


record = {"x": x, "y": y}
# CEP and PrAC: the dense network against a pruned subnetwork (its own weights, 50% of the conv weights kept)
full = net()
sub = net({k: v + 1.0 * torch.randn_like(v) for k, v in full.state_dict().items()})
mask = pruner.return_current_mask(sub, 0.5)
pruner.prune_model_custom(sub, mask)
record.update(arrays(full, "full"))
record.update({f"sub/{k}": v.detach().numpy().copy() for k, v in sub.state_dict().items()})
prac.setup_model_dataset_PIE = lambda args: (net(), loader)
with tempfile.TemporaryDirectory() as tmp:
    torch.save({"state_dict": full.state_dict()}, os.path.join(tmp, "0model_SA_best.pth.tar"))
    torch.save({"state_dict": sub.state_dict()}, os.path.join(tmp, "1model_SA_best.pth.tar"))
    cep = prac.prune_aware_example(os.path.join(tmp, "0model_SA_best.pth.tar"),
                                   os.path.join(tmp, "1model_SA_best.pth.tar"), torch.nn.CrossEntropyLoss(), prac.args)
cet = np.array([1, 3, 5, 8, 13, 21, 34])
record["cep"] = np.sort(cep).astype(np.int64)
record["cet"] = cet
record["prac"] = np.sort(prac.concate_sequence(cep, cet)).astype(np.int64)

# Early-bird masks and distances: 20% of the remaining conv weights per epoch, in a dense round
# and in a round that prunes from the mask above.
base = net()
for round_name, start in (("dense", None), ("pruned", mask)):
    remain = pruner.cnt_model_para(base) if start is None else pruner.cnt_remain_para(start)
    last = None
    for epoch in range(4):
        model = net({k: v + 0.05 * epoch * torch.randn_like(v) for k, v in base.state_dict().items()})
        if start is not None:
            pruner.prune_model_custom(model, start)
        epoch_mask = pruner.return_current_mask(model, 0.2, pruned=start is not None)
        weights = {k.replace("_orig", ""): v for k, v in model.state_dict().items() if k.endswith(("conv1.weight", "conv2.weight", "weight_orig"))}
        for k in ("conv1", "conv2"):
            record[f"{round_name}/epoch{epoch}/weights/{k}"] = (weights[f"{k}.weight"] * (1 if start is None else start[f"{k}.weight_mask"])).detach().numpy().copy()
            record[f"{round_name}/epoch{epoch}/mask/{k}"] = epoch_mask[f"{k}.weight_mask"].numpy().astype(np.uint8)
        if last is not None:
            record[f"{round_name}/epoch{epoch}/distance"] = np.float64(pruner.calculate_hamming_distance(last, epoch_mask, remain))
        last = epoch_mask
    if start is not None:
        for k in ("conv1", "conv2"):
            record[f"{round_name}/support/{k}"] = start[f"{k}.weight_mask"].numpy().astype(np.uint8)
np.savez_compressed(out, **record)
print({k: v for k, v in record.items() if k in ("cep", "cet", "prac") or k.endswith("distance")})
