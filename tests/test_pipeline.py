"""Components through the Runner on a tiny problem (LeNet at width 0.1 on 1000 MNIST-1D samples),
and the CLI end to end: IMP sparsity per level, rewinding, determinism, reuse, resume, bad input."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components import mask_search, sparse_training
from components.artifacts.tickets import layer_sparsity, level_dir, load_trained
from components.mask_search import MaskSearchParams
from lth_tf.lottery import loop_trainer
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.io import load_npz, read_json
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, train
from pipelines.runner import Runner
from pipeline_stubs import main_in_process  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LEVELS = 3
REWIND = 3  # late rewinding to iteration 3
# 720 training examples / 64 = 12 steps per epoch: 24 steps per level.
PARAMS = MaskSearchParams(DatasetHparams(num_samples=1000), ModelHparams("lenet_300_100", width=0.1),
                          TrainingHparams(budget="2ep", batch_size=64), PruningHparams(levels=LEVELS, rewind=f"{REWIND}it"),
                          seed=0)
CONTRACT_COLUMNS = ["study", "variant", "seed", "level", "sparsity", "val_accuracy", "test_accuracy", "train_steps"]


class Interrupted(Exception):
    pass


def _spy_on_training(monkeypatch, module, calls, fail_at_call=None):
    """Wraps `module.train` (lth_tf/lottery/loop_trainer.py: every study training) to record each
    call's starting weights, masks and start step (and to simulate a crash at call number `fail_at_call`)."""
    real = module.train

    def spy(model, ds, hp, **kwargs):
        if fail_at_call is not None and len(calls) == fail_at_call:
            raise Interrupted("simulated crash")
        calls.append({"start_step": kwargs.get("start_step", 0), "state": wrapping.get_state(model),
                      "masks": wrapping.get_masks(model)})
        return real(model, ds, hp, **kwargs)
    monkeypatch.setattr(module, "train", spy)


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """One IMP search, with the starting point of every level's training recorded."""
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        _spy_on_training(mp, loop_trainer, calls)
        root = tmp_path_factory.mktemp("search")
        artifact = Runner(root, verbose=False).run(mask_search.SPEC, PARAMS)
    assert len(calls) == LEVELS + 1
    return artifact, calls


def _files(path):
    return {p.relative_to(path): p for p in sorted(Path(path).rglob("*")) if p.is_file()}


def _same_level(a: Path, b: Path):
    level = int(a.name[len("level_"):])
    pairs = [(load_npz(a / n), load_npz(b / n), n) for n in (("mask.npz", "rewind.npz") if level == 0 else ("mask.npz",))]
    for x, y, name in pairs + [(load_trained(a.parent, level), load_trained(b.parent, level), "trained")]:
        assert set(x) == set(y)
        assert all(np.array_equal(x[k], y[k]) for k in x), (a, name)
    assert read_json(a / "metrics.json") == read_json(b / "metrics.json")


def test_imp_sparsity_is_one_minus_0_8_to_the_k(search):
    artifact, _ = search
    results = pd.read_csv(artifact.path / "results.csv")
    assert results["level"].tolist() == list(range(LEVELS + 1))
    assert results["variant"].tolist() == ["dense"] + ["lt_imp_rewind"] * LEVELS
    total = None
    for k in range(LEVELS + 1):
        unit = artifact.level_dir(k)
        masks = M.load_masks(unit / "mask.npz")
        total = sum(m.size for m in masks.values())
        kept = sum(int(m.sum()) for m in masks.values())
        assert kept == round(total * 0.8 ** k)
        assert abs((1 - kept / total) - (1 - 0.8 ** k)) <= 1 / total
        metrics = read_json(unit / "metrics.json")
        assert metrics["sparsity"] == pytest.approx(1 - kept / total, abs=1e-12)
        assert results.loc[k, "sparsity"] == pytest.approx(metrics["sparsity"])
        assert metrics["test_accuracy"] == pytest.approx(results.loc[k, "test_accuracy"])
        # The per-layer report is the mask's.
        report = layer_sparsity(unit.parent, k).set_index("layer")
        assert not (unit / "sparsity.csv").exists()  # derived from mask.npz, not stored
        for name, m in masks.items():
            assert report.loc[name, "weights"] == m.size and report.loc[name, "kept"] == int(m.sum())
            assert report.loc[name, "sparsity"] == pytest.approx(1 - m.mean())
        assert report.loc["total", "kept"] == kept
        assert report.loc["total", "sparsity"] == pytest.approx(metrics["sparsity"])
    # training steps: the dense run, then each level adds a retraining from the rewind point.
    assert results["train_steps"].tolist() == [24 + k * (24 - REWIND) for k in range(LEVELS + 1)]
    assert total == 40 * 30 + 30 * 10 + 10 * 10


