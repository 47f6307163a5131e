"""IMP from initialization vs. IMP rewound to step k, per level and seed, with the project's
verdict rule (issue 20 part 4, after bench/instability_screen.py picked a setting).

    python bench/rewind_imp.py --setting resnet20_w0.5_lr0.1 --rewind 50 --levels 12 --seeds 0 1
                               [--out /tmp/rewind_imp]

Each search's per-level results are kept in --out as JSON and reused when present, so the seeds
can run as separate processes (one --seeds each) and a last call with all seeds makes the table
(and --out/rewind_imp.csv).

Each search is the studies' lottery core (lth_tf.lottery.search with the studies' LoopTrainer:
lth_tf.training.train, cosine SGD as bench/instability_screen.py's setting): global magnitude
IMP, 20% per level. Rewinding to 0 and to k start from the same θ0 and data order per seed, so
their dense runs are identical. Prints one row per level: sparsity, test accuracy of both per
seed, means, and whether rewinding to k is clearly ahead of rewinding to 0
(lth_tf.metrics.verdicts.VerdictRule, which needs >= 2 seeds).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lth_tf  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

from bench.instability_screen import SETTINGS, print_table, recipe, write_csv  # noqa: E402
from lth_tf import lottery  # noqa: E402
from lth_tf.lottery.loop_trainer import LoopTrainer  # noqa: E402
from lth_tf.metrics.verdicts import Stats, VerdictRule  # noqa: E402
from lth_tf.sparsity import masks as M  # noqa: E402
from lth_tf.sparsity.wrapping import prunable_predicate  # noqa: E402
from lth_tf.training import enable_determinism, evaluate  # noqa: E402


def search(setting: str, rewind: int, levels: int, seed: int):
    """{level: (sparsity, test accuracy)} and the seconds the search took."""
    ds, model_hp, hp = recipe(setting)
    trainer = LoopTrainer(ds, hp, seed, model_hp, prunable_predicate(), verbose=False)
    net = trainer.network()
    plan = lottery.Plan("imp", levels, 0.2, "global", rewind, seed)
    start, out = time.perf_counter(), {}
    for run in lottery.search(net, trainer, plan):
        out[run.level] = (M.sparsity(run.masks), evaluate(net, ds, ds.test)["accuracy"])
        print(f"  {setting} rewind {rewind} seed {seed} level {run.level}: sparsity {out[run.level][0]:.4f} "
              f"test acc {out[run.level][1]:.4f} ({time.perf_counter() - start:.0f}s)", flush=True)
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setting", required=True, choices=list(SETTINGS))
    parser.add_argument("--rewind", type=int, required=True, help="the late rewind step k")
    parser.add_argument("--levels", type=int, default=12)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--out", default="rewind_imp")
    args = parser.parse_args()
    enable_determinism()
    os.makedirs(args.out, exist_ok=True)
    results = {}  # (rewind, seed) -> {level: (sparsity, acc)}
    for seed in args.seeds:
        for rewind in (0, args.rewind):
            path = os.path.join(args.out, f"{args.setting}_rw{rewind}_s{seed}_L{args.levels}.json")
            if not os.path.exists(path):
                levels, seconds = search(args.setting, rewind, args.levels, seed)
                print(f"search rewind {rewind} seed {seed}: {seconds:.0f}s", flush=True)
                with open(path, "w") as f:
                    json.dump({"levels": levels, "seconds": seconds}, f)
            with open(path) as f:
                results[rewind, seed] = {int(l): v for l, v in json.load(f)["levels"].items()}
    rule, rows = VerdictRule(), []
    for level in range(args.levels + 1):
        init = [results[0, s][level][1] for s in args.seeds]
        late = [results[args.rewind, s][level][1] for s in args.seeds]
        row = {"level": level, "sparsity": round(results[0, args.seeds[0]][level][0], 4),
               **{f"init_s{s}": round(a, 4) for s, a in zip(args.seeds, init)},
               **{f"k{args.rewind}_s{s}": round(a, 4) for s, a in zip(args.seeds, late)},
               "init_mean": round(Stats.of(init).mean, 4), f"k{args.rewind}_mean": round(Stats.of(late).mean, 4),
               "gap": round(rule.gap(late, init), 4), "threshold": round(rule.threshold(late, init), 4),
               "late_clearly_ahead": rule.clear_gap(late, init) if rule.has_noise(late, init) else "no noise",
               "init_clearly_ahead": rule.clear_gap(init, late) if rule.has_noise(late, init) else "no noise"}
        rows.append(row)
    write_csv(rows, os.path.join(args.out, "rewind_imp.csv"))
    print_table(rows)


if __name__ == "__main__":
    main()
