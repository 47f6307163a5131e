"""Baselines trained beside a ticket (SparseTraining variants): a registry, one entry per baseline.

A baseline changes a ticket by four rules, each a plain function of the ticket:
- mask(ticket, rng) -> the mask to train under, or None for a dense network;
- weights: 'rewind' (the ticket's rewind weights) or 'reinit' (a fresh initialization, drawn
  with lth_tf.lottery.reinit_seed);
- start(ticket) -> the step training starts at (it always ends at the end of the budget);
- cost(ticket) -> training steps spent before this network's own training, so that its
  train_steps = cost + own steps.
`ticket` is the dict SparseTraining loads for one level: masks, rewind (weights), trained,
meta (its metrics.json), rewind_step, parameters (its unpruned parameter count).

Built in (002 Appendix B; Frankle & Carbin 2019 §2):
- lt: the ticket itself (its mask, its rewind weights), retrained from its rewind step;
- rr: random reinitialization, the ticket's mask on fresh weights, trained the full budget
  from step 0 (not T − t from the rewind step: 002 Appendix B, condition ③);
- random_mask: a random mask of the ticket's overall sparsity on its rewind weights;
- permuted_mask: each layer's mask entries shuffled (the ticket's layerwise sparsity);
- small_dense: a dense network of the architecture with its width scaled to the ticket's
  parameter count (`match_parameters`), trained from scratch.

A new baseline is a few lines:

    register_baseline("inverted", lambda ticket, rng: {n: 1 - m for n, m in ticket["masks"].items()},
                      cost=search_cost)
"""
import dataclasses
import zlib
from typing import Callable, Dict, Optional

from lth_tf.errors import ConfigError, unknown_name
from lth_tf.sparsity import masks as M

WEIGHTS = ("rewind", "reinit")


def rewind_step(ticket) -> int:
    """Start at the ticket's rewind step (the step its rewind weights were taken at)."""
    return int(ticket["rewind_step"])


def step_zero(ticket) -> int:
    return 0


def search_cost(ticket) -> int:
    """The mask comes from the search: the steps the search spent on it (and upstream work)."""
    return int(ticket["meta"]["train_steps"] - ticket["meta"]["own_steps"])


def no_cost(ticket) -> int:
    return 0


@dataclasses.dataclass(frozen=True)
class Baseline:
    name: str
    mask: Callable  # (ticket, rng) -> Masks, or None: a dense network
    weights: str = "rewind"  # 'rewind': the ticket's rewind weights; 'reinit': a fresh draw
    start: Callable = rewind_step  # (ticket) -> the step training starts at
    cost: Callable = rewind_step  # (ticket) -> steps spent before this network's training
    per_method: bool = False  # its results.csv variant names the search method ('rr_imp'), not only itself
    match_parameters: bool = False  # width scaled to the ticket's parameter count; rows show the ticket's sparsity
    stream: Optional[int] = None  # the random stream of its rng (None: from its name, independent of the registry)

    def row_variant(self, method: str, rewind_step: int) -> str:
        """Its results.csv variant for tickets of `method` rewound to `rewind_step`."""
        suffix = "_rewind" if rewind_step > 0 else ""
        return f"{self.name}_{method}{suffix}" if self.per_method else self.name + suffix

    def rng_stream(self) -> int:
        return self.stream if self.stream is not None else zlib.crc32(self.name.encode())


BASELINES: Dict[str, Baseline] = {}


def register_baseline(name: str, mask: Callable, weights: str = "rewind", start: Callable = rewind_step,
                      cost: Optional[Callable] = None, per_method: bool = False, match_parameters: bool = False,
                      stream: Optional[int] = None) -> Baseline:
    """Registers a baseline (see the module docstring) and returns it. `cost` defaults to the
    steps that reach its start point with those weights: `start` for rewind weights, none for a
    fresh initialization. Registering a name again replaces the entry."""
    if not name or not name.replace("_", "").isalnum():
        raise ConfigError(f"Baseline name {name!r} must be a non-empty identifier (letters, digits, '_'): "
                          f"it names result variants and directories.")
    if weights not in WEIGHTS:
        raise unknown_name("baseline weights rule", weights, WEIGHTS)
    if cost is None:
        cost = start if weights == "rewind" else no_cost
    BASELINES[name] = Baseline(name, mask, weights, start, cost, per_method, match_parameters, stream)
    return BASELINES[name]


def baseline(name: str) -> Baseline:
    if name not in BASELINES:
        raise unknown_name("sparse-training variant", name, BASELINES)
    return BASELINES[name]


def row_for_ticket(name: str, ticket_variant: str) -> str:
    """The results.csv variant of baseline `name` beside the ticket rows `ticket_variant`
    ('lt_imp_rewind' -> 'rr_imp_rewind', 'small_dense_rewind'), as reports pair them."""
    method_and_suffix = ticket_variant[len("lt_"):]
    rewound = method_and_suffix.endswith("_rewind")
    method = method_and_suffix[:-len("_rewind")] if rewound else method_and_suffix
    return baseline(name).row_variant(method, int(rewound))


# stream: each built-in's place in the sorted names of the five, the rng streams they had
# before the registry existed (so their random masks stay the same whatever else is registered).
register_baseline("lt", lambda ticket, rng: ticket["masks"], cost=search_cost, per_method=True, stream=0)
# rr trains from step 0 for the full budget T, also beside a ticket rewound to step t: "θ'_0 ⊙ m" is a
# fresh initialization with no step-t state to resume (002 Appendix B, condition 3; Table E.1).
register_baseline("rr", lambda ticket, rng: ticket["masks"], weights="reinit", start=step_zero, cost=search_cost,
                  per_method=True, stream=3)
register_baseline("random_mask", lambda ticket, rng: M.random_mask_like(ticket["masks"], rng), stream=2)
register_baseline("permuted_mask", lambda ticket, rng: M.permuted(ticket["masks"], rng), cost=search_cost, stream=1)
register_baseline("small_dense", lambda ticket, rng: None, weights="reinit", start=step_zero, match_parameters=True,
                  stream=4)