def test_imp_prunes_the_smallest_trained_weights_of_the_previous_level(search):
    artifact, _ = search
    for k in range(1, LEVELS + 1):
        prev, unit = artifact.level_dir(k - 1), artifact.level_dir(k)
        prev_masks = M.load_masks(prev / "mask.npz")
        trained = artifact.trained(k - 1)
        kernels = {n: trained[f"{n}/kernel"] for n in prev_masks}
        alive = np.concatenate([np.abs(kernels[n])[prev_masks[n] > 0] for n in kernels])
        count = round(sum(m.size for m in prev_masks.values()) * 0.8 ** k)
        threshold = np.sort(alive)[::-1][count - 1]
        masks = M.load_masks(unit / "mask.npz")
        for n in masks:
            expected = (np.abs(kernels[n]) >= threshold) & (prev_masks[n] > 0)
            np.testing.assert_array_equal(masks[n], expected.astype(np.float32), err_msg=f"level {k} {n}")


def test_levels_start_from_the_rewind_weights(search):
    artifact, calls = search
    rewind = load_npz(artifact.level_dir(0) / "rewind.npz")
    init = calls[0]["state"]
    assert calls[0]["start_step"] == 0
    # Late rewinding: the rewind point is the dense run's weights at step 3, not the init.
    assert not np.array_equal(rewind["fc1/kernel"], init["fc1/kernel"])
    model = networks.build_network(PARAMS.model, (40, 1), 10, PARAMS.seed)
    assert all(np.array_equal(v, init[k]) for k, v in wrapping.get_state(model).items())
    train(model, load_dataset(PARAMS.dataset), PARAMS.training, seed=PARAMS.seed, end_step=REWIND, verbose=False)
    assert all(np.array_equal(v, rewind[k]) for k, v in wrapping.get_state(model).items())
    for k in range(1, LEVELS + 1):
        call, unit = calls[k], artifact.level_dir(k)
        masks = M.load_masks(unit / "mask.npz")
        assert call["start_step"] == REWIND
        assert M.matching(call["masks"], masks)
        assert set(call["state"]) == set(rewind)
        for key, value in rewind.items():
            layer, kind = key.split("/")
            expected = value * masks[layer] if kind == "kernel" else value
            assert np.array_equal(call["state"][key], expected), (k, key)
        assert not (unit / "rewind.npz").exists()  # stored once per search, in level_00/
        saved = artifact.load(k)["rewind"]
        assert all(np.array_equal(saved[key], rewind[key]) for key in rewind)
        trained = artifact.trained(k)
        for layer, m in masks.items():
            assert np.all(trained[f"{layer}/kernel"][m == 0] == 0.0)


def test_the_report_levels_are_exported_with_their_masks(search):
    import tf_keras as keras
    artifact, _ = search
    # 3 levels at 20%: sparsities 0, .2, .36, .488; the report's 0% -> level 0, the rest -> level 3.
    assert PARAMS.exported_levels() == (0, LEVELS)
    for k in range(LEVELS + 1):
        unit = artifact.level_dir(k)
        assert (unit / "saved_model").exists() == (k in (0, LEVELS))
        # The trained weights are stored once: in the SavedModel where there is one.
        assert (unit / "trained.npz").exists() == (k not in (0, LEVELS))
        if k not in (0, LEVELS):
            continue
        assert (unit / "saved_model" / "saved_model.pb").is_file()
        assert not (unit / "saved_model" / "manifest.json").exists()  # the unit's manifest lists its files
        loaded = keras.models.load_model(unit / "saved_model", compile=False)
        trained, masks = artifact.trained(k), M.load_masks(unit / "mask.npz")
        assert set(trained) == {v.name.split(":")[0] for v in loaded.weights}
        for layer, m in masks.items():
            kernel = loaded.get_layer(layer).kernel.numpy()
            np.testing.assert_array_equal(kernel, trained[f"{layer}/kernel"])
            assert np.all(kernel[m == 0] == 0.0) and int((kernel != 0).sum()) == int(m.sum())


