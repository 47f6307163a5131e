"""The description of a ticket search: MaskSearchParams, the typed lineage a Tickets artifact
carries (`Tickets.params`) and MaskSearch runs. Its own module so that the artifact
(components/artifacts/tickets.py) and its producer (components/mask_search.py) both import it
and neither imports the other."""
import dataclasses
from typing import Tuple, Union

import gin
import numpy as np

from lth_tf.data import DatasetHparams
from lth_tf.errors import ConfigError
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams


@gin.configurable
@dataclasses.dataclass(frozen=True)
class MaskSearchParams:
    dataset: DatasetHparams
    model: ModelHparams
    training: TrainingHparams
    pruning: PruningHparams
    seed: int = 0
    export: bool = True  # deployable SavedModels of the trained tickets of `export_levels`
    # 'report': the levels nearest REPORT_SPARSITIES (what the reports show); 'all'; or levels
    export_levels: Union[str, Tuple[int, ...]] = "report"

    def __post_init__(self):
        levels = self.export_levels
        if isinstance(levels, (list, tuple)):
            levels = tuple(int(l) for l in levels)
            bad = [l for l in levels if not 0 <= l <= self.pruning.levels]
            if bad:
                raise ConfigError(f"MaskSearchParams.export_levels has levels {bad}, outside 0..{self.pruning.levels} "
                                  f"(PruningHparams.levels); drop them, or bind 'report' or 'all'.")
            object.__setattr__(self, "export_levels", levels)
        elif levels not in ("report", "all"):
            raise ConfigError(f"MaskSearchParams.export_levels = {levels!r}: bind 'report' (the levels the report "
                              f"shows), 'all', or a tuple of levels such as (0, 5, 10).")

    def exported_levels(self) -> Tuple[int, ...]:
        """The levels whose trained ticket is exported as a SavedModel."""
        if not self.export:
            return ()
        if self.export_levels == "all":
            return tuple(range(self.pruning.levels + 1))
        if self.export_levels == "report":
            return report_levels(self.pruning)
        return self.export_levels

    def label(self) -> str:
        """'mu0.9_bs128_rw0it/seed0' (a method prefix when not IMP): names directories, not results."""
        method = "" if self.pruning.method == "imp" else f"{self.pruning.method}_"
        return f"{method}mu{self.training.momentum:g}_bs{self.training.batch_size}_rw{self.pruning.rewind}/seed{self.seed}"


# The sparsities the stability report's ticket table shows by default (IMP 20% per level: levels
# 0, 5, 10, 15, 20; stability_report.PAPER_SPARSITIES, pinned equal by a test).
REPORT_SPARSITIES = (0.0, 0.6723, 0.8926, 0.9648, 0.9885)


def report_levels(pruning: PruningHparams, sparsities=REPORT_SPARSITIES) -> Tuple[int, ...]:
    """The level nearest each sparsity (1 - density), as the report picks its columns."""
    nominal = np.array([1.0 - pruning.density(l) for l in range(pruning.levels + 1)])
    return tuple(sorted({int(np.abs(nominal - s).argmin()) for s in sparsities}))
