"""The sanity study end to end on a tiny configuration (LeNet at width 0.1 on 1000 MNIST-1D samples,
two rates, one IMP/OMP level): the CLI run and its report, a rerun that reuses everything, an
interrupted run (inside the tuner and inside the sweep) that resumes to the same results, the
RR weights R_p reads, and bad input rejected before anything runs."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components import mask_search, sparse_training
from components.artifacts import Tickets, Trained
from components import weight_correlation as WC
from lth_tf.lottery import loop_trainer
from lth_tf import networks
from lth_tf.data import load_dataset
from lth_tf.io import read_json
from lth_tf.lottery import reinit_seed
from lth_tf.lottery.levels import kernels
from lth_tf.metrics import jackpot as J
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.training import train
from pipeline_stubs import main_in_process  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = ["DatasetHparams.num_samples = 1000", "ModelHparams.width = 0.1", "TrainingHparams.budget = '2ep'",
        "TrainingHparams.batch_size = 64", "TrainingHparams.milestones = ('1ep',)", "PruningHparams.levels = 1",
        "sanity.correlation_levels = (1,)", "sanity.learning_rates = (0.05, 0.2)", "sanity.seeds = (0,)",
        "TuningParams.max_trials = 2", "TuningParams.initial_points = 1",
        # More than the embedded default does: WR-IMP's own RR, the LT-OMP tickets exported.
        "sanity.rewind_rr = ('imp',)", "sanity.export_searches = ('lt_imp', 'lt_omp')"]
VARIANTS = {"dense", "lt_imp", "lt_omp", "lt_imp_rewind", "lt_omp_rewind", "rr_imp", "rr_omp", "rr_imp_rewind",
            "small_dense", "dense_well_trained", "dense_well_trained_2T", "tuning_trial"}
CONTRACT_COLUMNS = ["study", "variant", "seed", "level", "sparsity", "val_accuracy", "test_accuracy", "train_steps"]
PATH_COLUMNS = ["artifact"]


def _cli(output_dir, bindings=TINY):
    args = [sys.executable, "-m", "pipelines.run", "--config", "configs/sanity.gin", "--output_dir", str(output_dir),
            "--quiet"]
    for binding in bindings:
        args += ["--gin_bindings", binding]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The study run by pipelines.run's main() in this process (no interpreter start-up); the
    rerun below is the true CLI process."""
    out = tmp_path_factory.mktemp("sanity") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        assert _main(out) == 0
    return out


def _files(path):
    return {p.relative_to(path): p.stat().st_mtime_ns for p in sorted(Path(path).rglob("*")) if p.is_file()}