def test_an_exported_level_reads_its_trained_weights_from_the_saved_model(search, tmp_path, monkeypatch):
    from lth_tf.io import UnreadableFile
    from lth_tf.training import evaluate
    artifact, _ = search
    ds = load_dataset(PARAMS.dataset)
    model = networks.build_network(PARAMS.model, ds.input_shape, ds.num_classes, PARAMS.seed, PARAMS.pruning.prunable())
    ticket = artifact.load(LEVELS)  # no trained.npz: the SavedModel's variables
    wrapping.set_masks(model, ticket["masks"])
    wrapping.set_state(model, ticket["trained"])
    assert evaluate(model, ds, ds.test)["accuracy"] == ticket["meta"]["test_accuracy"]  # the very network

    # A changed byte in the SavedModel's variables: a reader is told which file, and a rerun
    # recomputes that level only (the store's checksums cover the SavedModel's files).
    root = tmp_path / "copy"
    shutil.copytree(artifact.path.parents[2], root)
    path = root / artifact.path.relative_to(artifact.path.parents[2])
    data = level_dir(path, LEVELS) / "saved_model" / "variables" / "variables.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(UnreadableFile, match="saved_model/variables"):
        load_trained(path, LEVELS)
    calls = []
    _spy_on_training(monkeypatch, loop_trainer, calls)
    runner = Runner(root, verbose=False)
    assert runner.run(mask_search.SPEC, PARAMS).path == path and len(runner.executed) == 1
    assert len(calls) == 1 and sum(int(m.sum()) for m in calls[0]["masks"].values()) == round(1600 * 0.8 ** LEVELS)
    _same_level(artifact.level_dir(LEVELS), level_dir(path, LEVELS))


def test_same_seed_gives_identical_masks_and_metrics(search, tmp_path):
    artifact, _ = search
    again = Runner(tmp_path / "again", verbose=False).run(mask_search.SPEC, PARAMS)
    assert again.fingerprint == artifact.fingerprint and again.path != artifact.path
    for k in range(LEVELS + 1):
        _same_level(artifact.level_dir(k), again.level_dir(k))


def test_rerun_reuses_the_finished_artifact(search, monkeypatch):
    artifact, _ = search
    calls = []
    _spy_on_training(monkeypatch, loop_trainer, calls)
    before = {name: p.stat().st_mtime_ns for name, p in _files(artifact.path).items()}
    runner = Runner(artifact.path.parents[2], verbose=False)
    assert runner.run(mask_search.SPEC, PARAMS) == artifact
    assert calls == [] and runner.executed == [] and runner.reused == [artifact]
    assert {name: p.stat().st_mtime_ns for name, p in _files(artifact.path).items()} == before


def test_interrupted_search_resumes_at_the_first_unfinished_level(search, tmp_path, monkeypatch):
    artifact, _ = search
    calls = []
    _spy_on_training(monkeypatch, loop_trainer, calls, fail_at_call=2)  # crash when level 2 starts
    with pytest.raises(Interrupted):
        Runner(tmp_path, verbose=False).run(mask_search.SPEC, PARAMS)
    path = tmp_path / artifact.path.relative_to(artifact.path.parents[2])
    assert not (path / "artifact.json").exists()
    assert sorted(p.name for p in path.iterdir()) == ["level_00", "level_01"]  # no half-written unit
    finished = {name: p.stat().st_mtime_ns for name, p in _files(path).items()}

    monkeypatch.undo()
    calls = []
    _spy_on_training(monkeypatch, loop_trainer, calls)
    resumed = Runner(tmp_path, verbose=False).run(mask_search.SPEC, PARAMS)
    assert resumed.path == path and (path / "artifact.json").exists()
    # Only levels 2 and 3 were trained; the finished levels were not touched.
    assert [sum(int(m.sum()) for m in c["masks"].values()) for c in calls] == [round(1600 * 0.8 ** k) for k in (2, 3)]
    assert {n: t for n, t in ((n, p.stat().st_mtime_ns) for n, p in _files(path).items()) if n in finished} == finished
    for k in range(LEVELS + 1):
        _same_level(artifact.level_dir(k), level_dir(path, k))
    a, b = pd.read_csv(artifact.path / "results.csv"), pd.read_csv(path / "results.csv")
    pd.testing.assert_frame_equal(a.drop(columns="artifact"), b.drop(columns="artifact"))


