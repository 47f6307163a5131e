"""The `lth-tf` console script (pipelines/cli.py): help without TensorFlow from any directory,
study names resolved from the shipped configs, --print_config, a tiny run, ls, compare, gc,
export, and bad input (exit 2 with a one-paragraph message)."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import configs
from pipelines import cli, run_dirs

REPO = Path(__file__).resolve().parents[1]

# configs/smoke.gin cut down to one IMP level, its rr baseline and no other analysis (seconds).
TINY = ["DatasetHparams.num_samples = 1000", "ModelHparams.width = 0.1", "PruningHparams.levels = 1",
        "stability.baselines = ('rr',)", "stability.baseline_levels = (1,)", "stability.instability = False",
        "stability.dynamics = False", "stability.rewind_search_configs = ()", "stability.probe_configs = ()",
        "stability.few_shot_configs = ()", "stability.transfer_configs = ()", "stability.aimp_configs = ()",
        "stability.aimp_levels = ()", "InstabilityParams.levels = ()", "ProbingParams.levels = ()",
        "FewShotParams.levels = ()", "TransferParams.levels = ()"]


def _bindings(bindings):
    return [arg for b in bindings for arg in ("--gin_bindings", b)]


def _cli_subprocess(code: str, cwd):
    """Python `code` in a fresh interpreter started in `cwd` with this checkout importable (as an
    installed lth-tf is), TensorFlow's log level left to lth-tf."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_help_from_another_directory_does_not_import_tensorflow(tmp_path):
    done = _cli_subprocess(
        "import sys\nfrom pipelines import cli\n"
        "for argv in (['--help'], ['run', '--help']):\n"
        "    try:\n        cli.main(argv)\n    except SystemExit as e:\n        assert e.code == 0, e.code\n"
        "print('tensorflow imported:', 'tensorflow' in sys.modules)", tmp_path)
    assert done.returncode == 0, done.stderr
    for command in ("run", "ls", "compare", "gc", "export", "--print_config", "--gin_bindings"):
        assert command in done.stdout
    assert "tensorflow imported: False" in done.stdout
    assert done.stderr == ""


def test_unknown_study_is_an_error_before_tensorflow_loads(tmp_path):
    done = _cli_subprocess("import sys\nfrom pipelines import cli\ncode = cli.main(['run', 'stabilty'])\n"
                           "print('tensorflow imported:', 'tensorflow' in sys.modules)\nsys.exit(code)", tmp_path)
    assert done.returncode == 2
    assert "tensorflow imported: False" in done.stdout
    err = done.stderr
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "'stabilty'" in err and "configs/stability.gin" in err and "configs/smoke.gin" in err


def test_study_names_resolve_to_the_shipped_configs_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("stability", "stability.gin", "configs/stability.gin"):
        assert configs.resolve(name) == configs.DIR / "stability.gin"
    assert {"stability", "smoke", "data_diet", "prac", "sanity"} <= set(configs.names())
    own = tmp_path / "stability.gin"  # a file of the user's own wins over the shipped study
    own.write_text("run_pipeline.pipeline = @stability\n")
    assert configs.resolve("stability.gin") == Path("stability.gin")
    with pytest.raises(lth_tf.ConfigError, match="neither a file nor a study"):
        configs.resolve("elsewhere/smoke.gin")  # a path is a path: not silently the shipped study


