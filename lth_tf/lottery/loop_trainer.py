"""The studies' trainer for the lottery core: lth_tf.training.train (our SGD loop) on a
registry dataset and model, with TensorBoard runs named by the caller.

A trainer is what lth_tf/lottery/levels.search and lth_tf/lottery/branches.branch_network
need of a training engine (the Python API's twin is lth_tf.keras_trainer.KerasTrainer):
- `train(model, start_step, tag, snapshot_steps=())`: train in place from `start_step` to the
  end of the budget; the outcome has `.steps` and `.snapshots` {step: get_state()}). `tag` is
  the caller's name for the run (a level, or (variant, level)): here `describe(tag)` turns it
  into train()'s log_dir / log_hparams / label;
- `network(init_seed=None, parameters=None)`: a new wrapped network of the architecture, drawn
  with `init_seed` (None: the search's seed), its width scaled to `parameters` when given;
- `scoring_batch()`: (x, y) for criteria that score the model (SNIP, GraSP, SynFlow).
"""
import dataclasses
from typing import Callable, Optional

from lth_tf import networks
from lth_tf.models import ModelHparams
from lth_tf.sparsity import saliency
from lth_tf.training import TrainingHparams, train


@dataclasses.dataclass
class LoopTrainer:
    ds: object  # a lth_tf.data Dataset
    hp: TrainingHparams
    seed: int  # the data order (and the networks' initialization unless network_seed is given)
    model: Optional[ModelHparams] = None  # the architecture `network()` builds (None: it builds none)
    prunable: object = None  # the layer predicate (PruningHparams.prunable())
    describe: Callable[[object], dict] = lambda tag: {}
    train_split: object = None  # default: ds.train
    verbose: bool = True
    network_seed: Optional[int] = None  # draws `network()`'s weights when no init_seed is given

    def train(self, model, start_step: int, tag=None, snapshot_steps=()):
        return train(model, self.ds, self.hp, seed=self.seed, start_step=start_step, train_split=self.train_split,
                     snapshot_steps=snapshot_steps, verbose=self.verbose, **self.describe(tag))

    def width_for(self, parameters: Optional[int]) -> float:
        """The model width whose dense network has closest to `parameters` parameters (the
        architecture's own width when None; networks memoizes the bisection)."""
        if parameters is None:
            return self.model.width
        return networks.width_for_parameter_count(self.model, self.ds.input_shape, self.ds.num_classes, parameters)

    def network(self, init_seed: Optional[int] = None, parameters: Optional[int] = None):
        hp = self.model
        if parameters is not None:
            hp = ModelHparams(self.model.name, self.width_for(parameters), self.model.initializer)
        return networks.build_network(hp, self.ds.input_shape, self.ds.num_classes,
                                      self._seed(init_seed), self.prunable)

    def _seed(self, init_seed: Optional[int]) -> int:
        if init_seed is not None:
            return init_seed
        return self.seed if self.network_seed is None else self.network_seed

    def scoring_batch(self):
        return saliency.scoring_batch(self.ds, self.train_split if self.train_split is not None else self.ds.train,
                                      self.seed)