def test_sparse_training_variants(search, tmp_path, monkeypatch):
    artifact, _ = search
    calls = []
    _spy_on_training(monkeypatch, loop_trainer, calls)
    variants = ("lt", "rr", "random_mask", "permuted_mask", "small_dense")
    params = sparse_training.SparseTrainingParams(baselines=variants, levels=(2,), export=False)
    trained = Runner(tmp_path, verbose=False).run(sparse_training.SPEC, params, tickets=artifact)
    rows = pd.read_csv(trained.path / "results.csv").set_index("variant")
    assert sorted(rows.index) == sorted(["lt_imp_rewind", "rr_imp_rewind", "random_mask_rewind",
                                         "permuted_mask_rewind", "small_dense_rewind"])
    start = dict(zip(variants, calls))
    ticket = artifact.level_dir(2)
    masks, rewind = M.load_masks(ticket / "mask.npz"), artifact.load(2)["rewind"]
    meta = read_json(ticket / "metrics.json")

    # lt with the search's recipe and seed retrains the ticket exactly as the search did.
    assert rows.loc["lt_imp_rewind", "test_accuracy"] == meta["test_accuracy"]
    assert rows.loc["lt_imp_rewind", "train_steps"] == meta["train_steps"]
    # rr: the ticket's mask on other initial weights, trained the full budget T from step 0 even
    # though the ticket is rewound to step 3 (002 condition 3), so it costs REWIND steps more.
    assert M.matching(start["rr"]["masks"], masks)
    assert start["rr"]["start_step"] == 0 and start["lt"]["start_step"] == REWIND
    assert rows.loc["rr_imp_rewind", "own_steps"] == rows.loc["lt_imp_rewind", "own_steps"] + REWIND
    assert not np.array_equal(start["rr"]["state"]["fc1/kernel"], rewind["fc1/kernel"] * masks["fc1"])
    # random_mask: same overall density, other positions, the rewind weights on its kept positions.
    rm = start["random_mask"]["masks"]
    assert sum(int(m.sum()) for m in rm.values()) == sum(int(m.sum()) for m in masks.values())
    assert M.hamming_distance(rm, masks) > 0.05
    assert np.array_equal(start["random_mask"]["state"]["fc1/kernel"], rewind["fc1/kernel"] * rm["fc1"])
    # permuted_mask: same count in every layer.
    pm = start["permuted_mask"]["masks"]
    assert all(int(pm[n].sum()) == int(masks[n].sum()) for n in masks) and not M.matching(pm, masks)
    for variant in ("rr_imp_rewind", "random_mask_rewind", "permuted_mask_rewind"):
        assert rows.loc[variant, "sparsity"] == pytest.approx(meta["sparsity"])
    # small_dense: a dense, narrower network with about the ticket's parameter count, from step 0.
    assert all(np.all(m == 1) for m in start["small_dense"]["masks"].values())
    assert start["small_dense"]["start_step"] == 0
    assert abs(rows.loc["small_dense_rewind", "parameters"] - meta["parameters"]) < 0.1 * meta["parameters"]


# ---------------------------------------------------------------------------------------------
# The CLI: end to end on a tiny config, rerun, bad input.

