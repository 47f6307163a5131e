"""The one cache for what is built per model and reused: traced tf.functions (training steps,
evaluation passes) and the helper objects they close over.

Why a cache: IMP levels, baselines and barrier evaluations call train() / predict() / the
barrier passes on the same model many times; building a new tf.function each time would retrace
(seconds per level on CPU) and, for the trainer, create new optimizer variables. Why per model:
a traced function captures the model's variables, so it is valid for that model only.

Where it lives: in one attribute of the model (`_lth_compiled`, a plain dict written through
`model.__dict__`, so Keras' attribute tracking does not turn it into a tracked dependency of
the model's checkpoints or SavedModels). The cache dies with the model. A module-level
`weakref.WeakKeyDictionary` keyed by the model would not: its values (functions closing over
the model) would hold the model strongly, and a weak-keyed entry whose value refers to its own
key is never freed, so every model ever trained would stay in memory. Held by the model, the
reference cycle model -> cache -> function -> model is ordinary garbage.

Keys are tuples starting with the kind of entry, e.g. ("trainer", hp, steps_per_epoch, ...),
("predict",): everything that changes what is traced belongs in the key.
"""
from typing import Callable, Dict, Hashable, TypeVar

T = TypeVar("T")
_ATTRIBUTE = "_lth_compiled"


def compiled(model, key: Hashable, build: Callable[[], T]) -> T:
    """The entry cached for (model, key), made by `build()` the first time it is asked for."""
    cache = model.__dict__.setdefault(_ATTRIBUTE, {})
    if key not in cache:
        cache[key] = build()
    return cache[key]


def entries(model, kind: str) -> Dict[Hashable, object]:
    """The model's cached entries of one kind ({key: entry}), e.g. entries(model, "trainer")."""
    return {k: v for k, v in model.__dict__.get(_ATTRIBUTE, {}).items() if k[0] == kind}
