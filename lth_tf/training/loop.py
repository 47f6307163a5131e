"""The one training function: SGD with momentum and weight decay on a (masked) Keras model,
under the model's tf.distribute strategy, from any start step to any end step.

Masking: the wrapped layers compute with `kernel * mask` (lth_tf/sparsity/wrapping.py), so the
gradient at a pruned weight is exactly zero; a pruned weight is zero, so its L2 term is zero too:
pruned weights never move (not by the gradient, not by momentum, not by weight decay).
"""
import dataclasses
import logging
import time
from typing import Callable, Dict, Iterable, List, Mapping, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf.data.dataset import Dataset, Split
from lth_tf.data.pipeline import eval_batches, steps_per_epoch, train_batches
from lth_tf.sparsity import wrapping
from lth_tf.training.hparams import TrainingHparams, to_steps
from lth_tf.training import tensorboard
from lth_tf.training.schedules import LrSchedule
from lth_tf.training.strategy import run_sliced

# on_batch(step, indices, correct, losses, logits): per-example results of the training step
# itself (no extra forward pass), gathered over replicas; used by forgetting trackers.
BatchHook = Callable[[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]
# on_epoch(epoch, step, model): after each epoch's evaluation; return True to stop early.
EpochHook = Callable[[int, int, keras.Model], Optional[bool]]


@dataclasses.dataclass
class TrainResult:
    start_step: int
    end_step: int  # the step training actually stopped at (early stop may end sooner)
    history: List[dict]  # one row per epoch: epoch, step, lr, train_loss, train_accuracy, val_*
    snapshots: Dict[int, Dict[str, np.ndarray]]  # step -> wrapping.get_state() at that step
    # The epoch with the highest validation accuracy (first one on ties): its history row and
    # wrapping.get_state() then; None without a validation split.
    best_row: Optional[dict] = None
    best_state: Optional[Dict[str, np.ndarray]] = None

    @property
    def steps(self) -> int:
        return self.end_step - self.start_step


def _loss(y, logits):
    return tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)


class _Trainer:
    """The compiled training step for one model and one hyperparameter set. Cached on the model,
    so IMP levels and baselines that reuse a model do not retrace; `reset` gives a fresh
    optimizer state (zero momentum) at any start step."""

    def __init__(self, model: keras.Model, hp: TrainingHparams, spe: int, total_steps: int, track: bool):
        self.model, self.strategy = model, model.distribute_strategy
        milestones = [to_steps(m, spe) for m in hp.milestones]
        self.schedule = LrSchedule(hp.lr, hp.schedule, total_steps, milestones, hp.gamma, to_steps(hp.warmup, spe))
        with self.strategy.scope():
            self.optimizer = keras.optimizers.SGD(self.schedule, momentum=hp.momentum, nesterov=hp.nesterov)
            self.optimizer.build(model.trainable_variables)
            self.loss_sum = keras.metrics.Sum()
            self.correct_sum = keras.metrics.Sum()
            self.count = keras.metrics.Sum()
        wd, replicas = hp.weight_decay, self.strategy.num_replicas_in_sync

        def replica_step(x, y, index):
            variables = model.trainable_variables
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                losses = _loss(y, logits)
                loss = tf.nn.compute_average_loss(losses)
            grads = tape.gradient(loss, variables)
            # L2 weight decay in the gradient; divided by the replica count because replica
            # gradients are summed.
            grads = [g + (wd / replicas) * v if wd else g for g, v in zip(grads, variables)]
            self.optimizer.apply_gradients(zip(grads, variables))
            correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=y.dtype), y), tf.float32)
            self.loss_sum.update_state(tf.reduce_sum(losses))
            self.correct_sum.update_state(tf.reduce_sum(correct))
            self.count.update_state(tf.cast(tf.size(y), tf.float32))
            return index, correct, losses, logits

        @tf.function
        def step(batch):
            outputs = self.strategy.run(replica_step, args=batch)
            if track:
                return [self.strategy.gather(o, axis=0) for o in outputs]
            return []

        @tf.function
        def steps(iterator, count):
            # `count` steps in one call. Without a per-step hook, this saves the per-call Python
            # and dispatch overhead (~1 ms a step on 2 CPU cores), which is as much as the work of
            # a LeNet step on MNIST; same ops in the same order, so the same results.
            for _ in tf.range(count):
                self.strategy.run(replica_step, args=next(iterator))

        self.step, self.steps = step, steps

    def reset(self, start_step: int):
        for v in self.optimizer.variables:
            v.assign(tf.zeros_like(v))
        self.optimizer.iterations.assign(start_step)
        self.reset_metrics()

    def reset_metrics(self):
        for m in (self.loss_sum, self.correct_sum, self.count):
            m.reset_state()