# A tiny stability study: one configuration (momentum 0.9, batch 128, rewind 1ep), 2 IMP levels,
# its rr baseline, no extra analyses. These bindings follow pipelines/stability.py's parameters.
CONFIG = "mu0.9_bs128_rw1ep"
TINY = ["DatasetHparams.num_samples = 1000", "ModelHparams.width = 0.1", "TrainingHparams.budget = '2ep'",
        "PruningHparams.levels = 2", "stability.seeds = (0,)", "stability.momenta = (0.9,)",
        "stability.batch_sizes = (128,)", "stability.rewind_points = ('1ep',)", "stability.baselines = ('rr',)",
        f"stability.baseline_configs = ('{CONFIG}',)", "stability.baseline_levels = (1, 2)",
        "stability.instability = False", "stability.dynamics = False", "stability.rewind_search_configs = ()",
        "stability.probe_configs = ()", "stability.few_shot_configs = ()", "stability.transfer_configs = ()",
        "stability.aimp_configs = ()", "stability.disentangle = ()", "stability.aimp_levels = ()",
        "stability.disentangle_levels = ()", "InstabilityParams.levels = ()", "ProbingParams.levels = ()",
        "FewShotParams.levels = ()"]


def _cli(output_dir, bindings=TINY):
    args = [sys.executable, "-m", "pipelines.run", "--config", "configs/stability.gin", "--output_dir",
            str(output_dir), "--quiet"]
    for binding in bindings:
        args += ["--gin_bindings", binding]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_cli_end_to_end_and_rerun(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    first = _cli(out)
    assert first.returncode == 0, first.stderr[-3000:]
    results = pd.read_csv(out / "results.csv")
    assert set(CONTRACT_COLUMNS) <= set(results.columns)
    assert (results["study"] == "stability").all() and (results["seed"] == 0).all()
    assert results[["val_accuracy", "test_accuracy"]].notna().all().all()
    assert results[results.level == 0]["sparsity"].eq(0).all()
    variants = set(results["variant"])
    assert "dense" in variants and any(v.startswith("lt_imp") for v in variants) and any("rr" in v for v in variants)
    for level in (1, 2):  # the ticket and its rr baseline at each level
        rows = results[results.level == level]
        assert len(rows) >= 2 and any("rr" in v for v in rows["variant"])
        assert np.allclose(rows["sparsity"], 1 - 0.8 ** level, atol=1 / 1600)
    report = (out / "report.md").read_text()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs and any(name in report for name in pngs) and "| level" in report
    assert all((out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in pngs)
    assert "TrainingHparams.budget = '2ep'" in (out / "operative_config.gin").read_text()
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))
    # Per-epoch lines go to log.txt, not to the console (without --verbose).
    assert "] epoch 1 step" in (out / "log.txt").read_text() and "] epoch" not in first.stdout + first.stderr
    searches = list((out / "artifacts" / "MaskSearch").iterdir())
    assert len(searches) == 1
    for level in range(3):  # exported: the levels the report shows (0, and 2 nearest the sparse columns)
        unit = level_dir(searches[0], level)
        assert (unit / "saved_model" / "saved_model.pb").is_file() == (level != 1) and (unit / "mask.npz").is_file()
    baselines = sorted((out / "artifacts" / "SparseTraining").glob("*/rr/level_*"))
    assert [u.name for u in baselines] == ["level_01", "level_02"]
    for unit in baselines:  # weights kept, no SavedModel unless SparseTrainingParams.export
        assert (unit / "trained.npz").is_file() and (unit / "mask.npz").is_file()
        assert not (unit / "saved_model").exists()

    before = {name: p.stat().st_mtime_ns for name, p in _files(out / "artifacts").items()}
    results_bytes = (out / "results.csv").read_bytes()
    # The rerun in this process (the first run above is the true CLI process: exit code, console).
    monkeypatch.chdir(REPO)
    assert main_in_process("configs/stability.gin", out, TINY) == 0
    reused = re.search(r"(\d+) executed, (\d+) reused", capsys.readouterr().out)
    assert reused and int(reused[1]) == 0 and int(reused[2]) >= 3  # MaskSearch, SparseTraining, report
    assert (out / "results.csv").read_bytes() == results_bytes
    assert {name: p.stat().st_mtime_ns for name, p in _files(out / "artifacts").items()} == before


@pytest.fixture
def cli_in_process(tmp_path, monkeypatch, capsys):
    """pipelines.run's main() in this process (cheap), returning (exit code, stderr)."""
    monkeypatch.chdir(REPO)

    def call(*bindings, config="configs/stability.gin"):
        code = main_in_process(config, tmp_path / "out", TINY + list(bindings))
        return code, capsys.readouterr().err
    return call