def test_print_config_shows_every_value_the_study_uses_and_trains_nothing(tmp_path):
    """From another directory, in a fresh process: TensorFlow's start-up lines silenced too."""
    done = _cli_subprocess("import sys\nfrom pipelines import cli\nsys.exit(cli.main(['run', 'smoke', "
                           "'--print_config', '--gin_bindings', 'PruningHparams.levels = 4']))", tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "PruningHparams.levels = 4" in out  # the binding
    assert "TrainingHparams.budget = '2ep'" in out and "stability.rewind_points = ('5it',)" in out  # smoke.gin
    assert "DatasetHparams.val_fraction = 0.1" in out  # a default nobody bound
    assert "InstabilityParams.bn_batches = 2" in out
    # the grid sets the batch size: shown as the study's, not as an unused default
    assert "# TrainingHparams.batch_size: set by the study from stability.batch_sizes" in out
    assert "\nTrainingHparams.batch_size = " not in out
    assert not list(tmp_path.iterdir())  # nothing written, nothing trained
    assert done.stderr == ""  # no "All log messages before absl::InitializeLog()", no cudart lines


def test_print_config_reports_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", "smoke", "--print_config", "--gin_bindings", "FewShotParams.levels = (9,)"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "FewShotParams.levels has levels [9]" in err
    assert "Traceback" not in err and "In call to configurable" not in err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """`lth-tf run smoke` (cut down to seconds) from an empty directory: output in runs/smoke/."""
    cwd = tmp_path_factory.mktemp("cwd")
    import gin
    gin.clear_config()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        with pytest.raises(SystemExit) as done:
            cli.main(["run", "smoke", "--quiet"] + _bindings(TINY))
    gin.clear_config()
    assert done.value.code in (0, None)
    return cwd / "runs" / "smoke"


def test_run_writes_the_study_and_what_it_executed(finished_run):
    results = pd.read_csv(finished_run / "results.csv")
    assert set(results["level"]) == {0, 1} and (results["study"] == "stability").all()
    listed = json.loads((finished_run / "executions.json").read_text())["executions"]
    finished = sorted(p.parent.relative_to(finished_run).as_posix()
                      for p in finished_run.glob("artifacts/*/*/artifact.json"))
    assert sorted(e["path"] for e in listed) == finished  # relative paths, every artifact once
    components = {e["component"] for e in listed}
    assert {"MaskSearch", "SparseTraining", "StabilityReport"} <= components
    for e in listed:
        meta = json.loads((finished_run / e["path"] / "artifact.json").read_text())
        assert meta["fingerprint"] == e["fingerprint"]
    # The grid sets batch size and momentum: the operative config says so instead of the unused default.
    operative = (finished_run / "operative_config.gin").read_text()
    assert "# TrainingHparams.batch_size: set by the study from stability.batch_sizes" in operative
    assert "\nTrainingHparams.batch_size = " not in operative and "\nTrainingHparams.lr = 0.2" in operative


def test_a_moved_run_is_reused_whole_and_its_outputs_hold_no_absolute_path(finished_run, tmp_path, capsys):
    moved = tmp_path / "moved"
    shutil.copytree(finished_run, moved, symlinks=True)
    import gin
    gin.clear_config()
    with pytest.raises(SystemExit) as done:
        cli.main(["run", "smoke", "--quiet", "--output_dir", str(moved)] + _bindings(TINY))
    gin.clear_config()
    assert done.value.code in (0, None) and ": 0 executed" in capsys.readouterr().out  # reused whole
    for path in moved.rglob("*"):  # every table, report and record; log.txt says where it ran
        if path.suffix in (".csv", ".md", ".json", ".gin", ".txt") and path.name != "log.txt":
            text = path.read_text()
            assert str(finished_run) not in text and str(moved) not in text, path
    artifacts = pd.read_csv(moved / "results.csv")["artifact"].dropna()
    assert len(artifacts) and not any(Path(a).is_absolute() for a in artifacts)
    assert all((moved / a / "metrics.json").is_file() for a in artifacts)  # relative to the output directory


def test_ls_lists_runs_and_their_executions(finished_run, capsys):
    stale = finished_run / "artifacts" / "MaskSearch" / "0123456789abcdef"
    (stale / "level_00").mkdir(parents=True)  # an interrupted search: one finished unit, no artifact.json
    try:
        assert cli.main(["ls", str(finished_run.parent)]) == 0
        out = capsys.readouterr().out
    finally:
        run_dirs.remove([stale])
    lines = out.splitlines()
    assert lines[0].startswith(str(finished_run)) and "executions.json" in lines[0]
    search_lines = [line for line in lines if line.split()[:1] == ["MaskSearch"]]
    assert len(search_lines) == 2
    partial, = [line for line in search_lines if "0123456789abcdef" in line]
    assert "partial (1 units)" in partial and "unused" in partial
    finished, = [line for line in search_lines if line is not partial]
    assert "finished" in finished and "in use" in finished
    assert any(line.split()[:1] == ["StabilityReport"] for line in lines)


def test_compare_a_run_with_itself(finished_run, capsys):
    assert cli.main(["compare", str(finished_run), str(finished_run / "results.csv"), "--metrics",
                     "test_accuracy", "--table"]) == 0
    out = capsys.readouterr().out
    rows = len(pd.read_csv(finished_run / "results.csv"))
    assert f"{rows} rows in both, 0 in A only, 0 in B only" in out
    assert "test_accuracy_A" in out and "test_accuracy_diff" in out and "val_accuracy_A" not in out
    assert cli.main(["compare", str(finished_run), str(finished_run)]) == 0  # the default: a summary
    out = capsys.readouterr().out
    assert f"No differences: the same {rows} rows, and every compared metric is equal" in out
    assert "test_accuracy_A" not in out


def test_compare_summarizes_what_differs_by_how_much(tmp_path, capsys):
    a = pd.DataFrame({"study": "s", "variant": ["dense", "lt", "lt", "lt"], "seed": 0, "level": [0, 1, 2, 3],
                      "test_accuracy": [0.90, 0.80, 0.70, 0.60], "train_steps": 24, "note": ""})
    b = a.iloc[:3].assign(test_accuracy=[0.90, 0.85, 0.68])  # level 3 missing, two accuracies moved
    for name, frame in (("a.csv", a), ("b.csv", b)):
        frame.to_csv(tmp_path / name, index=False)
    assert cli.main(["compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3] == "test_accuracy: differs in 2 of 3 rows; B - A from -0.02 to +0.05 (mean +0.015)"
    assert lines[4] == "  variant=lt, level=1: 0.8 -> 0.85 (+0.05)"  # largest first; constant keys left out
    assert lines[5] == "  variant=lt, level=2: 0.7 -> 0.68 (-0.02)"
    assert lines[6:] == ["Rows in A only: 1", "  variant=lt, level=3", "Equal in all 3 matched rows: train_steps."]
    assert cli.main(["compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--table"]) == 0
    assert "test_accuracy_diff" in capsys.readouterr().out


def test_compare_joins_on_identifying_columns_and_subtracts():
    a = pd.DataFrame({"variant": ["dense", "lt"], "seed": [0, 0], "level": [0, 1], "test_accuracy": [0.5, 0.6],
                      "flagged": [False, True], "artifact": ["/a/0", "/a/1"]})
    b = pd.DataFrame({"variant": ["dense", "lt", "lt"], "seed": [0, 0, 0], "level": [0, 1, 2],
                      "test_accuracy": [0.55, 0.5, 0.4], "flagged": [False, False, True],
                      "artifact": ["/b/0", "/b/1", "/b/2"]})
    table, unshared, matched = run_dirs.compare(a, b)
    assert matched == {"both": 2, "A": 0, "B": 1} and unshared == []
    assert list(table.columns[:3]) == ["variant", "seed", "level"]  # the artifact path is no key
    assert table["test_accuracy_diff"].tolist()[:2] == pytest.approx([0.05, -0.1])
    assert table["flagged_diff"].tolist()[:2] == [0.0, -1.0]
    assert pd.isna(table["test_accuracy_A"][2]) and table["test_accuracy_B"][2] == 0.4
    with pytest.raises(lth_tf.ConfigError, match="different columns.*--on"):
        run_dirs.compare(a, b.assign(config="x"))
    table, _, matched = run_dirs.compare(a, b.assign(config="x"), on=["variant", "seed", "level"])
    assert matched["both"] == 2


def test_gc_removes_only_what_the_study_does_not_reference(finished_run, capsys):
    stale = finished_run / "artifacts" / "SparseTraining" / "fedcba9876543210"
    stale.mkdir(parents=True)
    (stale / "trained.npz").write_bytes(b"x" * 1000)
    kept = sorted(p for p in finished_run.glob("artifacts/*/*"))
    assert cli.main(["gc", str(finished_run), "--dry_run"]) == 0
    assert stale.exists() and "would free 1000 bytes" in capsys.readouterr().out
    assert cli.main(["gc", str(finished_run.parent)]) == 0
    out = capsys.readouterr().out
    assert "freed 1000 bytes" in out and str(stale) in out
    assert sorted(finished_run.glob("artifacts/*/*")) == [p for p in kept if p != stale]


def _stale(run, component, name, size=1000):
    path = run / "artifacts" / component / name
    path.mkdir(parents=True)
    (path / "trained.npz").write_bytes(b"x" * size)
    return path


def test_gc_leaves_alone_what_a_live_run_holds(finished_run, capsys):
    from lth_tf.io import file_lock
    from pipelines.runner import Runner
    stale, computing = (_stale(finished_run, "MaskSearch", name) for name in ("0123456789abcdef", "fedcba9876543210"))
    try:
        with file_lock(finished_run / ".locks" / "study.lock", shared=True):  # a study runs there (its use unknown)
            assert cli.main(["gc", str(finished_run.parent)]) == 0
        out = capsys.readouterr().out
        assert stale.is_dir() and computing.is_dir() and "removed" not in out
        assert f"skipped {finished_run}: a study is running there" in out and "freed 0 bytes" in out
        with file_lock(Runner._lock_path(computing)):  # an execution computes (e.g. a Ray worker's)
            assert cli.main(["gc", str(finished_run)]) == 0
        out = capsys.readouterr().out
        assert not stale.exists() and f"removed {stale} (1000 B)" in out and "freed 1000 bytes" in out
        assert computing.is_dir() and f"skipped {computing}: an execution running now holds it" in out
    finally:
        run_dirs.remove([p for p in (stale, computing) if p.exists()])


def test_a_study_holds_the_study_lock_until_it_ends(tmp_path):
    import store_stubs
    seen = []

    def study(runner):
        with run_dirs.study_lock(tmp_path, blocking=False, shared=False) as gc_could_run:
            seen.append(gc_could_run)
        return runner.run(store_stubs.SPEC, store_stubs.CountParams(value=1))
    from pipelines.runner import Runner
    Runner(tmp_path, verbose=False).study(study)
    assert seen and not any(seen)
    with run_dirs.study_lock(tmp_path, blocking=False, shared=False) as held:
        assert held  # released at the end


def test_gc_never_follows_links_out_of_the_output_directory(finished_run, tmp_path, capsys):
    outside = tmp_path / "outside"
    for name in ("component", "artifact"):
        (outside / name / "0123456789abcdef").mkdir(parents=True)
        (outside / name / "0123456789abcdef" / "precious.txt").write_text("keep me")
    linked_component = finished_run / "artifacts" / "Linked"
    linked_artifact = finished_run / "artifacts" / "MaskSearch" / "fedcba9876543210"
    linked_component.symlink_to(outside / "component")
    linked_artifact.symlink_to(outside / "artifact" / "0123456789abcdef")
    try:
        assert cli.main(["gc", str(finished_run)]) == 0
        out = capsys.readouterr().out
    finally:
        linked_component.unlink()
        linked_artifact.unlink()
    assert sorted(p.name for p in outside.rglob("precious.txt")) == ["precious.txt"] * 2
    assert "removed" not in out and "freed 0 bytes" in out
    for link in (linked_component / "0123456789abcdef", linked_artifact):
        assert f"skipped {link}: a symbolic link" in out


def test_gc_refuses_without_executions_json(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "artifacts" / "MaskSearch" / "0123456789abcdef").mkdir(parents=True)
    (run / "config.gin").write_text("")
    assert cli.main(["gc", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no executions.json" in err and "nothing was removed" in err
    assert (run / "artifacts" / "MaskSearch" / "0123456789abcdef").is_dir()


@pytest.mark.parametrize("argv,expected", [
    (["ls", "no_such_runs"], "No runs directory 'no_such_runs'"),
    (["compare", "no_such_run", "no_such_run"], "No run directory 'no_such_run'"),
    (["compare", ".", "."], "has no results.csv"),
    (["export", "no_such_run", "--level", "1"], "No run directory 'no_such_run'"),
])
def test_bad_input_is_one_paragraph_and_exit_2(argv, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1


def test_run_passes_pipelines_run_checks_on_and_rejects_unknown_flags(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:  # `--gin_bindings A B`: B is not silently dropped
        cli.main(["run", "smoke", "--gin_bindings", "TrainingHparams.lr = 0.05", "PruningHparams.levels = 300"])
    assert done.value.code == 2 and "one --gin_bindings per binding" in capsys.readouterr().err
    assert cli.main(["run", "smoke", "--outptu_dir", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Unknown flag --outptu_dir") and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_export_writes_the_ticket(finished_run, tmp_path, capsys):
    out = tmp_path / "ticket"  # a directory: the model and its ticket.json
    assert cli.main(["export", str(finished_run), "--level", "1", "--format", "keras", "--out", str(out)]) == 0
    written = Path(capsys.readouterr().out.strip().rsplit(": ", 1)[1])  # the path export_from_run returned
    assert written.exists() and tmp_path in (written, *written.parents)
    import tf_keras as keras
    model = keras.models.load_model(written)
    assert model.input_names == ["inputs"]  # the fixed input name of every exported ticket
