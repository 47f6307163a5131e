"""The PrAC study pipeline on a tiny problem: the headline is the paper's PrAC (early-bird stop),
its counterpart without early stop sits beside it in the savings, and iterative SNIP replays
the headline search's budget."""
import gin
import pandas as pd
import pytest

from pipelines import prac as prac_pipeline
from pipelines.runner import Runner

TINY = """
DatasetHparams.num_samples = 600
ModelHparams.width = 0.1
TrainingHparams.budget = '4ep'
TrainingHparams.batch_size = 32
TrainingHparams.lr = 0.05
TrainingHparams.schedule = 'multistep'
TrainingHparams.milestones = ('3ep',)
PruningHparams.levels = 1
PruningHparams.fraction = 0.3
PruningHparams.rewind = '1ep'
PracSearchParams.export = False
"""


@pytest.fixture()
def tiny_gin():
    gin.clear_config()
    gin.parse_config(TINY)
    yield
    gin.clear_config()


def test_prac_study_headline_counterpart_and_saliency(tmp_path, tiny_gin):
    runner = Runner(tmp_path, verbose=False)
    prac_pipeline.prac(runner, seeds=(0,), analyses=("early_stop", "snip"))
    results = pd.read_csv(tmp_path / "results.csv")
    assert {"prac", "prac_no_es", "lt_imp", "dense", "snip"} <= set(results.variant)
    pairs = pd.read_csv(tmp_path / "savings_early_stop.csv")
    assert list(pairs.variant) == ["prac", "prac_no_es"] and list(pairs.early_stop) == [True, False]
    report = (tmp_path / "report.md").read_text()
    assert "Headline PrAC variant: `prac`" in report and "| vanilla IMP | 1 |" in report  # plateau check
    # the saliency search costs what the headline PrAC search spent on the same mask
    prac_row = results[(results.variant == "prac") & (results.level == 1)].iloc[0]
    snip_row = results[(results.variant == "snip") & (results.level == 1)].iloc[0]
    assert snip_row["search_steps"] == prac_row["search_steps"] > 0
