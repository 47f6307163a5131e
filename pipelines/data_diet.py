"""The data-diet study (Paul et al. 2022, "Lottery Tickets on a Data Diet" / "Pre-Training on a
Data Diet"): which pre-training gives IMP a good rewind point?

For each seed:
- baselines: standard IMP on all data rewinding to each step of `baselines` ('0it' = init;
  t*/2 and t* = dense training on all data for that long);
- for each scheme in `schemes` and fraction in `fractions`: a subset S (random class-balanced,
  or the easiest / hardest by a DataScoring method, e.g. 'el2n_easy', optionally equally many
  per class, e.g. 'el2n_easy_balanced'), the dense network
  pre-trained on S for each length in `pretrain_steps` (recipe: gin scope `pretrain/`), then
  IMP on all (clean) data rewinding to those weights; scheme 'all' pre-trains on all data;
- label noise: for each p in `label_noise`, the training labels corrupted (fraction p re-drawn),
  scores computed on the corrupted data, and each of `noise_schemes` pre-trained on the
  corrupted labels (pre-training only: IMP itself sees clean labels).
Scoring networks use the gin scope `scoring/` of TrainingHparams. One DataDietReport compares
everything: accuracy vs. sparsity per scheme and the dominance table.
"""
import dataclasses
from typing import Optional, Sequence

import gin

from components import data_diet_report, data_scoring, mask_search, pretraining, subset_slimming
from lth_tf.data import DatasetHparams
from lth_tf.errors import ConfigError
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, to_steps
from pipelines.publish import publish

SIDES = {"easy": "easiest", "hard": "hardest"}


def subset_rule(scheme: str):
    """'random_balanced' | 'all' | '<scoring method>_<easy|hard>[_balanced]' ->
    (SubsetSlimming rule, scoring method or None, class balanced?)."""
    if scheme in ("random_balanced", "all"):
        return scheme, None, False
    balanced = scheme.endswith("_balanced")
    method, _, side = scheme[:-len("_balanced")].rpartition("_") if balanced else scheme.rpartition("_")
    if side in SIDES and method in data_scoring.METHODS:
        return SIDES[side], method, balanced
    raise ConfigError(f"Unknown data-diet scheme {scheme!r}. Schemes: 'random_balanced', 'all', or a scoring "
                      f"method ({', '.join(data_scoring.METHODS)}) followed by '_easy' or '_hard' and optionally "
                      f"'_balanced' (equally many per class), e.g. 'el2n_easy' or 'el2n_easy_balanced'.")


def percent(fraction: float) -> str:
    return f"{100 * fraction:g}pct"


def variant_name(scheme: str, fraction: float, steps: str, noise: float, several_lengths: bool) -> str:
    name = "pretrain_" + (f"noise{percent(noise)}_" if noise else "") + scheme
    if scheme != "all":
        name += f"_{percent(fraction)}"
    return name + (f"_{steps}" if several_lengths else "")


@gin.configurable
def data_diet(runner, seeds: Sequence[int] = (0,), baselines: Sequence[str] = ("0it", "60it", "120it"),
              pretrain_steps: Sequence[str] = ("120it",),
              schemes: Sequence[str] = ("random_balanced", "el2n_easy", "el2n_hard"),
              fractions: Sequence[float] = (0.1,), label_noise: Sequence[float] = (0.1, 0.5),
              noise_schemes: Sequence[str] = ("random_balanced", "el2n_easy"),
              noise_fractions: Optional[Sequence[float]] = None, scoring_networks: int = 10,
              scoring_steps: str = "2ep", tolerance: float = 0.005, study: str = "data_diet"):
    for scheme in (*schemes, *noise_schemes):
        subset_rule(scheme)  # bad names fail before any training
    dataset, model, training, pruning = DatasetHparams(), ModelHparams(), TrainingHparams(), PruningHparams()
    with gin.config_scope("pretrain"):
        pretrain_hp = TrainingHparams()
    with gin.config_scope("scoring"):
        scoring_hp = TrainingHparams()
    for steps in (*baselines, *pretrain_steps):
        to_steps(steps, 1, "data_diet step string")
    several = len(pretrain_steps) > 1
    results, variants, scheme_names = [], [], []

    def search(seed, rewind="0it", pretrained=None):
        params = mask_search.MaskSearchParams(dataset, model, training, dataclasses.replace(pruning, rewind=rewind), seed)
        return runner.run(mask_search.SPEC, params, **({"pretrained": pretrained} if pretrained else {}))

    def pretrain_schemes(seed, names, sizes, noise, labels):
        extra = {"labels": labels} if labels is not None else {}
        scores = {}
        for scheme in names:
            rule, method, balanced = subset_rule(scheme)
            if method and method not in scores:
                scores[method] = runner.run(data_scoring.SPEC, data_scoring.DataScoringParams(
                    dataset, model, scoring_hp, method=method, networks=scoring_networks, steps=scoring_steps,
                    seed=seed), **extra)
            for fraction in (sizes if rule != "all" else (1.0,)):
                inputs = dict(extra, **({"scores": scores[method]} if method else {}))
                subset = runner.run(subset_slimming.SPEC, subset_slimming.SubsetSlimmingParams(
                    dataset, rule=rule, size=float(fraction), class_balanced=balanced, seed=seed), **inputs)
                for steps in pretrain_steps:
                    weights = runner.run(pretraining.SPEC, pretraining.PretrainingParams(
                        dataset, model, pretrain_hp, steps=steps, seed=seed), subset=subset, **extra)
                    results.append(search(seed, pretrained=weights))
                    variants.append(variant_name(scheme, fraction, steps, noise, several))
                    scheme_names.append(scheme)

    for seed in seeds:
        for rewind in baselines:
            results.append(search(seed, rewind=rewind))
            at_init = to_steps(rewind, 1) == 0
            variants.append("rewind_init" if at_init else f"rewind_{rewind}")
            scheme_names.append("init" if at_init else "all_data")
        pretrain_schemes(seed, schemes, fractions, 0.0, None)
        for noise in label_noise:
            corruption = runner.run(subset_slimming.SPEC, subset_slimming.SubsetSlimmingParams(
                dataset, rule="corrupt", noise=float(noise), seed=seed))
            pretrain_schemes(seed, noise_schemes, noise_fractions or fractions, noise, corruption)
    report = runner.run(data_diet_report.SPEC, data_diet_report.DataDietReportParams(
        tuple(variants), tuple(scheme_names), study=study, tolerance=tolerance,
        title=f"{study}: {model.name} on {dataset.name}"), results=results)
    publish(report, runner.output_dir)
    return report
