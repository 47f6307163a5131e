"""EL2N and GraNd, dense and masked, against data_diet's (tests/golden/data_diet_scores.npz,
produced by mansheej/data_diet `data_diet.scores.compute_scores` in JAX; README there).
Tolerance: rtol 1e-5 (float32 in both codes; lth-tf's EL2N takes float64 softmax)."""
import numpy as np
import pytest
import tf_keras as keras

from golden_fixtures import load, group
from lth_tf.data.dataset import Dataset, Split
from lth_tf.metrics import scores
from lth_tf.sparsity import wrapping

REF = load("data_diet_scores")


def _network(masked: bool):
    params = group(REF, "params")
    layers = sorted({k.split("/")[0] for k in params})
    x = inputs = keras.Input((REF["x"].shape[1],))
    for i, name in enumerate(layers, 1):
        x = keras.layers.Dense(params[f"{name}/bias"].size, activation="relu" if i < len(layers) else None,
                               name=name)(x)
    model = keras.Model(inputs, x)
    for name in layers:
        model.get_layer(name).set_weights([params[f"{name}/kernel"], params[f"{name}/bias"]])
    model = wrapping.wrap(model)
    if masked:
        wrapping.set_masks(model, group(REF, "masks"))
    return model


@pytest.mark.parametrize("kind", ["dense", "masked"])
def test_el2n_and_grand_equal_data_diets(kind):
    x, y = REF["x"], REF["y"].astype(np.int64)
    split = Split(x, y, np.arange(len(y), dtype=np.int64))
    ds = Dataset("golden", split, split.take([]), split, 3, np.zeros(x.shape[1], np.float32),
                 np.ones(x.shape[1], np.float32), "none")
    model = _network(kind == "masked")
    np.testing.assert_allclose(scores.el2n_scores(model, ds, split), REF[f"{kind}/el2n"], rtol=1e-5)
    np.testing.assert_allclose(scores.grand_scores(model, ds, split), REF[f"{kind}/grand"], rtol=1e-5)
