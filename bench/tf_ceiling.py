"""TensorFlow's own ceiling for the peer's step: the JAX peer's exact masked LeNet-300-100 SGD
step (../shared/peers/peer_jax.py: pre-made unshuffled batches, no normalization, no metrics,
gradient mask, wd 1e-4, momentum 0.9, lr 0.01) written as a bare tf.function over a tf.range
loop of plain tf.Variables: no lth-tf, no Keras, no tfmot. What train() could reach at best if
every lth-tf feature (shuffled batches, normalization, metrics, masks kept in wrappers) were
free; `bench/train_speed.py` runs it beside train() and the peer."""
import time

import numpy as np
import tensorflow as tf

SIZES = [(784, 300), (300, 100), (100, 10)]


def bare_variant(batch: int, steps: int, epochs: int, density: float):
    """A function running `epochs` epochs of the bare step, one peer epoch after each (peer None:
    none), returning [(bare examples/s, the peer's)] of the epochs after the first."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(steps, batch, 784)).astype(np.float32))
    y = tf.constant(rng.integers(0, 10, (steps, batch)))
    masks = [tf.constant((rng.uniform(size=s) < density).astype(np.float32)) for s in SIZES]
    kernels = [tf.Variable((rng.normal(size=s) * np.sqrt(2 / s[0])).astype(np.float32) * m.numpy())
               for s, m in zip(SIZES, masks)]
    biases = [tf.Variable(np.zeros(s[1], np.float32)) for s in SIZES]
    params = kernels + biases
    velocity = [tf.Variable(tf.zeros_like(p)) for p in params]

    @tf.function
    def epoch():
        for i in tf.range(steps):
            with tf.GradientTape() as tape:
                h = x[i]
                for j, (k, b) in enumerate(zip(kernels, biases)):
                    h = h @ k + b
                    if j < len(kernels) - 1:
                        h = tf.nn.relu(h)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y[i], h))
            grads = [g + 1e-4 * p for g, p in zip(tape.gradient(loss, params), params)]
            grads = [g * m for g, m in zip(grads[:len(masks)], masks)] + grads[len(masks):]
            for v, g, p in zip(velocity, grads, params):
                v.assign(0.9 * v + g)
                p.assign_sub(0.01 * v)

    def run(peer):
        pairs = []
        for _ in range(epochs):
            start = time.perf_counter()
            epoch()
            kernels[0].numpy()  # wait for the epoch's work
            ours = steps * batch / (time.perf_counter() - start)
            pairs.append((ours, steps * batch / peer.epoch() if peer else float("nan")))
        for k, m in zip(kernels, masks):
            assert np.all(k.numpy()[m.numpy() == 0] == 0), "a pruned weight moved"
        return pairs[1:]
    return run
