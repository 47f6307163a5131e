"""PracMaskSearch: lottery tickets found while training on a shrinking Pruning-Aware Critical
(PrAC) set (Algorithm 1 of Zhang et al., "Efficient Lottery Ticket Finding: Less Data is More",
ICML 2021) -> a Tickets artifact. (Over 300 lines: Algorithm 1's rounds, selections, early
stop and ledger are one procedure, read top to bottom.)

Round r = 1..levels trains the mask m_{r-1} (rewound weights) on the example set D_{r-1}
(D_0 = the full training set), tracking forgetting; then
- CET = examples of D_{r-1} forgotten more than E_F times (lth_tf.metrics.forgetting),
- m_r = magnitude pruning of the round's trained weights (a fraction ρ of the remaining ones),
- CEP = examples of D_0 on which the *full dense network* and the round's trained subnetwork
  disagree (001 §3.1 "Approach II", Algorithm 1 line 10: "Select samples from D_0 that full
  model and subnetworks disagree with"). As in the authors' released code (main_PrAC_imp.py,
  `prune_aware_example(0model_SA_best, <state>model_SA_best)`), the full model is the dense
  network trained in round 1 and the subnetwork is round r's trained network (mask m_{r-1}),
  both at their best-validation epoch (000 A1: "we choose the model with the best validation
  accuracy"; the last epoch's weights when there is no validation split). Round 1's network
  *is* the dense network, so its CEP is empty. round_01/ keeps the dense network's weights
  (dense_best.npz) and predicted classes, so a resumed search compares with the same network.
- D_r = CET ∪ CEP (`selection='prac'`; baselines choose other sets, see SELECTIONS).
Dynamic iterations: round r trains N = |D_{r-1}|/|D_0| · N0 steps with the LR milestones (and
warm-up) scaled by the same factor (TrainingHparams.scaled); a rewound round starts at the same
fraction of its shortened schedule as the rewind point had of the full one. Early-bird stop
(on by default, as in the paper: 001 §3.2 ii; 000 A1 threshold 0.07): after every epoch the
prospective mask m_r is computed and its normalized Hamming distance to the previous epoch's
(counted over the weights m_{r-1} keeps). `early_stop_rule='prac'` (default, the authors'
main_PrAC_imp.py): the round ends once the last `early_stop_queue` (5) distances recorded are
all below `early_stop_threshold`, recording from the first distance above it
(lth_tf.metrics.prac.prac_early_stop). `'early_bird'`: once the newest of a FIFO queue of
`early_stop_queue` masks is within the threshold of each of the others (Early-Bird's rule,
lth_tf.metrics.prac.early_stop; it stops earlier on the same masks). Every round stops early,
the dense round 1 included (as the authors' code does);
`early_stop_dense=False` spares round 1, so the dense network stays the one vanilla IMP trains.

Round 1 is the dense training on all data; it is also level 0 (the dense network) and records
the rewind weights. Level r >= 1 is the ticket m_r retrained on the full data from the rewind
point for the full budget, as vanilla IMP's tickets are, so their accuracies compare directly.

Iteration ledger: every network records `search_steps` (training steps of the rounds that
produced its mask, plus scoring models such as the SVP proxy), `own_steps` (its own training)
and `train_steps` = search_steps + own_steps, comparable with MaskSearch's `train_steps`.

Artifact (type Tickets, readable by SparseTraining): round_RR/ {mask.npz (m_r), sets.npz
(trained_on, cet, cep, selected, forgetting, dense_prediction, subnetwork_prediction: the two
networks' predicted classes CEP compares), round.json (set sizes, steps, best validation),
history.csv; round_01/ also dense_best.npz} and level_LL/ {mask.npz,
trained.npz, metrics.json, history.csv; exported levels saved_model/ + ticket.json in place of
trained.npz (Tickets.trained);
level_00/ also rewind.npz, the weights every level rewinds to}, each written as
one atomic unit, so an interrupted search resumes after its last finished unit; results.csv,
rounds.csv, ledger.csv; final_set_examples.npz (the examples of 001 Fig. 9, for the report).
On a streamed training split (lth_tf/data/streaming.py) each round's predictions over D_0 (and
the SVP proxy's entropy) come from one scores.write_scores pass, predictions/round_RR.csv
(predictions/svp_proxy.csv): the logits are never held whole; the numbers are the same.
"""
import dataclasses
import json
from pathlib import Path
from typing import Optional

