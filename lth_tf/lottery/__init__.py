"""The lottery core: one level loop (`levels.search`), the baselines beside a ticket
(`branches.branch_network`) and the trainer they train through (`loop_trainer.LoopTrainer` for
the studies; the Python API's Keras-fit trainer is lth_tf.keras_trainer.KerasTrainer). `search_many` runs K searches
in lockstep with their trainings fused (lth_tf/training/fused.py). The Python API,
the callbacks and every study component that searches or trains tickets run it."""
from lth_tf.lottery.branches import Branch, branch_network, reinit_seed  # noqa: F401
from lth_tf.lottery.fused import search_many  # noqa: F401
from lth_tf.lottery.levels import LevelRun, Plan, Resume, next_masks, search  # noqa: F401
