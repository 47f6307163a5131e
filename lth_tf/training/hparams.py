"""Training hyperparameters and step strings ("20ep", "500it")."""
import dataclasses
from typing import Tuple

import gin

from lth_tf.errors import ConfigError, unknown_name
from lth_tf.steps import to_steps  # noqa: F401  (re-exported: lth_tf.training.to_steps)

SCHEDULES = ("constant", "step", "multistep", "cosine")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class TrainingHparams:
    budget: str = "20ep"  # total training length
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4  # L2 term added to the gradient (PyTorch-style SGD)
    schedule: str = "constant"  # constant | step | multistep | cosine
    milestones: Tuple[str, ...] = ()  # step strings where multistep/step multiply the lr by gamma
    gamma: float = 0.1
    warmup: str = "0it"  # linear warm-up from 0 to lr
    data_seed_offset: int = 0  # added to the run's seed to draw data order and augmentation
    # XLA for the training step: faster (fused kernels), but XLA rounds differently, so results
    # are not bit-identical to the default's (pruned weights still stay exactly zero).
    jit_compile: bool = False
    # float16 compute with float32 weights and a dynamic loss scale (GPUs with tensor cores);
    # the model must be built under the 'mixed_float16' Keras policy (lth_tf.training.train says how).
    mixed_precision: bool = False

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise unknown_name("lr schedule", self.schedule, SCHEDULES)
        if self.batch_size < 1:
            raise ConfigError(f"TrainingHparams.batch_size={self.batch_size} must be >= 1.")
        if self.lr <= 0:
            raise ConfigError(f"TrainingHparams.lr={self.lr} must be positive.")
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"TrainingHparams.momentum={self.momentum} must be in [0, 1).")
        if self.weight_decay < 0:
            raise ConfigError(f"TrainingHparams.weight_decay={self.weight_decay} must be >= 0.")
        if self.schedule in ("step", "multistep") and not self.milestones:
            raise ConfigError(f"TrainingHparams.schedule={self.schedule!r} needs milestones, "
                              f"e.g. TrainingHparams.milestones = ('10ep', '15ep').")
        for text in (self.budget, self.warmup, *self.milestones):
            to_steps(text, 1, "TrainingHparams step string")
        object.__setattr__(self, "milestones", tuple(self.milestones))

    def total_steps(self, steps_per_epoch: int) -> int:
        steps = to_steps(self.budget, steps_per_epoch, "TrainingHparams.budget")
        if steps < 1:
            raise ConfigError(f"TrainingHparams.budget={self.budget!r} gives no training step.")
        return steps

    def scaled(self, factor: float, steps_per_epoch: int) -> "TrainingHparams":
        """The same recipe with budget, milestones and warm-up multiplied by `factor`, in
        iterations (AIMP's shortened search, PrAC's dynamic iterations)."""
        def scale(text):
            return f"{max(1, int(round(to_steps(text, steps_per_epoch) * factor)))}it"
        return dataclasses.replace(self, budget=scale(self.budget),
                                   milestones=tuple(scale(m) for m in self.milestones),
                                   warmup=f"{int(round(to_steps(self.warmup, steps_per_epoch) * factor))}it")
