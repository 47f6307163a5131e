"""Tuning: a keras-tuner search over a training recipe's hyperparameters -> a Tuning artifact.
(Over 300 lines: the search space's validation, the per-seed trial units and the resumable
search are one component; keras-tuner's glue is in tuning_oracle.py.)

Any study can tune a training configuration with it: the dense network of (dataset, model,
training) by default, or, given a Tickets input, a ticket or one of its baselines at one level
(`subject`: a SparseTraining variant, e.g. 'lt' or 'rr'). The search space names
TrainingHparams fields (`space`); the oracle (Bayesian optimization, random or grid search)
proposes values, and each trial trains the subject with the project's own training function
(MaskSearch level 0 for the dense network, SparseTraining for a ticket) for every seed of
`seeds`, scored by the mean validation accuracy. Test accuracy is recorded, never used to select.

keras-tuner's built-in tuners fit Keras 3 models and reject tf_keras ones, so `_Tuner`
(tuning_oracle.py) subclasses `keras_tuner.Tuner` and overrides `run_trial` (keras-tuner only
keeps the oracle's bookkeeping). Caching and resume, at two levels:
- the Runner fingerprints the whole execution (these parameters and the tickets input): a rerun
  reuses the finished artifact without starting keras-tuner;
- inside an interrupted execution, keras-tuner reloads its project (`keras_tuner/`, overwrite
  False): finished trials stay finished and the trial that was running is retried; every trial's
  training per seed is an atomic unit `trials/<key>/seed_<s>/`, keyed by a fingerprint of what it
  trains (subject, data, model, the trial's full recipe, tickets), so a retried trial reuses the
  seeds it had finished.

Layout: keras_tuner/<project>/ (oracle.json, trial_*/trial.json, tuner*.json: keras-tuner's own),
trials/<key>/seed_<s>/ (the trial's training: results.csv, history, weights), trials.csv (one row
per trial: hyperparameters, objective, val/test accuracy), best.json (the best trial's values and
recipe), results.csv (one row per trained network, variant 'tuning_trial').

Distributed search (keras-tuner's chief + workers): run the same command, with the same
--output_dir on a shared file system, on every machine, with the environment variables
KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT (the chief's address) and KERASTUNER_TUNER_ID
('chief' on the machine that runs the oracle, 'tuner0', 'tuner1', ... on the workers). The chief
only serves the oracle (it trains nothing) until every trial is done, then writes the artifact
and carries on with the study; each worker asks the chief for trials, trains them into the shared
trials/ directory and, when the oracle has no trial left, exits with status 0 (the rest of the
study runs on the chief). The README's "Tuning" section shows the commands.
"""
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Optional, Tuple

import gin
import numpy as np
import pandas as pd

from components import mask_search, sparse_training
from components.tuning import oracle as tuning_oracle
from components.artifacts.base import from_description
from components.artifacts.tickets import results_frame
from components import ComponentSpec
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.io import atomic_path, read_json, unit_is_complete, write_csv, write_json
from lth_tf.models import ModelHparams
from lth_tf.sparsity import baselines as B
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams

