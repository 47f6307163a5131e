"""The one training function: SGD with momentum and weight decay on a (masked) Keras model,
under the model's tf.distribute strategy, from any start step to any end step.

Masking: the wrapped layers compute with `kernel * mask` (lth_tf/sparsity/wrapping.py), so the
gradient at a pruned weight is exactly zero; a pruned weight is zero, so its L2 term is zero too:
pruned weights never move (not by the gradient, not by momentum, not by weight decay). When
every pruned weight is exactly zero at the start of a call (as set_masks and set_state leave
them), the step computes with the stored kernels and masks their gradients itself instead
(wrapping.stored_kernel_forward): the same numbers bit for bit, one pass over each kernel fewer.

Over 300 lines: the compiled trainer, the batch stream and train() share private state.
"""
import contextlib
import dataclasses
import logging
import time
from typing import Callable, Dict, Iterable, List, Mapping, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf.data.dataset import Dataset, Split
from lth_tf.data import pipeline, streaming
from lth_tf.data.pipeline import epoch_order, eval_batches, split_data, steps_per_epoch, train_batches
from lth_tf.sparsity import wrapping
from lth_tf.training.compiled import compiled
from lth_tf.training.hparams import TrainingHparams, to_steps
from lth_tf.training import sgd, tensorboard
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
    """The compiled training step for one model and one hyperparameter set. Cached per model
    (lth_tf/training/compiled.py), so IMP levels and baselines that reuse a model do not
    retrace; `reset` gives a fresh optimizer state (zero momentum) at any start step. The SGD
    update is one fused kernel per variable (sgd.FusedSGD, bit-identical to Keras' SGD).

    Under the default (one-device) strategy the batches are made inside the step function from
    the split's tensors (`pipeline.make_batch` on the positions of a precomputed epoch order):
    the same batches as the tf.data stream, without its per-step threads and hand-offs, which
    cost as much as a LeNet step on 2 CPU cores. Other strategies read the tf.data stream,
    distributed over replicas. `hp.jit_compile` compiles the step's arithmetic (forward,
    backward, weight decay, SGD update, metrics) with XLA: fused elementwise kernels (LeNet on 2
    CPU cores: ~1.3x the examples per CPU second), at the price of XLA's own rounding (results
    are not bit-identical to the default, so it is opt-in). Compiling the whole multi-step loop
    as one XLA program (JAX's lax.scan) measured slower here, so only the step is compiled.
    `hp.mixed_precision` computes in float16 with a dynamic loss scale."""

    def __init__(self, model: keras.Model, hp: TrainingHparams, spe: int, total_steps: int, track: bool,
                 stored_kernels: bool = False):
        self.model, self.strategy = model, model.distribute_strategy
        self.in_graph = _in_graph_batches(self.strategy)
        milestones = [to_steps(m, spe) for m in hp.milestones]
        self.schedule = LrSchedule(hp.lr, hp.schedule, total_steps, milestones, hp.gamma, to_steps(hp.warmup, spe))
        with self.strategy.scope():
            self.sgd, self.optimizer = sgd.optimizers(model, hp, self.schedule)
            self.loss_sum = keras.metrics.Sum()
            self.correct_sum = keras.metrics.Sum()
            self.count = keras.metrics.Sum()
        wd, replicas, batch_size = hp.weight_decay, self.strategy.num_replicas_in_sync, hp.batch_size

        def compute(x, y):
            variables = model.trainable_variables
            forward = wrapping.stored_kernel_forward() if stored_kernels else contextlib.nullcontext()
            with tf.GradientTape() as tape, forward:
                # float32 logits: a no-op in float32, the loss in float32 under mixed precision
                logits = tf.cast(model(x, training=True), tf.float32)
                losses = _loss(y, logits)
                loss = tf.nn.compute_average_loss(losses)
                if hp.mixed_precision:
                    loss = self.optimizer.get_scaled_loss(loss)
            grads = tape.gradient(loss, variables)
            if hp.mixed_precision:
                grads = self.optimizer.get_unscaled_gradients(grads)
            if stored_kernels:  # the gradient autodiff gives through kernel * mask
                grads = wrapping.mask_gradients(grads, variables, model)
            # L2 weight decay in the gradient; divided by the replica count because replica
            # gradients are summed.
            grads = [g + (wd / replicas) * v if wd else g for g, v in zip(grads, variables)]
            self.optimizer.apply_gradients(zip(grads, variables))
            correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=y.dtype), y), tf.float32)
            # The metrics' sums, added directly (Sum.update_state would sum each scalar again).
            self.loss_sum.total.assign_add(tf.reduce_sum(losses))
            self.correct_sum.total.assign_add(tf.reduce_sum(correct))
            self.count.total.assign_add(tf.cast(tf.size(y), tf.float32))
            return correct, losses, logits

        if hp.jit_compile:
            compute = tf.function(compute, jit_compile=True)

        def replica_step(x, y, index):
            return (index, *compute(x, y))

        def in_graph_batch(data, order, seed, step, augment):
            start = (step % spe) * batch_size  # the slice is clipped at the epoch's (partial) last batch
            return pipeline.make_batch(data, order[start:start + batch_size], seed, step, augment)

        # The step functions take the stream as keyword arguments (_Batches.at): a distributed
        # tf.data `iterator`, or the split's tensors `data`, the epoch's `order`, the data `seed`,
        # the global step `first` and the `augment` kind. reduce_retracing: splits of other sizes
        # (subsets) share one trace.
        @tf.function(reduce_retracing=True)
        def step(iterator=None, data=None, order=None, seed=None, first=None, augment=None):
            if iterator is None:
                outputs = replica_step(*in_graph_batch(data, order, seed, first, augment))
            else:
                outputs = self.strategy.run(replica_step, args=next(iterator))
            if track:
                return [self.strategy.gather(o, axis=0) for o in outputs]
            return []

        @tf.function(reduce_retracing=True)
        def steps(count, iterator=None, data=None, order=None, seed=None, first=None, augment=None):
            # `count` steps in one call. Without a per-step hook, this saves the per-call Python
            # and dispatch overhead (~1 ms a step on 2 CPU cores), which is as much as the work of
            # a LeNet step on MNIST; same ops in the same order, so the same results.
            if iterator is None:
                for s in tf.range(first, first + count):
                    replica_step(*in_graph_batch(data, order, seed, s, augment))
            else:
                for _ in tf.range(count):
                    self.strategy.run(replica_step, args=next(iterator))

        self.step, self.steps = step, steps

    def reset(self, start_step: int):
        for v in self.sgd.variables:  # the momentum slots (a loss scale keeps its value)
            v.assign(tf.zeros_like(v))
        self.sgd.iterations.assign(start_step)
        self.reset_metrics()

    def reset_metrics(self):
        for m in (self.loss_sum, self.correct_sum, self.count):
            m.reset_state()


