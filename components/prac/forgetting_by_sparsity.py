"""ForgettingBySparsity: forgetting counts per example at each sparsity, for IMP with fine-tuning,
lottery tickets and random tickets trained on the full data (000 Fig. A16) -> an Analysis artifact.

000 §A2.6: "Figure A16 shows the distribution of training data's forgetting times at different
sparsity from 0% to 96.48% on CIFAR-10 with ResNet-20. We consider three pruning methods: Basic
iterative magnitude pruning (IMP) (Han et al., 2015), vanilla lottery tickets (LT) (Frankle &
Carbin, 2018), and random tickets (RT). IMP fine-tune the subnetworks directly after pruning while
LT rewinds the weight to the same initialization and RT reinitializes the subnetworks before
fine-tuning." Caption: "... when training with full data. Top: Basic iterative magnitude pruning
(fine-tune after pruning). Middle: vanilla lottery tickets. Bottom: random tickets."

A forgetting event is a transition of an example from correct to incorrect between consecutive
presentations (Toneva et al. 2019; lth_tf.metrics.forgetting.ForgettingCounter, counted from the
training step's own predictions). Every arm trains on the whole training split, with the search's
TrainingHparams and data order (seed = the search's seed), for each level L of `levels`:
- lt: the level's mask on the search's rewind weights, trained from the rewind step to the end,
  exactly as MaskSearch trains level L (same metrics; a test pins it).
- random_ticket: the level's mask on a fresh initialization (lth_tf.lottery.reinit_seed, the
  seed SparseTraining's 'rr' draws), trained from step 0.
- imp_finetune: the level's mask applied to the search's trained weights of level L-1 (the mask
  is their magnitude pruning), fine-tuned without rewinding. Choice: a fresh optimizer and the
  same TrainingHparams from step 0 of the schedule (the whole budget, learning-rate warm-up and
  drops included), not a continuation of the previous schedule. The masks are the search's (LT
  chain), so the three arms differ only in their starting weights.
- level 0 (dense): every arm is the dense network trained from init; trained once (unit
  dense/level_00) and reported under each arm.
The search must have trained on the full data (no pretrained / train_indices / labels input).

Payload: <arm>/level_LL/ atomic units (counts.npz: index, count with never-learned examples at
NEVER_LEARNED; metrics.json), reused on rerun; forgetting_by_sparsity.csv (arm, level, sparsity,
test_accuracy, fractions of the training examples forgotten 0, 1, 2, >=3 times among those ever
learned, and never learned: they sum to 1); forgetting_by_sparsity_arms.png; findings.txt.
"""
import dataclasses
from pathlib import Path
from typing import Tuple

import gin
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.reports import plotting as plotting  # noqa: E402
from components.artifacts.base import level_name  # noqa: E402
from components.mask_search import report_levels  # noqa: E402
from lth_tf.lottery import reinit_seed  # noqa: E402
from components import ComponentSpec  # noqa: E402
from lth_tf import networks  # noqa: E402
from lth_tf.data import load_dataset  # noqa: E402
from lth_tf.errors import ConfigError, unknown_name  # noqa: E402
from lth_tf.io import atomic_path, load_npz, read_json, save_npz, unit_is_complete, write_csv, write_json, write_text  # noqa: E402
from lth_tf.metrics.forgetting import NEVER_LEARNED, ForgettingCounter  # noqa: E402
from lth_tf.sparsity import masks as M  # noqa: E402
from lth_tf.sparsity import wrapping  # noqa: E402
from lth_tf.training import evaluate, train  # noqa: E402

ARMS = ("imp_finetune", "lt", "random_ticket")
ARM_TITLES = {"imp_finetune": "IMP (fine-tune after pruning)", "lt": "lottery tickets (rewind)",
              "random_ticket": "random tickets (reinitialized)"}
BINS = ("forgotten_0", "forgotten_1", "forgotten_2", "forgotten_3_plus", "never_learned")
BIN_LABELS = ("0", "1", "2", "≥3", "never learned")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ForgettingBySparsityParams:
    levels: Tuple[int, ...] = ()  # () = the levels of the sparsities the reports show (report_levels)
    arms: Tuple[str, ...] = ARMS

    def __post_init__(self):
        object.__setattr__(self, "levels", tuple(int(l) for l in self.levels))
        object.__setattr__(self, "arms", tuple(self.arms))
        for arm in self.arms:
            if arm not in ARMS:
                raise unknown_name("ForgettingBySparsity arm", arm, ARMS)
        if not self.arms:
            raise ConfigError(f"ForgettingBySparsityParams.arms is empty; name some of {ARMS}.")


