"""SNIP, GraSP and SynFlow scores and masks, and layer-wise magnitude masks, against
Synaptic-Flow's (tests/golden/synaptic_flow_saliency.npz, produced by ganguli-lab/Synaptic-Flow
`prune.prune_loop` with `Pruners.pruners.{SNIP, GraSP, SynFlow, Mag}`; README there), on an MLP
and on the same MLP with BatchNorm (all three in inference mode, Synaptic-Flow's default:
lth_tf/sparsity/saliency.py says why).

Tolerance for scores: rtol 1e-4 with atol 1e-6 of the largest score (float32 in both codes,
different summation orders). Synaptic-Flow divides SNIP's scores by their sum and GraSP's by
|sum| + 1e-10; lth-tf does not (a positive factor: same ranking), so the test divides lth-tf's
scores the same way. SynFlow's must be equal as they are. Masks: identical, given the reference's
count (no ties at the threshold in these fixtures)."""
import numpy as np
import pytest
import tf_keras as keras

from golden_fixtures import load, group
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import saliency, wrapping

REF = load("synaptic_flow_saliency")
LAYERS = ("fc1", "fc2", "fc3")


def _network(kind):
    """The reference network in Keras: Dense kernels are torch's weights transposed; BatchNorm
    with torch's epsilon (1e-5) and the stored statistics."""
    x = inputs = keras.Input((REF["x"].shape[1],))
    for i, name in enumerate(LAYERS, 1):
        kernel = REF[f"{kind}/{name}/kernel"]
        x = keras.layers.Dense(kernel.shape[0], name=name)(x)
        if i < len(LAYERS):
            if kind == "bn":
                x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"bn{i}")(x)
            x = keras.layers.ReLU()(x)
    model = keras.Model(inputs, x)
    for name in LAYERS:
        model.get_layer(name).set_weights([REF[f"{kind}/{name}/kernel"].T, REF[f"{kind}/{name}/bias"]])
    if kind == "bn":
        for i in (1, 2):
            model.get_layer(f"bn{i}").set_weights([REF[f"bn/bn{i}/{k}"] for k in
                                                   ("weight", "bias", "running_mean", "running_var")])
    return wrapping.wrap(model)


def _reference(kind, method, what="score"):
    return {n: v.T for n, v in group(REF, f"{kind}/{method}", f"/{what}").items()}


def _normalized(scores, method):
    total = sum(float(np.sum(s, dtype=np.float64)) for s in scores.values())
    norm = {"snip": total, "grasp": abs(total) + 1e-10, "synflow": 1.0}[method]
    return {n: s / norm for n, s in scores.items()}


def _assert_close(ours, ref):
    atol = 1e-6 * max(float(np.abs(v).max()) for v in ref.values())
    for n in LAYERS:
        np.testing.assert_allclose(ours[n], ref[n], rtol=1e-4, atol=atol, err_msg=n)


@pytest.mark.parametrize("kind", ["mlp", "bn"])
@pytest.mark.parametrize("method", ["snip", "grasp", "synflow"])
def test_saliency_scores_and_masks_equal_synaptic_flows(kind, method):
    model = _network(kind)
    x, y = REF["x"], REF["y"]
    scores = {"snip": saliency.snip_scores, "grasp": saliency.grasp_scores,
              "synflow": saliency.synflow_scores}[method](model, x, y)
    _assert_close(_normalized(scores, method), _reference(kind, method))
    ref_masks = _reference(kind, method, "mask")
    total = sum(m.size for m in ref_masks.values())
    kept = sum(int(m.sum()) for m in ref_masks.values())
    ours = M.prune_by_score(scores, wrapping.get_masks(model), kept / total, "global")
    for n in LAYERS:
        np.testing.assert_array_equal(ours[n], ref_masks[n], err_msg=n)


@pytest.mark.parametrize("method", ["snip", "grasp"])
def test_batchnorm_mode_is_the_one_chosen(method):
    """The BN fixture tells the modes apart: the training-mode reference scores differ from ours."""
    model = _network("bn")
    scores = {"snip": saliency.snip_scores, "grasp": saliency.grasp_scores}[method](model, REF["x"], REF["y"])
    other = _reference("bn", f"{method}_other_mode")
    with pytest.raises(AssertionError):
        _assert_close(_normalized(scores, method), other)


def test_layerwise_magnitude_masks_equal_synaptic_flows():
    """Synaptic-Flow's `Mag` with scope 'local' prunes int((1 - d)·N_l) per layer; lth-tf keeps
    round(d·N_l): at d = 0.5 on these layers (48, 36, 18 weights) both keep half."""
    for kind in ("mlp", "bn"):
        weights = {n: REF[f"{kind}/{n}/kernel"] for n in LAYERS}
        ours = M.magnitude_prune(weights, M.ones_like(weights), float(REF["density"]), "layerwise")
        for n in LAYERS:
            np.testing.assert_array_equal(ours[n], REF[f"{kind}/mag/{n}/mask"], err_msg=f"{kind} {n}")
            np.testing.assert_allclose(np.abs(weights[n]), REF[f"{kind}/mag/{n}/score"])
