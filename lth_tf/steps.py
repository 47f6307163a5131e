"""Lengths of training written as text: '20ep' (epochs) or '500it' (iterations, SGD steps).
Its own module because training budgets (lth_tf/training/hparams.py) and rewind points
(lth_tf/sparsity/hparams.py) both read them, and neither package imports the other's hparams."""
import re

from lth_tf.errors import ConfigError

_STEP_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ep|it)\s*$")


def to_steps(text: str, steps_per_epoch: int, what: str = "step string") -> int:
    """'3ep' -> 3 * steps_per_epoch, '500it' -> 500. Fractional epochs round to a step.

    The one meaning of 'ep' in lth-tf: one pass over the examples the training it describes
    runs on, i.e. `steps_per_epoch(len(train_split), batch_size)` of that train() call: the
    whole training split, or the subset S a component trains on (a MaskSearch on
    `train_indices`, a Pretraining on S, a few-shot fraction). 'it' counts SGD steps, the same
    whatever the set. A length meant relative to the full training split while training on a
    subset (PrAC's rounds, few-shot `budget='iterations'`) is converted to 'it' explicitly with
    the full split's steps per epoch (TrainingHparams.scaled), never written as 'ep'."""
    match = _STEP_RE.match(str(text))
    if not match:
        raise ConfigError(f"Bad {what} {text!r}: write a count followed by 'ep' (epochs) or 'it' "
                          f"(iterations), e.g. '20ep' or '500it'.")
    count, unit = float(match.group(1)), match.group(2)
    if unit == "it":
        if count != int(count):
            raise ConfigError(f"Bad {what} {text!r}: iterations must be whole numbers.")
        return int(count)
    return int(round(count * steps_per_epoch))
