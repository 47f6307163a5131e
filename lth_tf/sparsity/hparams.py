"""How a mask search prunes."""
import dataclasses
from typing import Tuple

import gin

from lth_tf.errors import ConfigError, unknown_name
from lth_tf.sparsity import criteria
from lth_tf.sparsity.masks import SCOPES, level_density
from lth_tf.sparsity.wrapping import PRUNABLE_KINDS, prunable_predicate
from lth_tf.steps import to_steps


@gin.configurable
@dataclasses.dataclass(frozen=True)
class PruningHparams:
    method: str = "imp"  # a registered criterion (lth_tf/sparsity/criteria.py): imp, omp, random, snip, grasp, synflow
    levels: int = 10  # level k keeps (1 - fraction)^k of the prunable weights
    fraction: float = 0.2  # pruned per level, of the weights still remaining
    scope: str = "global"  # global: one threshold over all layers; layerwise: per layer
    rewind: str = "0it"  # '0it' = rewind to init; 'Kit' / 'Kep' = late rewinding to step k
    prunable_kinds: Tuple[str, ...] = ("conv", "dense")
    prune_output_layer: bool = True

    def __post_init__(self):
        criteria.criterion(self.method)  # a ConfigError naming the registered criteria
        if self.scope not in SCOPES:
            raise unknown_name("pruning scope", self.scope, SCOPES)
        if not 0.0 < self.fraction < 1.0:
            raise ConfigError(f"PruningHparams.fraction={self.fraction} is out of range: the fraction of "
                              f"remaining weights pruned per level must be in (0, 1), e.g. 0.2.")
        if self.levels < 0:
            raise ConfigError(f"PruningHparams.levels={self.levels} must be >= 0.")
        bad = set(self.prunable_kinds) - set(PRUNABLE_KINDS)
        if bad:
            raise unknown_name("prunable layer kind", sorted(bad)[0], PRUNABLE_KINDS)
        object.__setattr__(self, "prunable_kinds", tuple(self.prunable_kinds))
        to_steps(self.rewind, 1, "PruningHparams.rewind")

    def density(self, level: int) -> float:
        return level_density(self.fraction, level)

    def prunable(self):
        return prunable_predicate(self.prunable_kinds, self.prune_output_layer)
