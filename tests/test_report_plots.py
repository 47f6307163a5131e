"""Shared plotting: one colour per configuration across plots, readable weights-remaining ticks,
and the PrAC papers' pictures (001 Fig. 2 / Fig. 9, 000 Fig. A16) from tiny synthetic artifacts."""
import json

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest

from components.reports import plotting as plotting
from components.reports.prac import figures as prac_figures
from components.reports.stability import instability, tickets
from lth_tf.data.dataset import Split
from lth_tf.io import save_npz
from lth_tf.metrics.forgetting import NEVER_LEARNED


@pytest.fixture
def figures(monkeypatch):
    """Keeps every figure a report draws instead of writing it."""
    kept = []
    monkeypatch.setattr(plotting, "save", lambda fig, path, dpi=110: kept.append(fig))
    return kept


def test_label_colors_are_fixed_and_order_free():
    a = plotting.label_colors(["mu0_bs512_rw0it", "mu0.9_bs128_rw0it", "dense"])
    b = plotting.label_colors(["dense", "mu0.9_bs128_rw0it", "mu0_bs512_rw0it"])
    assert a == b and a["dense"] == "black"
    assert a["mu0.9_bs128_rw0it"] != a["mu0_bs512_rw0it"]


def test_percent_labels_are_plain_numbers():
    assert [plotting.percent_label(v) for v in (100, 33.3, 10.7, 3.6, 1.18, 0.46)] == \
        ["100", "33", "11", "3.6", "1.2", "0.46"]
    assert len(plotting.remaining_ticks(100 * 0.8 ** np.arange(21))) == plotting.MAX_TICKS


def test_one_colour_per_configuration_in_two_plots(figures, tmp_path):
    configs = {"mu0.9_bs128_rw0it": 0.9, "mu0_bs512_rw0it": 0.0}
    grid = pd.DataFrame([{"config": c, "rewind": "0it", "level": l, "sparsity": s, "test_accuracy": 0.9 - s / 10,
                          "seed": 0} for c in configs for l, s in ((0, 0.0), (1, 0.6), (2, 0.84))])
    barriers = pd.DataFrame([{"config": c, "momentum": m, "batch_size": 128, "rewind": "0it", "kind": "noise",
                              "level": l, "sparsity": s, "barrier": 0.01}
                             for c, m in configs.items() for l, s in ((0, 0.0), (2, 0.84))])
    colors = plotting.label_colors(configs)
    tickets.plot_accuracy(grid, tmp_path / "a.png", colors)
    instability.plot_barriers(barriers, 0.02, tmp_path / "b.png", colors)

    def line_colors(fig):
        return {line.get_label(): matplotlib.colors.to_hex(line.get_color())
                for ax in fig.axes for line in ax.get_lines() if line.get_label() in configs}
    first, second = (line_colors(f) for f in figures)
    assert first == second and len(set(first.values())) == 2
    assert first["mu0_bs512_rw0it"] == matplotlib.colors.to_hex(colors["mu0_bs512_rw0it"])
    labels = [t.get_text() for t in figures[0].axes[0].get_xticklabels()]
    assert labels == ["100", "40", "16"]  # weights remaining at the reached levels, in %


def test_hamming_distance_on_toy_masks():
    # Layer k: 4 weights, layer b: 2 weights (6 in all).
    a = {"k": np.array([1, 1, 1, 0.]), "b": np.array([1, 1.])}
    b = {"k": np.array([1, 0, 0, 0.]), "b": np.array([1, 0.])}
    ones = {"k": np.ones(4), "b": np.ones(2)}
    d = prac_figures.hamming_matrix([ones, a, b])
    # ones-a differ at 1 position, ones-b at 4, a-b at 3: divided by 6 weights.
    assert np.allclose(d, np.array([[0, 1, 4], [1, 0, 3], [4, 3, 0]]) / 6)


def _search(tmp_path):
    """A PracMaskSearch-shaped directory: two rounds on 6 examples."""
    masks = [{"k": np.array([1, 1, 0, 0.])}, {"k": np.array([1, 0, 0, 0.])}]
    forgetting = [np.array([0, 1, 2, NEVER_LEARNED, 0, 0]), np.array([0, 3, -1, NEVER_LEARNED, 1, -1])]
    trained_on = [np.arange(6), np.array([0, 1, 3, 4])]
    for r in (1, 2):
        d = tmp_path / f"round_{r:02d}"
        d.mkdir(parents=True)
        save_npz(d / "mask.npz", masks[r - 1])
        save_npz(d / "sets.npz", {"forgetting": forgetting[r - 1], "trained_on": trained_on[r - 1],
                                  "selected": np.array([1, 3, 4])})
        (d / "round.json").write_text(json.dumps({"distances": [0.2, 0.1], "cep_subnetwork_sparsity": 0.5 * (r - 1)}))
    return tmp_path


def test_forgetting_histogram_counts_what_each_round_trained(tmp_path):
    rounds = prac_figures.forgetting_by_round(_search(tmp_path))
    assert [r["sparsity"] for r in rounds] == [0.0, 0.5]
    assert sorted(rounds[1]["counts"].tolist()) == [0, 1, 3, NEVER_LEARNED]
    # round 1: counts 0,1,2,never,0,0 -> 0: 3/6, 1: 1/6, 2: 1/6, >=3: 0, never: 1/6
    assert np.allclose(prac_figures.count_histogram(rounds[0]["counts"], 3), [3 / 6, 1 / 6, 1 / 6, 0, 1 / 6])


def test_paper_figures_are_drawn_from_a_tiny_artifact(tmp_path):
    path = _search(tmp_path / "search")
    prac_figures.plot_forgetting({"prac": prac_figures.forgetting_by_round(path)}, tmp_path / "a16.png", "A16")
    prac_figures.plot_hamming(prac_figures.round_masks(path), prac_figures.epoch_distances(path),
                              tmp_path / "fig2.png", "Fig. 2")
    signals = Split(np.random.default_rng(0).normal(size=(6, 40, 1)).astype(np.float32), np.arange(6) % 3,
                    np.arange(10, 16))
    examples = prac_figures.final_set_examples(signals, [11, 13, 14], count=2)
    assert set(examples["inside"][2]) <= {11, 13, 14} and not set(examples["outside"][2]) & {11, 13, 14}
    prac_figures.plot_examples(examples, tmp_path / "fig9.png", "Fig. 9")
    images = Split(np.zeros((4, 8, 8, 3), np.uint8), np.zeros(4, np.int64), np.arange(4))
    prac_figures.plot_examples(prac_figures.final_set_examples(images, [0], count=3), tmp_path / "fig9b.png", "img")
    for name in ("a16.png", "fig2.png", "fig9.png", "fig9b.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
