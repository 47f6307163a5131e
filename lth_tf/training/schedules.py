"""Learning-rate schedules as functions of the global step (so a run resumed or rewound at
step k continues the schedule from k)."""
import math
from typing import Sequence

import tensorflow as tf
import tf_keras as keras


class LrSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """constant / step (x gamma every milestones[0] steps) / multistep (x gamma at each
    milestone) / cosine (to 0 at total_steps), times a linear warm-up over warmup_steps."""

    def __init__(self, lr: float, kind: str, total_steps: int, milestones: Sequence[int] = (),
                 gamma: float = 0.1, warmup_steps: int = 0):
        self.lr, self.kind, self.total_steps = float(lr), kind, int(total_steps)
        self.milestones, self.gamma, self.warmup_steps = [int(m) for m in milestones], float(gamma), int(warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = tf.constant(self.lr, tf.float32)
        if self.kind == "multistep":
            passed = tf.add_n([tf.cast(step >= m, tf.float32) for m in self.milestones])
            lr = lr * tf.pow(self.gamma, passed)
        elif self.kind == "step":
            lr = lr * tf.pow(self.gamma, tf.floor(step / max(1, self.milestones[0])))
        elif self.kind == "cosine":
            progress = tf.minimum(step, self.total_steps) / max(1, self.total_steps)
            lr = lr * 0.5 * (1.0 + tf.cos(math.pi * progress))
        if self.warmup_steps > 0:
            lr = lr * tf.minimum(1.0, (step + 1.0) / self.warmup_steps)
        return lr

    def get_config(self):
        return dict(lr=self.lr, kind=self.kind, total_steps=self.total_steps, milestones=self.milestones,
                    gamma=self.gamma, warmup_steps=self.warmup_steps)
