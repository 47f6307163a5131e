"""The correlation indicator R_p of paper 002 (Ma et al. 2021, Appendix G, eq. 1).

Given two collections of weights θ and θ' of the same network (e.g. its initial and its trained
weights), T_p(θ^l) is the index set of the top p·100% largest-magnitude weights of layer l, and

    R_p(θ, θ') = Σ_l card(T_p(θ^l) ∩ T_p(θ'^l)) / (p · Σ_l N_l).

For a sparse network, N_l counts the layer's *remaining* weights (its mask's ones) and T_p is
taken among them ("p is defined with respect to the number of remaining weights"), so one
formula serves dense and sparse networks. R_p = 1: the same weights are large in both; R_p ≈ p:
the large weights of θ and θ' are (as far as this measure can tell) independent; R_p < p:
large in one tends to mean small in the other.

Our choice (kept on purpose, it departs from eq. 1's denominator): per layer the top set has
k_l = round(p · N_l) weights, rounded by Python's `round`, i.e. half to even (p = 0.5: N_l = 5
gives k_l = 2, N_l = 7 gives 4), and R_p divides by Σ_l k_l instead of eq. 1's p · Σ_l N_l. The
two denominators differ by at most half a weight per layer (up to ~1% relative on layers of a
few dozen weights, negligible on real layers), and ours makes identical weights give exactly
R_p = 1, which eq. 1's cannot whenever p · N_l is not an integer. The sanity report states
this. Ties in magnitude are broken by position (stable sort), deterministically.
"""
from typing import Dict, Iterable, Mapping, Optional

import numpy as np

from lth_tf.errors import ConfigError

Weights = Mapping[str, np.ndarray]


def check_fraction(p: float, what: str = "p") -> float:
    p = float(p)
    if not 0.0 < p < 1.0:
        raise ConfigError(f"{what}={p} is out of range: R_p compares the top p·100% largest-magnitude weights, "
                          f"so p must be in (0, 1) (exclusive), e.g. 0.1 ... 0.9.")
    return p


def _ranks(values: np.ndarray) -> np.ndarray:
    """Each entry's rank by decreasing magnitude (0 = largest; ties broken by position)."""
    order = np.argsort(-np.abs(values), kind="stable")
    ranks = np.empty(values.size, np.int64)
    ranks[order] = np.arange(values.size)
    return ranks


def _remaining(theta: Weights, theta_prime: Weights, masks: Optional[Weights]):
    """Per layer (sorted by name): the two weight vectors over the layer's remaining weights."""
    if set(theta) != set(theta_prime):
        raise ValueError(f"weight collections name different layers: {sorted(theta)} vs {sorted(theta_prime)}")
    if masks is not None and not set(theta) <= set(masks):
        raise ValueError(f"no mask for layers {sorted(set(theta) - set(masks))}")
    for name in sorted(theta):
        a, b = np.asarray(theta[name]), np.asarray(theta_prime[name])
        if a.shape != b.shape:
            raise ValueError(f"layer {name}: shapes differ, {a.shape} vs {b.shape}")
        keep = np.ones(a.size, bool) if masks is None else np.asarray(masks[name]).reshape(-1) > 0.5
        yield name, a.reshape(-1)[keep], b.reshape(-1)[keep]


def overlap_counts(theta: Weights, theta_prime: Weights, p: float,
                   masks: Optional[Weights] = None) -> Dict[str, tuple]:
    """Per layer: (card(T_p(θ^l) ∩ T_p(θ'^l)), k_l, N_l), over the layer's remaining weights."""
    p = check_fraction(p)
    counts = {}
    for name, a, b in _remaining(theta, theta_prime, masks):
        n = int(a.size)
        k = int(round(p * n))
        counts[name] = (int(np.count_nonzero((_ranks(a) < k) & (_ranks(b) < k))), k, n)
    return counts


def correlation_indicator(theta: Weights, theta_prime: Weights, p: float,
                          masks: Optional[Weights] = None) -> float:
    """R_p(θ, θ') (002 eq. 1) over the layers both collections name; with `masks`, over each
    layer's remaining weights only (θ ⊙ m vs θ' ⊙ m). nan when no layer keeps a weight."""
    return correlation_curve(theta, theta_prime, [p], masks)[float(p)]


def correlation_curve(theta: Weights, theta_prime: Weights, ps: Iterable[float],
                      masks: Optional[Weights] = None) -> Dict[float, float]:
    """{p: R_p(θ, θ')} for every p (each layer's magnitudes are ranked once)."""
    ps = [check_fraction(p) for p in ps]
    both, kept = np.zeros(len(ps)), np.zeros(len(ps))
    for _, a, b in _remaining(theta, theta_prime, masks):
        ra, rb = _ranks(a), _ranks(b)
        for i, p in enumerate(ps):
            k = int(round(p * a.size))
            both[i] += np.count_nonzero((ra < k) & (rb < k))
            kept[i] += k
    return {p: float(both[i] / kept[i]) if kept[i] else float("nan") for i, p in enumerate(ps)}
