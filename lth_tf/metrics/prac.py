"""The example sets and mask statistics of PrAC lottery tickets (Zhang et al., "Efficient
Lottery Ticket Finding: Less Data is More", ICML 2021), as plain functions on numpy arrays.

Sets of examples are sorted int64 arrays of *stable indices* (lth_tf.data.Split.index).
- CET (critical examples for training): examples forgotten more than E_F times while the round
  trained on them (never-learned examples count as forgotten infinitely often).
- CEP (critical examples for pruning): examples of the full training set on which the *full
  dense* network and the round's subnetwork disagree (`cep_set`).
- PrAC set: CET ∪ CEP; the next round trains on it only.
- Savings at matched accuracy: `matches_vanilla` (paper 001, Fig. 3 caption).
"""
from typing import Dict, Sequence

import numpy as np

from lth_tf.metrics.forgetting import NEVER_LEARNED  # noqa: F401  (re-exported for readers)

Masks = Dict[str, np.ndarray]


def as_set(indices) -> np.ndarray:
    """Sorted unique int64 indices."""
    return np.unique(np.asarray(indices, np.int64))


def disagreement_set(logits_a: np.ndarray, logits_b: np.ndarray, indices) -> np.ndarray:
    """The indices (sorted) of the examples whose predicted classes differ between two networks.
    Row i of both logit arrays belongs to example `indices[i]`."""
    logits_a, logits_b = np.asarray(logits_a), np.asarray(logits_b)
    if logits_a.shape != logits_b.shape or len(logits_a) != len(indices):
        raise ValueError(f"logits {logits_a.shape} / {logits_b.shape} do not match {len(indices)} indices")
    differ = logits_a.argmax(-1) != logits_b.argmax(-1)
    return as_set(np.asarray(indices, np.int64)[differ])


def cep_set(dense_classes, subnetwork_logits, indices) -> np.ndarray:
    """CEP, the critical examples for pruning: the indices (sorted) of the examples whose class
    the full dense network and the subnetwork predict differently.

    Paper 001, §3.1 "Approach II: Utilizing the Disagreement between Full and Pruned Models":
    "For each sample in the training set, we calculate the predicted class of x by full dense
    models and pruned subnetworks, i.e., f(θ, x) and f(m ⊙ θ, x) [...]. If two predictions are
    different, then we include this sample to the PrAC set (line 10 of Algorithm 1)"; Algorithm
    1, line 10: "Select samples from D_0 that full model and subnetworks disagree with". The
    reference is always the *dense* network (in PracMaskSearch: the one trained in round 1,
    as the authors' released code does), never the round's own network before pruning.

    `dense_classes`: the dense network's predicted class per example (row i = `indices[i]`);
    `subnetwork_logits`: the subnetwork's logits (or predicted classes, 1-D) in the same order."""
    dense_classes = np.asarray(dense_classes)
    sub = np.asarray(subnetwork_logits)
    sub_classes = sub.argmax(-1) if sub.ndim == 2 else sub
    if dense_classes.shape != sub_classes.shape or len(dense_classes) != len(indices):
        raise ValueError(f"predictions {dense_classes.shape} / {sub_classes.shape} do not match {len(indices)} indices")
    return as_set(np.asarray(indices, np.int64)[dense_classes != sub_classes])


def cet_set(counts: np.ndarray, threshold: int = 0) -> np.ndarray:
    """Stable indices with a forgetting count above `threshold` (E_F), from
    ForgettingCounter.counts() (indexed by stable index; -1 = never presented, so excluded;
    NEVER_LEARNED is above any threshold, so never-learned examples are included)."""
    counts = np.asarray(counts)
    return np.flatnonzero((counts >= 0) & (counts > threshold)).astype(np.int64)


def prac_set(cet, cep) -> np.ndarray:
    return np.union1d(as_set(cet), as_set(cep))


def overlap_rate(cep, cet) -> float:
    """|CEP ∩ CET| / |CEP|: how many pruning-critical examples the forgetting set already had
    (nan when CEP is empty)."""
    cep = as_set(cep)
    if len(cep) == 0:
        return float("nan")
    return len(np.intersect1d(cep, as_set(cet))) / len(cep)


def class_ratios(subset, indices, labels, num_classes: int) -> np.ndarray:
    """For each class c: |subset ∩ class c| / |class c| over the full set (`indices` with their
    `labels`)."""
    indices, labels = np.asarray(indices, np.int64), np.asarray(labels, np.int64)
    chosen = np.isin(indices, as_set(subset))
    total = np.bincount(labels, minlength=num_classes).astype(np.float64)
    kept = np.bincount(labels[chosen], minlength=num_classes).astype(np.float64)
    return np.divide(kept, total, out=np.zeros(num_classes), where=total > 0)


def final_set_positions(indices, selected, count: int = 6, seed: int = 0) -> Dict[str, np.ndarray]:
    """{'outside': positions, 'inside': positions} (ascending) of `count` examples drawn at random
    (fixed seed) from outside and from inside `selected`, among examples with stable `indices`
    (a split's order): the examples 001 Fig. 9 shows."""
    inside = np.isin(np.asarray(indices), np.asarray(selected))
    rng = np.random.default_rng(seed)
    out = {}
    for name, where in (("outside", ~inside), ("inside", inside)):
        positions = np.flatnonzero(where)
        out[name] = np.sort(rng.choice(positions, size=min(count, len(positions)), replace=False)) \
            if len(positions) else positions
    return out