def histogram(counts: np.ndarray) -> dict:
    """Fractions of the presented examples (count >= 0) forgotten 0, 1, 2, >= 3 times (learned
    ones) and never learned; they sum to 1."""
    counts = np.asarray(counts)
    counts = counts[counts >= 0]
    never = counts == NEVER_LEARNED
    learned = counts[~never]
    n = max(len(counts), 1)
    return {"forgotten_0": np.sum(learned == 0) / n, "forgotten_1": np.sum(learned == 1) / n,
            "forgotten_2": np.sum(learned == 2) / n, "forgotten_3_plus": np.sum(learned >= 3) / n,
            "never_learned": np.sum(never) / n}


def starting_point(arm: str, level: int, tickets, search, ds):
    """(model, start step) of an arm at a level >= 1 (see the module docstring)."""
    ticket = tickets.load(level)
    seed = reinit_seed(search.seed, level) if arm == "random_ticket" else search.seed
    model = networks.build_network(search.model, ds.input_shape, ds.num_classes, seed, search.pruning.prunable())
    if arm == "lt":
        wrapping.set_state(model, ticket["rewind"])
    elif arm == "imp_finetune":
        wrapping.set_state(model, tickets.load(level - 1)["trained"])
    wrapping.set_masks(model, ticket["masks"])
    return model, (ticket["meta"]["rewind_step"] if arm == "lt" else 0)


def train_unit(arm: str, level: int, tickets, search, ds, unit: Path, ctx) -> dict:
    if level == 0:
        model = networks.build_network(search.model, ds.input_shape, ds.num_classes, search.seed,
                                       search.pruning.prunable())
        start = 0
    else:
        model, start = starting_point(arm, level, tickets, search, ds)
    split = ds.train
    tracker = ForgettingCounter(int(split.index.max()) + 1)
    result = train(model, ds, search.training, seed=search.seed, start_step=start, train_split=split,
                   on_batch=tracker.on_batch, label=f"forgetting {arm} level {level}", verbose=ctx.verbose)
    masks = wrapping.get_masks(model)
    metrics = {"arm": arm, "level": level, "sparsity": M.sparsity(masks), "start_step": start,
               "own_steps": result.steps, "test_accuracy": evaluate(model, ds, ds.test)["accuracy"]}
    with atomic_path(unit, is_dir=True) as tmp:
        save_npz(tmp / "counts.npz", {"index": split.index, "count": tracker.counts()[split.index]})
        write_json(tmp / "metrics.json", metrics)
    return metrics


def unit_of(out: Path, arm: str, level: int) -> Path:
    return Path(out) / ("dense" if level == 0 else arm) / level_name(level)


def plot_arms(frame: pd.DataFrame, path: Path, title: str):
    """One panel per arm: grouped bars per forgetting-count bin, one colour per sparsity."""
    arms = [a for a in ARMS if a in set(frame.arm)]
    levels = sorted(frame.level.unique())
    cmap = plt.get_cmap("viridis")
    colors = {l: cmap(i / max(len(levels) - 1, 1)) for i, l in enumerate(levels)}
    fig, axes = plt.subplots(len(arms), 1, figsize=(7, 2.6 * len(arms)), sharex=True, sharey=True, squeeze=False)
    x = np.arange(len(BINS))
    width = 0.8 / len(levels)
    for ax, arm in zip(axes[:, 0], arms):
        rows = frame[frame.arm == arm].set_index("level")
        for i, level in enumerate(levels):
            if level in rows.index:
                r = rows.loc[level]
                ax.bar(x - 0.4 + (i + 0.5) * width, [100 * r[b] for b in BINS], width, color=colors[level],
                       label=f"{100 * r.sparsity:.2f}% sparse")
        ax.set_title(ARM_TITLES[arm], fontsize=10)
        ax.set_ylabel("training examples (%)")
        ax.grid(True, axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=8, title="sparsity", title_fontsize=8)
    axes[-1, 0].set_xticks(x, BIN_LABELS)
    axes[-1, 0].set_xlabel("forgetting events per example")
    fig.suptitle(title, fontsize=11)
    plotting.save(fig, path)


