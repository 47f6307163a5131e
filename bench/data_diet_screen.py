"""A quick screen for the data diet (Paul et al. 2022; issue 20 part 4): does pre-training the
dense network for a few steps on the EL2N-easiest examples give a better starting point than
pre-training on the hardest, on a random subset, on all data, or none?

    python bench/data_diet_screen.py [--setting resnet20_w0.5_lr0.1] [--seeds 0 1] [--pretrain 12]
                                     [--fraction 0.2] [--csv data_diet_screen.csv]

Per seed, on bench/instability_screen.py's setting (θ0 from the seed):
- EL2N of every training example from one scoring network (seed + 500) trained for 1/8 of the
  budget (the paper: the mean of 10 networks at 1/8 of training);
- subsets of `fraction` of the training split: easiest, hardest by EL2N, easiest per class
  (class-balanced), uniform random;
- each scheme pre-trains θ0 for `pretrain` steps (constant learning rate = the setting's, data
  order seed + 2000) on its subset ('all': the whole training split; 'none': no pre-training);
- from the pre-trained weights, two copies train the full budget on all data with two data
  orders (seed, seed + 1000); reported: the test-error barrier between them (003 eq. 3: the
  linear mode connectivity that makes a good rewind point, Paul et al. §3) and copy 1's test
  accuracy. A proxy for IMP rewound to the pre-trained weights, not IMP itself.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import argparse  # noqa: E402
import dataclasses  # noqa: E402

import numpy as np  # noqa: E402

from bench.instability_screen import NOISE_SEED_OFFSET, SETTINGS, recipe, write_csv  # noqa: E402
from lth_tf import networks  # noqa: E402
from lth_tf.data import steps_per_epoch, subsets  # noqa: E402
from lth_tf.metrics import barrier as B  # noqa: E402
from lth_tf.metrics.scores import el2n_scores  # noqa: E402
from lth_tf.metrics.verdicts import Stats  # noqa: E402
from lth_tf.sparsity import wrapping  # noqa: E402
from lth_tf.training import enable_determinism, evaluate, train  # noqa: E402

SCHEMES = ("none", "all", "random", "el2n_easy", "el2n_hard", "el2n_easy_balanced")


def screen_seed(setting: str, seed: int, pretrain: int, fraction: float, schemes=SCHEMES):
    ds, model_hp, hp = recipe(setting)
    build = lambda s: networks.build_network(model_hp, ds.input_shape, ds.num_classes, seed=s)  # noqa: E731
    scorer = build(seed + 500)
    total = hp.total_steps(steps_per_epoch(len(ds.train), hp.batch_size))
    train(scorer, ds, hp, seed=seed + 500, end_step=total // 8, verbose=False)
    scores = el2n_scores(scorer, ds, ds.train)
    index = ds.train.index
    chosen = {"all": index, "random": np.sort(np.random.default_rng(seed).choice(index, int(fraction * len(index)), replace=False)),
              "el2n_easy": subsets.easiest(index, scores, fraction), "el2n_hard": subsets.hardest(index, scores, fraction),
              # MNIST-1D's easiest examples come from a few classes (configs/data_diet.gin): the easiest of each class
              "el2n_easy_balanced": subsets.balanced_by_score(index, scores, ds.train.y, fraction, ds.num_classes)}
    constant = dataclasses.replace(hp, schedule="constant")
    model = build(seed)
    theta0 = wrapping.get_state(model)
    evaluator = B.ErrorEvaluator(model, ds, ds.test)
    rows = []
    for scheme in schemes:
        wrapping.set_state(model, theta0)
        if scheme != "none":
            split = ds.train.with_indices(chosen[scheme])
            train(model, ds, constant, seed=seed + 2000, end_step=pretrain, train_split=split, verbose=False)
        start = wrapping.get_state(model)
        train(model, ds, hp, seed=seed, verbose=False)
        state_1, acc = wrapping.get_state(model), evaluate(model, ds, ds.test)["accuracy"]
        wrapping.set_state(model, start)
        train(model, ds, hp, seed=seed + NOISE_SEED_OFFSET, verbose=False)
        barrier = B.linear_path(model, state_1, wrapping.get_state(model), ds, evaluator=evaluator).barrier
        rows.append({"seed": seed, "scheme": scheme, "barrier": round(barrier, 4), "test_acc": round(acc, 4)})
        print(rows[-1], flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setting", default="resnet20_w0.5_lr0.1", choices=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--pretrain", type=int, default=12, help="pre-training steps (t*/2)")
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--schemes", nargs="+", default=list(SCHEMES), choices=SCHEMES)
    parser.add_argument("--csv", default="data_diet_screen.csv")
    args = parser.parse_args()
    enable_determinism()
    rows = [row for seed in args.seeds for row in screen_seed(args.setting, seed, args.pretrain, args.fraction, args.schemes)]
    write_csv(rows, args.csv)
    print("\n| scheme | barrier per seed | barrier mean | test acc per seed | test acc mean |\n|---|---|---|---|---|")
    for scheme in args.schemes:
        mine = [r for r in rows if r["scheme"] == scheme]
        b, a = [r["barrier"] for r in mine], [r["test_acc"] for r in mine]
        print(f"| {scheme} | {b} | {Stats.of(b).mean:.4f} | {a} | {Stats.of(a).mean:.4f} |")


if __name__ == "__main__":
    main()
