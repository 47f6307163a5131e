"""The PrAC papers' pictures, from what a PracMaskSearch artifact stores (round_RR/ mask.npz, sets.npz,
round.json), each a gather function (arrays from the artifact) and a plot function:

- Examples outside and inside the final PrAC set (001 Fig. 9: "Visualization of examples out
  of (upper) and within (bottom) the final PrAC set"): images, or the 1-D signals of MNIST-1D.
- Pairwise Hamming distances between the masks of all rounds (001 Fig. 2, "pairwise hamming
  distance between identified subnetworks"; §3.2: "The distance metric for matrices we use is
  the Hamming distance, i.e., the number of different elements in two masks"). Shown divided by
  the number of prunable weights (`lth_tf.metrics.prac.mask_distance` over all weights), so 0.2
  means a fifth of the weights differ; beside it, the early-bird distances between the masks of
  successive epochs within each round (normalized over the weights the round keeps), which show
  the convergence the paper reads from Fig. 2.
- Forgetting-count distributions per sparsity (000 Fig. A16: "the distribution of training
  data's forgetting times at different sparsity"): the forgetting events of every example each
  round trains on, one curve per round, i.e. per sparsity of the mask m_{r-1} the round trains.
  Round 1 is the dense network on all data; later rounds train on the round's set (all data for
  selection 'full').
"""
from pathlib import Path
from typing import Dict, List

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from components.reports import plotting as plotting  # noqa: E402
from components.artifacts.base import from_description  # noqa: E402
from components.artifacts.tickets import Tickets  # noqa: E402
from lth_tf.data import DatasetHparams, load_dataset, sample  # noqa: E402
from lth_tf.io import load_npz, read_json  # noqa: E402
from lth_tf.metrics import prac as P  # noqa: E402
from lth_tf.metrics.forgetting import NEVER_LEARNED  # noqa: E402
from lth_tf.sparsity import masks as M  # noqa: E402
from components.artifacts.tickets import round_dir  # noqa: E402,F401  (the Tickets layout; paper_figures uses it)


def rounds_of(path: Path) -> List[int]:
    return sorted(int(d.name[6:]) for d in Path(path).glob("round_[0-9][0-9]") if (d / "round.json").exists())


# --- Fig. 9: examples in and out of the final PrAC set ----------------------------------------

def dataset_of(artifact):
    """The search's dataset, loaded: only for searches stored before the producer recorded the
    examples of Fig. 9 (`examples_of`)."""
    return load_dataset(from_description(DatasetHparams, artifact.metadata["parameters"]["dataset"]))


def final_set_examples(split, selected, count: int = 6, seed: int = 0) -> Dict[str, tuple]:
    """{'outside': (x, y, index), 'inside': (x, y, index)}: `count` examples of `split` drawn at
    random (fixed seed) from outside and from inside `selected` (stable example indices); a
    streamed split reads only those examples (lth_tf.data.sample)."""
    return {name: sample.examples(split, pick)
            for name, pick in P.final_set_positions(split.index, selected, count, seed).items()}


def examples_of(artifact, selected, count: int = 6, seed: int = 0) -> Dict[str, tuple]:
    """Fig. 9's examples of a PrAC search: as its producer recorded them (Tickets.final_examples),
    else (searches stored before) drawn from the reloaded dataset, the same examples."""
    recorded = Tickets.at(artifact.path).final_examples(count, seed)
    if recorded is not None:
        return recorded
    return final_set_examples(dataset_of(artifact).train, selected, count, seed)


def plot_examples(examples: Dict[str, tuple], path: Path, title: str, class_names=None):
    """Two rows (001 Fig. 9's order): outside the final set (upper), inside it (bottom);
    images drawn as images, 1-D inputs as signals."""
    cols = max(1, max(len(v[0]) for v in examples.values()))
    fig, axes = plt.subplots(2, cols, figsize=(2.1 * cols, 4.6), squeeze=False)
    for row, name in enumerate(("outside", "inside")):
        x, y, index = examples[name]
        for col in range(cols):
            ax = axes[row][col]
            if col >= len(x):
                ax.axis("off")
                continue
            sample = np.squeeze(np.asarray(x[col], float))  # (L, 1) -> (L,); (H, W, 1) -> (H, W)
            if sample.ndim >= 2:  # an image (H, W[, C])
                image = sample
                if image.ndim == 3:
                    image = (image - image.min()) / max(float(image.max() - image.min()), 1e-8)
                ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
                ax.set_xticks([])
                ax.set_yticks([])
            else:  # a 1-D signal (MNIST-1D)
                ax.plot(sample.ravel(), color="tab:red" if name == "inside" else "tab:blue", linewidth=1)
                ax.set_xticks([])
                ax.tick_params(labelsize=6)
            label = class_names[int(y[col])] if class_names is not None else f"class {int(y[col])}"
            ax.set_title(f"{label} (#{int(index[col])})", fontsize=8)
        axes[row][0].set_ylabel(f"{name} the set", fontsize=9)
    fig.suptitle(title, fontsize=10)
    plotting.save(fig, path)


# --- Fig. 2: Hamming distances between the masks of the rounds --------------------------------