def _trainer(model, hp, spe, total, track) -> _Trainer:
    cache = model.__dict__.setdefault("_lth_trainers", {})
    key = (hp, spe, total, track)
    if key not in cache:
        cache[key] = _Trainer(model, hp, spe, total, track)
    return cache[key]


def predict(model: keras.Model, ds: Dataset, split: Split, batch_size: int = 1000) -> np.ndarray:
    """Logits for a split, in split order, computed under the model's strategy: each replica
    takes its slice of every batch and the logits are gathered back on every worker (so every
    worker of a multi-worker run gets the same logits and metrics)."""
    step = model.__dict__.get("_lth_predict")
    if step is None:
        strategy = model.distribute_strategy
        step = model.__dict__["_lth_predict"] = tf.function(
            lambda x: run_sliced(strategy, lambda xs: model(xs, training=False), x))
    return np.concatenate([step(x).numpy() for x, _, _ in eval_batches(ds, split, batch_size)])


def evaluate(model: keras.Model, ds: Dataset, split: Split) -> Dict[str, float]:
    logits = predict(model, ds, split)
    loss = float(np.mean(_loss(split.y, logits).numpy()))
    return {"accuracy": float(np.mean(logits.argmax(-1) == split.y)), "loss": loss}


def train(model: keras.Model, ds: Dataset, hp: TrainingHparams, *, seed: int, start_step: int = 0,
          end_step: Optional[int] = None, train_split: Optional[Split] = None,
          snapshot_steps: Iterable[int] = (), on_batch: Optional[BatchHook] = None,
          on_epoch: Optional[EpochHook] = None, log_dir=None, log_hparams: Optional[Mapping[str, object]] = None,
          label: str = "train", verbose: bool = True) -> TrainResult:
    """Trains `model` in place from `start_step` to `end_step` (default: the budget).

    `seed` draws the data order and augmentation (with hp.data_seed_offset); the model's current
    weights are the starting point. Epochs are passes over `train_split` (default: ds.train),
    which may be any subset; the budget is counted in its epochs. The validation split is
    evaluated after every epoch.

    `log_dir`: a TensorBoard run for this training (lth_tf/training/tensorboard.py: per-epoch
    scalars, sparsity, kernel histograms, the test split at the end and the run's hparams, to
    which `log_hparams` adds the caller's, e.g. {"variant": "lt_imp", "level": 3}); the run's
    earlier event files are replaced. Logging does not change the training."""
    split = ds.train if train_split is None else train_split
    spe = steps_per_epoch(len(split), hp.batch_size)
    total = hp.total_steps(spe)
    end_step = total if end_step is None else end_step
    if not 0 <= start_step <= end_step:
        raise ValueError(f"bad step range [{start_step}, {end_step})")
    trainer = _trainer(model, hp, spe, total, on_batch is not None)
    trainer.reset(start_step)
    strategy = trainer.strategy
    data_seed = int(seed) + hp.data_seed_offset
    batches = iter(strategy.experimental_distribute_dataset(
        train_batches(ds, split, hp.batch_size, data_seed, start_step, end_step)))
    wanted = set(int(s) for s in snapshot_steps)
    snapshots, history = {}, []
    best_row, best_state = None, None
    writer = tensorboard.RunLog(log_dir, model, lambda: _test_metrics(model, ds),
                                tensorboard.run_hparams(hp, seed, data_seed, start_step, log_hparams)) if log_dir else None
    t0 = time.time()
    step = start_step
    while step < end_step:
        if step in wanted:
            snapshots[step] = wrapping.get_state(model)
        if on_batch is None:  # run to the next epoch end, snapshot or the end in one call
            stop = min([end_step, (step // spe + 1) * spe] + [s for s in wanted if s > step])
            trainer.steps(batches, tf.constant(stop - step, tf.int64))
            step = stop
        else:
            index, correct, losses, logits = (o.numpy() for o in trainer.step(next(batches)))
            on_batch(step, index, correct, losses, logits)
            step += 1
        if step % spe == 0 or step == end_step:
            row = _end_epoch(model, ds, trainer, step, spe, writer)
            history.append(row)
            if not np.isnan(row["val_accuracy"]) and (best_row is None or row["val_accuracy"] > best_row["val_accuracy"]):
                best_row, best_state = row, wrapping.get_state(model)
            if verbose:  # to <output_dir>/log.txt, and the console with --verbose (pipelines/run.py)
                logging.getLogger("lth_tf.training").info(
                    f"[{label}] epoch {row['epoch']:g} step {step}/{end_step} lr {row['lr']:.4g} "
                    f"loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f} "
                    f"val_acc {row['val_accuracy']:.4f} ({time.time() - t0:.1f}s)")
            if on_epoch is not None and on_epoch(row["epoch"], step, model):
                break
    if step in wanted:
        snapshots[step] = wrapping.get_state(model)
    if writer is not None:
        writer.close(step, best_row)
    return TrainResult(start_step, step, history, snapshots, best_row, best_state)


def best_validation_metrics(model: keras.Model, ds: Dataset, result: TrainResult) -> Dict[str, float]:
    """The model selected by validation, beside the last epoch's.

    Paper 000 (appendix A1): "we choose the model with the best validation accuracy". Returns
    `best_val_accuracy`, `best_val_epoch` and `best_val_test_accuracy` (the test accuracy of the
    weights at the epoch of highest validation accuracy, the first such epoch on ties); nan when
    there is no validation split. The model's weights are left as they were (the last epoch's)."""
    if result.best_row is None:
        return {"best_val_accuracy": float("nan"), "best_val_epoch": float("nan"), "best_val_test_accuracy": float("nan")}
    last = wrapping.get_state(model)
    wrapping.set_state(model, result.best_state)
    test = evaluate(model, ds, ds.test)["accuracy"]
    wrapping.set_state(model, last)
    return {"best_val_accuracy": float(result.best_row["val_accuracy"]), "best_val_epoch": float(result.best_row["epoch"]),
            "best_val_test_accuracy": float(test)}


def _end_epoch(model, ds, trainer, step, spe, writer) -> dict:
    count = max(float(trainer.count.result()), 1.0)
    row = {"epoch": round(step / spe, 4), "step": step, "lr": float(trainer.schedule(step - 1)),
           "train_loss": float(trainer.loss_sum.result()) / count,
           "train_accuracy": float(trainer.correct_sum.result()) / count}
    trainer.reset_metrics()
    if len(ds.val):
        val = evaluate(model, ds, ds.val)
        row.update(val_accuracy=val["accuracy"], val_loss=val["loss"])
    else:
        row.update(val_accuracy=float("nan"), val_loss=float("nan"))
    if writer is not None:
        writer.epoch(step, row)
    return row


def _test_metrics(model, ds) -> Dict[str, float]:
    return evaluate(model, ds, ds.test) if len(ds.test) else {"accuracy": float("nan"), "loss": float("nan")}
