"""Per-example scores: forgetting counts, EL2N, GraNd, entropy against direct computations, and
the DataScoring component."""
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tf_keras as keras

from lth_tf import networks
from lth_tf.data import DatasetHparams, eval_batches, load_dataset
from lth_tf.metrics import scores as S
from lth_tf.metrics.forgetting import NEVER_LEARNED, ForgettingCounter
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.training import TrainingHparams, set_seed


def test_forgetting_counts_on_a_scripted_sequence():
    # Correctness of examples 0..4 at successive presentations (example 5 is never presented):
    #   0: 1 0 1 0   -> forgotten twice
    #   1: 0 0 0     -> never learned
    #   2: 1 1 1     -> learned, never forgotten (unforgettable)
    #   3: 0 1 1 0 1 -> forgotten once
    #   4: 1 0 (then out of a batch once)  -> forgotten once
    tracker = ForgettingCounter(6)
    script = [([0, 1, 2, 3, 4], [1, 0, 1, 0, 1]),
              ([4, 3, 2, 1, 0], [0, 1, 1, 0, 0]),
              ([0, 1, 2, 3], [1, 0, 1, 1]),
              ([3, 0], [0, 0]),
              ([3], [1])]
    for step, (index, correct) in enumerate(script):
        tracker.on_batch(step, np.array(index), np.array(correct, np.float32))
    np.testing.assert_array_equal(tracker.counts(), [2, NEVER_LEARNED, 0, 1, 1, -1])
    np.testing.assert_array_equal(tracker.unforgettable(), [False, False, True, False, False, False])
    np.testing.assert_array_equal(tracker.presentations, [4, 3, 3, 5, 2, 0])
    # Ranking scores: never-learned examples score their presentation count, above any count.
    np.testing.assert_array_equal(tracker.scores()[:5], [2, 3, 0, 1, 1])
    assert np.isnan(tracker.scores()[5])


def test_el2n_and_entropy_from_logits():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    labels = np.array([0, 2])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    onehot = np.eye(3)[labels]
    np.testing.assert_allclose(S.el2n(logits, labels), np.linalg.norm(p - onehot, axis=1), rtol=1e-12)
    np.testing.assert_allclose(S.el2n(logits, labels)[1], np.sqrt(2 / 9 + 4 / 9))
    np.testing.assert_allclose(S.predictive_entropy(p), -(p * np.log(p)).sum(1), rtol=1e-12)
    np.testing.assert_allclose(S.predictive_entropy(p)[1], np.log(3))


@pytest.fixture(scope="module")
def tiny():
    ds = load_dataset(DatasetHparams(name="digits"))
    return ds, ds.train.take(np.arange(24))


def _model_inputs(ds, split):
    x, y = [], []
    for xb, yb, _ in eval_batches(ds, split):
        x.append(xb.numpy())
        y.append(yb.numpy())
    return np.concatenate(x), np.concatenate(y)


def test_el2n_scores_match_a_direct_computation(tiny):
    ds, split = tiny
    model = networks.build_network(ModelHparams(width=0.1), ds.input_shape, ds.num_classes, seed=1)
    x, y = _model_inputs(ds, split)
    probs = tf.nn.softmax(model(x, training=False)).numpy().astype(np.float64)
    direct = np.linalg.norm(probs - np.eye(ds.num_classes)[y], axis=1)
    np.testing.assert_allclose(S.el2n_scores(model, ds, split), direct, rtol=1e-5, atol=1e-6)


def _grand_loop(model, x, y):
    """Reference: one GradientTape per example (a Python loop), masked gradients like training."""
    masks = {v.ref(): m for v, m in wrapping.kernel_mask_pairs(model)}

    @tf.function
    def example_norm(xi, yi):
        with tf.GradientTape() as tape:
            loss = tf.keras.losses.sparse_categorical_crossentropy(yi, model(xi, training=False), from_logits=True)
        grads = tape.gradient(loss, model.trainable_variables)
        grads = [g * masks[v.ref()] if v.ref() in masks else g for g, v in zip(grads, model.trainable_variables)]
        return tf.sqrt(tf.add_n([tf.reduce_sum(g ** 2) for g in grads]))
    return np.array([float(example_norm(x[i:i + 1], y[i:i + 1])) for i in range(len(y))])


