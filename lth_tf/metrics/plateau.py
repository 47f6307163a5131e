"""Has a training run reached its plateau? (issue 20 part 3)

Definition, on the per-epoch history rows of one run (TrainResult.history / history.csv: columns
`step` and `val_accuracy`): take the best-so-far validation accuracy (the running maximum: what
model selection by validation could have kept by then, and robust to one noisy epoch), read it at
80% of the run's steps and at its end, and call the run *converged* when the last 20% of
training gained less than `min_gain` (0.5 point of accuracy, 0.005):

    gain = best_so_far(end) - best_so_far(start + 0.8 * (end - start)) < min_gain

The value at 80% is linearly interpolated between the two epoch rows around it (a 6-epoch run has
no row at 4.8 epochs; taking epoch 4 would judge the last third instead of the last fifth). A run
whose first epoch ends after 80% of its steps has no value there and is not converged.

What it does not say: a schedule that anneals the rate to near zero flattens the last 20% of any
run, so a reached plateau means the run stopped improving, not that a longer one would not do
better (LeNet-300-100 on MNIST-1D, momentum 0, batch 512, cosine: flat at 0.37 after 6 epochs,
0.52 after 24). Validation noise counts too: with 800 validation examples one example is 0.125
point, and epoch-to-epoch swings of 1-2 points decide the check near its threshold.
"""
import dataclasses
from typing import Mapping, Sequence

import numpy as np

MIN_GAIN = 0.005  # 0.5 point of validation accuracy
FRACTION = 0.8  # the last 20% of training is judged


@dataclasses.dataclass(frozen=True)
class Plateau:
    at_80: float  # best-so-far validation accuracy at 80% of the steps (NaN: no row before it)
    at_end: float  # best-so-far validation accuracy at the end
    gain: float  # at_end - at_80
    reached: bool  # gain < min_gain


def plateau(history: Sequence[Mapping[str, float]], start_step: int = 0, min_gain: float = MIN_GAIN) -> Plateau:
    """The plateau check of one run from its history rows (dicts or a DataFrame's records);
    `start_step`: the step the run started from (0 for a dense training; a rewound ticket's
    rewind step). Rows without a validation accuracy (NaN) are ignored."""
    rows = [(float(r["step"]), float(r["val_accuracy"])) for r in history
            if not np.isnan(float(r["val_accuracy"]))]
    if not rows:
        raise ValueError("plateau: the history has no validation accuracy (train with a validation split).")
    steps, accuracy = np.array(rows).T
    best = np.maximum.accumulate(accuracy)
    at = start_step + FRACTION * (steps[-1] - start_step)
    at_80 = float(np.interp(at, steps, best)) if steps[0] <= at else float("nan")
    gain = float(best[-1] - at_80)
    return Plateau(at_80, float(best[-1]), gain, bool(gain < min_gain))  # NaN gain: not reached