import gin
import numpy as np
import pandas as pd

from components.artifacts.base import level_name, unit_name
from components.artifacts.tickets import (finished_levels, level_dir, load_rewind, round_dir, round_done, search_facts,
                                          write_final_examples, write_results, write_ticket)
from components import ComponentSpec
from components.prac.rounds import load_state, round_schedule, train_ticket
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset, steps_per_epoch
from lth_tf import lottery
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.io import atomic_path, load_npz, read_json, save_npz, unit_is_complete, write_csv, write_json
from lth_tf.metrics import prac as P
from lth_tf.metrics import scores
from lth_tf.metrics.forgetting import ForgettingCounter
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, evaluate, to_steps, train

# How the next round's example set is chosen:
#   prac: CET ∪ CEP (the paper);  cet: CET only;  cep: CEP only;  full: all data (vanilla IMP
#   run through this machinery, e.g. with early stop);  random / entropy / svp: as many
#   examples as the reference PrAC search chose in the same round, drawn at random, by the
#   prediction entropy of the round's trained network (best-validation weights), or by the entropy of a small proxy
#   network trained once on all data (selection via proxy);  transfer: the reference search's
#   own sets (found with another architecture).
SELECTIONS = ("prac", "cet", "cep", "full", "random", "entropy", "svp", "transfer")
NEEDS_REFERENCE = ("random", "entropy", "svp", "transfer")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class PracSearchParams:
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams  # N0 and its schedule: the full-data recipe
    pruning: PruningHparams  # fraction ρ, levels, scope, rewind ('0it' init, 'Kep' epoch K)
    seed: int = 0
    selection: str = "prac"
    forgetting_threshold: int = 0  # E_F: CET = examples forgotten more than E_F times
    dynamic_iterations: bool = True  # N = |D|/|D0| · N0 (False: every round trains N0 steps)
    early_stop: bool = True  # early-bird stop of every round (the paper's PrAC; False: 'w/o early stop')
    early_stop_threshold: float = 0.07  # normalized Hamming distance between prospective masks (000 A1)
    early_stop_queue: int = 5  # FIFO queue: of distances ('prac') or of prospective masks ('early_bird')
    early_stop_rule: str = "prac"  # 'prac' (the authors' code, 001/000) or 'early_bird' (You et al. 2020)
    early_stop_dense: bool = True  # may round 1 (the dense training, level 0) stop early too
    svp_width: float = 0.25  # the selection-via-proxy model's width, relative to the model's
    svp_budget: str = "5ep"  # the proxy's training budget (its steps count as search steps)
    evaluate: bool = True  # retrain every level's mask on the full data (the ticket's accuracy)
    export: bool = True  # SavedModel of every evaluated ticket
    label: str = ""  # results variant; '' = derived from the settings (see variant())

    def __post_init__(self):
        if self.selection not in SELECTIONS:
            raise unknown_name("PrAC selection", self.selection, SELECTIONS)
        if self.pruning.method != "imp":
            raise ConfigError(f"PracSearchParams.pruning.method={self.pruning.method!r}: PrAC prunes by "
                              f"magnitude every round; set PruningHparams.method = 'imp'.")
        if self.pruning.levels < 1:
            raise ConfigError("PracSearchParams needs PruningHparams.levels >= 1 (one pruning round per level).")
        if self.forgetting_threshold < 0:
            raise ConfigError(f"PracSearchParams.forgetting_threshold={self.forgetting_threshold} must be >= 0.")
        if not 0.0 < self.early_stop_threshold < 1.0:
            raise ConfigError(f"PracSearchParams.early_stop_threshold={self.early_stop_threshold} must be in (0, 1), "
                              f"e.g. 0.07.")
        if self.early_stop_queue < 2:
            raise ConfigError(f"PracSearchParams.early_stop_queue={self.early_stop_queue} must be >= 2 (entries of "
                              f"the early-stop queue: distances with rule 'prac', masks with 'early_bird'; 5 is the "
                              f"authors').")
        if self.early_stop_rule not in P.EARLY_STOP_RULES:
            raise unknown_name("early-stopping rule", self.early_stop_rule, P.EARLY_STOP_RULES)
        if not self.svp_width > 0:
            raise ConfigError(f"PracSearchParams.svp_width={self.svp_width} must be positive.")
        to_steps(self.svp_budget, 1, "PracSearchParams.svp_budget")

    def variant(self) -> str:
        if self.label:
            return self.label
        name = {"prac": "prac", "cet": "cet_only", "cep": "cep_only", "full": "imp_full",
                "random": "random_subset", "entropy": "entropy_subset", "svp": "svp_subset",
                "transfer": "prac_transfer"}[self.selection]
        if self.forgetting_threshold:
            name += f"_ef{self.forgetting_threshold}"
        if not self.dynamic_iterations:
            name += "_static"
        if not self.early_stop:
            return name + "_no_es"  # 001 Fig. 8: "PrAC w/o. Early Stop"
        if not self.early_stop_dense:
            name += "_es_sparse"
        if self.early_stop_rule != "prac":
            name += "_eb"
        if self.early_stop_queue != 5:
            name += f"_q{self.early_stop_queue}"
        if self.early_stop_threshold != 0.07:
            name += f"_t{self.early_stop_threshold:g}"
        return name