def _conv_bn_model(input_shape, num_classes):
    """A tiny conv net with BatchNorm (moving statistics away from their initial values)."""
    L = keras.layers
    inputs = keras.Input(input_shape)
    x = L.Conv2D(4, 3, name="conv")(inputs)
    x = L.BatchNormalization(name="bn", moving_mean_initializer="ones", moving_variance_initializer="ones")(x)
    x = L.GlobalAveragePooling2D()(L.ReLU()(x))
    return wrapping.wrap(keras.Model(inputs, L.Dense(num_classes, name="output")(x)))


@pytest.mark.parametrize("name", ["lenet_300_100", "conv_bn"])
def test_grand_matches_a_per_example_gradient_loop(tiny, name):
    ds, split = tiny
    if name == "conv_bn":
        set_seed(2)
        model = _conv_bn_model(ds.input_shape, ds.num_classes)
    else:
        model = networks.build_network(ModelHparams(name, 0.1), ds.input_shape, ds.num_classes, seed=2)
    x, y = _model_inputs(ds, split)
    vectorized = S.grand_scores(model, ds, split, batch_size=5)  # an uneven last batch on purpose
    np.testing.assert_allclose(vectorized, _grand_loop(model, x, y), rtol=1e-4, atol=1e-6)
    # With a mask, pruned weights are not parameters: their gradients do not count.
    masks = M.magnitude_prune(wrapping.prunable_weights(model), wrapping.get_masks(model), 0.3, "global")
    wrapping.set_masks(model, masks)
    masked = S.grand_scores(model, ds, split, batch_size=5)
    np.testing.assert_allclose(masked, _grand_loop(model, x, y), rtol=1e-4, atol=1e-6)
    assert not np.allclose(masked, vectorized)


def _scoring_params(method, **kwargs):
    from components.data_scoring import DataScoringParams
    return DataScoringParams(DatasetHparams(name="digits"), ModelHparams(width=0.1),
                             TrainingHparams(budget="2ep", batch_size=64), method=method, **kwargs)


def test_data_scoring_component(tmp_path):
    from components import data_scoring
    from pipelines.runner import Runner
    runner = Runner(tmp_path, verbose=False)
    ds = load_dataset(DatasetHparams(name="digits"))
    el2n = runner.run(data_scoring.SPEC, _scoring_params("el2n", networks=2, steps="10it"))
    frame = pd.read_csv(el2n.path / "scores.csv")
    np.testing.assert_array_equal(frame["index"], ds.train.index)
    assert ((frame["score"] >= 0) & (frame["score"] <= np.sqrt(2))).all()
    assert (el2n.path / "histogram.png").exists()
    summary = el2n.metadata["summary"]
    assert summary["train_steps"] == 2 * 10 and summary["networks"] == 2
    # The mean over networks of each network's own scores.
    per_network = [np.load(el2n.path / "networks" / f"network_{k:02d}.npz")["score"] for k in range(2)]
    np.testing.assert_allclose(frame["score"], np.mean(per_network, 0), rtol=1e-6)
    # Forgetting over a whole (2-epoch) run: every example presented twice.
    forgetting = runner.run(data_scoring.SPEC, _scoring_params("forgetting", networks=1))
    frame = pd.read_csv(forgetting.path / "scores.csv")
    assert set(frame.columns) >= {"score", "never_learned", "ever_learned", "unforgettable", "forgetting_events"}
    assert (frame["ever_learned"] == ~frame["never_learned"]).all()  # one network
    assert (frame.loc[frame["never_learned"], "score"] == 2).all()
    assert (frame.loc[~frame["never_learned"], "score"] <= 1).all()
    # Selection via proxy: a narrower network's predictive entropy.
    svp = runner.run(data_scoring.SPEC, _scoring_params("svp", networks=1, steps="5it", proxy_width=0.5))
    frame = pd.read_csv(svp.path / "scores.csv")
    assert ((frame["score"] >= 0) & (frame["score"] <= np.log(10) + 1e-6)).all()
    assert svp.metadata["summary"]["score_kind"] == "entropy"
