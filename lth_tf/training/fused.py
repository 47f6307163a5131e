"""Many tickets at once: K networks of one architecture and one batch size trained by one
compiled step, each exactly as lth_tf.training.train would train it alone.

Each network keeps its own weights, mask, momentum, data order (its seed's epoch_order and
make_batch: the batches of its (seed, step) stream, whatever its start step), learning-rate
schedule, momentum, weight decay and start step (rewind point). The step stacks the K batches
on a network axis and runs the K forward/backward passes and SGD updates as batched ops
(lth_tf/training/fused_chain.py), so the per-step overhead that sets the pace of small
networks on a CPU (about 1 ms a step) is paid once for K networks.

Equal to training alone within float rounding: a batched matmul sums in the order a single
matmul does on this box, but that is not promised (tests/test_fused.py measures it). Pruned
weights stay exactly zero (their gradient is masked to zero; zero weight, zero decay). What
train() offers beyond this (per-batch hooks, early stopping, TensorBoard, tf.data streams,
distribution strategies, mixed precision) is not fused: use train().
"""
import dataclasses
import logging
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from lth_tf.data import pipeline, streaming
from lth_tf.data.pipeline import epoch_order, split_data, steps_per_epoch
from lth_tf.sparsity import wrapping
from lth_tf.training.fused_chain import NotFusable, StackedNetworks
from lth_tf.training.hparams import TrainingHparams, to_steps
from lth_tf.training.loop import TrainResult, evaluate
from lth_tf.training.schedules import LrSchedule

__all__ = ["Member", "NotFusable", "train_fused"]


@dataclasses.dataclass
class Member:
    """One network of a fused group and what train() would be called with for it."""
    model: object
    hp: TrainingHparams
    seed: int
    start_step: int = 0
    snapshot_steps: Sequence[int] = ()


def _check(members: List[Member], split) -> None:
    hps = [m.hp for m in members]
    same = {(h.batch_size, h.nesterov, h.jit_compile) for h in hps}
    if len(same) != 1:
        raise NotFusable("the networks differ in batch size, nesterov or jit_compile; only equal ones fuse")
    if any(h.mixed_precision for h in hps):
        raise NotFusable("mixed precision does not fuse; use train()")
    if streaming.is_streamed(split):
        raise NotFusable("a streamed split does not fuse; use train()")
    if any(type(m.model.distribute_strategy) is not type(tf.distribute.get_strategy()) for m in members):
        raise NotFusable("a distributed model does not fuse; use train()")


