"""The stability study pipeline (first version): dense training, IMP from init and with late
rewinding, each ticket compared with its baselines, one report."""
from typing import Sequence

import gin

from components import mask_search, report, sparse_training
from lth_tf.data import DatasetHparams
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams
from pipelines.publish import publish


@gin.configurable
def stability(runner, seeds: Sequence[int] = (0,), rewind_points: Sequence[str] = ("0it", "1ep"),
              baselines: Sequence[str] = ("rr", "random_mask"), study: str = "stability"):
    dataset, model, training = DatasetHparams(), ModelHparams(), TrainingHparams()
    results = []
    for seed in seeds:
        for rewind in rewind_points:
            pruning = PruningHparams(rewind=rewind)
            tickets = runner.run(mask_search.SPEC, mask_search.MaskSearchParams(dataset, model, training, pruning, seed))
            results.append(tickets)
            if baselines:
                results.append(runner.run(sparse_training.SPEC, sparse_training.SparseTrainingParams(
                    variants=tuple(baselines), seed=seed), tickets=tickets))
    summary = runner.run(report.SPEC, report.ReportParams(study=study, title=f"{study}: {model.name} on {dataset.name}"),
                         results=results)
    publish(summary, runner.output_dir)
    return summary
