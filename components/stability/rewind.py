"""RewindSearch: the first rewind point from which training is stable -> a RewindSearch
artifact (rewind_search.csv, rewind_summary.csv)."""
import dataclasses
from pathlib import Path
from typing import List, Tuple

import gin
import numpy as np
import pandas as pd

from components.artifacts.base import level_name
from components.stability.common import NOISE_SEED_BASE, check_split, config_columns, eval_split, noise_copy, \
    search_network, training_label
from components import ComponentSpec
from lth_tf.data import load_dataset, steps_per_epoch
from lth_tf.errors import ConfigError
from lth_tf.io import write_csv
from lth_tf.metrics import barrier as B
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.training import to_steps, train


@gin.configurable
@dataclasses.dataclass(frozen=True)
class RewindSearchParams:
    # Rewind points (sorted by step for each search); the binary search assumes stability is
    # monotone along them.
    candidates: Tuple[str, ...] = ("0it", "10it", "25it", "50it", "100it", "1ep", "2ep", "4ep")
    level: int = 0  # 0: the dense network; L: the mask of level L applied at every rewind point
    pairs: int = 1  # noise pairs per seed (each search artifact is one seed)
    alphas: Tuple[float, ...] = B.ALPHAS
    split: str = "val"  # E(W) of eq. (3): the validation error
    threshold: float = B.STABLE_BELOW  # stable when the mean barrier over seeds and pairs is below
    bn_batches: int = 2

    def __post_init__(self):
        check_split(self.split, "RewindSearchParams.split")
        object.__setattr__(self, "candidates", tuple(self.candidates))
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        if not self.candidates:
            raise ConfigError("RewindSearchParams.candidates is empty: give rewind points such as ('0it', '1ep').")
        if self.pairs < 1:
            raise ConfigError(f"RewindSearchParams.pairs={self.pairs} must be >= 1.")


def rewind_points(candidates, spe: int, total: int) -> List[Tuple[int, str]]:
    """The candidates as (step, name) sorted by step ('1ep' may come before '100it'), one per
    step; a ConfigError for any at or after the end of training."""
    points = {}
    for c in candidates:
        step = to_steps(c, spe, "RewindSearchParams.candidates")
        if step >= total:
            raise ConfigError(f"RewindSearchParams.candidates has {c!r} = step {step}, not before the end of "
                              f"training (step {total}); drop it or lengthen TrainingHparams.budget.")
        points.setdefault(step, c)
    return sorted(points.items())


def execute_rewind_search(p: RewindSearchParams, inputs, out: Path, ctx):
    """For each input search (one per seed): one run of the network from initialization with
    snapshots at every candidate step; then a binary search over the candidates, where a
    candidate k is stable when the mean barrier, over seeds and noise pairs, between copies
    trained from the snapshot at k (masked with level `level`'s mask) is below the threshold.

    With a mask (level > 0) this is the mask found by the search (rewound to its own rewind
    point) applied to the dense run's weights at k: a cheap stand-in for a new IMP search per
    rewind point, which the report says."""
    searches = list(inputs["tickets"])
    per_seed = []
    for tickets in searches:
        search = tickets.params
        ds = load_dataset(search.dataset)
        spe = steps_per_epoch(len(ds.train), search.training.batch_size)
        total = search.training.total_steps(spe)
        points = rewind_points(p.candidates, spe, total)
        steps = [step for step, _ in points]
        masks = tickets.load(tickets.check_levels((p.level,), "RewindSearchParams.level")[0])["masks"]
        model = search_network(search, ds)
        reference = train(model, ds, search.training, seed=search.seed, snapshot_steps=steps,
                          label=f"rewind search {training_label(search.training)} reference", verbose=ctx.verbose,
                          log_dir=ctx.tensorboard_dir / "rewind_search_reference" / f"seed_{search.seed}",
                          log_hparams={"variant": "rewind_search_reference", "level": 0, "rewind": "0it"})
        per_seed.append({"search": search, "ds": ds, "model": model, "masks": masks, "steps": steps,
                         "final": wrapping.get_state(model), "snapshots": reference.snapshots,
                         "evaluator": B.ErrorEvaluator(model, ds, eval_split(ds, p.split), bn_batches=p.bn_batches)})
    names = [name for _, name in points]  # the same for every seed: one training configuration
    rows = []

    def is_stable(position: int) -> bool:
        barriers = []
        for run in per_seed:
            search, model, step = run["search"], run["model"], run["steps"][position]
            start = {"masks": run["masks"], "rewind": run["snapshots"][step]}
            for pair in range(p.pairs):
                copies = []
                for j in (2 * pair, 2 * pair + 1):
                    if j == 0 and p.level == 0:  # continuing the reference run from k is the reference run
                        copies.append(run["final"])
                        continue
                    seed = search.seed if j == 0 else NOISE_SEED_BASE * j + search.seed
                    state, _ = noise_copy(model, run["ds"], search.training, start, step, seed,
                                           f"rewind {names[position]} copy {j}", ctx,
                                           ctx.tensorboard_dir / f"rewind_{names[position]}" / level_name(p.level)
                                           / f"seed_{search.seed}_copy_{j}",
                                           {"variant": "rewind_search", "level": p.level, "copy": j,
                                            "seed": search.seed, "rewind": names[position]})
                    copies.append(state)
                path = B.linear_path(model, copies[0], copies[1], run["ds"], alphas=p.alphas, masks=run["masks"],
                                     evaluator=run["evaluator"])
                barriers.append(path.barrier)
                rows.append({**config_columns(search), "seed": search.seed, "candidate": names[position],
                             "position": position, "rewind_step": step, "level": p.level,
                             "sparsity": M.sparsity(run["masks"]), "pair": pair, "barrier": path.barrier,
                             "error_1": path.error_1, "error_2": path.error_2, "split": p.split})
        stable = float(np.mean(barriers)) < p.threshold
        for r in rows:
            if r["position"] == position:
                r["mean_barrier"], r["stable"] = float(np.mean(barriers)), stable
        return stable

    found, seen = B.first_stable(list(range(len(names))), is_stable)
    search = per_seed[0]["search"]
    summary = {**config_columns(search), "level": p.level, "seeds": len(per_seed), "pairs": p.pairs,
               "first_stable": names[found] if found is not None else None,
               "first_stable_step": per_seed[0]["steps"][found] if found is not None else None,
               "candidates": " ".join(names), "evaluated": len(seen), "threshold": p.threshold,
               "split": p.split}
    write_csv(out / "rewind_search.csv", pd.DataFrame(rows))
    write_csv(out / "rewind_summary.csv", pd.DataFrame([summary]))
    return {"first_stable": summary["first_stable"], "evaluated": len(seen)}


REWIND_SEARCH = ComponentSpec(name="RewindSearch", inputs={"tickets": "Tickets*"}, output="RewindSearch",
                              params=RewindSearchParams, executor=execute_rewind_search)
