"""Convergence speed of a training run from its error curve.

speed = (1/T) Σ_{ep=1..T} (E(W0) − E(W_ep)) / (E(W0) − E(W_T)): the average, over epochs, of the
fraction of the run's total error reduction already achieved. 1 means the final error was
reached after the first epoch; about 1/2 means a steady linear decrease; small values mean most
progress came at the end. Errors may be measured on any fixed split (we use validation).
"""
from typing import Sequence

import numpy as np


def convergence_speed(initial_error: float, epoch_errors: Sequence[float]) -> float:
    """`initial_error` = E(W0) before training, `epoch_errors` = E(W_ep) after epochs 1..T.
    NaN when the run made no progress (E(W0) == E(W_T)) or has no epochs."""
    errors = np.asarray(epoch_errors, np.float64)
    if errors.size == 0:
        return float("nan")
    total = float(initial_error) - errors[-1]
    if total == 0.0:
        return float("nan")
    return float(np.mean((float(initial_error) - errors) / total))
