"""TensorBoard logging of one training run: the study's curves, sparsity, kernels and hparams.

One training run is one TensorBoard run (one directory). Components name it
`<Context.tensorboard_dir>/<variant>/level_LL` (e.g. `lt_imp/level_10`,
`instability/level_10/copy_a`), so the run list reads like the study.

Tags (all under the run's steps, the global training step):
- `train/loss`, `train/accuracy` (running means over the epoch), `val/loss`, `val/accuracy`,
  `lr`, after every epoch; `test/loss`, `test/accuracy` at the end, or after every epoch with
  `SummaryOptions.test_every_epoch`.
- `sparsity/<layer>` (the layer's mask zero fraction) and `sparsity/global` (zero fraction of
  all prunable weights), once, after the first epoch: masks are fixed during a training run, so
  tfmot's PruningSummaries' point per epoch would repeat it (a stability run: 1.1 MB).
- `kernel/<layer>`: histogram of the layer's unpruned kernel weights (pruned ones are exactly
  0 and would hide the rest), at the end, and every `SummaryOptions.histogram_every` epochs if
  set (a histogram is ~0.8 kB: every 5 epochs of a 340-epoch few-shot run was 0.2 MB).
- `final/test_accuracy`, `final/test_error`, `final/val_accuracy`, `final/val_error`,
  `final/best_val_accuracy`: one point at the end; the HParams dashboard's metrics.
- the run's hparams (`hp.hparams`): the training recipe, seed, start step, sparsity and what
  the component adds (variant, level, rewind, ...). `write_hparams_config` declares them once
  at the study's TensorBoard root, so the dashboard's grid can be sorted and filtered.

Resume without duplicate points: a finished unit is not trained again, so its run is not
written again; a unit trained again (interrupted before it committed) starts its run afresh:
`open_run` deletes the event files directly in its directory first. Deleting at the start,
rather than writing only when the unit commits, keeps the curves visible while a run trains
and needs no buffering; subdirectories are other runs and stay.

Logging reads weights and evaluates with `training=False`; it draws no random numbers and
changes no variable, so training is the same with and without a log directory.
"""
import dataclasses
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional

import gin
import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp_api

from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping

EVENT_GLOB = "events.out.tfevents.*"


@gin.configurable
@dataclasses.dataclass(frozen=True)
class SummaryOptions:
    """What a training run logs besides its per-epoch scalars (not fingerprinted: logging does
    not change results)."""
    # The test split after every epoch: one more evaluation per epoch (LeNet-300-100 on MNIST-1D:
    # 16 ms against a 210 ms epoch, +7%); off by default; the end of training always logs it.
    test_every_epoch: bool = False
    histogram_every: int = 0  # epochs between kernel histograms (0: only at the end)


# The hparams every run may carry: (name, display name, domain). The first group comes from the
# component (`train(log_hparams=...)`), the rest from `train` itself. A numeric domain gives the
# dashboard its type and a range filter (the bounds only need to hold every value); a string
# hparam has no domain (its values are not known before the study runs).
_COUNT, _UNIT = hp_api.IntInterval(0, 2**31 - 1), hp_api.RealInterval(0.0, 1.0)
HPARAMS = (("variant", "variant", None), ("level", "IMP level", _COUNT), ("sparsity", "sparsity", _UNIT),
           ("rewind", "rewind point", None), ("seed", "seed", _COUNT), ("data_seed", "data-order seed", _COUNT),
           ("start_step", "start step", _COUNT), ("lr", "learning rate", hp_api.RealInterval(0.0, 1e6)),
           ("momentum", "momentum", _UNIT), ("batch_size", "batch size", _COUNT),
           ("weight_decay", "weight decay", hp_api.RealInterval(0.0, 1e6)), ("budget", "budget", None),
           ("schedule", "lr schedule", None), ("method", "pruning method", None), ("copy", "noise copy", _COUNT),
           ("fraction", "data fraction", _UNIT), ("round", "search round", _COUNT))
METRICS = (("final/test_accuracy", "test accuracy"), ("final/best_val_accuracy", "best val accuracy"),
           ("final/val_accuracy", "val accuracy"), ("final/val_error", "val error"),
           ("final/test_error", "test error"))


def open_run(log_dir) -> tf.summary.SummaryWriter:
    """A writer for a fresh run in `log_dir`: the run's earlier event files (an interrupted
    attempt at the same unit) are deleted first, so a rerun does not duplicate points."""
    log_dir = Path(log_dir)
    for old in log_dir.glob(EVENT_GLOB):
        if old.is_file():
            old.unlink(missing_ok=True)  # missing_ok: another process sharing the directory may be first
    return tf.summary.create_file_writer(str(log_dir))


def sparsity_by_layer(masks: Mapping[str, np.ndarray]) -> Dict[str, float]:
    """Zero fraction of each layer's mask and of all of them (`global`); {} for a dense
    network without prunable layers."""
    if not masks:
        return {}
    rows = M.layer_report(dict(masks))
    return {("global" if r["layer"] == "total" else r["layer"]): float(r["sparsity"]) for r in rows}


