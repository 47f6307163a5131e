"""Writes tests/golden/forgetting.npz: forgetting statistics of a fixed correctness record, from
Toneva et al.'s code (mtoneva/example_forgetting, order_examples_by_forgetting.py:
`compute_forgetting_statistics`, `sort_examples_by_forgetting`) and PrAC-LTH's (VITA-Group/PrAC-LTH,
utils/setup.py: `forget_times`, `sorted_examples`, the CET of PrAC).

Run in a scratch environment with numpy and torch (never a dependency of lth-tf):
    python forgetting.py /path/to/example_forgetting /path/to/PrAC-LTH OUT.npz
Nothing of the authors' code is copied here. PrAC-LTH's utils/setup.py imports its dataset and
model modules (torchvision, advertorch) at the top; the two functions use numpy only, so those
imports are replaced by empty stub modules before importing it.

The record: 14 examples x 8 presentations (one per epoch), 1 = classified correctly. Examples
12 and 13 are never presented (PrAC-LTH marks them -1; Toneva's statistics omit them); examples
0 and 1 are never learned.
"""
import importlib.util
import sys
import types

import numpy as np

toneva_repo, prac_repo, out = sys.argv[1:4]

spec = importlib.util.spec_from_file_location("order_examples_by_forgetting",
                                              f"{toneva_repo}/order_examples_by_forgetting.py")
toneva = importlib.util.module_from_spec(spec)
spec.loader.exec_module(toneva)

for name, attrs in (("dataset", ()), ("advertorch", ()), ("advertorch.utils", ("NormalizeByChannelMeanStd",)),
                    ("models", ()), ("models.vgg", ("vgg16_bn",)), ("models.resnet", ("resnet18", "resnet50")),
                    ("models.resnets", ("resnet20", "resnet56"))):
    stub = types.ModuleType(name)
    for attr in attrs:
        setattr(stub, attr, None)
    sys.modules[name] = stub
sys.path.insert(0, prac_repo)
from utils import setup as prac  # noqa: E402

rng = np.random.default_rng(23)
EXAMPLES, EPOCHS, ABSENT = 14, 8, (12, 13)
record = (rng.random((EXAMPLES, EPOCHS)) < 0.6).astype(np.int64)
record[0] = 0  # never learned
record[1] = 0
record[2] = 1  # learned at once, never forgotten
record[3] = [0, 0, 0, 0, 0, 0, 0, 1]  # learned at the last presentation
record[4] = [1, 0, 1, 0, 1, 0, 1, 0]  # forgotten 4 times
record[5] = [0, 1, 0, 0, 1, 1, 0, 1]  # forgotten twice, the first time after a late start
presented = [i for i in range(EXAMPLES) if i not in ABSENT]

# Toneva et al.: diag_stats {example id: [losses, accuracies, margins] per presentation}
diag_stats = {i: [list(rng.random(EPOCHS)), list(record[i]), list(rng.random(EPOCHS))] for i in presented}
_, unlearned, _, first_learned = toneva.compute_forgetting_statistics(diag_stats, EPOCHS)
ids, counts = toneva.sort_examples_by_forgetting([unlearned], [first_learned], EPOCHS)

# PrAC-LTH: example_wise_prediction, one column per epoch, -1 where the example was not trained on
prediction = record.astype(np.float64)
prediction[list(ABSENT)] = -1
prac_counts = np.array([prac.forget_times(prediction[i]) for i in presented])
found = {"record": record, "presented": np.array(presented), "epochs": np.int64(EPOCHS),
         "toneva_ids": ids.astype(np.int64), "toneva_counts": counts.astype(np.int64),
         "prac_forget_times": prac_counts.astype(np.int64), "prac_thresholds": np.array([0, 1, 2])}
for t in (0, 1, 2):
    found[f"prac_cet_{t}"] = np.sort(prac.sorted_examples(prediction, "zero_out", 0.0, 1, t, EXAMPLES)).astype(np.int64)
np.savez_compressed(out, **found)
print({k: v.tolist() for k, v in found.items() if k != "record"})