def findings(frame: pd.DataFrame) -> str:
    """One sentence: how the share of unforgettable (learned, never forgotten) and of never-learned
    examples moves from the densest to the sparsest level, per arm, and where the unforgettable
    share peaks (000 A2.6: "for IMP and LT, the number of unforgettable images first increases
    and then decreases, while the one for RT consistently decreases")."""
    parts = []
    for arm in [a for a in ARMS if a in set(frame.arm)]:
        rows = frame[frame.arm == arm].sort_values("level")
        lo, hi = rows.iloc[0], rows.iloc[-1]
        peak = rows.loc[rows.forgotten_0.idxmax()]
        shape = (f"peaking at {100 * peak.sparsity:.1f}% sparsity" if peak.level not in (lo.level, hi.level)
                 else "highest at the " + ("densest" if peak.level == lo.level else "sparsest") + " level")
        parts.append(f"{arm}: unforgettable {100 * lo.forgotten_0:.1f}% → {100 * hi.forgotten_0:.1f}% ({shape}), "
                     f"never learned {100 * lo.never_learned:.1f}% → {100 * hi.never_learned:.1f}%")
    lo, hi = 100 * frame.sparsity.min(), 100 * frame.sparsity.max()
    return f"From {lo:.1f}% to {hi:.1f}% sparsity: " + "; ".join(parts) + "."


def check_full_data(tickets):
    used = [k for k, v in tickets.metadata.get("inputs", {}).items() if v]
    if used:
        raise ConfigError(f"ForgettingBySparsity trains on the full data (000 Fig. A16), but the ticket search "
                          f"{tickets.path} was trained with input(s) {used}; give it a MaskSearch on all data.")


def execute(p: ForgettingBySparsityParams, inputs, out: Path, ctx):
    tickets = inputs["tickets"]
    check_full_data(tickets)
    search = tickets.params
    levels = tickets.check_levels(p.levels or report_levels(search.pruning), "ForgettingBySparsityParams.levels")
    ds = load_dataset(search.dataset)
    rows = []
    for level in levels:
        for arm in p.arms:
            unit = unit_of(out, arm, level)
            if unit_is_complete(unit):
                metrics = read_json(unit / "metrics.json")
            else:
                metrics = train_unit(arm, level, tickets, search, ds, unit, ctx)
            counts = load_npz(unit / "counts.npz")["count"]
            rows.append({**metrics, "arm": arm, "examples": int(np.sum(counts >= 0)), **histogram(counts)})
    frame = pd.DataFrame(rows)
    frame = frame[["arm", "level", "sparsity", "test_accuracy", "examples", *BINS, "start_step", "own_steps"]]
    write_csv(out / "forgetting_by_sparsity.csv", frame)
    plot_arms(frame, out / "forgetting_by_sparsity_arms.png",
              f"Forgetting events per training example, {search.model.name} on {search.dataset.name} "
              f"(seed {search.seed}, 000 Fig. A16)")
    sentence = findings(frame)
    write_text(out / "findings.txt", sentence + "\n")
    return {"networks": len({unit_of(out, a, l) for a in p.arms for l in levels}), "findings": sentence}


def validate(p: ForgettingBySparsityParams, inputs):
    """While planning: levels the search will not have (the tickets may not exist yet)."""
    tickets = inputs.get("tickets")
    if tickets is None or not (Path(tickets.path) / "artifact.json").exists():
        return
    search = tickets.params
    bad = [l for l in p.levels if not 0 <= l <= search.pruning.levels]
    if bad:
        raise ConfigError(f"ForgettingBySparsityParams.levels has {bad}, outside 0..{search.pruning.levels} "
                          f"(the search's PruningHparams.levels); drop them or leave levels = () (the report's).")


SPEC = ComponentSpec(name="ForgettingBySparsity", inputs={"tickets": "Tickets"}, output="Analysis",
                     params=ForgettingBySparsityParams, executor=execute, validate=validate)