def _top(indices: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """The `count` indices with the highest scores (ties by position), sorted."""
    order = np.argsort(-values, kind="stable")
    return np.sort(indices[order[:count]])


def _reference_sets(p: PracSearchParams, reference) -> Optional[list]:
    """The reference PrAC search's selected set per round (index r-1 -> round r)."""
    if p.selection not in NEEDS_REFERENCE:
        return None
    if reference is None:
        raise ConfigError(f"PracSearchParams.selection={p.selection!r} needs a `reference` input: the PrAC search "
                          f"whose per-round set sizes (or sets, for 'transfer') it uses.")
    theirs = dict(reference.metadata["parameters"]["dataset"])
    theirs.pop("__class__", None)
    ours = json.loads(json.dumps(dataclasses.asdict(p.dataset)))
    if theirs != ours:
        raise ConfigError(f"The reference PrAC search used dataset {theirs}, this one {ours}: example indices "
                          f"only carry over between searches on the same dataset.")
    sets = []
    for r in range(1, p.pruning.levels + 1):
        if not round_done(reference.path, r):
            raise ConfigError(f"The reference PrAC search has fewer than {p.pruning.levels} rounds; give it at least "
                              f"as many pruning levels as this search.")
        sets.append(load_npz(round_dir(reference.path, r) / "sets.npz")["selected"])
    return sets


def _svp_proxy(p: PracSearchParams, ds, spe: int, out: Path, ctx):
    """Entropy scores of a narrow proxy network trained on all data (selection via proxy),
    computed once and kept as the unit `proxy/`. Returns (scores over ds.train, steps)."""
    unit = out / "proxy"
    if not unit_is_complete(unit):
        steps = to_steps(p.svp_budget, spe, "PracSearchParams.svp_budget")
        hp = p.training.scaled(steps / p.training.total_steps(spe), spe)
        proxy_hp = ModelHparams(p.model.name, p.model.width * p.svp_width, p.model.initializer)
        proxy = networks.build_network(proxy_hp, ds.input_shape, ds.num_classes, p.seed, p.pruning.prunable())
        result = train(proxy, ds, hp, seed=p.seed, label=f"svp proxy seed {p.seed}", verbose=ctx.verbose,
                       log_dir=ctx.tensorboard_dir / "svp_proxy" / level_name(0),
                       log_hparams={"variant": "svp_proxy", "level": 0, "rewind": "0it"})
        entropy = scores.example_scores(proxy, ds, ds.train, ("entropy",),
                                        path=out / "predictions" / "svp_proxy.csv")["entropy"]
        with atomic_path(unit, is_dir=True) as tmp:
            save_npz(tmp / "scores.npz", {"entropy": entropy, "index": ds.train.index})
            write_json(tmp / "proxy.json", {"steps": result.steps, "width": proxy_hp.width,
                                            "test_accuracy": evaluate(proxy, ds, ds.test)["accuracy"]})
    return load_npz(unit / "scores.npz")["entropy"], read_json(unit / "proxy.json")["steps"]


def _predictions(p, model, ds, path: Path):
    """(predicted class, prediction entropy or None) per example of ds.train, in its order, of
    the model as it is. In memory from predict's logits; on a streamed split from one
    scores.write_scores pass (written to `path` as it goes: the logits are never held whole),
    the same numbers."""
    want_entropy = p.selection == "entropy"
    table = scores.example_scores(model, ds, ds.train, ("prediction",) + (("entropy",) if want_entropy else ()), path=path)
    return table["prediction"].astype(np.int64), table["entropy"] if want_entropy else None


def _select(p, r, cet, cep, entropy, reference_sets, proxy_scores, full):
    if p.selection == "prac":
        return P.prac_set(cet, cep)
    if p.selection == "cet":
        return cet
    if p.selection == "cep":
        return cep
    if p.selection == "full":
        return full
    if p.selection == "transfer":
        return P.as_set(reference_sets[r - 1])
    count = len(reference_sets[r - 1])
    if p.selection == "random":
        rng = np.random.default_rng([p.seed, r, 7])
        return np.sort(rng.choice(full, size=count, replace=False))
    if p.selection == "entropy":
        return _top(full, entropy, count)
    return _top(full, proxy_scores, count)  # svp


def _best_or_last(result, model):
    """The round's network selected by validation (000 A1): its best-validation weights, or the
    current (last) ones without a validation split."""
    return result.best_state if result.best_state is not None else wrapping.get_state(model)


def _imp_masks(p, r, model, masks, density):
    """Round r's mask from the network as it is, by the lottery core's registered IMP criterion
    (the magnitude of the trained weights, lth_tf.lottery.next_masks), as MaskSearch prunes."""
    return lottery.next_masks("imp", r, density, p.pruning.scope, masks, wrapping.get_state(model), None,
                              lottery.levels.level_rng(p.seed, r), model, batch=None)


def _run_round(p, r, model, ds, spe, rewind_step, masks, trained_on, rewind_state, reference_sets,
               proxy_scores, dense_classes, out, ctx):
    """One round: train on `trained_on`, prune, choose the next set. Writes round_RR/ (and, for
    round 1, level_00/: the dense network). `dense_classes`: the round-1 dense network's
    predicted class per example of the full set (None in round 1, which computes them)."""
    full = ds.train.index
    first = r == 1
    hp, start = round_schedule(p.training, len(trained_on), len(full), spe, rewind_step, first, p.dynamic_iterations)
    if not first:
        load_state(model, rewind_state, masks)
    split = ds.train if len(trained_on) == len(full) else ds.train.with_indices(trained_on)
    tracker = ForgettingCounter(int(full.max()) + 1)
    density = p.pruning.density(r)
    window = p.early_stop_queue - 1
    prospective, distances = [], []

    def on_epoch(epoch, step, net):
        # Early-bird: the mask this round would prune to, if it ended now.
        if step < (rewind_step if first else 0):
            return False  # the dense round must reach the rewind point it records
        candidate = _imp_masks(p, r, net, masks, density)
        if prospective:
            distances.append(P.mask_distance(candidate, prospective[-1], masks))
        prospective.append(candidate)
        del prospective[:-(window + 1)]
        if p.early_stop_rule == "prac":
            return P.prac_early_stop(distances, p.early_stop_threshold, p.early_stop_queue)
        return P.early_stop(prospective, p.early_stop_threshold, window, masks)

    label = f"{p.variant()} seed {p.seed} round {r} ({len(trained_on)} examples)"
    stop_early = p.early_stop and (p.early_stop_dense or not first)
    result = train(model, ds, hp, seed=p.seed, start_step=start, train_split=split,
                   snapshot_steps=[rewind_step] if first else [], on_batch=tracker.on_batch,
                   on_epoch=on_epoch if stop_early else None,
                   log_dir=ctx.tensorboard_dir / f"{p.variant()}_search" / unit_name("round", r),
                   log_hparams={"variant": f"{p.variant()}_search", "round": r, "rewind": p.pruning.rewind,
                                "method": "prac"}, label=label, verbose=ctx.verbose)
    budget = hp.total_steps(spe) - start
    if first:
        write_ticket(level_dir(out, 0), model, ds, masks, result.snapshots[rewind_step], result, p.export, {
            "variant": "dense", "seed": p.seed, "level": 0, "search_steps": 0, "own_steps": result.steps,
            "train_steps": result.steps, "rewind": p.pruning.rewind, "rewind_step": rewind_step,
            **_common(p)})
    counts = tracker.counts()
    cet = P.cet_set(counts, p.forgetting_threshold)
    new_masks = _imp_masks(p, r, model, masks, density)  # of the last weights
    # CEP: the round-1 dense network against this round's trained subnetwork (mask m_{r-1}),
    # both at their best-validation epoch. Round 1's network is the dense network itself.
    selected_state = _best_or_last(result, model)
    wrapping.set_state(model, selected_state)
    # this round's network (best validation), in ds.train order
    subnetwork_classes, entropy = _predictions(p, model, ds, out / "predictions" / f"{unit_name('round', r)}.csv")
    if first:
        dense_classes = subnetwork_classes
    cep = P.cep_set(dense_classes, subnetwork_classes, full)
    selected = P.as_set(_select(p, r, cet, cep, entropy, reference_sets, proxy_scores, full))
    fallback = len(selected) == 0
    if fallback:  # nothing left to learn or to disagree on: keep training on the current set
        selected = P.as_set(trained_on)
    ratios = P.class_ratios(selected, full, ds.train.y, ds.num_classes)
    info = {"round": r, "selection": p.selection, "trained_on": len(trained_on), "factor": len(trained_on) / len(full)
            if p.dynamic_iterations else 1.0, "start_step": result.start_step, "end_step": result.end_step,
            "budget_steps": budget, "steps": result.steps, "early_stopped": result.steps < budget,
            "stop_epoch": result.history[-1]["epoch"] if result.history else 0.0,
            "distances": distances, "cet": len(cet), "cep": len(cep), "cet_and_cep": len(np.intersect1d(cet, cep)),
            # CEP compares the dense network with the subnetwork of this sparsity (001 Table A3's rows)
            "cep_subnetwork_sparsity": M.sparsity(masks),
            "cep_reference": "round-1 dense network, best-validation weights",
            "selected": len(selected), "selected_fraction": len(selected) / len(full), "empty_fallback": fallback,
            "overlap_rate": P.overlap_rate(cep, cet), "class_ratios": ratios.tolist(),
            "density": M.density(new_masks), "sparsity": M.sparsity(new_masks),
            "scoring_forward_examples": len(full),  # one prediction pass over D_0 for CEP
            "search_val_accuracy": result.history[-1]["val_accuracy"] if result.history else float("nan"),
            "best_val_accuracy": float(result.best_row["val_accuracy"]) if result.best_row else float("nan"),
            "best_val_epoch": float(result.best_row["epoch"]) if result.best_row else float("nan")}
    with atomic_path(round_dir(out, r), is_dir=True) as tmp:
        M.save_masks(tmp / "mask.npz", new_masks)
        save_npz(tmp / "sets.npz", {"trained_on": P.as_set(trained_on), "cet": cet, "cep": cep,
                                    "selected": selected, "forgetting": counts,
                                    "dense_prediction": dense_classes, "subnetwork_prediction": subnetwork_classes})
        if first:
            save_npz(tmp / "dense_best.npz", selected_state)  # the CEP reference of every later round
        write_csv(tmp / "history.csv", pd.DataFrame(result.history))
        write_json(tmp / "round.json", info)


def _common(p):
    return {"method": "prac", "selection": p.selection, "forgetting_threshold": p.forgetting_threshold,
            "dynamic_iterations": p.dynamic_iterations, "early_stop": p.early_stop,
            "early_stop_queue": p.early_stop_queue, "early_stop_threshold": p.early_stop_threshold,
            "early_stop_rule": p.early_stop_rule,
            "scope": p.pruning.scope, "model": p.model.name, "dataset": p.dataset.name}


def execute(p: PracSearchParams, inputs, out: Path, ctx):
    ds = load_dataset(p.dataset)
    full = ds.train.index
    spe = steps_per_epoch(len(full), p.training.batch_size)
    total = p.training.total_steps(spe)
    rewind_step = to_steps(p.pruning.rewind, spe, "PruningHparams.rewind")
    if rewind_step >= total:
        raise ConfigError(f"PruningHparams.rewind={p.pruning.rewind!r} is step {rewind_step}, not before the end of "
                          f"training (step {total}); rewind to an earlier point.")
    reference_sets = _reference_sets(p, inputs.get("reference"))
    proxy_scores, proxy_steps = _svp_proxy(p, ds, spe, out, ctx) if p.selection == "svp" else (None, 0)
    model = networks.build_network(p.model, ds.input_shape, ds.num_classes, p.seed, p.pruning.prunable())
    variant = p.variant()
    masks, trained_on = wrapping.get_masks(model), full
    rewind_state = None
    search_steps = proxy_steps
    ledger = [{"kind": "svp_proxy", "round": 0, "level": -1, "examples": len(full), "steps": proxy_steps,
               "search_steps": proxy_steps}] if p.selection == "svp" else []
    # The ledger lists every training run of this artifact once: its steps sum to all the
    # training it did. (Level 0, the dense network, is round 1.)
    rows, rounds, done_levels = [], [], set(finished_levels(out))
    dense_classes = None
    for r in range(1, p.pruning.levels + 1):
        if not round_done(out, r):
            _run_round(p, r, model, ds, spe, rewind_step, masks, trained_on, rewind_state, reference_sets,
                       proxy_scores, dense_classes, out, ctx)
        info = read_json(round_dir(out, r) / "round.json")
        masks = M.load_masks(round_dir(out, r) / "mask.npz")
        trained_on = load_npz(round_dir(out, r) / "sets.npz")["selected"]
        search_steps += info["steps"]
        rounds.append({"variant": variant, "seed": p.seed, **{k: v for k, v in info.items() if k != "class_ratios"},
                       "distances": json.dumps([round(d, 5) for d in info["distances"]]),
                       **{f"class_{c}": v for c, v in enumerate(info["class_ratios"])}})
        ledger.append({"kind": "search_round", "round": r, "level": -1, "examples": info["trained_on"],
                       "steps": info["steps"], "search_steps": search_steps})
        if r == 1:
            rewind_state = load_rewind(out)
            dense_classes = load_npz(round_dir(out, 1) / "sets.npz")["dense_prediction"]
            rows.append(read_json(level_dir(out, 0) / "metrics.json"))  # the dense network is round 1
        if not p.evaluate:
            continue
        unit = level_dir(out, r)
        if r in done_levels:
            metrics = read_json(unit / "metrics.json")
        else:
            metrics = train_ticket(model, ds, p.training, masks, rewind_state, rewind_step, p.seed, unit, p.export, {
                "variant": variant, "seed": p.seed, "level": r, "search_steps": search_steps,
                "rewind": p.pruning.rewind, "rewind_step": rewind_step, **_common(p)},
                ctx, f"{variant} seed {p.seed} level {r} ticket", store_rewind=False)
        rows.append(metrics)
        ledger.append({"kind": "ticket", "round": r, "level": r, "examples": len(full),
                       "steps": metrics["own_steps"], "search_steps": metrics["search_steps"]})
    write_results(out, rows)  # a fixed column order, resumed or not
    write_final_examples(out, ds.train, trained_on, p.seed)  # 001 Fig. 9's examples, for the report
    write_csv(out / "rounds.csv", pd.DataFrame(rounds))
    write_csv(out / "ledger.csv", pd.DataFrame(ledger))
    return {"levels": p.pruning.levels, "search_steps": search_steps, "final_sparsity": rounds[-1]["sparsity"],
            "final_test_accuracy": rows[-1]["test_accuracy"],
            "train_steps": int(sum(e["steps"] for e in ledger)),  # the cost ledger: every training run once
            **search_facts(ds, spe, total, rewind_step, len(full))}


# version 2: CEP against the round-1 dense network (was: the round's network before pruning);
# early-bird queue; best-validation columns.
def validate(p: PracSearchParams, inputs):
    """While planning (the executor checks the same again): the reference a selection needs."""
    if p.selection in NEEDS_REFERENCE and inputs.get("reference") is None:
        raise ConfigError(f"PracSearchParams.selection={p.selection!r} needs a `reference` input: the PrAC search "
                          f"whose per-round set sizes (or sets, for 'transfer') it uses.")


SPEC = ComponentSpec(name="PracMaskSearch", inputs={"reference": "Tickets?"}, output="Tickets",
                     params=PracSearchParams, executor=execute, version=3, validate=validate)
# version 3: rewind.npz stored once, in level_00/ (components.artifacts.Tickets.rewind reads it).
