"""The Tuning component (keras-tuner with the project's own training) on a tiny problem: a search
finishes its trials, a rerun reuses everything, an interrupted search resumes (finished trials
and finished seeds of the interrupted trial are not retrained) and ends exactly where an
uninterrupted one does, Bayesian proposals included."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import pandas as pd
import pytest

from components import mask_search, tuning
from components.tuning import TuningParams
from lth_tf.lottery import loop_trainer
from lth_tf.data import DatasetHparams
from lth_tf.errors import ConfigError
from lth_tf.io import read_json
from lth_tf.models import ModelHparams
from lth_tf.training import TrainingHparams
from pipelines.runner import Runner

# 720 training examples / 64 = 12 steps per trial network; 5 trials x 2 seeds.
PARAMS = TuningParams(dataset=DatasetHparams(num_samples=1000), model=ModelHparams("lenet_300_100", width=0.1),
                      training=TrainingHparams(budget="1ep", batch_size=64),
                      space=(("lr", 0.01, 1.0, "log"), ("weight_decay", (0.0, 1e-4))),
                      oracle="bayesian", max_trials=5, initial_points=2, seeds=(0, 1), oracle_seed=3)
TRAININGS = 10


class Interrupted(Exception):
    pass


def _count_trainings(monkeypatch, calls, fail_at=None):
    real = loop_trainer.train  # MaskSearch's trainings (lth_tf/lottery/loop_trainer.py)

    def spy(model, ds, hp, **kwargs):
        if fail_at is not None and len(calls) == fail_at:
            raise Interrupted("simulated crash")
        calls.append((hp.lr, hp.weight_decay, kwargs["seed"]))
        return real(model, ds, hp, **kwargs)
    monkeypatch.setattr(loop_trainer, "train", spy)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        _count_trainings(mp, calls)
        root = tmp_path_factory.mktemp("tuning")
        artifact = Runner(root, verbose=False).run(tuning.SPEC, PARAMS)
    return root, artifact, calls


def test_search_runs_every_trial_with_the_project_training(reference):
    _, artifact, calls = reference
    assert len(calls) == TRAININGS and len(set(calls)) == TRAININGS
    trials = pd.read_csv(artifact.path / "trials.csv")
    assert len(trials) == PARAMS.max_trials and trials.status.eq("COMPLETED").all()
    assert trials.lr.between(0.01, 1.0).all() and set(trials.weight_decay) <= {0.0, 1e-4}
    assert (trials.seeds == 2).all() and trials.objective.equals(trials.val_accuracy)
    best = read_json(artifact.path / "best.json")
    assert best["objective"] == trials.objective.max()
    assert tuning.best_training(artifact).lr == pytest.approx(best["values"]["lr"], rel=1e-5)
    results = pd.read_csv(artifact.path / "results.csv")
    assert len(results) == TRAININGS and (results.variant == "tuning_trial").all()
    # Each trial's networks are units keyed by what they train.
    assert len(list((artifact.path / "trials").glob("*/seed_*/results.csv"))) == TRAININGS


def test_rerun_reuses_the_finished_search(reference, monkeypatch):
    root, artifact, _ = reference
    calls = []
    _count_trainings(monkeypatch, calls)
    runner = Runner(root, verbose=False)
    again = runner.run(tuning.SPEC, PARAMS)
    assert again.path == artifact.path and runner.reused == [again] and calls == []


@pytest.mark.parametrize("fail_at", [6, 7], ids=["at-a-trial-start", "inside-a-trial"])
def test_interrupted_search_resumes_where_it_stopped(reference, tmp_path, monkeypatch, fail_at):
    _, done, reference_calls = reference
    calls = []
    _count_trainings(monkeypatch, calls, fail_at=fail_at)
    with pytest.raises(Interrupted):  # the trial's own exception, not keras-tuner's "failed trial"
        Runner(tmp_path, verbose=False).run(tuning.SPEC, PARAMS)
    path = tmp_path / "artifacts" / "Tuning" / done.path.name
    assert not (path / "artifact.json").exists() and (path / "keras_tuner" / "search" / "oracle.json").exists()
    assert calls == reference_calls[:fail_at]
    monkeypatch.undo()
    resumed_calls = []
    _count_trainings(monkeypatch, resumed_calls)
    resumed = Runner(tmp_path, verbose=False).run(tuning.SPEC, PARAMS)
    # Only what was not finished trains: the interrupted trial's remaining seeds, then the rest.
    assert resumed_calls == reference_calls[fail_at:]
    pd.testing.assert_frame_equal(pd.read_csv(resumed.path / "trials.csv"), pd.read_csv(done.path / "trials.csv"))
    assert read_json(resumed.path / "best.json") == read_json(done.path / "best.json")


def test_a_ticket_subject_needs_tickets(tmp_path):
    with pytest.raises(ConfigError, match="needs a tickets input"):
        Runner(tmp_path, verbose=False).run(tuning.SPEC, TuningParams(subject="rr"))
