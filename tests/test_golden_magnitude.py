"""Global magnitude pruning over 3 rounds against open_lth's (tests/golden/open_lth_magnitude.npz,
produced by facebookresearch/open_lth `pruning.sparse_global.Strategy.prune`; README there).

The two codes count differently: open_lth prunes ceil(0.2·R) + 1 of the R remaining weights
plus any tied with the threshold; lth-tf keeps round(N·0.8^k) of all N weights after level k,
ties broken by position (lth_tf/sparsity/masks.py). Given the same count, the masks must be
identical."""
import math

import numpy as np

from golden_fixtures import load, group
from lth_tf.sparsity import masks as M


def test_global_magnitude_masks_equal_open_lths_given_the_same_count():
    ref = load("open_lth_magnitude")
    layers = [str(n) for n in ref["layers"]]
    total = sum(ref[f"mask_1/{n}"].size for n in layers)
    masks = {n: np.ones_like(ref[f"mask_1/{n}"], np.float32) for n in layers}
    remaining = total
    for r in (1, 2, 3):
        weights = group(ref, f"weights_{r}")
        kept = int(ref[f"kept_{r}"])
        # the stored count convention: ceil(0.2 R) + 1 pruned (no ties among these weights)
        assert kept == remaining - math.ceil(0.2 * remaining) - 1
        masks = M.magnitude_prune(weights, masks, kept / total, "global")  # pruning from our own previous mask
        for n in layers:
            np.testing.assert_array_equal(masks[n], ref[f"mask_{r}/{n}"], err_msg=f"round {r}, {n}")
        remaining = kept
    # lth-tf's own count at the same levels keeps more: round(152 · 0.8^k) = 122, 97, 78 vs 120, 95, 75
    assert [round(total * 0.8 ** r) for r in (1, 2, 3)] == [122, 97, 78]
    assert [int(ref[f"kept_{r}"]) for r in (1, 2, 3)] == [120, 95, 75]