ORACLES = ("bayesian", "random", "grid")
OBJECTIVES = ("val_accuracy", "best_val_accuracy")
SUBJECTS = ("dense",) + tuple(sorted(B.BASELINES))
# TrainingHparams fields a search may tune (the numeric ones).
TUNABLE = tuple(f.name for f in dataclasses.fields(TrainingHparams) if f.type in (float, "float"))


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One tuned field: a range (low, high, 'log' | 'linear', optional step) or a list of choices."""
    name: str
    low: float = 0.0
    high: float = 0.0
    sampling: str = "log"
    step: Optional[float] = None
    choices: Tuple[float, ...] = ()

    @classmethod
    def parse(cls, entry) -> "Dimension":
        """('lr', 0.01, 1.0, 'log') / ('lr', 0.01, 1.0, 'log', 2.0) / ('weight_decay', (0, 1e-4))."""
        entry = tuple(entry) if isinstance(entry, (list, tuple)) else (entry,)
        usage = ("Each entry of TuningParams.space is (field, low, high, 'log' or 'linear'[, step]) or (field, "
                 "(choice, choice, ...)), e.g. (('lr', 0.01, 1.0, 'log'), ('weight_decay', (0.0, 1e-4, 5e-4))).")
        if not entry or not isinstance(entry[0], str):
            raise ConfigError(f"Bad tuning dimension {entry!r}. {usage}")
        name = entry[0]
        if name not in TUNABLE:
            raise ConfigError(f"TuningParams.space tunes {name!r}, which is not a numeric TrainingHparams field; "
                              f"tunable fields: {', '.join(TUNABLE)}.")
        if len(entry) == 2 and isinstance(entry[1], (list, tuple)):
            choices = tuple(float(c) for c in entry[1])
            if not choices or len(set(choices)) != len(choices):
                raise ConfigError(f"TuningParams.space: {name!r} needs distinct choices, got {entry[1]!r}. {usage}")
            return cls(name, choices=choices)
        if len(entry) not in (4, 5):
            raise ConfigError(f"Bad tuning dimension {entry!r}. {usage}")
        low, high, sampling = float(entry[1]), float(entry[2]), entry[3]
        step = float(entry[4]) if len(entry) == 5 and entry[4] is not None else None
        if sampling not in ("log", "linear"):
            raise ConfigError(f"TuningParams.space: {name!r} has sampling {sampling!r}; use 'log' or 'linear'.")
        if not low < high:
            raise ConfigError(f"TuningParams.space: {name!r} needs low < high, got {low} and {high}.")
        if sampling == "log" and low <= 0:
            raise ConfigError(f"TuningParams.space: {name!r} is sampled on a log scale, so low must be > 0, got {low}.")
        if step is not None and (step <= 0 or (sampling == "log" and step <= 1)):
            raise ConfigError(f"TuningParams.space: {name!r} has step {step}: a linear step must be > 0, a log "
                              f"step (a factor) > 1.")
        return cls(name, low, high, sampling, step)

    def declare(self, hp):
        """Adds this dimension to a keras_tuner.HyperParameters."""
        if self.choices:
            return hp.Choice(self.name, list(self.choices), ordered=True)
        return hp.Float(self.name, self.low, self.high, step=self.step, sampling=self.sampling)

    def describe(self) -> str:
        if self.choices:
            return f"{self.name} ∈ {{{', '.join(f'{c:g}' for c in self.choices)}}}"
        step = f", step {self.step:g}" if self.step else ""
        return f"{self.name} ∈ [{self.low:g}, {self.high:g}] ({self.sampling}{step})"


@gin.configurable
@dataclasses.dataclass(frozen=True)
class TuningParams:
    dataset: Optional[DatasetHparams] = None  # None: the tickets input's (required without one)
    model: Optional[ModelHparams] = None
    training: Optional[TrainingHparams] = None  # the base recipe; `space` overrides its fields
    space: Tuple[tuple, ...] = (("lr", 0.01, 1.0, "log"), ("weight_decay", (0.0, 1e-4, 5e-4)))
    oracle: str = "bayesian"  # bayesian | random | grid
    max_trials: int = 10
    initial_points: int = 4  # bayesian: random trials before the Gaussian process takes over
    objective: str = "val_accuracy"  # mean over seeds, maximized: last epoch's or best epoch's val accuracy
    seeds: Tuple[int, ...] = (0,)  # executions per trial
    subject: str = "dense"  # 'dense', or a SparseTraining variant trained on the tickets input at `level`
    level: int = 1
    oracle_seed: int = 1  # keras-tuner treats 0 as "no seed": must be >= 1

    def __post_init__(self):
        object.__setattr__(self, "space", tuple(tuple(d) if isinstance(d, (list, tuple)) else d for d in self.space))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        dims = self.dimensions()
        if not dims:
            raise ConfigError("TuningParams.space is empty: name at least one TrainingHparams field to tune, e.g. "
                              "(('lr', 0.01, 1.0, 'log'),).")
        if len({d.name for d in dims}) != len(dims):
            raise ConfigError(f"TuningParams.space names a field twice: {[d.name for d in dims]}.")
        if self.oracle not in ORACLES:
            raise unknown_name("tuning oracle", self.oracle, ORACLES)
        if self.oracle == "grid" and any(not d.choices and d.step is None for d in dims):
            raise ConfigError("TuningParams.oracle = 'grid' needs a finite grid: give every range of "
                              "TuningParams.space a step (('lr', 0.01, 1.0, 'log', 10.0)) or a list of choices.")
        if int(self.max_trials) < 1:
            raise ConfigError(f"TuningParams.max_trials={self.max_trials}: the tuner's budget must be at least one "
                              f"trial (a Bayesian search needs a few more than TuningParams.initial_points, e.g. 10).")
        if self.oracle == "bayesian" and not 1 <= int(self.initial_points) <= int(self.max_trials):
            raise ConfigError(f"TuningParams.initial_points={self.initial_points} must be in 1..max_trials "
                              f"({self.max_trials}): the random trials the Bayesian oracle starts with.")
        if self.objective not in OBJECTIVES:
            raise unknown_name("tuning objective", self.objective, OBJECTIVES)
        if not self.seeds:
            raise ConfigError("TuningParams.seeds is empty: each trial trains one network per seed; give at least one.")
        if self.subject not in SUBJECTS:
            raise unknown_name("tuning subject", self.subject, SUBJECTS)
        if int(self.oracle_seed) < 1:
            raise ConfigError(f"TuningParams.oracle_seed={self.oracle_seed} must be >= 1 (keras-tuner draws a random "
                              f"seed for 0, which would make the search irreproducible).")

    def dimensions(self) -> Tuple[Dimension, ...]:
        return tuple(Dimension.parse(d) for d in self.space)

    def describe(self) -> str:
        oracle = {"bayesian": f"Bayesian optimization (Gaussian process, {self.initial_points} random initial trials)",
                  "random": "random search", "grid": "grid search"}[self.oracle]
        return (f"{oracle} over {'; '.join(d.describe() for d in self.dimensions())}; {self.max_trials} trials, "
                f"each the {self.subject} network trained once per seed {list(self.seeds)}, scored by the mean "
                f"{self.objective.replace('_', ' ')} (validation split; test accuracy is not used to select)")


def _described(value):
    if dataclasses.is_dataclass(value):
        return {"__class__": type(value).__name__, **{f.name: _described(getattr(value, f.name))
                                                      for f in dataclasses.fields(value)}}
    if isinstance(value, (list, tuple)):
        return [_described(v) for v in value]
    return value


def _key(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True, default=str).encode()).hexdigest()


def is_worker() -> bool:
    """A keras-tuner worker in a distributed search (KERASTUNER_TUNER_ID not 'chief...')."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get("KERASTUNER_TUNER_ID", "")