def round_masks(path: Path) -> Dict[int, dict]:
    """{r: m_r} for the rounds of a search, with r = 0 the dense all-ones mask."""
    masks = {r: M.load_masks(round_dir(path, r) / "mask.npz") for r in rounds_of(path)}
    if masks:
        first = next(iter(masks.values()))
        masks[0] = {n: np.ones_like(m) for n, m in first.items()}
    return dict(sorted(masks.items()))


def hamming_matrix(masks: List[dict]) -> np.ndarray:
    """D[i, j]: the number of positions where masks i and j differ (001 §3.2's Hamming
    distance) divided by the number of prunable weights."""
    n = len(masks)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = P.mask_distance(masks[i], masks[j])
    return out


def epoch_distances(path: Path) -> Dict[int, list]:
    """{round: early-bird distances between the prospective masks of successive epochs}."""
    return {r: list(read_json(round_dir(path, r) / "round.json").get("distances", [])) for r in rounds_of(path)}


def plot_hamming(masks: Dict[int, dict], epochs: Dict[int, list], path: Path, title: str):
    rounds = list(masks)
    matrix = hamming_matrix([masks[r] for r in rounds])
    sparsity = [M.sparsity(masks[r]) for r in rounds]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1, 1.2]})
    ax = axes[0]
    image = ax.imshow(matrix, cmap="viridis", vmin=0)
    labels = [f"m{r}\n{plotting.percent_label(100 * (1 - s))}%" for r, s in zip(rounds, sparsity)]
    ax.set_xticks(range(len(rounds)), labels, fontsize=7)
    ax.set_yticks(range(len(rounds)), [l.replace("\n", " ") for l in labels], fontsize=7)
    if len(rounds) <= 12:
        for i in range(len(rounds)):
            for j in range(len(rounds)):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if matrix[i, j] < 0.6 * max(matrix.max(), 1e-9) else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, label="Hamming distance / prunable weights")
    ax.set_title("masks of all rounds (m_r, weights remaining)", fontsize=9)
    ax = axes[1]
    drawn = [r for r in epochs if epochs[r]]
    colors = plotting.level_colors(range(len(drawn)), top=0.9)
    for i, r in enumerate(drawn):
        ax.plot(range(2, len(epochs[r]) + 2), epochs[r], marker="o", markersize=3,
                color=colors[i], label=f"round {r}")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch of the round")
    ax.set_ylabel("distance to the previous epoch's mask\n(/ weights the round keeps)")
    ax.set_title("within each round: successive prospective masks", fontsize=9)
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle(title, fontsize=10)
    plotting.save(fig, path)


# --- Fig. A16: forgetting-count distributions per sparsity ------------------------------------

def forgetting_by_round(path: Path) -> List[dict]:
    """Per round: {'round', 'sparsity' (of the mask the round trains), 'counts' (forgetting
    events of every example the round trained on; NEVER_LEARNED for never learned)}."""
    out = []
    for r in rounds_of(path):
        sets = load_npz(round_dir(path, r) / "sets.npz")
        info = read_json(round_dir(path, r) / "round.json")
        counts = np.asarray(sets["forgetting"])
        counts = counts[np.asarray(sets["trained_on"], np.int64)]
        out.append({"round": r, "sparsity": float(info.get("cep_subnetwork_sparsity", 0.0)),
                    "counts": counts[counts >= 0]})
    return out


def count_histogram(counts: np.ndarray, top: int) -> np.ndarray:
    """Fractions of examples forgotten 0, 1, ..., top−1 times, ≥ top times, and never learned."""
    counts = np.asarray(counts)
    never = counts == NEVER_LEARNED
    learned = np.minimum(counts[~never], top)
    hist = np.bincount(learned.astype(np.int64), minlength=top + 1).astype(float)
    hist = np.append(hist, never.sum())
    return hist / max(1, len(counts))


def plot_forgetting(panels: Dict[str, List[dict]], path: Path, title: str, top: int = 8):
    """One panel per search (000 Fig. A16's rows: one per method); grouped bars, one colour per
    sparsity: the fraction of examples forgotten k times, and never learned."""
    names = list(panels)
    learned = [r["counts"][r["counts"] != NEVER_LEARNED] for rounds in panels.values() for r in rounds]
    most = max([int(c.max()) for c in learned if len(c)] + [0])
    top = max(2, min(top, most + 1))
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.8 * len(names) + 0.6), squeeze=False, sharex=True)
    for ax, name in zip(axes[:, 0], names):
        rounds = panels[name]
        colors = plotting.level_colors(range(len(rounds)), top=0.9)
        width = 0.8 / max(1, len(rounds))
        for i, r in enumerate(rounds):
            ax.bar(np.arange(top + 2) - 0.4 + (i + 0.5) * width, count_histogram(r["counts"], top), width,
                   color=colors[i],
                   label=f"{plotting.percent_label(100 * (1 - r['sparsity']))}% remaining (round {r['round']}, "
                         f"{len(r['counts'])} ex.)")
        ax.set_ylabel("fraction of examples")
        ax.set_title(name, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    ticks = [str(k) for k in range(top)] + [f"≥{top}", "never\nlearned"]
    axes[-1][0].set_xticks(range(top + 2), ticks, fontsize=7)
    axes[-1][0].set_xlabel("forgetting events per example")
    fig.suptitle(title, fontsize=10)
    plotting.save(fig, path)