def test_cli_end_to_end(study):
    results = pd.read_csv(study / "results.csv")
    assert set(CONTRACT_COLUMNS + ["lr"]) <= set(results.columns)
    assert (results.study == "sanity").all() and set(results.variant) == VARIANTS
    sweep = results[results.variant.isin(VARIANTS - {"dense_well_trained", "dense_well_trained_2T", "tuning_trial"})]
    assert sorted(sweep.lr.unique()) == [0.05, 0.2]
    assert (sweep.groupby("lr").variant.nunique() == 9).all()  # every variant at every rate
    assert len(results[results.variant == "dense"]) == 2  # once per rate and seed (the copies are checked)
    assert np.allclose(results[results.level == 1].sparsity, 0.541, atol=1e-3)
    # Weight rewinding at 5% of T = 24 steps; RR trains the full T from step 0.
    assert set(results[results.variant.str.endswith("_rewind") & results.variant.str.startswith("lt")].rewind_step) == {1}
    assert set(results[results.variant.str.startswith("rr")].own_steps) == {24}
    assert len(results[results.variant == "tuning_trial"]) == 2

    verdicts = pd.read_csv(study / "verdicts.csv")
    assert sorted(verdicts.ticket) == ["lt_imp", "lt_imp_rewind", "lt_omp", "lt_omp_rewind"]
    assert set(verdicts.rr) == {"rr_imp", "rr_omp", "rr_imp_rewind"}  # WR-OMP shares LT-OMP's masks
    for _, row in verdicts.iterrows():
        failing = [c for c in J.CONDITIONS if not row[c]]
        assert row.jackpot == (not failing)
        named = (row.failing if isinstance(row.failing, str) else "").split("; ")
        assert [n[0] for n in named if n] == failing  # each failing condition named, in order

    corr = pd.read_csv(study / "correlation.csv")
    assert {"dense", "ticket", "rr"} <= set(corr.network)
    assert sorted(corr.p.unique()) == pytest.approx([0.1 * k for k in range(1, 10)])
    assert corr.R_p.between(0, 1).all()
    assert len(pd.read_csv(study / "trials.csv")) == 2

    report = (study / "report.md").read_text()
    for text in ("①", "⑤", "jackpot", "R_p", "keras-tuner", "Findings on this run", "| ticket |",
                 "shrink", "toward p", "*Clear gap*", "Plateau check of the dense network"):
        assert text in report, text
    pngs = sorted(p.name for p in study.glob("*.png"))
    assert {"accuracy_by_rate.png", "correlation_L01.png", "findings.png", "tuning.png"} <= set(pngs)
    assert all(name in report for name in pngs)
    assert all((study / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in pngs)
    # The LT tickets exported (sanity.export_searches); the tuner's project lives inside its artifact.
    assert len(list((study / "artifacts" / "MaskSearch").glob("*/level_01/saved_model/saved_model.pb"))) == 4
    assert list((study / "artifacts" / "Tuning").glob("*/keras_tuner/search/oracle.json"))


def test_rerun_reuses_everything(study):
    results = (study / "results.csv").read_bytes()
    before = _files(study / "artifacts")
    again = _cli(study)
    assert again.returncode == 0, again.stderr[-3000:]
    counts = re.search(r"(\d+) executed, (\d+) reused", again.stdout)
    assert counts and int(counts[1]) == 0 and int(counts[2]) > 20
    assert (study / "results.csv").read_bytes() == results
    assert _files(study / "artifacts") == before


class Interrupted(Exception):
    pass


def _main(output_dir, bindings=TINY):
    """pipelines.run's main() in this process; its exit code."""
    return main_in_process("configs/sanity.gin", output_dir, bindings)


def _crash_at(monkeypatch, count):
    """Makes the `count`-th training of this run (0-based, over MaskSearch and SparseTraining)
    raise Interrupted."""
    calls = []
    real = loop_trainer.train  # every training of MaskSearch and SparseTraining

    def spy(*args, **kwargs):
        if len(calls) == count:
            raise Interrupted(f"simulated crash at training {count}")
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(loop_trainer, "train", spy)
    return calls


def test_interrupted_run_resumes_to_the_same_results(study, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "run"
    # 1: inside the tuner (its second trial); 2: inside the sweep (the first search's ticket).
    for crash in (1, 5):
        with monkeypatch.context() as mp:
            _crash_at(mp, crash)
            with pytest.raises(Interrupted):
                _main(out)
    assert list((out / "artifacts" / "Tuning").glob("*/artifact.json"))  # the tuner finished on the second try
    assert _main(out) == 0
    resumed = pd.read_csv(out / "results.csv").drop(columns=PATH_COLUMNS)
    reference = pd.read_csv(study / "results.csv").drop(columns=PATH_COLUMNS)
    pd.testing.assert_frame_equal(resumed, reference)
    assert (out / "verdicts.csv").read_bytes() == (study / "verdicts.csv").read_bytes()


def test_rr_weights_for_rp_are_the_rr_networks_own(study):
    """θ'_0 is redrawn with SparseTraining's seed and θ'_T read from its unit: retraining the
    redrawn θ'_0 ⊙ m must give the stored θ'_T bit for bit."""
    units = sorted((study / "artifacts" / "SparseTraining").glob("*/rr/level_01/saved_model"))
    assert units
    unit = units[0].parent
    trained = read_json(unit.parents[1] / "artifact.json")
    tickets_path = unit.parents[4] / trained["inputs"]["tickets"]  # relative to the output directory
    search = Tickets.at(tickets_path).params
    ds = load_dataset(search.dataset)
    masks = M.load_masks(unit / "mask.npz")
    model = networks.build_network(search.model, ds.input_shape, ds.num_classes, search.seed, search.pruning.prunable())
    theta0, thetaT, _ = WC.rr_weights(Trained.at(unit.parents[1]), search, 1, model, ds)
    fresh = networks.build_network(search.model, ds.input_shape, ds.num_classes,
                                   reinit_seed(trained["parameters"]["seed"], 1), search.pruning.prunable())
    wrapping.set_masks(fresh, masks)
    assert all(np.array_equal(v, kernels(wrapping.get_state(fresh), fresh)[k]) for k, v in theta0.items())
    train(fresh, ds, search.training, seed=trained["parameters"]["seed"], start_step=0, verbose=False)
    again = kernels(wrapping.get_state(fresh), fresh)
    assert all(np.array_equal(again[k], thetaT[k]) for k in thetaT)
    assert not all(np.array_equal(theta0[k], thetaT[k]) for k in thetaT)


BAD_INPUT = [
    ("sanity.learning_rates = (0.1,)", "at least two rates"),
    ("sanity.learning_rates = (0.1, -0.01)", "positive"),
    ("CorrelationParams.ps = (0.5, 1.0)", "must be in (0, 1)"),
    ("TuningParams.max_trials = 0", "at least one trial"),
    ("VerdictRule.std_errors = 20.0", "VerdictRule.std_errors=20.0"),
    ("SanityReportParams.min_sparsity = 1.2", "min_sparsity=1.2"),
    ("sanity.rewind = '0%'", "sanity.rewind"),
    ("sanity.correlation_levels = (3,)", "sanity.correlation_levels"),
    ("DatasetHparams.val_fraction = 0.0", "validation split"),
]


@pytest.mark.parametrize("binding,expected", BAD_INPUT, ids=[b.split(" =")[0] + "-" + b[-6:] for b, _ in BAD_INPUT])
def test_bad_input_is_one_paragraph_before_anything_runs(tmp_path, monkeypatch, capsys, binding, expected):
    monkeypatch.chdir(REPO)
    code = _main(tmp_path / "out", TINY + [binding])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and expected in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "out" / "artifacts").glob("*/*"))