class RunLog:
    """The summaries of one training run (`train(log_dir=...)` opens one): `epoch` after each
    epoch's evaluation, `close` at the end. `test` evaluates the test split (a dict with
    `accuracy` and `loss`); `hparams` are the run's (see `run_hparams`)."""

    def __init__(self, log_dir, model, test: Callable[[], Dict[str, float]], hparams: Mapping[str, object],
                 options: Optional[SummaryOptions] = None):
        self.writer = open_run(log_dir)
        self.model, self.test, self.options = model, test, options or SummaryOptions()
        # Masks are fixed during training: their sparsity is measured once.
        self.sparsity = sparsity_by_layer(wrapping.get_masks(model))
        self.hparams = {"sparsity": self.sparsity.get("global", 0.0), **{k: v for k, v in hparams.items() if v is not None}}
        self.epochs, self.last_row = 0, None
        self.test_at, self.kernels_at = None, None  # (step, metrics) of the last test; step of the last histograms

    def epoch(self, step: int, row: Mapping[str, float]):
        """One epoch's history row (`train_loss` -> `train/loss`, ...), the sparsity after the
        first, the test split if `test_every_epoch`, kernel histograms every `histogram_every`."""
        self.epochs += 1
        self.last_row = row
        with self.writer.as_default(step=step):
            for key, value in row.items():
                if key not in ("epoch", "step") and not np.isnan(value):  # nan: no validation split
                    tf.summary.scalar(key.replace("_", "/", 1), value)
            for layer, value in (self.sparsity.items() if self.epochs == 1 else ()):
                tf.summary.scalar(f"sparsity/{layer}", value)
            if self.options.test_every_epoch:
                self._log_test(step)
            every = self.options.histogram_every
            if every and self.epochs % every == 0:
                self._log_kernels(step)

    def close(self, step: int, best_row: Optional[Mapping[str, float]]):
        """The end of the run (`best_row`: the history row of highest validation accuracy): the
        test split, the HParams dashboard's metrics, kernel histograms and the run's hparams;
        then the event file is flushed and closed."""
        last, best = self.last_row, best_row
        val = float("nan") if last is None else float(last["val_accuracy"])
        with self.writer.as_default(step=step):
            test = self.test_at[1] if self.test_at and self.test_at[0] == step else self._log_test(step)
            if self.kernels_at != step:
                self._log_kernels(step)
            for tag, value in (("test_accuracy", test["accuracy"]), ("test_error", 1.0 - test["accuracy"]),
                               ("val_accuracy", val), ("val_error", 1.0 - val),
                               ("best_val_accuracy", float("nan") if best is None else float(best["val_accuracy"]))):
                tf.summary.scalar(f"final/{tag}", value)
            hp_api.hparams({k: _hparam_value(v) for k, v in self.hparams.items()})
        self.writer.close()

    def _log_test(self, step):
        test = self.test()
        for key, value in test.items():
            tf.summary.scalar(f"test/{key}", value)
        self.test_at = (step, test)
        return test

    def _log_kernels(self, step):
        log_kernels(self.model)
        self.kernels_at = step


def log_kernels(model):
    """Histograms of each prunable layer's unpruned kernel weights (under the default writer);
    for a model without prunable layers, of every kernel."""
    pairs = [(w.layer.name, *wrapping.kernel_and_mask(w)) for w in wrapping.wrappers(model)]
    if pairs:
        for name, kernel, mask in pairs:
            tf.summary.histogram(f"kernel/{name}", tf.boolean_mask(kernel, tf.cast(mask, tf.bool)))
    else:
        for v in model.trainable_variables:
            if "kernel" in v.name:
                tf.summary.histogram(f"kernel/{wrapping.var_key(v)}", v)


def run_hparams(hp, seed: int, data_seed: int, start_step: int, extra: Optional[Mapping[str, object]]) -> Dict[str, object]:
    """The hparams of one training run: its recipe, seeds and start step, then the component's
    own (`extra`, e.g. variant, level, rewind), which win on a clash."""
    values = {"lr": hp.lr, "momentum": hp.momentum, "batch_size": hp.batch_size, "weight_decay": hp.weight_decay,
              "budget": str(hp.budget), "schedule": hp.schedule, "seed": seed, "data_seed": data_seed,
              "start_step": start_step}
    values.update(extra or {})
    return values


def write_hparams_config(root):
    """Declares the HParams dashboard's columns once, at the study's TensorBoard root (a run of
    its own; rewritten, not appended, on every call)."""
    writer = open_run(root)
    with writer.as_default():
        hp_api.hparams_config(hparams=[hp_api.HParam(name, domain, display_name=shown) for name, shown, domain in HPARAMS],
                              metrics=[hp_api.Metric(tag, display_name=shown) for tag, shown in METRICS])
    writer.close()


def _hparam_value(value):
    """bool, int, float or str, as the hparams plugin takes them (numpy scalars converted)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return str(value)
