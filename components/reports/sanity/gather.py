"""The sanity report's rows and what its sections read (`SanityData`).

Inputs by role (every row is labelled from the artifacts' own parameters, so nothing depends on
the order the pipeline passed them in): searches (LT-IMP, LT-OMP, WR-IMP, WR-OMP at every rate
and seed; the learning rate is read from each search's TrainingHparams), baselines (RR, SD),
correlation (R_p tables), well_trained / longer (the tuned recipe's dense network at T and 2T),
tuning (keras-tuner's trials, optional).
"""
import dataclasses
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pandas as pd

from components.artifacts import tickets as T
from components.mask_search import variant_name
from components.reports.names import SANITY_SWEEP_ORDER as SWEEP_ORDER
from components.reports.sanity.tables import correlation_summary
from lth_tf.io import read_json
from lth_tf.metrics import jackpot as J
from lth_tf.sparsity import masks as M


def _search_rows(artifact, **extra) -> pd.DataFrame:
    search = T.search_params(artifact)
    frame = pd.read_csv(artifact.path / "results.csv")
    frame["lr"] = search.training.lr
    frame["weight_decay"] = search.training.weight_decay
    frame["search"] = artifact.path.name
    for k, v in extra.items():
        frame[k] = v
    return frame


def _lr_of_tickets(path: str, known: dict):
    if path in known:
        return known[path]
    params = read_json(Path(path) / "artifact.json")["parameters"]["training"]
    return params["lr"], params["weight_decay"]


def gather(inputs) -> Tuple[pd.DataFrame, dict]:
    """(results frame of the sweep and the extra networks, checks): the dense network once per
    rate and seed (from the first init-rewound search), with the copies' agreement checked."""
    searches = inputs["searches"]
    rates_of = {}
    frames, dense_copies = [], []
    for artifact in searches:
        frame = _search_rows(artifact)
        rates_of[str(artifact.path)] = (float(frame.lr.iloc[0]), float(frame.weight_decay.iloc[0]))
        dense_copies.append(frame[frame.level == 0])
        frames.append(frame[frame.level > 0])
    dense = pd.concat(dense_copies, ignore_index=True)
    spread = dense.groupby(["lr", "seed"])["test_accuracy"].agg(lambda v: float(v.max() - v.min()))
    dense = dense.sort_values(["lr", "seed", "rewind_step", "method"]).drop_duplicates(["lr", "seed"], keep="first")
    frames.insert(0, dense)
    for artifact in inputs.get("baselines", []):
        frame = pd.read_csv(artifact.path / "results.csv")
        tickets = artifact.metadata["inputs"]["tickets"]  # resolved: artifact.json stores it relative
        frame["lr"], frame["weight_decay"] = _lr_of_tickets(tickets, rates_of)
        frames.append(frame)
    for role, variant in (("well_trained", "dense_well_trained"), ("longer", "dense_well_trained_2T")):
        for artifact in inputs.get(role, []):
            frame = _search_rows(artifact)
            frame["variant"] = variant
            frames.append(frame)
    if inputs.get("tuning") is not None and (inputs["tuning"].path / "results.csv").exists():
        trials = pd.read_csv(inputs["tuning"].path / "results.csv")
        if len(trials):
            trials["lr"] = trials["lr_tuned"]
            trials["weight_decay"] = trials.get("tuned_weight_decay", np.nan)
            frames.append(trials)
    results = pd.concat(frames, ignore_index=True)
    return results, {"dense_copies_max_spread": float(spread.max()) if len(spread) else 0.0}


def omp_masks_shared(searches) -> Tuple[bool, int]:
    """Whether the WR-OMP masks are the LT-OMP masks (same rate, seed, level): (all equal, pairs
    compared). One-shot masks come from the same dense θ_T, so they should be."""
    by_key = {}
    for artifact in searches:
        search = T.search_params(artifact)
        if search.pruning.method == "omp":
            by_key.setdefault((search.training.lr, search.seed), {})[search.pruning.rewind != "0it"] = artifact
    compared, equal = 0, True
    for pair in by_key.values():
        if False in pair and True in pair:
            for level in T.finished_levels(pair[False].path):
                if level == 0 or level not in T.finished_levels(pair[True].path):
                    continue
                a = M.load_masks(T.level_dir(pair[False].path, level) / "mask.npz")
                b = M.load_masks(T.level_dir(pair[True].path, level) / "mask.npz")
                equal &= all(np.array_equal(a[k], b[k]) for k in a)
                compared += 1
    return bool(equal), compared