def _subject(p: TuningParams, inputs):
    """(dataset, model, base training) of what the trials train, and the tickets input or None."""
    tickets = inputs.get("tickets")
    if p.subject == "dense":
        if tickets is not None:
            search = tickets.params
            return (p.dataset or search.dataset, p.model or search.model, p.training or search.training), None
        if p.dataset is None or p.model is None or p.training is None:
            raise ConfigError("Tuning the dense network needs TuningParams.dataset, model and training (the study "
                              "passes its own), or a Tickets input whose search supplies them.")
        return (p.dataset, p.model, p.training), None
    if tickets is None:
        raise ConfigError(f"TuningParams.subject={p.subject!r} trains a ticket's {p.subject!r} network: the Tuning "
                          f"execution needs a tickets input (Runner.run(tuning.SPEC, params, tickets=...)), or "
                          f"subject 'dense'.")
    tickets.check_levels([p.level], "TuningParams.level")
    search = tickets.params
    return (search.dataset, search.model, p.training or search.training), tickets


def check_validation_split(dataset: DatasetHparams):
    """Trials are scored on the validation split (never on test): it must exist."""
    if not len(load_dataset(dataset).val):
        raise ConfigError(f"Tuning scores trials on the validation split, but DatasetHparams.val_fraction = "
                          f"{dataset.val_fraction} leaves none for {dataset.name!r}: set it > 0 (e.g. 0.1).")


def trial_training(base: TrainingHparams, values: dict) -> TrainingHparams:
    """The base recipe with a trial's values (floats, rounded to 6 significant digits so the
    recipe and its fingerprint do not depend on the last bits of the oracle's arithmetic)."""
    return dataclasses.replace(base, **{k: float(f"{float(v):.6g}") for k, v in values.items()})


def _train_unit(p: TuningParams, dataset, model, training, tickets, seed: int, unit: Path, ctx, label: str) -> dict:
    """One network of a trial, as an atomic unit; returns its results row."""
    if unit_is_complete(unit):
        return pd.read_csv(unit / "results.csv").iloc[0].to_dict()
    trial_ctx = dataclasses.replace(ctx, tensorboard_dir=ctx.tensorboard_dir / label)
    with atomic_path(unit, is_dir=True) as tmp:
        if p.subject == "dense":
            params = mask_search.MaskSearchParams(dataset, model, training, PruningHparams(levels=0), seed, export=False)
            mask_search.execute(params, {}, tmp, trial_ctx)
        else:
            params = sparse_training.SparseTrainingParams(baselines=(p.subject,), levels=(int(p.level),),
                                                          training=training, seed=seed, export=False)
            sparse_training.execute(params, {"tickets": tickets}, tmp, trial_ctx)
    return pd.read_csv(unit / "results.csv").iloc[0].to_dict()


