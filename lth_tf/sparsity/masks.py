"""Mask computation on numpy arrays: magnitude (global or layerwise), random, permuted.

A mask set is a dict {layer name: float32 array of 0/1}, one entry per prunable layer, with the
shape of that layer's kernel. Pruning targets a *density* (fraction of prunable weights kept):
IMP level k keeps round(N * (1 - p)^k) weights, so sparsity after k levels is 1 - (1 - p)^k to
one weight, instead of drifting by a rounding error per level.

Counting differs from open_lth's (facebookresearch/open_lth, pruning/sparse_global.py), which
at each level prunes ceil(p·R) + 1 of the R remaining weights plus any tied with its threshold
(threshold = sorted |w|[ceil(p·R)], kept = |w| > threshold): after 3 levels of 20% of 152
weights it keeps 120, 95, 75 where we keep round(152·0.8^k) = 122, 97, 78. Ties are broken here
by position, so exactly the target count is kept. Given the same count the masks are identical
(tests/test_golden_magnitude.py, on open_lth's own output).
"""
from typing import Dict, Optional

import numpy as np

from lth_tf.errors import ConfigError, unknown_name

Masks = Dict[str, np.ndarray]
SCOPES = ("global", "layerwise")


def check_density(density: float, what: str = "density"):
    if not 0.0 < density <= 1.0:
        raise ConfigError(f"{what}={density} is out of range: the fraction of weights kept must be in "
                          f"(0, 1] (sparsity = 1 - density must be in [0, 1)).")


def ones_like(weights: Dict[str, np.ndarray]) -> Masks:
    return {name: np.ones(w.shape, np.float32) for name, w in weights.items()}


def density(masks: Masks) -> float:
    kept = sum(float(m.sum()) for m in masks.values())
    total = sum(m.size for m in masks.values())
    return kept / total


def sparsity(masks: Masks) -> float:
    return 1.0 - density(masks)


def _keep_top(scores: np.ndarray, count: int) -> np.ndarray:
    """0/1 mask keeping the `count` highest scores (ties broken by position, deterministically)."""
    flat = scores.reshape(-1)
    keep = np.zeros(flat.size, np.float32)
    if count > 0:
        order = np.argsort(-flat, kind="stable")
        keep[order[:count]] = 1.0
    return keep.reshape(scores.shape)


def level_density(fraction: float, level: int) -> float:
    """The density (1 − p)^L of level L when every level prunes a fraction p of the weights that
    remain (Frankle & Carbin 2019 §2: "prune p^(1/n)% of the weights that survive"): the one
    density rule of every search and driver."""
    return (1.0 - float(fraction)) ** int(level)


def max_useful_level(sizes, fraction: float, scope: str = "global") -> int:
    """The last IMP level that keeps a weight: level k keeps round(N * (1 - fraction)^k) of N
    prunable weights (globally, or of each layer's N when layerwise), which round-off makes 0 from
    some level on; pruning further trains a network without weights."""
    n = min(sizes) if scope == "layerwise" else sum(sizes)
    level = 0
    while int(round(n * level_density(fraction, level + 1))) >= 1:
        level += 1
    return level


def prune_by_score(scores: Dict[str, np.ndarray], masks: Masks, target_density: float,
                   scope: str = "global") -> Masks:
    """Keeps the highest-scoring weights among those still unpruned, so that a fraction
    `target_density` of all prunable weights (global) or of each layer's (layerwise) remains.
    Already-pruned weights stay pruned."""
    check_density(target_density)
    if scope not in SCOPES:
        raise unknown_name("pruning scope", scope, SCOPES)
    names = list(masks)
    for name in names:
        if scores[name].shape != masks[name].shape:
            raise ValueError(f"score and mask shapes differ for layer {name}")
    if scope == "layerwise":
        new = {}
        for name in names:
            count = min(int(round(masks[name].size * target_density)), int(masks[name].sum()))
            new[name] = _keep_top(np.where(masks[name] > 0, scores[name], -np.inf), count)
        return new
    total = sum(masks[n].size for n in names)
    count = min(int(round(total * target_density)), int(sum(masks[n].sum() for n in names)))
    flat = np.concatenate([np.where(masks[n] > 0, scores[n], -np.inf).reshape(-1) for n in names])
    keep = _keep_top(flat, count)
    new, start = {}, 0
    for name in names:
        size = masks[name].size
        new[name] = keep[start:start + size].reshape(masks[name].shape)
        start += size
    return new