def mask_similarity(a: Masks, b: Masks) -> float:
    """Relative similarity |m_a ∩ m_b| / |m_a ∪ m_b| of the kept weights (1 = same mask)."""
    both = sum(float(np.logical_and(a[n] > 0, b[n] > 0).sum()) for n in a)
    either = sum(float(np.logical_or(a[n] > 0, b[n] > 0).sum()) for n in a)
    return both / either if either else 1.0


def random_mask_similarity(density: float) -> float:
    """The expected similarity of two independent random masks of density d: d / (2 - d)."""
    return density / (2.0 - density)


def mask_distance(a: Masks, b: Masks, support: Masks = None) -> float:
    """Normalized Hamming distance: the fraction of positions where two masks differ, counted
    over the weights `support` keeps (default: all weights). Within a pruning round both masks
    prune the same kept weights, so normalizing by them keeps the early-stop threshold
    meaningful at every sparsity (normalized by all weights, a late round's distance would be
    tiny however much its masks still change)."""
    if support is None:
        support = {n: np.ones_like(m) for n, m in a.items()}
    differ = sum(float(((a[n] != b[n]) & (support[n] > 0)).sum()) for n in a)
    count = sum(float((support[n] > 0).sum()) for n in a)
    return differ / count if count else 0.0


# The two early-stopping rules PracSearchParams.early_stop_rule names (see prac_early_stop and
# early_stop); 'prac' is the paper's authors' and the default.
EARLY_STOP_RULES = ("prac", "early_bird")


def prac_early_stop(distances: Sequence[float], threshold: float = 0.07, queue: int = 5) -> bool:
    """PrAC-LTH's rule: with the mask distances of consecutive epochs (oldest first; distance
    i compares epoch i+1's prospective mask with epoch i's), stop once the last `queue`
    distances *recorded* are all below `threshold`, where recording starts with the first
    distance above the threshold (so a round whose masks never moved much does not stop).

    Paper 001, §3.2 ii ("Early stopping"): "we calculate sparsity masks for the model after
    every epoch of training and monitor the distance between masks [...]. Once the distance
    becomes smaller than a threshold, we interrupt the training"; 000, A1: "we default to use
    0.07 as the threshold". The queue is the authors' released code (VITA-Group/PrAC-LTH,
    main_PrAC_imp.py: `start_record = start_record or (hamming_dis > args.eb_eps)`; a FIFO
    `distance_queue` of `queue_length = 5` distances, initialized to ones, that receives a
    distance once recording started; stop when `distance_queue.max() < args.eb_eps`). Their
    `epoch > args.warmup` condition (warm-up 0 by default) is not modelled."""
    started = [i for i, d in enumerate(distances) if d > threshold]
    if not started:
        return False
    recorded = list(distances[started[0]:])
    return len(recorded) >= queue and max(recorded[-queue:]) < threshold


def early_stop(masks: Sequence[Masks], threshold: float = 0.07, window: int = 1, support: Masks = None) -> bool:
    """The early-bird rule (You et al. 2020; PracSearchParams.early_stop_rule='early_bird'):
    with the prospective masks of consecutive epochs (oldest first), stop once the newest is
    within `threshold` of each of the `window` masks before it (a FIFO queue of window + 1
    masks; window 1 compares consecutive masks only). On the same masks it stops at another
    epoch than `prac_early_stop`, the paper's authors' rule, usually earlier (measured on
    MNIST-1D: epoch 16 against 18 at threshold 0.08): it needs one mask fewer once the masks
    are still and does not wait for them to have moved, but a slow drift that keeps every
    consecutive distance small delays it. PracMaskSearch's queue of 5 masks is window = 4."""
    if window < 1:
        raise ValueError("window must be >= 1")
    if len(masks) < window + 1:
        return False
    newest = masks[-1]
    return max(mask_distance(newest, m, support) for m in masks[-window - 1:-1]) < threshold


def matches_vanilla(mean: float, vanilla_mean: float, vanilla_std: float) -> bool:
    """Whether a variant's accuracy counts as matched to vanilla IMP's, for savings.

    Paper 001, Fig. 3 caption: "We consider PrAC lottery tickets to achieve a matched performance
    as vanilla lottery tickets when the performance of PrAC lottery tickets is within one
    standard deviation of the performance of vanilla lottery tickets." The standard deviation is
    vanilla IMP's over seeds only (the variant's own spread does not widen the band); an accuracy
    above vanilla's counts as matched too (the band is one-sided: better is not a mismatch).
    nan (a missing value) never matches."""
    values = np.array([mean, vanilla_mean, vanilla_std], dtype=np.float64)
    if np.isnan(values[:2]).any():
        return False
    std = 0.0 if np.isnan(values[2]) else values[2]
    return bool(values[0] >= values[1] - std)

