"""The data-diet study (Paul et al. 2022, "Pre-Training on a Data Diet", /work/shared/papers/004):
which pre-training gives IMP a good rewind point?

The schedule follows the paper's §3 and Fig. 5: t* is the rewind step at which standard IMP on
all data finds matching sparse networks ("t* = 400 for CIFAR-10"); the paper studies
"the pre-training iteration t_r = t*" and "t_r = t*/2", and in Fig. 5 / Fig. 7 pre-trains the
subsets (and the label-noise runs) for t*/2 steps against all data for t*/2 and t* steps.

For each seed:
- baselines: standard IMP on all data rewinding to each step of `baselines` ('0it' = init;
  t*/2 and t* = dense training on all data for that long, with the IMP recipe);
- for each scheme in `schemes` and fraction in `fractions`: a subset S (random class-balanced,
  or the easiest / hardest by a DataScoring method, e.g. 'el2n_easy', optionally equally many
  per class, e.g. 'el2n_easy_balanced'), the dense network pre-trained on S for each length in
  `pretrain_steps` (t*/2 and t*; recipe: gin scope `pretrain/`), then IMP on all (clean) data
  rewinding to those weights; scheme 'all' pre-trains on all data: the paper's w_{t*/2}, w_{t*};
- label noise: for each p in `label_noise`, the training labels corrupted (LabelNoise: fraction p re-drawn),
  scores computed on the corrupted data, and each of `noise_schemes` pre-trained on the
  corrupted labels for each length in `noise_pretrain_steps` (default: `pretrain_steps`;
  pre-training only: IMP itself sees clean labels).
Scores (e.g. EL2N) come from `scoring_networks` networks trained for `scoring_steps` with the
gin scope `scoring/` of TrainingHparams (the paper: K = 10 networks, t = 7800 iterations of
ResNet-20 on CIFAR-10, 20 of its 160 epochs). One DataDietReport compares everything: accuracy
vs. sparsity per scheme, the dominance relations (Definition 3.1) and which initializations are
matching for t* (Definition 3.2: weakly dominate w_{t*}). The reference w_{t*} is scheme 'all'
pre-trained for `t_star` steps when the study runs it (the paper's w_{t*}, pre-trained like the
subsets), otherwise the baseline rewinding to `t_star`.
"""
import dataclasses
from typing import Optional, Sequence

import gin

from components import data_scoring, mask_search, pretraining, subset_slimming
from components.reports.data_diet import report as data_diet_report
from components import label_noise as noise_component  # `label_noise` is the study's list of noise levels
from lth_tf.data import DatasetHparams
from lth_tf.errors import ConfigError
from lth_tf.metrics.verdicts import VerdictRule
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, to_steps
from pipelines import overrides

# Every search rewinds to a baseline's point or starts from pre-trained weights at step 0; every
# pre-training lasts a length of data_diet.pretrain_steps (Pretraining replaces the budget).
CONTROLS = {"PruningHparams.rewind": "data_diet.baselines",
            "pretrain/TrainingHparams.budget": "data_diet.pretrain_steps (and data_diet.noise_pretrain_steps)"}
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


def reference_variant(t_star: str, baselines, pretrain_steps, schemes, several: bool):
    """The variant that is w_{t*} (Definition 3.2) and a note on what it is."""
    if to_steps(t_star, 1, "data_diet.t_star") == 0:
        raise ConfigError(f"data_diet.t_star={t_star!r} must be a positive rewind step (the paper's t* = 400 "
                          f"steps on CIFAR-10).")
    if "all" in schemes and t_star in pretrain_steps:
        return variant_name("all", 1.0, t_star, 0.0, several), f"all data pre-trained for t* = {t_star}"
    if t_star in baselines:
        return f"rewind_{t_star}", f"standard IMP rewinding to step t* = {t_star} of dense training on all data"
    raise ConfigError(f"data_diet.t_star={t_star!r}: the matching reference w_t* (Definition 3.2) needs all data "
                      f"trained for t* steps: put {t_star!r} in data_diet.pretrain_steps with 'all' in "
                      f"data_diet.schemes, or in data_diet.baselines (now {tuple(baselines)}).")


@gin.configurable
def data_diet(runner, seeds: Sequence[int] = (0,), baselines: Sequence[str] = ("0it", "60it", "120it"),
              t_star: str = "120it", pretrain_steps: Sequence[str] = ("60it", "120it"),
              schemes: Sequence[str] = ("random_balanced", "el2n_easy", "el2n_hard", "all"),
              fractions: Sequence[float] = (0.1,), label_noise: Sequence[float] = (0.1, 0.5),
              noise_schemes: Sequence[str] = ("random_balanced", "el2n_easy"),
              noise_fractions: Optional[Sequence[float]] = None,
              noise_pretrain_steps: Optional[Sequence[str]] = None, scoring_networks: int = 10,
              scoring_steps: str = "2.5ep", study: str = "data_diet"):
    overrides.refuse_bound("data_diet", CONTROLS)
    for scheme in (*schemes, *noise_schemes):
        subset_rule(scheme)  # bad names fail before any training
    noise_pretrain_steps = tuple(pretrain_steps if noise_pretrain_steps is None else noise_pretrain_steps)
    dataset, model, training, pruning = DatasetHparams(), ModelHparams(), TrainingHparams(), PruningHparams()
    with gin.config_scope("pretrain"):
        pretrain_hp = TrainingHparams()
    with gin.config_scope("scoring"):
        scoring_hp = TrainingHparams()
    for steps in (*baselines, *pretrain_steps, *noise_pretrain_steps, t_star):
        to_steps(steps, 1, "data_diet step string")
    several = len(set(pretrain_steps) | set(noise_pretrain_steps)) > 1
    reference, reference_note = reference_variant(t_star, baselines, pretrain_steps, schemes, several)
    results, variants, scheme_names = [], [], []

    def search(seed, rewind="0it", pretrained=None):
        params = mask_search.MaskSearchParams(dataset, model, training, dataclasses.replace(pruning, rewind=rewind), seed)
        return runner.run(mask_search.SPEC, params, **({"pretrained": pretrained} if pretrained else {}))

    def pretrain_schemes(seed, names, sizes, lengths, noise, labels):
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
                for steps in lengths:
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
        pretrain_schemes(seed, schemes, fractions, pretrain_steps, 0.0, None)
        for noise in label_noise:
            corruption = runner.run(noise_component.SPEC, noise_component.LabelNoiseParams(dataset, noise=float(noise), seed=seed))
            pretrain_schemes(seed, noise_schemes, noise_fractions or fractions, noise_pretrain_steps, noise, corruption)
    report = runner.run(data_diet_report.SPEC, data_diet_report.DataDietReportParams(
        tuple(variants), tuple(scheme_names), study=study, reference=reference, reference_note=reference_note,
        rule=VerdictRule(), title=f"{study}: {model.name} on {dataset.name}"), results=results)
    runner.publish(report)
    return report
