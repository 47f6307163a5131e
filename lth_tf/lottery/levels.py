"""The level loop of a ticket search, the one lottery algorithm every caller runs.

Level 0 trains the dense network from `start_step` to the end of the budget and keeps the
weights at `rewind_step` (init when it is `start_step`, the weights after k steps for late
rewinding: Frankle et al. 2020 §4). Level L >= 1 scores with the registered criterion
(lth_tf/sparsity/criteria.py: IMP, OMP, random, SNIP, GraSP, SynFlow or a user's own),
keeps the highest scores down to the density of level L, rewinds the kept weights to the
rewind point and trains from `rewind_step` to the end (Frankle & Carbin 2019, Algorithm "IMP
with rewinding"). Each finished level is yielded as a `LevelRun`: the caller persists it
(MaskSearch writes a unit) or keeps it (the Python API); levels a caller already has are named
in `resume` and skipped, their masks and weights loaded only when a later level needs them.

Training goes through a trainer (lth_tf/lottery/trainer.py): the study's fast loop or your
compile arguments and `model.fit`; the loop itself never trains or persists anything.
"""
import dataclasses
from typing import Callable, Dict, Iterator, Optional, Set, Tuple

import numpy as np

from lth_tf.errors import ConfigError
from lth_tf.sparsity import criteria, wrapping
from lth_tf.sparsity import masks as M

State = Dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a search does. `total_steps`: the end of every training (None: level 0 decides it,
    as a Keras fit of `epochs` epochs does). `prefix_steps`: work spent before the search
    (pre-training, data scoring), added to every level's cost."""
    criterion: str
    levels: int
    fraction: float
    scope: str
    rewind_step: int
    seed: int
    start_step: int = 0
    total_steps: Optional[int] = None
    prefix_steps: int = 0

    def density(self, level: int) -> float:
        return M.level_density(self.fraction, level)


@dataclasses.dataclass
class LevelRun:
    """One finished level: its mask, the trained weights, the trainer's result (`outcome.steps`
    trained), the weights at the rewind step (level 0 only) and `search_steps`, the cost ledger:
    training steps spent to obtain this level's mask, upstream work included."""
    level: int
    masks: M.Masks
    trained: State
    outcome: object
    rewind: Optional[State]
    search_steps: int

    @property
    def train_steps(self) -> int:
        """Steps spent to produce this network: its search's share and its own training."""
        return self.search_steps + int(self.outcome.steps)


@dataclasses.dataclass
class Resume:
    """Levels finished earlier: `done` and loaders for what later levels need of them
    (`level(L)` -> (masks, trained weights); `rewind()` -> the rewind weights; `total_steps()` ->
    the dense run's end step, the search's total)."""
    done: Set[int]
    level: Callable[[int], Tuple[M.Masks, State]]
    rewind: Callable[[], State]
    total_steps: Callable[[], int]


def kernels(state: State, model) -> Dict[str, np.ndarray]:
    """The prunable kernels of a get_state() dict, keyed by layer name."""
    return {w.layer.name: state[wrapping.var_key(wrapping.kernel_and_mask(w)[0])] for w in wrapping.wrappers(model)}


def next_masks(criterion_name: str, level: int, target_density: float, scope: str, prev_masks: M.Masks,
               prev_state: State, dense_state: Optional[State], rng: np.random.Generator, model,
               batch: Callable[[], Tuple[np.ndarray, np.ndarray]]) -> M.Masks:
    """Level `level`'s mask by the registered criterion, from the previous level's mask and
    trained weights and the dense network's (get_state() dicts). A criterion that scores the
    model (SNIP, GraSP, SynFlow) finds `model` set to the previous level's trained network and
    mask, and the batch `batch()` draws."""
    rule = criteria.criterion(criterion_name)
    inputs = criteria.ScoreInputs(prev_masks, kernels(prev_state, model), level,
                                  None if dense_state is None else kernels(dense_state, model), rng)
    if rule.uses_model:
        wrapping.set_masks(model, prev_masks)
        wrapping.set_state(model, prev_state)
        x, y = batch()
        inputs = dataclasses.replace(inputs, model=model, x=x, y=y)
    return rule.prune(inputs, target_density, scope)


