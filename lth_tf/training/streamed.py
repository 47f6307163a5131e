"""Evaluation of a streamed split (lth_tf/data/streaming.py) batch by batch.

`loop.evaluate` calls this for a StreamedSplit: loss and accuracy are summed over the batches of
one pass, so neither the images nor the (examples x classes) logits are ever held whole (50k x
1000 float32 logits of ImageNet's validation split would be 200 MB).
"""
from typing import Dict, Iterator, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf.data.pipeline import eval_batches
from lth_tf.training.strategy import run_sliced


def logits_step(model: keras.Model):
    """The model's inference function under its strategy: loop.predict's step (same cache)."""
    step = model.__dict__.get("_lth_predict")
    if step is None:
        strategy = model.distribute_strategy
        step = model.__dict__["_lth_predict"] = tf.function(
            lambda x: run_sliced(strategy, lambda xs: model(xs, training=False), x))
    return step


def batch_logits(model: keras.Model, ds, split, batch_size: int = 1000) -> Iterator[Tuple]:
    """(x, y, index, logits) per batch of `split`, in split order."""
    step = logits_step(model)
    for x, y, index in eval_batches(ds, split, batch_size):
        yield x, y.numpy(), index.numpy(), step(x).numpy()


def evaluate_streamed(model: keras.Model, ds, split, batch_size: int = 1000) -> Dict[str, float]:
    """{"accuracy", "loss"} over `split`, as loop.evaluate defines them (mean cross-entropy of the
    logits, fraction of argmax == label), summed in float64 over one streaming pass."""
    loss_sum, correct, count = 0.0, 0, 0
    for _, y, _, logits in batch_logits(model, ds, split, batch_size):
        losses = tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True).numpy()
        loss_sum += float(np.sum(losses, dtype=np.float64))
        correct += int(np.sum(logits.argmax(-1) == y))
        count += len(y)
    if count == 0:
        return {"accuracy": float("nan"), "loss": float("nan")}
    return {"accuracy": correct / count, "loss": loss_sum / count}
