"""ForgettingBySparsity (000 Fig. A16) on a tiny search: histogram fractions, the LT arm equal to
the search's own level training, counts by hand, resume of one unit, the plot."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import numpy as np
import pandas as pd
import pytest

from components.prac import forgetting_by_sparsity as F
from components import mask_search
from components.mask_search import MaskSearchParams
from lth_tf.data import DatasetHparams
from lth_tf.errors import ConfigError
from lth_tf.io import read_json
from lth_tf.metrics.forgetting import NEVER_LEARNED, ForgettingCounter
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams
from pipelines.runner import Runner

SEARCH = MaskSearchParams(DatasetHparams(num_samples=600), ModelHparams("lenet_300_100", width=0.1),
                          TrainingHparams(budget="1ep", batch_size=64), PruningHparams(levels=2), export=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    runner = Runner(tmp_path_factory.mktemp("forgetting"), verbose=False)
    tickets = runner.run(mask_search.SPEC, SEARCH)
    params = F.ForgettingBySparsityParams()
    artifact = runner.run(F.SPEC, params, tickets=tickets)
    return runner, tickets, params, artifact


def test_fractions_sum_to_one_for_every_arm_and_level(run):
    _, _, _, artifact = run
    frame = pd.read_csv(artifact.path / "forgetting_by_sparsity.csv")
    assert sorted(set(frame.arm)) == sorted(F.ARMS)
    assert sorted(set(frame.level)) == list(mask_search.report_levels(SEARCH.pruning)) == [0, 2]
    np.testing.assert_allclose(frame[list(F.BINS)].sum(axis=1), 1.0)
    # level 0: the one dense network, reported under each arm
    dense = frame[frame.level == 0]
    assert len(dense[list(F.BINS)].drop_duplicates()) == 1
    assert (frame.loc[frame.level == 2, "sparsity"] > 0.3).all()


def test_lt_arm_trains_exactly_as_the_search_level(run):
    _, tickets, _, artifact = run
    frame = pd.read_csv(artifact.path / "forgetting_by_sparsity.csv").set_index(["arm", "level"])
    for level in (0, 2):
        searched = read_json(tickets.level_dir(level) / "metrics.json")
        assert frame.loc[("lt", level), "test_accuracy"] == pytest.approx(searched["test_accuracy"], abs=1e-7)
        assert frame.loc[("lt", level), "sparsity"] == pytest.approx(searched["sparsity"])
    # the other arms start elsewhere, so their networks differ from the ticket's
    assert frame.loc[("random_ticket", 2), "start_step"] == 0 and frame.loc[("imp_finetune", 2), "start_step"] == 0


def test_counts_by_hand():
    tracker = ForgettingCounter(4)
    # example 0: 1,0,1,0 -> 2 events; 1: 0,0,0,0 -> never learned; 2: 1,1,1,1 -> 0; 3: 0,1,0,1 -> 1
    for step, correct in enumerate(([1, 0, 1, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 0, 1, 1])):
        tracker.on_batch(step, np.arange(4), np.array(correct, float))
    counts = tracker.counts()
    assert counts.tolist() == [2, NEVER_LEARNED, 0, 1]
    h = F.histogram(np.append(counts, -1))  # a never-presented example does not count
    assert h == {"forgotten_0": 0.25, "forgotten_1": 0.25, "forgotten_2": 0.25, "forgotten_3_plus": 0.0,
                 "never_learned": 0.25}
    assert F.histogram([3, 5, 0, 0])["forgotten_3_plus"] == 0.5


def test_deleting_one_unit_recomputes_only_it(run, tmp_path, monkeypatch):
    runner, tickets, params, artifact = run
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(artifact.path, copy)
    before = pd.read_csv(copy / "forgetting_by_sparsity.csv")
    shutil.rmtree(F.unit_of(copy, "random_ticket", 2))
    calls = []
    real = F.train_unit
    monkeypatch.setattr(F, "train_unit", lambda arm, level, *a, **k: calls.append((arm, level)) or real(arm, level, *a, **k))
    from components import Context
    F.execute(params, {"tickets": tickets}, copy, Context(tensorboard_dir=tmp_path / "tb", verbose=False))
    assert calls == [("random_ticket", 2)]
    pd.testing.assert_frame_equal(pd.read_csv(copy / "forgetting_by_sparsity.csv"), before)


def test_plot_and_findings_written(run):
    _, _, _, artifact = run
    assert (artifact.path / "forgetting_by_sparsity_arms.png").stat().st_size > 10_000
    assert "lt: unforgettable" in (artifact.path / "findings.txt").read_text()


def test_bad_params():
    with pytest.raises(ConfigError, match="arm"):
        F.ForgettingBySparsityParams(arms=("lt", "rewound"))


def test_prac_study_reports_the_forgetting_arms(tmp_path):
    import gin
    from pipelines import prac as prac_pipeline
    from test_prac_pipeline import TINY
    gin.clear_config()
    gin.parse_config(TINY)
    try:
        prac_pipeline.prac(Runner(tmp_path, verbose=False), seeds=(0,), analyses=("forgetting_arms",))
    finally:
        gin.clear_config()
    report = (tmp_path / "report.md").read_text()
    assert "IMP fine-tune, lottery tickets, random tickets (000 Fig. A16)" in report
    assert "![forgetting by sparsity per arm](forgetting_by_sparsity_arms.png)" in report
    assert (tmp_path / "forgetting_by_sparsity_arms.png").exists()
    frame = pd.read_csv(tmp_path / "forgetting_by_sparsity_arms.csv")
    assert sorted(set(frame.level)) == [0, 1] and set(frame.arm) == set(F.ARMS)


def test_levels_the_search_lacks_are_a_config_error(run):
    runner, tickets, _, _ = run
    with pytest.raises(ConfigError, match="PruningHparams.levels"):
        runner.run(F.SPEC, F.ForgettingBySparsityParams(levels=(0, 5)), tickets=tickets)
