"""What each Ray task asks for (RayResources, a gin configurable): its own module so that
registering the configurables (pipelines/configurables.py) does not import the Ray executor,
which registers them in its workers."""
import dataclasses
from typing import Dict, Mapping

import gin

from lth_tf.errors import ConfigError


@gin.configurable
@dataclasses.dataclass(frozen=True)
class RayResources:
    """What each Ray task asks for. `per_component` overrides by component name, e.g.
    {'MaskSearch': {'num_gpus': 1}}. `threads` caps TensorFlow's intra-op threads per task, so
    tasks sharing a machine do not fight over its cores (0: TensorFlow's default, all cores).
    Results equal an in-process run's with the same thread count: TensorFlow splits float sums
    by thread, so 1-thread tasks reproduce `TF_NUM_INTRAOP_THREADS=1` runs bit for bit."""
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    threads: int = 1
    max_retries: int = 3  # retries after a worker or node dies (not after a Python exception)
    per_component: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.num_cpus < 0 or self.num_gpus < 0 or self.threads < 0 or self.max_retries < 0:
            raise ConfigError(f"RayResources({self}) must not be negative.")
        for name, wanted in self.per_component.items():
            unknown = set(wanted) - {"num_cpus", "num_gpus"}
            if unknown:
                raise ConfigError(f"RayResources.per_component[{name!r}] has {sorted(unknown)}; it takes "
                                  f"'num_cpus' and 'num_gpus', e.g. {{'MaskSearch': {{'num_gpus': 1}}}}.")

    def for_component(self, name: str) -> Dict[str, float]:
        return {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, **self.per_component.get(name, {})}