def level_rng(seed: int, level: int) -> np.random.Generator:
    """The random stream of level `level`'s criterion (random pruning): seeded by (seed, level)."""
    return np.random.default_rng([int(seed), int(level)])


def search_steps_of(plan: Plan, level: int, total: int) -> int:
    """The cost ledger: training steps spent on the search that produced level `level`'s mask:
    what came before it (`plan.prefix_steps`: pre-training, scoring) and what the criterion's cost
    rule counts of the dense run (from `start_step` to `total`) and of the levels' retraining
    (from `rewind_step`): IMP every earlier level's retraining, OMP the dense run only, random
    pruning nothing."""
    if level == 0:
        return int(plan.prefix_steps)
    rule = criteria.criterion(plan.criterion)
    return int(plan.prefix_steps) + rule.search_steps(level, total - plan.start_step, total - plan.rewind_step)


def check_plan(plan: Plan):
    """A plan that cannot run: before any training."""
    criteria.criterion(plan.criterion)  # a ConfigError listing the registered criteria
    if int(plan.levels) < 0:
        raise ConfigError(f"levels={plan.levels} must be >= 0.")
    if not 0.0 < plan.fraction < 1.0:
        raise ConfigError(f"fraction={plan.fraction} (pruned per level) must be in (0, 1).")
    if plan.scope not in M.SCOPES:
        raise ConfigError(f"scope={plan.scope!r}: use one of {', '.join(M.SCOPES)}.")
    if not 0 <= plan.start_step <= plan.rewind_step:
        raise ConfigError(f"rewind_step={plan.rewind_step} must be >= 0 and not before the dense run's start "
                          f"(step {plan.start_step}).")
    if plan.total_steps is not None and plan.rewind_step >= plan.total_steps:
        raise ConfigError(f"rewind_step={plan.rewind_step} is not before the end of training (step "
                          f"{plan.total_steps}); rewind to an earlier point.")


def search(model, trainer, plan: Plan, resume: Optional[Resume] = None) -> Iterator[LevelRun]:
    """Runs the levels of `plan` on `model` (a wrapped network holding the dense starting
    weights: θ0, or pre-trained ones) and yields each finished level in order; `resume` names
    levels finished earlier (they are not yielded). `trainer.train(model, start_step, level,
    snapshot_steps)` trains in place to the end of the budget and returns an outcome with
    `.steps` and `.snapshots` {step: state}; `trainer.scoring_batch()` gives (x, y) to criteria
    that score the model."""
    check_plan(plan)
    done = set(resume.done) if resume is not None else set()
    total, rewind, dense, prev = plan.total_steps, None, None, None  # prev: (masks, trained) of level L-1
    if done:
        rewind, total = resume.rewind(), resume.total_steps()
    for level in range(int(plan.levels) + 1):
        if level in done:
            prev = None  # loaded when the next level needs it
            continue
        if level == 0:
            outcome = trainer.train(model, plan.start_step, 0, (plan.rewind_step,))
            total = plan.start_step + int(outcome.steps)
            if plan.rewind_step not in outcome.snapshots or plan.rewind_step >= total:
                raise ConfigError(f"rewind_step={plan.rewind_step} is not below the {outcome.steps} steps of dense "
                                  f"training (epochs x batches per epoch): choose an earlier rewind point.")
            rewind = outcome.snapshots[plan.rewind_step]
            run = LevelRun(0, wrapping.get_masks(model), wrapping.get_state(model), outcome, rewind,
                           search_steps_of(plan, 0, total))
            dense = run.trained
        else:
            if prev is None:
                prev = resume.level(level - 1)
            if dense is None:
                dense = resume.level(0)[1]
            masks = next_masks(plan.criterion, level, plan.density(level), plan.scope, prev[0], prev[1], dense,
                               level_rng(plan.seed, level), model, trainer.scoring_batch)
            wrapping.set_state(model, rewind)
            wrapping.set_masks(model, masks)
            outcome = trainer.train(model, plan.rewind_step, level, ())
            run = LevelRun(level, masks, wrapping.get_state(model), outcome, None, search_steps_of(plan, level, total))
        prev = (run.masks, run.trained)
        yield run
