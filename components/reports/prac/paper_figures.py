"""The PrAC report's sections of the papers' figures: 001 Fig. 9 (examples in / out of the final
PrAC set), 001 Fig. 2 (Hamming distances between round masks) and 000 Fig. A16 (forgetting per
sparsity) for the headline search; and 000 Fig. A16 itself from a ForgettingBySparsity input
(IMP fine-tune / LT / RT on all data)."""
import shutil
from pathlib import Path

import pandas as pd

from components.artifacts.tickets import Tickets
from components.reports.prac import figures as prac_figures
from components.reports.prac.gather import PracData
from components.reports.section import Section, markdown, section
from lth_tf.io import load_npz, write_csv


def paper_figures(d: PracData) -> Section:
    return section(*_paper_figures(d.inputs, d.main, d.out))


def forgetting_arms(d: PracData) -> Section:
    return section(*_forgetting_arms(d.inputs, d.out))


def _paper_figures(inputs, main: str, out: Path) -> list:
    """001 Fig. 9 (examples in / out of the final PrAC set), 001 Fig. 2 (Hamming distances
    between round masks) and 000 Fig. A16 (forgetting per sparsity), for the headline search of
    the first seed (Fig. A16: every PrAC-family search of that seed)."""
    searches = [a for a in inputs.get("prac") or [] if prac_figures.rounds_of(a.path)]
    if not searches:
        return []
    def variant_of(a):
        named = pd.read_csv(a.path / "results.csv") if (a.path / "results.csv").exists() else pd.DataFrame()
        named = named.loc[named.level > 0, "variant"] if len(named) else named
        return str(named.iloc[0]) if len(named) else a.path.name
    seed = min(a.metadata["parameters"]["seed"] for a in searches)
    first = [a for a in searches if a.metadata["parameters"]["seed"] == seed]
    headline = next((a for a in first if variant_of(a) == main), first[0])
    rounds = prac_figures.rounds_of(headline.path)
    last = rounds[-1]
    selected = load_npz(prac_figures.round_dir(headline.path, last) / "sets.npz")["selected"]
    examples = prac_figures.examples_of(headline, selected, count=6, seed=seed)
    prac_figures.plot_examples(examples, out / "prac_examples.png",
                               f"`{variant_of(headline)}` seed {seed}: outside (upper) and inside (bottom) the final "
                               f"PrAC set (after round {last}: {len(selected)} of {Tickets.at(headline.path).train_examples} "
                               f"examples)")
    prac_figures.plot_hamming(prac_figures.round_masks(headline.path), prac_figures.epoch_distances(headline.path),
                              out / "mask_hamming.png", f"`{variant_of(headline)}` seed {seed}: Hamming distances "
                              "between masks")
    panels = {f"{variant_of(a)} (seed {seed})": prac_figures.forgetting_by_round(a.path) for a in first}
    prac_figures.plot_forgetting(panels, out / "forgetting_by_sparsity.png",
                                 "Forgetting events per example, per sparsity of the network trained")
    return ["## Examples outside and inside the final PrAC set (001 Fig. 9)\n",
            f"Six examples drawn at random (seed {seed}) from outside (upper row) and inside (bottom row) the set the "
            f"last round chose; titles give the class and the example's index. The paper finds the examples outside "
            f"the set simpler (objects centred, easily told apart) and those inside ambiguous.\n",
            "![examples in and out of the PrAC set](prac_examples.png)\n",
            "## Hamming distances between masks (001 Fig. 2)\n",
            "Left: the Hamming distance (001 §3.2: \"the number of different elements in two masks\") between the "
            "masks of every pair of rounds (m_0 = dense), divided by the number of prunable weights. IMP masks are "
            "nested (a round prunes only weights the previous mask kept), so the distance between m_i and m_j is the "
            "difference of their densities. Right: within each round, the early-bird distance between the prospective "
            "masks of successive epochs (divided by the weights the round keeps; the round stops early once the newest "
            "of five is within 0.07 of the others); the paper reads from Fig. 2 that the masks converge about half way "
            "through training.\n",
            "![Hamming distances](mask_hamming.png)\n",
            "## Forgetting per sparsity (000 Fig. A16)\n",
            "The distribution of forgetting events per example while each round trains (one curve per sparsity of the "
            "mask the round trains; round 1 is the dense network on all data, later rounds train on their PrAC / "
            "subset). 000 Fig. A16 plots the same statistic for IMP with fine-tuning, vanilla lottery tickets and "
            "random tickets trained on all data (the 'forgetting_arms' analysis, its own section when run); here "
            "only the PrAC-family searches are shown. The paper finds the number of unforgettable examples first rising then "
            "falling with sparsity for IMP and LT, and the largest forgetting count growing with sparsity.\n",
            "![forgetting by sparsity](forgetting_by_sparsity.png)\n"]


def _forgetting_arms(inputs, out: Path) -> list:
    """000 Fig. A16 itself, from a ForgettingBySparsity input: its figure, csv and findings."""
    artifacts = inputs.get("forgetting_arms") or []
    if not artifacts:
        return []
    source = Path(artifacts[0].path)
    shutil.copy(source / "forgetting_by_sparsity_arms.png", out / "forgetting_by_sparsity_arms.png")
    frame = pd.read_csv(source / "forgetting_by_sparsity.csv")
    write_csv(out / "forgetting_by_sparsity_arms.csv", frame)
    columns = ["arm", "level", "sparsity", "test_accuracy", "forgotten_0", "forgotten_1", "forgotten_2",
               "forgotten_3_plus", "never_learned"]
    return ["## Forgetting per sparsity: IMP fine-tune, lottery tickets, random tickets (000 Fig. A16)\n",
            "Each arm trains on all training data with the vanilla IMP search's masks: IMP fine-tunes the pruned "
            "trained network, LT rewinds to the search's rewind point, RT re-initializes; fractions of the training "
            "examples forgotten 0, 1, 2, ≥3 times (of those ever learned) and never learned "
            "(`forgetting_by_sparsity_arms.csv`). The paper finds the unforgettable share first rising then falling "
            "with sparsity for IMP and LT, and falling throughout for RT.\n",
            (source / "findings.txt").read_text().strip() + "\n",
            "![forgetting by sparsity per arm](forgetting_by_sparsity_arms.png)\n",
            markdown(frame[columns], floatfmt=".3f")]
