"""Training: hyperparameters, schedules, the strategy, the training function."""
from lth_tf.training.hparams import TrainingHparams, to_steps  # noqa: F401
from lth_tf.training.loop import TrainResult, best_validation_metrics, evaluate, predict, train  # noqa: F401
from lth_tf.training.seeding import enable_determinism, set_seed  # noqa: F401
from lth_tf.training.strategy import get_strategy  # noqa: F401
