"""A ticket's baselines, the other half of the lottery core: the network a registered baseline
(lth_tf/sparsity/baselines.py: lt, rr, random_mask, permuted_mask, small_dense or a user's own)
trains beside a ticket, ready for the trainer. The studies' SparseTraining and the Python API's
`TicketSearch.train` both build it here, so a registered baseline works in both.
"""
import dataclasses
from typing import Optional

import numpy as np

from lth_tf.sparsity import baselines as B
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping


def reinit_seed(seed: int, level: int) -> int:
    """The initialization seed of a random reinitialization of level `level`'s ticket: a fresh
    draw, never the ticket's init (the 'rr' and 'small_dense' baselines, ForgettingBySparsity's
    random tickets, WeightCorrelation's reinitialized networks)."""
    return 1_000_003 + 7919 * int(seed) + int(level)


@dataclasses.dataclass
class Branch:
    """A baseline's network before training: start at `start_step`; `cost` steps were spent
    before its own training (its train_steps = cost + steps trained)."""
    name: str
    model: object
    masks: Optional[M.Masks]  # None: a dense network
    start_step: int
    cost: int


def branch_network(name: str, ticket: dict, trainer, seed: int) -> Branch:
    """Baseline `name` of a ticket. `ticket`: the level's masks, rewind (weights), trained, meta
    (its metrics: train_steps, own_steps), rewind_step, parameters (its unpruned parameter
    count) and level. `seed` draws its randomness: masks from the stream (seed, level, the
    baseline's stream), fresh weights from reinit_seed(seed, level)."""
    rule = B.baseline(name)
    level = int(ticket["level"])
    rng = np.random.default_rng([int(seed), level, rule.rng_stream()])
    masks = rule.mask(ticket, rng)
    reinit = rule.weights == "reinit"
    model = trainer.network(init_seed=reinit_seed(seed, level) if reinit else None,
                            parameters=int(ticket["parameters"]) if rule.match_parameters else None)
    if not reinit:
        wrapping.set_state(model, ticket["rewind"])
    if masks is not None:
        wrapping.set_masks(model, masks)
    return Branch(name, model, masks, int(rule.start(ticket)), int(rule.cost(ticket)))
