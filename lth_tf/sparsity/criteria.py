"""Pruning criteria: a registry, one entry per criterion (PruningHparams.method names one).

A criterion is a scoring function and a search-cost rule. At pruning step L the scores
function gets a `ScoreInputs` and returns {layer name: score array} with the kernels' shapes;
`masks.prune_by_score` keeps the highest scores among the weights the mask still keeps,
globally or per layer (PruningHparams.scope), down to the level's density. Built in:
- imp: iterative magnitude pruning (mask m_I of 002 Appendix B), |w| of the previous level's
  trained weights, pruning from the previous level's mask.
- omp: one-shot magnitude pruning (mask m_O, 002 Appendix B; Appendix A: "We also train the
  LT-OMP with the same sparsity levels as IMP"), |w| of the trained dense network, cut from
  the dense network at every level (`one_shot`), not from the previous level's mask.
- random: uniform random scores drawn from the level's generator (no training for the mask).
- snip, grasp, synflow (lth_tf/sparsity/saliency.py): scores of the network in `model`, with
  a scoring batch for SNIP and GraSP. In MaskSearch they score the previous level's trained
  network, as IMP does (001 §4.3 runs them "in an iterative manner"), on 10 examples per class
  of the training split (saliency.scoring_batch), at IMP's cost.

The cost rule says how many training steps the search spent to obtain level L's mask,
beside work done upstream (pre-training, data scoring: the caller adds those):
`cost(level, dense_steps, level_steps)`, where dense_steps is the dense run (level 0) and
level_steps one level's retraining from the rewind step.

A new criterion is a few lines (it is then valid as PruningHparams.method; registering runs at
import, so import its module before the configs are parsed, e.g. a gin `import` line):

    @register_criterion("smallest", cost=iterative_cost)
    def smallest(inputs):  # keep the smallest magnitudes
        return {n: -abs(w) for n, w in inputs.trained.items()}
"""
import dataclasses
from typing import Any, Callable, Dict, Optional

import numpy as np

from lth_tf.errors import ConfigError, unknown_name
from lth_tf.sparsity import masks as M

Scores = Dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class ScoreInputs:
    """What a criterion may score with at one pruning step (kernels keyed by layer name)."""
    masks: M.Masks  # the mask it prunes from: pruned weights stay pruned
    trained: Dict[str, np.ndarray]  # the kernels of the network just trained (IMP: the previous level's)
    level: Optional[int] = None  # the level whose mask is computed (None: a sub-step of saliency.iterative_prune)
    dense: Optional[Dict[str, np.ndarray]] = None  # the trained dense network's kernels (level 0)
    rng: Optional[np.random.Generator] = None  # seeded by (seed, level): for random criteria
    model: Any = None  # the wrapped model holding `trained` and `masks` (criteria with uses_model)
    x: Optional[np.ndarray] = None  # a normalized scoring batch (criteria with uses_model)
    y: Optional[np.ndarray] = None


def iterative_cost(level: int, dense_steps: int, level_steps: int) -> int:
    """Level L's mask needs the dense run and the retraining of levels 1 .. L-1 (IMP)."""
    return dense_steps + (level - 1) * level_steps


def one_shot_cost(level: int, dense_steps: int, level_steps: int) -> int:
    """Every level's mask comes from the dense run alone (OMP)."""
    return dense_steps


def free_cost(level: int, dense_steps: int, level_steps: int) -> int:
    """The mask needs no training (random pruning)."""
    return 0


@dataclasses.dataclass(frozen=True)
class Criterion:
    name: str
    scores: Callable[[ScoreInputs], Scores]
    cost: Callable[[int, int, int], int] = iterative_cost
    one_shot: bool = False  # each level's mask is cut from the dense network, not the previous level's mask
    uses_model: bool = False  # scores the network in ScoreInputs.model (with a batch x, y)
    variant: str = ""  # the tickets' results.csv variant ('_rewind' added for late rewinding); '' = 'lt_<name>'

    def variant_name(self, rewind_step: int) -> str:
        return (self.variant or f"lt_{self.name}") + ("_rewind" if rewind_step > 0 else "")

    def search_steps(self, level: int, dense_steps: int, level_steps: int) -> int:
        return int(self.cost(level, dense_steps, level_steps))

    def prune(self, inputs: ScoreInputs, target_density: float, scope: str = "global") -> M.Masks:
        """Level `inputs.level`'s mask at `target_density` (of all prunable weights)."""
        start = M.ones_like(inputs.masks) if self.one_shot else inputs.masks
        return M.prune_by_score(self.scores(inputs), start, target_density, scope)


CRITERIA: Dict[str, Criterion] = {}


def register_criterion(name: str, cost: Callable[[int, int, int], int] = iterative_cost, one_shot: bool = False,
                       uses_model: bool = False, variant: str = ""):
    """Decorator: registers `scores(inputs: ScoreInputs) -> {layer: scores}` as criterion `name`
    and returns the function unchanged. Registering a name again replaces the entry (a module
    reloaded in a notebook), so one name always means one criterion."""
    if not name or not name.replace("_", "").isalnum():
        raise ConfigError(f"Criterion name {name!r} must be a non-empty identifier (letters, digits, '_'): "
                          f"it names result variants and directories.")

    def add(scores: Callable[[ScoreInputs], Scores]):
        CRITERIA[name] = Criterion(name, scores, cost, one_shot, uses_model, variant)
        return scores
    return add


def criterion(name: str, what: str = "pruning method") -> Criterion:
    if name not in CRITERIA:
        raise unknown_name(what, name, CRITERIA)
    return CRITERIA[name]


def names(uses_model: Optional[bool] = None):
    """The registered names (only those with that `uses_model`, when given), sorted."""
    return sorted(n for n, c in CRITERIA.items() if uses_model is None or c.uses_model == uses_model)


@register_criterion("imp", cost=iterative_cost)
def previous_magnitude(inputs: ScoreInputs) -> Scores:
    return {n: np.abs(inputs.trained[n]) for n in inputs.masks}


@register_criterion("omp", cost=one_shot_cost, one_shot=True)
def dense_magnitude(inputs: ScoreInputs) -> Scores:
    return {n: np.abs(inputs.dense[n]) for n in inputs.masks}


@register_criterion("random", cost=free_cost)
def uniform_random(inputs: ScoreInputs) -> Scores:
    return {n: inputs.rng.random(m.shape) for n, m in inputs.masks.items()}  # as masks.random_prune draws