def magnitude_prune(weights: Dict[str, np.ndarray], masks: Masks, target_density: float,
                    scope: str = "global") -> Masks:
    """Magnitude pruning: keep the largest |w| among the unpruned weights."""
    return prune_by_score({n: np.abs(weights[n]) for n in masks}, masks, target_density, scope)


def global_threshold(weights: Dict[str, np.ndarray], masks: Masks, target_density: float) -> float:
    """The smallest kept magnitude after global magnitude pruning (for reports and tests)."""
    new = magnitude_prune(weights, masks, target_density, "global")
    kept = np.concatenate([np.abs(weights[n])[new[n] > 0] for n in new])
    return float(kept.min()) if kept.size else float("inf")


def random_prune(masks: Masks, target_density: float, rng: np.random.Generator,
                 scope: str = "global") -> Masks:
    """Random pruning of the unpruned weights down to `target_density` (global or per layer)."""
    scores = {n: rng.random(m.shape) for n, m in masks.items()}
    return prune_by_score(scores, masks, target_density, scope)


def random_mask_like(masks: Masks, rng: np.random.Generator, layerwise: bool = False) -> Masks:
    """A random mask with the same overall density as `masks` (global), or with the same count
    in each layer (`layerwise=True`, which is exactly the layerwise-permuted mask)."""
    if layerwise:
        return permuted(masks, rng)
    full = {n: np.ones_like(m) for n, m in masks.items()}
    return random_prune(full, density(masks), rng, "global")


def permuted(masks: Masks, rng: np.random.Generator) -> Masks:
    """Each layer's mask with its entries shuffled: same per-layer sparsity, random positions."""
    return {n: rng.permutation(m.reshape(-1)).reshape(m.shape) for n, m in masks.items()}


def layer_report(masks: Masks) -> "list[dict]":
    """Per-layer sparsity rows (layer, weights, kept, sparsity) plus a 'total' row."""
    rows = [{"layer": n, "weights": int(m.size), "kept": int(m.sum()),
             "sparsity": 1.0 - float(m.sum()) / m.size} for n, m in masks.items()]
    total = sum(r["weights"] for r in rows)
    kept = sum(r["kept"] for r in rows)
    rows.append({"layer": "total", "weights": total, "kept": kept, "sparsity": 1.0 - kept / max(total, 1)})
    return rows


def hamming_distance(a: Masks, b: Masks) -> float:
    """Normalized Hamming distance between two mask sets (fraction of positions that differ)."""
    diff = sum(float((a[n] != b[n]).sum()) for n in a)
    return diff / sum(m.size for m in a.values())


def save_masks(path, masks: Masks):
    """Stores a mask set bit-packed (lth_tf/io.py save_npz); only 0/1 masks are accepted."""
    from lth_tf.io import save_npz
    for name, mask in masks.items():
        if not np.all((np.asarray(mask) == 0) | (np.asarray(mask) == 1)):
            raise ValueError(f"mask {name!r} has entries other than 0 and 1; a mask keeps (1) or prunes (0) a weight")
    save_npz(path, masks, pack_bits=True)


def load_masks(path) -> Masks:
    """A mask set stored by save_masks (bit-packed) or as a plain npz of 0/1 arrays (older
    artifacts, exported tickets' mask.npz); float32 arrays."""
    from lth_tf.io import load_npz
    return {k: v.astype(np.float32) for k, v in load_npz(path).items()}


def matching(masks: Masks, other: Optional[Masks]) -> bool:
    return other is not None and set(masks) == set(other) and all(
        np.array_equal(masks[n], other[n]) for n in masks)