def execute(p: TuningParams, inputs, out: Path, ctx):
    (dataset, model, base), tickets = _subject(p, inputs)
    check_validation_split(dataset)
    for d in p.dimensions():  # a ConfigError now for a value the recipe rejects (e.g. lr <= 0)
        for value in (d.choices or (d.low, d.high)):
            trial_training(base, {d.name: value})
    rows_of = {}  # trial values key -> rows

    def run_one(values: dict, announce: bool = True) -> dict:
        training = trial_training(base, values)
        key = _key({"subject": p.subject, "level": p.level if tickets is not None else None,
                    "dataset": _described(dataset), "model": _described(model), "training": _described(training),
                    "tickets": tickets.fingerprint if tickets is not None else None})[:16]
        trial_dir = out / "trials" / key
        rows = []
        for seed in p.seeds:
            row = _train_unit(p, dataset, model, training, tickets, seed, trial_dir / f"seed_{seed}", ctx,
                              f"trial_{key[:8]}_seed{seed}")
            rows.append({**row, "seed": seed})
        if not (trial_dir / "trial.json").exists():
            write_json(trial_dir / "trial.json", {"values": values, "training": _described(training)})
        rows_of[json.dumps(values, sort_keys=True)] = (key, rows)
        metrics = {name: float(np.nanmean([r[name] for r in rows])) for name in
                   ("val_accuracy", "best_val_accuracy", "test_accuracy", "best_val_test_accuracy")}
        if ctx.verbose and announce:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
            print(f"[tuning] {shown}: {p.objective} {metrics[p.objective]:.4f}", flush=True)
        return metrics

    oracle = tuning_oracle.oracle(p)
    tuner = tuning_oracle.tuner_class()(oracle, run_one, directory=str(out / "keras_tuner"), project_name="search",
                                        overwrite=False)
    try:
        with _maybe_quiet(ctx.verbose):
            tuner.search(verbose=1 if ctx.verbose else 0)
    except tuning_oracle.trial_error() as e:
        cause = e.__cause__ or e
        raise cause
    if is_worker():
        print(f"Tuning worker {os.environ.get('KERASTUNER_TUNER_ID')}: the oracle has no trial left; the chief "
              f"writes {out} and runs the rest of the study. Exiting.", flush=True)
        sys.exit(0)
    trials, results = [], []
    for trial_id in sorted(tuner.oracle.trials):
        trial = tuner.oracle.trials[trial_id]
        values = dict(trial.hyperparameters.values)
        if json.dumps(values, sort_keys=True) not in rows_of:  # finished in an earlier, interrupted execution
            run_one(values, announce=False)  # reads its finished units (trains nothing)
        key, rows = rows_of[json.dumps(values, sort_keys=True)]
        score = trial.score if trial.score is not None else float("nan")
        trials.append({"trial": trial_id, "status": str(trial.status), **{k: float(v) for k, v in values.items()},
                       "objective": float(score), "val_accuracy": float(np.mean([r["val_accuracy"] for r in rows])),
                       "test_accuracy": float(np.mean([r["test_accuracy"] for r in rows])),
                       "best_val_test_accuracy": float(np.nanmean([r["best_val_test_accuracy"] for r in rows])),
                       "seeds": len(rows), "key": key})
        for r in rows:
            results.append({**{k: v for k, v in r.items() if k != "artifact"}, "variant": "tuning_trial",
                            "trial": trial_id, "lr_tuned": float(values.get("lr", base.lr)),
                            **{f"tuned_{k}": float(v) for k, v in values.items()}})
    frame = pd.DataFrame(trials)
    write_csv(out / "trials.csv", frame)
    write_csv(out / "results.csv", results_frame(results))
    completed = frame[frame.status.str.contains("COMPLETED")]
    if completed.empty:
        raise ConfigError(f"The tuning search finished no trial (see {out / 'keras_tuner'}); nothing to select.")
    best = completed.sort_values(["objective", "trial"], ascending=[False, True]).iloc[0]
    values = {d.name: float(best[d.name]) for d in p.dimensions()}
    write_json(out / "best.json", {"trial": best["trial"], "values": values, "objective": float(best["objective"]),
                                   "objective_name": p.objective, "training": _described(trial_training(base, values)),
                                   "description": p.describe()})
    return {"trials": len(frame), "best": values, "best_objective": float(best["objective"])}


@contextlib.contextmanager
def _maybe_quiet(verbose: bool):
    """keras-tuner prints its tables and 'Reloading Tuner' to stdout; --quiet silences them."""
    if verbose:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def best_training(tuning) -> TrainingHparams:
    """The recipe of a Tuning artifact's best trial."""
    best = read_json(Path(tuning.path) / "best.json")
    return from_description(TrainingHparams, best["training"])


SPEC = ComponentSpec(name="Tuning", inputs={"tickets": "Tickets?"}, output="Tuning", params=TuningParams,
                     executor=execute, exclusive=False)  # distributed workers run it side by side
