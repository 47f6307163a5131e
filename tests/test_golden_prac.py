"""PrAC's CEP and PrAC sets, and the early-bird masks and mask distances, against PrAC-LTH's
code (tests/golden/prac_sets.npz, produced by VITA-Group/PrAC-LTH `prune_aware_example`,
`concate_sequence`, `return_current_mask`, `calculate_hamming_distance`; README there).
Sets and masks exact (masks given the reference's count: it prunes round(0.2·R) of the R
remaining conv weights, by torch.nn.utils.prune); distances to float32 precision (rtol 1e-6)."""
import numpy as np
import tf_keras as keras

from golden_fixtures import load, group
from lth_tf.metrics import prac as P
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping

REF = load("prac_sets")
CONVS = ("conv1", "conv2")


def _keras(kernels, biases, masks=None):
    """The reference conv net in Keras (NHWC; torch kernels (out, in, h, w) -> (h, w, in, out))."""
    x = inputs = keras.Input(REF["x"].shape[2:] + (1,))
    for name in CONVS:
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name=name)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="fc")(x))
    for name in CONVS:
        model.get_layer(name).set_weights([kernels[name].transpose(2, 3, 1, 0), biases[name]])
    model.get_layer("fc").set_weights([kernels["fc"].T, biases["fc"]])
    model = wrapping.wrap(model)
    if masks is not None:
        full = wrapping.get_masks(model)
        full.update({n: masks[n].transpose(2, 3, 1, 0).astype(np.float32) for n in CONVS})
        wrapping.set_masks(model, full)
    return model


def _classes(model):
    return model(REF["x"].transpose(0, 2, 3, 1), training=False).numpy()


def test_cep_and_prac_sets_equal_prac_lths():
    full = _keras({n: REF[f"full/{n}.weight"] for n in CONVS + ("fc",)}, {n: REF[f"full/{n}.bias"] for n in CONVS + ("fc",)})
    sub = _keras({**{n: REF[f"sub/{n}.weight_orig"] for n in CONVS}, "fc": REF["sub/fc.weight"]},
                 {n: REF[f"sub/{n}.bias"] for n in CONVS + ("fc",)}, {n: REF[f"sub/{n}.weight_mask"] for n in CONVS})
    indices = np.arange(len(REF["y"]))
    cep = P.cep_set(_classes(full).argmax(-1), _classes(sub), indices)
    np.testing.assert_array_equal(cep, REF["cep"])
    assert 0 < len(cep) < len(indices)
    np.testing.assert_array_equal(P.prac_set(REF["cet"], cep), REF["prac"])


def test_early_bird_masks_and_distances_equal_prac_lths():
    for round_name in ("dense", "pruned"):
        support = {n: m.astype(np.float32) for n, m in group(REF, f"{round_name}/support").items()} or None
        previous = None
        for epoch in range(4):
            weights = group(REF, f"{round_name}/epoch{epoch}/weights")
            ref = group(REF, f"{round_name}/epoch{epoch}/mask")
            start = support or M.ones_like(weights)
            total = sum(m.size for m in ref.values())
            ours = M.magnitude_prune(weights, start, sum(int(m.sum()) for m in ref.values()) / total, "global")
            for n in CONVS:
                np.testing.assert_array_equal(ours[n], ref[n], err_msg=f"{round_name} epoch {epoch} {n}")
            if previous is not None:
                distance = P.mask_distance(ours, previous, support)
                np.testing.assert_allclose(distance, REF[f"{round_name}/epoch{epoch}/distance"], rtol=1e-6)
            previous = ours
