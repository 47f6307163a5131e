"""Forgetting events (Toneva et al. 2019), counted from the training step's own predictions.

A forgetting event is a transition of an example from correctly to incorrectly classified
between two consecutive presentations during training. `ForgettingCounter.on_batch` plugs into
`lth_tf.training.train(on_batch=...)`, so counting costs no extra forward pass. (Its Keras twin,
`lth_tf.callbacks.ForgettingTracker`, approximates it in your own `model.fit` by evaluating at
epoch ends; the two names are two different things.)
"""
import numpy as np

# Forgetting count given to examples never learned (never correct at any presentation): they
# rank as the hardest, above any real count (the convention of Toneva et al.).
NEVER_LEARNED = np.iinfo(np.int32).max


class ForgettingCounter:
    """Per-example statistics over training presentations, keyed by stable example index."""

    def __init__(self, num_indices: int):
        self.num_indices = int(num_indices)
        self.previous = np.full(self.num_indices, -1, np.int8)  # -1 = not yet presented
        self.forgetting = np.zeros(self.num_indices, np.int32)
        self.learned = np.zeros(self.num_indices, bool)  # correct at least once
        self.presentations = np.zeros(self.num_indices, np.int32)

    def on_batch(self, step, indices, correct, losses=None, logits=None):
        indices = np.asarray(indices, np.int64)
        now = np.asarray(correct) > 0.5
        before = self.previous[indices]
        np.add.at(self.forgetting, indices[(before == 1) & ~now], 1)
        self.previous[indices] = now.astype(np.int8)
        self.learned[indices] |= now
        np.add.at(self.presentations, indices, 1)

    def counts(self) -> np.ndarray:
        """Forgetting counts, NEVER_LEARNED for presented examples never classified correctly,
        and -1 for examples never presented."""
        counts = np.where(self.learned, self.forgetting, NEVER_LEARNED).astype(np.int64)
        return np.where(self.presentations > 0, counts, -1)

    def scores(self) -> np.ndarray:
        """Forgetting counts as a ranking score (float): a never-learned example scores its
        number of presentations n, above any learned example (one presented n times can be
        forgotten at most n // 2 times); never-presented examples score NaN."""
        scores = np.where(self.learned, self.forgetting, self.presentations).astype(np.float64)
        return np.where(self.presentations > 0, scores, np.nan)

    def unforgettable(self) -> np.ndarray:
        """Learned at some presentation and never forgotten afterwards."""
        return self.learned & (self.forgetting == 0)