BAD_INPUT = [
    ("DatasetHparams.name = 'mnist_2d'", ["Unknown dataset 'mnist_2d'", "mnist1d", "digits", "cifar10"]),
    ("ModelHparams.name = 'resnet21'", ["Unknown model 'resnet21'", "lenet_300_100", "resnet20"]),
    ("PruningHparams.method = 'magnitude'", ["Unknown pruning method 'magnitude'", "grasp, imp, omp, random, snip, synflow"]),
    ("PruningHparams.fraction = 1.5", ["PruningHparams.fraction=1.5", "out of range", "(0, 1)"]),
    ("TrainingHparams.lrr = 0.1", ["TrainingHparams has no parameter 'lrr'", "Did you mean 'lr'?", "budget, batch_size"]),
    ("NoSuchThing.value = 1", ["Unknown configurable 'NoSuchThing'", "TrainingHparams"]),
    ("TrainingHparam.lr = 0.1", ["Unknown configurable 'TrainingHparam'", "Did you mean 'TrainingHparams'?"]),
    ("TrainingHparams.lr = 'abc'", ["TrainingHparams.lr = 'abc'", "type float", "not the string 'abc'"]),
    ("TrainingHparams.lr = [0.1]", ["TrainingHparams.lr = [0.1]", "type float", "not the list [0.1]"]),
    ("PruningHparams.levels = '3'", ["PruningHparams.levels = '3'", "type int", "not the string '3'"]),
    ("PruningHparams.levels = 2.5", ["PruningHparams.levels = 2.5", "type int", "not the number 2.5"]),
    ("TrainingHparams.batch_size = 12.5", ["TrainingHparams.batch_size = 12.5", "type int"]),
    ("stability.rewind_points = ('5ep',)\nstability.baseline_configs = ()",
     ["stability.rewind_points has '5ep'", "exceeds the training budget"]),
]


@pytest.mark.parametrize("binding,expected", BAD_INPUT, ids=[b.split(" =")[0] for b, _ in BAD_INPUT])
def test_bad_input_exits_nonzero_with_a_message(cli_in_process, tmp_path, binding, expected):
    code, err = cli_in_process(binding)
    assert code not in (0, None)
    assert err.startswith("error: ")
    for text in expected:
        assert text in err, (text, err)
    assert "Traceback" not in err and "In call to configurable" not in err
    artifacts = tmp_path / "out" / "artifacts"
    assert not list(artifacts.glob("*/*"))  # no artifact directory, finished or not
    assert not (tmp_path / "out" / "results.csv").exists()
    assert code == 2 and not (tmp_path / "out").exists()  # refused before any work: no output directory


def test_stray_positional_bindings_are_an_error_before_anything_runs(tmp_path, monkeypatch, capsys):
    """`--gin_bindings A B`: absl keeps A and leaves B as a positional argument; it must not be
    dropped silently. Parsed as app.run parses the command line, then main(), in this process."""
    from absl import flags
    from pipelines import run
    monkeypatch.chdir(REPO)
    out = tmp_path / "out"
    argv = ["run", "--config", "configs/stability.gin", "--output_dir", str(out),
            "--gin_bindings", "TrainingHparams.lr = 0.05", "PruningHparams.levels = 300"]
    flags.FLAGS.unparse_flags()
    try:
        with pytest.raises(SystemExit) as exited:
            run.main(flags.FLAGS(argv))
    finally:
        flags.FLAGS.unparse_flags()
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "'PruningHparams.levels = 300'" in err and "one --gin_bindings per binding" in err
    assert "Traceback" not in err
    assert not out.exists()  # nothing ran, nothing was written


def test_missing_config_lists_known_configs(cli_in_process):
    code, err = cli_in_process(config="configs/no_such_study.gin")
    assert code not in (0, None)
    assert "no_such_study.gin" in err and "configs/stability.gin" in err


def test_expected_sparsity_formula_is_what_levels_promise():
    hp = PruningHparams(fraction=0.2)
    assert [hp.density(k) for k in range(4)] == pytest.approx([1, 0.8, 0.64, 0.512])
    assert math.isclose(1 - hp.density(10), 1 - 0.8 ** 10)
