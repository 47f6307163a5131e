"""Index subsets of the training split, chosen by score or at random, and label corruption.

Every function works on stable example indices (`Split.index`) and returns them sorted
ascending, so a subset is a plain set of examples whatever rule produced it. Rankings break
ties by the stable index, so the same scores always give the same subset.

Sizes follow scikit-learn's convention: a float in (0, 1] is a fraction of the candidates,
an int >= 0 is a count.
"""
from typing import Sequence, Tuple, Union

import numpy as np

from lth_tf.data.dataset import Split
from lth_tf.errors import ConfigError

Size = Union[int, float]


def resolve_size(size: Size, total: int, what: str = "subset size") -> int:
    """A count from an int count or a float fraction of `total`."""
    if isinstance(size, (bool, np.bool_)):
        raise ConfigError(f"Bad {what} {size!r}: give a count (int) or a fraction in (0, 1] (float).")
    if isinstance(size, (float, np.floating)):
        if not 0.0 < size <= 1.0:
            raise ConfigError(f"Bad {what} {size}: a float is a fraction and must be in (0, 1]; "
                              f"give an int for a count of examples.")
        return int(round(size * total))
    if int(size) != size or not 0 <= size <= total:
        raise ConfigError(f"Bad {what} {size}: a count must be a whole number in [0, {total}] "
                          f"(there are {total} candidates).")
    return int(size)


def _check(index, scores):
    index, scores = np.asarray(index, np.int64), np.asarray(scores, np.float64)
    if index.shape != scores.shape:
        raise ValueError(f"{len(index)} indices but {len(scores)} scores")
    return index, scores


def ranked(index, scores, hardest_first: bool = False) -> np.ndarray:
    """Indices from the lowest score (easiest) to the highest, ties broken by index."""
    index, scores = _check(index, scores)
    order = np.lexsort((index, -scores if hardest_first else scores))
    return index[order]


def easiest(index, scores, size: Size) -> np.ndarray:
    """The `size` examples with the lowest scores."""
    count = resolve_size(size, len(index))
    return np.sort(ranked(index, scores)[:count])


def hardest(index, scores, size: Size) -> np.ndarray:
    """The `size` examples with the highest scores."""
    count = resolve_size(size, len(index))
    return np.sort(ranked(index, scores, hardest_first=True)[:count])


def balanced_by_score(index, scores, labels, size: Size, num_classes: int, hardest_first: bool = False) -> np.ndarray:
    """The easiest (or hardest) examples of each class, size // num_classes per class and one
    more for the first size % num_classes classes: a score-ranked subset without class skew."""
    index, scores = _check(index, scores)
    labels = np.asarray(labels, np.int64)
    count = resolve_size(size, len(index))
    quota = np.full(num_classes, count // num_classes)
    quota[:count % num_classes] += 1
    chosen = []
    for c in range(num_classes):
        members = labels == c
        if members.sum() < quota[c]:
            raise ConfigError(f"A class-balanced subset of {count} examples needs {quota[c]} of class {c}, "
                              f"which has only {int(members.sum())}; ask for fewer examples.")
        chosen.append(ranked(index[members], scores[members], hardest_first)[:quota[c]])
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def window(index, scores, size: Size, offset: Size = 0) -> np.ndarray:
    """`size` examples after skipping the `offset` hardest ones (Paul et al. 2021 keep a window
    of hard examples but drop the very hardest, which are often mislabeled)."""
    count, skip = resolve_size(size, len(index)), resolve_size(offset, len(index), "window offset")
    if skip + count > len(index):
        raise ConfigError(f"Window of {count} examples after an offset of {skip} does not fit in "
                          f"{len(index)} scored examples; shrink the size or the offset.")
    return np.sort(ranked(index, scores, hardest_first=True)[skip:skip + count])


def threshold(index, scores, value: float, above: bool = True) -> np.ndarray:
    """Examples whose score is > value (above=True), else those <= value."""
    index, scores = _check(index, scores)
    keep = scores > value if above else scores <= value
    return np.sort(index[keep])


def balanced_random(index, labels, size: Size, num_classes: int, seed: int) -> np.ndarray:
    """`size` examples drawn without replacement, as equal a number per class as possible:
    size // num_classes each, and one more for (size % num_classes) classes drawn by seed."""
    index, labels = np.asarray(index, np.int64), np.asarray(labels, np.int64)
    count = resolve_size(size, len(index))
    rng = np.random.default_rng(seed)
    quota = np.full(num_classes, count // num_classes)
    quota[rng.permutation(num_classes)[:count % num_classes]] += 1
    chosen = []
    for c in range(num_classes):
        members = index[labels == c]
        if len(members) < quota[c]:
            raise ConfigError(f"A class-balanced subset of {count} examples needs {quota[c]} of class {c}, "
                              f"which has only {len(members)}; ask for at most "
                              f"{num_classes * np.bincount(labels, minlength=num_classes).min()} examples.")
        chosen.append(rng.choice(members, quota[c], replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def union(*sets: Sequence[int]) -> np.ndarray:
    return np.unique(np.concatenate([np.asarray(s, np.int64) for s in sets])) if sets else np.zeros(0, np.int64)


def intersection(*sets: Sequence[int]) -> np.ndarray:
    if not sets:
        return np.zeros(0, np.int64)
    result = np.unique(np.asarray(sets[0], np.int64))
    for s in sets[1:]:
        result = np.intersect1d(result, np.asarray(s, np.int64))
    return result


def corrupt_labels(labels, num_classes: int, fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Re-draws the labels of round(fraction * n) examples uniformly over all classes, once.

    Returns (new labels, positions re-drawn). A re-drawn label equals the old one with
    probability 1/num_classes, so about fraction * (1 - 1/num_classes) of the labels change.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"Label-noise fraction {fraction} must be in [0, 1].")
    labels = np.asarray(labels, np.int64)
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(len(labels), int(round(fraction * len(labels))), replace=False))
    new = labels.copy()
    new[positions] = rng.integers(0, num_classes, len(positions))
    return new, positions


def class_histogram(labels, num_classes: int) -> np.ndarray:
    return np.bincount(np.asarray(labels, np.int64), minlength=num_classes)


def relabel(split: Split, index, labels) -> Split:
    """The split with the labels of the examples in `index` replaced by `labels` (label noise);
    indices not in the split are ignored."""
    index, labels = np.asarray(index, np.int64), np.asarray(labels, np.int64)
    if len(index) == 0:
        return split
    order = np.argsort(index)
    found = order[np.clip(np.searchsorted(index, split.index, sorter=order), 0, len(index) - 1)]
    hit = index[found] == split.index
    return split.with_labels(np.where(hit, labels[found], split.y).astype(np.int64))  # streamed splits too