class _Step:
    """The compiled step of one group (cached on the group: one trace for every call)."""

    def __init__(self, net: StackedNetworks, hps: List[TrainingHparams], schedules, n: int, spe: int,
                 augment: str, stored: bool, gated: bool):
        k, batch_size, self.schedules = net.size, hps[0].batch_size, schedules
        self.loss_sum, self.correct_sum, self.count = (tf.Variable(tf.zeros([k]), trainable=False) for _ in range(3))
        momentum = tf.constant([h.momentum for h in hps], tf.float32)
        decay = tf.constant([h.weight_decay for h in hps], tf.float32)
        nesterov = hps[0].nesterov
        # One learning rate and momentum for all at every step (equal recipes, equal starts):
        # Keras' own fused update kernel over the stacks, one pass instead of six.
        shared = not gated and len({(h.momentum, str(s.get_config())) for h, s in zip(hps, schedules)}) == 1

        def lrs(steps):  # each network's learning rate at its own step, as Keras' SGD reads it
            return tf.stack([s(steps[i]) for i, s in enumerate(schedules)])

        def per_network(values, v):  # [K] -> broadcastable against v [K, ...]
            return tf.reshape(values, [k] + [1] * (len(v.shape) - 1))

        def compute(x, y, valid, steps, active):
            with tf.GradientTape() as tape:
                logits = net.logits(x, stored)
                losses = tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True) * valid
                count = tf.reduce_sum(valid, axis=1)
                loss = tf.reduce_sum(tf.reduce_sum(losses, axis=1) / count)  # each network's mean
            grads = tape.gradient(loss, net.variables)
            if stored:
                grads = net.masked(grads)
            lr = schedules[0](steps[0]) if shared else lrs(steps)
            for g, v, velocity in zip(grads, net.variables, net.velocities):
                g = g + per_network(decay, v) * v  # wd = 0: g exactly (a zero weight decays by zero)
                if shared:  # sgd.FusedSGD's update, on K networks at once
                    tf.raw_ops.ResourceApplyKerasMomentum(var=v.handle, accum=velocity.handle, lr=lr, grad=g,
                                                          momentum=momentum[0], use_nesterov=nesterov)
                    continue
                m, rate = per_network(momentum, v), per_network(lr, v)
                accum = velocity * m - g * rate  # ResourceApplyKerasMomentum's arithmetic
                new = v + (accum * m - g * rate if nesterov else accum)
                if gated:  # a network past its end step keeps its weights
                    keep = per_network(active, v) > 0
                    accum, new = tf.where(keep, accum, velocity), tf.where(keep, new, v)
                velocity.assign(accum)
                v.assign(new)
            correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=y.dtype), y), tf.float32) * valid
            self.loss_sum.assign_add(tf.reduce_sum(losses, axis=1) * active)
            self.correct_sum.assign_add(tf.reduce_sum(correct, axis=1) * active)
            self.count.assign_add(count * active)

        if hps[0].jit_compile:
            compute = tf.function(compute, jit_compile=True)
        offsets = tf.range(batch_size, dtype=tf.int64)

        def batch(data, orders, seeds, steps):
            starts = (steps % spe) * batch_size  # the epoch's (partial) last batch is padded, weight 0
            slots = starts[:, None] + offsets[None, :]
            valid = tf.cast(slots < n, tf.float32)
            positions = tf.gather(orders, tf.minimum(slots, n - 1), batch_dims=1)
            if augment == "none":  # one gather for K batches: no seed enters make_batch
                x, y, _ = pipeline.make_batch(data, tf.reshape(positions, [-1]), seeds[0], steps[0], augment)
                return tf.reshape(x, tf.concat([[k, batch_size], tf.shape(x)[1:]], 0)), tf.reshape(y, [k, -1]), valid
            xs, ys = [], []
            for i in range(k):  # augmentation draws per example: exactly the batch's own rows
                size = tf.cast(tf.minimum(tf.cast(batch_size, tf.int64), n - starts[i]), tf.int32)
                x, y, _ = pipeline.make_batch(data, positions[i][:size], seeds[i], steps[i], augment)
                pad = batch_size - size
                xs.append(tf.pad(x, [[0, pad]] + [[0, 0]] * (len(x.shape) - 1)))
                ys.append(tf.pad(y, [[0, pad]]))
            return tf.stack(xs), tf.stack(ys), valid

        @tf.function
        def run(count, data, orders, seeds, first, ends):
            for t in tf.range(count):
                steps = first + t
                active = tf.cast(steps < ends, tf.float32)
                compute(*batch(data, orders, seeds, steps), steps, active)

        self.run = run

    def reset_metrics(self, k: int):
        for v in (self.loss_sum, self.correct_sum, self.count):
            v.scatter_update(tf.IndexedSlices(tf.zeros([1]), [k]))


def train_fused(members: List[Member], ds, *, end_step: Optional[int] = None, train_split=None,
                verbose: bool = True, label: str = "fused") -> List[TrainResult]:
    """Trains K networks in place, each from its start step to `end_step` (default: the budget,
    which must be the same for all), as train(model, ds, hp, seed=seed, start_step=...,
    snapshot_steps=...) would one at a time; returns their TrainResults in order. Raises
    NotFusable (before any training) for networks that cannot share the step."""
    split = ds.train if train_split is None else train_split
    _check(members, split)
    n, batch_size = len(split), members[0].hp.batch_size
    spe = steps_per_epoch(n, batch_size)
    totals = {m.hp.total_steps(spe) for m in members}
    if len(totals) != 1:
        raise NotFusable(f"the networks' budgets differ ({sorted(totals)} steps); only equal ones fuse")
    end = totals.pop() if end_step is None else int(end_step)
    starts = [int(m.start_step) for m in members]
    if not all(0 <= s <= end for s in starts):
        raise ValueError(f"bad step ranges: start steps {starts}, end step {end}")
    models = [m.model for m in members]
    net, step = _group(models, [m.hp for m in members], end, spe, n, ds, gated=len(set(starts)) > 1)
    net.read()
    for i in range(net.size):
        step.reset_metrics(i)
    seeds = [int(m.seed) + m.hp.data_seed_offset for m in members]
    return _Loop(net, step, members, ds, split, seeds, starts, end, spe, verbose, label).run()