def empty_layers(searches) -> pd.DataFrame:
    """(variant, lr, level, layer, seeds) of ticket layers that keep none of their weights (a
    global magnitude threshold can prune a whole layer), from each level's mask."""
    rows = []
    for artifact in searches:
        search = T.search_params(artifact)
        variant = variant_name(search.pruning.method, int(search.pruning.rewind != "0it"))
        for level in T.finished_levels(artifact.path):
            if level:
                layers = T.layer_sparsity(artifact.path, level)
                for layer in layers[(layers.layer != "total") & (layers.kept == 0)].layer:
                    rows.append({"variant": variant, "lr": search.training.lr, "level": level, "layer": layer,
                                 "seed": search.seed})
    frame = pd.DataFrame(rows, columns=["variant", "lr", "level", "layer", "seed"])
    return frame.groupby(["variant", "lr", "level", "layer"], as_index=False).agg(seeds=("seed", "nunique"))


@dataclasses.dataclass(frozen=True)
class SanityData:
    """The gathered study: every network (`results`), the sweep, the well-trained reference, the
    five-condition verdicts and the R_p summary, for the sections to read."""
    p: object  # SanityReportParams
    inputs: Dict
    out: Path
    results: pd.DataFrame
    checks: Dict
    sweep: pd.DataFrame
    rates: list
    first: object  # the first search's MaskSearchParams (the recipe)
    tuned: pd.DataFrame
    longer: pd.DataFrame
    reference: pd.Series  # the well-trained dense reference, per seed
    reference_words: str
    best_sweep_rate: float
    best_sweep: pd.Series
    enough: bool  # condition ①'s epochs half: training 2T does not clearly help
    verdicts: pd.DataFrame
    corr: pd.DataFrame
    corr_summary: pd.DataFrame

    @classmethod
    def of(cls, p, inputs, out: Path) -> "SanityData":
        results, checks = gather(inputs)
        metric = p.metric
        sweep = results[results.variant.isin(("dense",) + SWEEP_ORDER)].copy()
        rates = sorted(sweep.lr.unique())
        first = T.search_params(inputs["searches"][0])
        tuned = results[results.variant == "dense_well_trained"]
        longer = results[results.variant == "dense_well_trained_2T"]
        # The well-trained reference: the tuned recipe, or a stronger dense network of the sweep.
        dense_by_rate = J.by_rate(sweep, metric, "dense")
        best_sweep_rate, best_sweep = max(dense_by_rate.items(), key=lambda kv: kv[1].mean())
        recipe = "the tuned recipe" if inputs.get("tuning") is not None else "the base recipe (`sanity.tune = False`)"
        reference, reference_words = tuned[metric], recipe
        if tuned.empty or best_sweep.mean() > tuned[metric].mean():
            reference = best_sweep
            reference_words = (f"the sweep's dense network at lr {best_sweep_rate:g} (better on average than {recipe}, "
                               f"so the stricter reference)" if len(tuned) else
                               f"the sweep's best dense network (lr {best_sweep_rate:g})")
        enough = J.epochs_sufficient(tuned[metric], longer[metric], p.rule) if len(tuned) and len(longer) else True
        verdicts = J.jackpot_verdicts(sweep, metric, p.rule, reference, enough, p.min_sparsity,
                                      tickets=[v for v in SWEEP_ORDER if v.startswith("lt_")])
        corr = pd.concat([pd.read_csv(a.path / "correlation.csv") for a in inputs.get("correlation", [])
                          if (a.path / "correlation.csv").stat().st_size > 1], ignore_index=True) \
            if inputs.get("correlation") else pd.DataFrame()
        return cls(p, inputs, out, results, checks, sweep, rates, first, tuned, longer, reference, reference_words,
                   best_sweep_rate, best_sweep, enough, verdicts, corr, correlation_summary(corr))