# The class of TensorFlow's default (no-op, one-device) strategy, read at import, outside any scope.
_DEFAULT_STRATEGY = type(tf.distribute.get_strategy())


def _in_graph_batches(strategy) -> bool:
    """Whether the trainer makes batches in the step function (the default strategy: one device)
    rather than reading the tf.data stream distributed over replicas."""
    return type(strategy) is _DEFAULT_STRATEGY


def predict(model: keras.Model, ds: Dataset, split: Split, batch_size: int = 1000) -> np.ndarray:
    """Logits for a split, in split order, computed under the model's strategy: each replica
    takes its slice of every batch and the logits are gathered back on every worker (so every
    worker of a multi-worker run gets the same logits and metrics)."""
    strategy = model.distribute_strategy
    step = compiled(model, ("predict",), lambda: tf.function(
        lambda x: run_sliced(strategy, lambda xs: model(xs, training=False), x)))
    return np.concatenate([step(x).numpy() for x, _, _ in eval_batches(ds, split, batch_size)])


def evaluate(model: keras.Model, ds: Dataset, split: Split) -> Dict[str, float]:
    if streaming.is_streamed(split):  # accumulated batch by batch, never all logits at once
        from lth_tf.training.streamed import evaluate_streamed
        return evaluate_streamed(model, ds, split)
    logits = predict(model, ds, split)
    loss = float(np.mean(_loss(split.y, logits).numpy()))
    return {"accuracy": float(np.mean(logits.argmax(-1) == split.y)), "loss": loss}


class _Batches:
    """The training stream of one train() call, as the step functions' keyword arguments from
    global step `step` on: the split's tensors and the epoch's order (in-graph batches, computed
    once per epoch), or the distributed tf.data iterator. The calls ask for consecutive steps."""

    def __init__(self, trainer: _Trainer, ds: Dataset, split: Split, batch_size: int, seed: int,
                 start_step: int, end_step: int):
        self.n, self.spe, self.seed = len(split), steps_per_epoch(len(split), batch_size), seed
        self.iterator, self.epoch, self.order = None, None, None
        if trainer.in_graph and not streaming.is_streamed(split):  # a streamed split reads tf.data
            self.data, self.augment = split_data(ds, split), ds.augment
        else:
            self.iterator = iter(trainer.strategy.experimental_distribute_dataset(
                train_batches(ds, split, batch_size, seed, start_step, end_step)))

    def at(self, step: int) -> dict:
        if self.iterator is not None:
            return {"iterator": self.iterator}
        epoch = step // self.spe
        if epoch != self.epoch:  # one shuffle per epoch, not per call
            self.epoch, self.order = epoch, epoch_order(self.n, self.seed, epoch)
        return dict(data=self.data, order=self.order, seed=tf.constant(self.seed, tf.int64),
                    first=tf.constant(step, tf.int64), augment=self.augment)


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
    track = on_batch is not None
    # Pruned weights at exactly zero (as set_masks and set_state leave them): the step computes
    # with the stored kernels and masks their gradients, the same arithmetic without the mask
    # multiply of each forward pass (wrapping.stored_kernel_forward).
    stored = wrapping.masked_forward_is_identity(model)
    trainer = compiled(model, ("trainer", hp, spe, total, track, stored),
                       lambda: _Trainer(model, hp, spe, total, track, stored))
    trainer.reset(start_step)
    data_seed = int(seed) + hp.data_seed_offset
    batches = _Batches(trainer, ds, split, hp.batch_size, data_seed, start_step, end_step)
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
            trainer.steps(tf.constant(stop - step, tf.int64), **batches.at(step))
            step = stop
        else:
            index, correct, losses, logits = (o.numpy() for o in trainer.step(**batches.at(step)))
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