def _group(models, hps, end, spe, n, ds, gated: bool):
    """The stacked networks and their compiled step for this group and kind of call, cached on
    the first model (which so keeps the group's models alive while it lives)."""
    key = ("fused", tuple(id(m) for m in models), tuple(hps), end, spe, n, ds.augment)
    cache = models[0].__dict__.setdefault("_lth_fused", {})
    if key not in cache:
        schedules = [LrSchedule(h.lr, h.schedule, h.total_steps(spe), [to_steps(m, spe) for m in h.milestones],
                                h.gamma, to_steps(h.warmup, spe)) for h in hps]
        cache[key] = (StackedNetworks(models), schedules)
    net, schedules = cache[key]
    # The faster exact forward when it is exact (fused_chain.stored_kernels_exact); gating only
    # when the networks train different numbers of steps.
    stored = net.stored_kernels_exact()
    if key + (stored, gated) not in cache:
        cache[key + (stored, gated)] = _Step(net, hps, schedules, n, spe, ds.augment, stored, gated)
    return net, cache[key + (stored, gated)]


class _Loop:
    """The Python side of one train_fused call: runs the compiled step up to the next epoch end,
    snapshot or end of any network, then evaluates / snapshots the networks that reached one."""

    def __init__(self, net, step, members, ds, split, seeds, starts, end, spe, verbose, label):
        self.net, self.step, self.members, self.ds, self.spe = net, step, members, ds, spe
        self.seeds, self.starts, self.end, self.n = seeds, starts, end, len(split)
        self.data, self.verbose, self.label = split_data(ds, split), verbose, label
        self.wanted = [set(int(s) for s in m.snapshot_steps) for m in members]
        self.snapshots: List[Dict[int, dict]] = [{} for _ in members]
        self.history: List[list] = [[] for _ in members]
        self.best = [(None, None) for _ in members]
        self.orders = [None] * len(members)

    def run(self) -> List[TrainResult]:
        k, t, t0 = len(self.members), 0, time.time()
        length = [self.end - s for s in self.starts]
        while t < max(length):
            steps = [s + t for s in self.starts]
            self._snapshot(steps)
            stop = min(self._next_event(steps[i], i) - steps[i] for i in range(k) if t < length[i])
            orders = tf.stack([self._order(i, steps[i]) for i in range(k)])
            self.step.run(tf.constant(stop, tf.int64), self.data, orders, tf.constant(self.seeds, tf.int64),
                          tf.constant(steps, tf.int64), tf.constant([self.end] * k, tf.int64))
            t += stop
            for i in range(k):
                s = self.starts[i] + t
                if t - stop < length[i] and (s % self.spe == 0 or s == self.end):
                    self._end_epoch(i, s, t0)
        self._snapshot([self.end] * k)
        for i in range(k):
            self.net.write(i)
        return [TrainResult(self.starts[i], self.end, self.history[i], self.snapshots[i], *self.best[i])
                for i in range(k)]

    def _next_event(self, s: int, i: int) -> int:
        return min([self.end, (s // self.spe + 1) * self.spe] + [w for w in self.wanted[i] if w > s])

    def _order(self, i: int, s: int):
        epoch = min(s, self.end - 1) // self.spe
        if self.orders[i] is None or self.orders[i][0] != epoch:  # one shuffle per epoch, not per call
            self.orders[i] = (epoch, epoch_order(self.n, self.seeds[i], epoch))
        return self.orders[i][1]

    def _snapshot(self, steps):
        for i, s in enumerate(steps):
            if s in self.wanted[i] and s not in self.snapshots[i]:
                self.net.write(i)
                self.snapshots[i][s] = wrapping.get_state(self.members[i].model)

    def _end_epoch(self, i: int, s: int, t0: float):
        """train()'s history row of network i at step s (loop._end_epoch's fields)."""
        model, step = self.members[i].model, self.step
        self.net.write(i)
        count = max(float(step.count[i]), 1.0)
        row = {"epoch": round(s / self.spe, 4), "step": s, "lr": float(step.schedules[i](s - 1)),
               "train_loss": float(step.loss_sum[i]) / count, "train_accuracy": float(step.correct_sum[i]) / count}
        step.reset_metrics(i)
        if len(self.ds.val):
            val = evaluate(model, self.ds, self.ds.val)
            row.update(val_accuracy=val["accuracy"], val_loss=val["loss"])
        else:
            row.update(val_accuracy=float("nan"), val_loss=float("nan"))
        self.history[i].append(row)
        best_row = self.best[i][0]
        if not np.isnan(row["val_accuracy"]) and (best_row is None or row["val_accuracy"] > best_row["val_accuracy"]):
            self.best[i] = (row, wrapping.get_state(model))
        if self.verbose:
            logging.getLogger("lth_tf.training").info(
                f"[{self.label} {i}] epoch {row['epoch']:g} step {s}/{self.end} lr {row['lr']:.4g} "
                f"loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f} "
                f"val_acc {row['val_accuracy']:.4f} ({time.time() - t0:.1f}s)")
