"""The store: plan before execute, damage detection, relative paths, locks, orphans, labels."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import dataclasses
import json
import logging
import multiprocessing
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import store_stubs
from lth_tf import provenance
from lth_tf.errors import ConfigError
from lth_tf.io import UnreadableFile, file_lock, read_json, unit_is_complete
from pipelines.runner import Runner


def _study(runner, counter, **kwargs):
    return runner.study(store_stubs.count_study, counter=str(counter), **kwargs)


def _lines(counter) -> list:
    return Path(counter).read_text().splitlines() if Path(counter).exists() else []


def test_plan_records_everything_and_computes_nothing(tmp_path):
    counter = tmp_path / "count.txt"
    runner = Runner(tmp_path / "out", verbose=False)
    plan = runner.plan(store_stubs.count_study, counter=str(counter))
    assert plan.complete and [e.spec.name for e in plan.executions] == ["Count", "Count"]
    first, second = plan.executions
    assert second.depends_on == (first.fingerprint,) and first.depends_on == ()
    assert [e.fingerprint for e in plan.pending] == [first.fingerprint, second.fingerprint]
    assert not (tmp_path / "out").exists() and not counter.exists()
    # Self-contained: another executor can ship an execution to a worker.
    assert pickle.loads(pickle.dumps(second)).fingerprint == second.fingerprint
    # Readable layout: the params' label beside the fingerprint; tensorboard runs by label.
    assert first.path == tmp_path / "out" / "artifacts" / "Count" / f"v1-seed0-{first.fingerprint[:8]}"
    assert first.tensorboard_dir == tmp_path / "out" / "tensorboard" / "v1" / "seed0" / "Count"

    runner.execute(plan)
    assert _lines(counter) == ["execution 1", "unit 1 0", "unit 1 1", "unit 1 2",
                               "execution 2", "unit 2 0", "unit 2 1", "unit 2 2"]
    assert read_json(second.path / "total.json")["total"] == 3 + 6
    meta = read_json(second.path / "artifact.json")
    assert meta["inputs"] == {"source": f"artifacts/Count/{first.path.name}"}  # relative
    assert meta["wall_time_s"] >= 0 and meta["provenance"]["python"] == provenance.collect()["python"]
    assert set(meta["files"]) == {"total.json", *(f"unit_{k}/{n}" for k in range(3)
                                                  for n in ("data.txt", "metrics.json", "manifest.json"))}


def test_every_check_runs_before_the_first_execution(tmp_path):
    counter = tmp_path / "count.txt"
    for values, message in (((1, -1), "checked while planning"),):  # the spec's validate hook, 2nd execution
        with pytest.raises(ConfigError, match=message):
            _study(Runner(tmp_path / "out", verbose=False), counter, values=values)
    with pytest.raises(ConfigError, match="units=0"):  # the params' own check
        _study(Runner(tmp_path / "out", verbose=False), counter, units=0)
    assert not counter.exists() and not (tmp_path / "out" / "artifacts").exists()


def test_late_checked_study_settings_fail_before_the_first_execution(tmp_path, monkeypatch, capsys):
    """data_diet builds the LabelNoise params after its baseline searches in the
    pipeline function; planning reaches that check before anything runs: no execution, no
    config.gin, one paragraph."""
    from pipeline_stubs import main_in_process
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    out = tmp_path / "out"
    code = main_in_process("configs/data_diet.gin", out, ["data_diet.label_noise = (1.5,)"])
    assert code == 2 and "LabelNoiseParams.noise=1.5" in capsys.readouterr().err
    assert not (out / "config.gin").exists() and not list(out.glob("artifacts/*/*"))


def test_damaged_files_are_recomputed_with_one_warning(tmp_path, caplog):
    counter = tmp_path / "count.txt"
    out = tmp_path / "out"
    last = _study(Runner(out, verbose=False), counter)
    first_dir = next(p for p in (out / "artifacts" / "Count").iterdir() if p.name.startswith("v1-"))
    total = read_json(last.path / "total.json")
    counter.unlink()

    data = first_dir / "unit_1" / "data.txt"
    data.write_text(data.read_text()[:10])  # truncated
    with caplog.at_level(logging.WARNING, logger="lth_tf"):
        runner = Runner(out, verbose=False)
        _study(runner, counter)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(data) in warnings[0]
    assert _lines(counter) == ["execution 1", "unit 1 1"]  # only the damaged unit, then reuse
    assert len(runner.executed) == 1 and len(runner.reused) == 1
    assert read_json(last.path / "total.json") == total

    for damage in ("flip", "invalid_json", "deleted_unit"):
        counter.unlink()
        unit = first_dir / "unit_2"
        if damage == "flip":  # same size, other bytes: caught by the checksum
            text = (unit / "data.txt").read_text()
            (unit / "data.txt").write_text(text[:-1] + ("x" if text[-1] != "x" else "y"))
        elif damage == "invalid_json":
            (first_dir / "artifact.json").write_text("{not json")
        else:
            shutil.rmtree(unit)
        _study(Runner(out, verbose=False), counter)
        expected = ["execution 1"] + (["unit 1 2"] if damage != "invalid_json" else [])
        if damage == "flip":  # v1's unit_2 data.txt ("2" * 50) is v2's unit_1's (a hard link): both are damaged
            expected += ["execution 2", "unit 2 1"]
        assert _lines(counter) == expected, damage
        assert read_json(last.path / "total.json") == total


def test_identical_unit_files_are_stored_once_and_stay_guarded(tmp_path, caplog):
    """pipelines/dedup.py: a unit file equal to a stored one becomes a hard link to it; reuse,
    recomputing a unit and damage detection work as with copies."""
    counter, out = tmp_path / "count.txt", tmp_path / "out"
    _study(Runner(out, verbose=False), counter)
    v1, v2 = (next((out / "artifacts" / "Count").glob(f"v{v}-*")) for v in (1, 2))
    inode = lambda path: path.stat().st_ino  # noqa: E731
    for name in ("data.txt", "metrics.json"):  # unit_0 holds value * 0 in both: one file, two names
        assert inode(v1 / "unit_0" / name) == inode(v2 / "unit_0" / name)
    assert inode(v1 / "unit_1" / "data.txt") != inode(v2 / "unit_1" / "data.txt")  # other bytes
    assert inode(v1 / "total.json") != inode(v2 / "total.json")  # loose files are never linked

    counter.unlink()
    runner = Runner(out, verbose=False)
    _study(runner, counter)
    assert runner.executed == [] and not counter.exists()  # the checksums hold

    shutil.rmtree(v2 / "unit_0")  # a recomputed unit replaces its directory; v1's file is untouched
    _study(Runner(out, verbose=False), counter)
    assert _lines(counter) == ["execution 2", "unit 2 0"] and unit_is_complete(v1 / "unit_0", hashes=True)
    assert inode(v1 / "unit_0" / "data.txt") == inode(v2 / "unit_0" / "data.txt")

    counter.unlink()  # a linked file damaged in place is found in both artifacts
    data = v1 / "unit_0" / "data.txt"
    data.write_text(data.read_text()[:10])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lth_tf"):
        _study(Runner(out, verbose=False), counter)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and _lines(counter) == ["execution 1", "unit 1 0", "execution 2", "unit 2 0"]
    assert all(unit_is_complete(v / "unit_0", hashes=True) for v in (v1, v2))
    # `lth-tf gc` counts as freed only what has no link left elsewhere
    from pipelines.run_dirs import dir_size, freed_size
    alone = sum(p.stat().st_size for p in v2.rglob("*") if p.is_file() and p.stat().st_nlink == 1)
    assert freed_size(v2) == alone < dir_size(v2)


def test_unreadable_file_names_the_file_and_the_fix(tmp_path):
    bad = tmp_path / "artifacts" / "Count" / "v1-seed0-12345678" / "unit_0" / "metrics.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"k": ')
    with pytest.raises(UnreadableFile) as error:
        read_json(bad)
    message = str(error.value)
    assert str(bad) in message and f"delete {bad.parents[1]}" in message and "--force" in message
    assert "\n" not in message


def test_units_are_complete_only_when_whole(tmp_path):
    from lth_tf.io import atomic_path
    unit = tmp_path / "unit"
    with atomic_path(unit, is_dir=True) as tmp:
        (tmp / "a.txt").write_text("hello")
    assert unit_is_complete(unit) and json.loads((unit / "manifest.json").read_text())["a.txt"]["size"] == 5
    (unit / "a.txt").write_text("hell")
    assert not unit_is_complete(unit)
    assert not unit_is_complete(tmp_path / "missing")


def test_a_moved_output_directory_is_reused_whole(tmp_path):
    counter = tmp_path / "count.txt"
    _study(Runner(tmp_path / "a", verbose=False), counter)
    shutil.move(tmp_path / "a", tmp_path / "b")
    counter.unlink()
    runner = Runner(tmp_path / "b", verbose=False)
    last = _study(runner, counter)
    assert runner.executed == [] and len(runner.reused) == 2 and not counter.exists()
    assert Path(last.metadata["inputs"]["source"]).parent == tmp_path / "b" / "artifacts" / "Count"


def _run_in_child(out, counter):
    _study(Runner(out, verbose=False), counter, values=(1,), sleep=1.5)


def test_two_runs_on_one_directory_compute_once(tmp_path):
    provenance.collect()  # cached before forking: the children never touch TensorFlow
    counter, out = tmp_path / "count.txt", tmp_path / "out"
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_run_in_child, args=(out, counter)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [c.exitcode for c in children] == [0, 0]
    assert _lines(counter) == ["execution 1", "unit 1 0", "unit 1 1", "unit 1 2"]


def test_orphans_are_removed_unless_their_execution_is_live(tmp_path):
    counter, out = tmp_path / "count.txt", tmp_path / "out"
    runner = Runner(out, verbose=False)
    _study(runner, counter)
    first, second = sorted((out / "artifacts" / "Count").iterdir())
    orphan = first / ".unit_1.k3j_9x0q"  # what kill -9 leaves during a unit's write
    live = second / ".unit_0.ab12cd34"
    for path in (orphan, live):
        path.mkdir()
        (path / "data.txt").write_text("partial")
    with file_lock(runner._lock_path(second)):  # another process is executing `second`
        Runner(out, verbose=False).remove_orphans()
    assert not orphan.exists() and live.exists()


# ---------------------------------------------------------------------------------------------
# The CLI around the store, on the stub study (no TensorFlow work).

REPO = Path(__file__).resolve().parents[1]


def _stub_config(tmp_path, **bindings) -> Path:
    lines = ["import store_stubs", "run_pipeline.pipeline = @count_study",
             f"count_study.counter = '{tmp_path / 'count.txt'}'"]
    lines += [f"count_study.{k} = {v!r}" for k, v in bindings.items()]
    path = tmp_path / "stub.gin"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_one_progress_line_for_the_study(tmp_path, capsys):
    _study(Runner(tmp_path / "out", verbose=False, progress=True), tmp_path / "count.txt")
    err = capsys.readouterr().err
    assert "study: 100%" in err and "2/2" in err and "0 reused" in err
    _study(Runner(tmp_path / "out", verbose=False, progress=True), tmp_path / "count.txt")
    assert "2/2" in capsys.readouterr().err.splitlines()[-1]


def test_cli_summary_and_log_file(tmp_path, capsys):
    from pipeline_stubs import main_in_process
    out = tmp_path / "out"
    assert main_in_process(str(_stub_config(tmp_path)), out, []) == 0
    captured = capsys.readouterr()
    assert "2 executed, 0 reused" in captured.out
    assert "Count: running" in (out / "log.txt").read_text() and "Count: running" not in captured.err
    assert (out / "config.gin").exists()
    assert main_in_process(str(_stub_config(tmp_path)), out, []) == 0
    assert "0 executed, 2 reused" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["file", "under_a_file", "object_store_url"])
def test_cli_bad_output_directory_is_one_paragraph_exit_2(tmp_path, capsys, monkeypatch, kind):
    from pipeline_stubs import main_in_process
    blocker = tmp_path / "taken"
    blocker.write_text("not a directory")
    out = {"file": blocker, "under_a_file": blocker / "out", "object_store_url": "gs://bucket/runs"}[kind]
    monkeypatch.chdir(tmp_path)  # a URL taken for a path would create ./gs:/bucket/runs here
    assert main_in_process(str(_stub_config(tmp_path)), out, []) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --output_dir") and "Nothing was run" in err and err.count("\n") == 1
    assert "Traceback" not in err and not (tmp_path / "count.txt").exists() and not (tmp_path / "gs:").exists()


def test_cli_ctrl_c_is_one_line_and_exit_130(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    config = _stub_config(tmp_path, values=(1,), sleep=120.0)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=f"{REPO / 'tests'}{os.pathsep}{REPO}")
    process = subprocess.Popen([sys.executable, "-m", "pipelines.run", "--config", str(config), "--output_dir",
                                str(tmp_path / "out")], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               # a shell's background jobs start with SIGINT ignored; a user's Ctrl-C does not
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    started = tmp_path / "count.started"
    deadline = time.time() + 180
    while not started.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert started.exists(), process.communicate()[1][-2000:]
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == "interrupted; rerun the same command to resume"
    assert "Traceback" not in err


def test_rewind_after_the_end_of_training_fails_while_planning(tmp_path):
    """MaskSearch's validate hook: the check its executor made after earlier executions ran."""
    from components import mask_search
    from lth_tf.data import DatasetHparams
    from lth_tf.models import ModelHparams
    from lth_tf.sparsity.hparams import PruningHparams
    from lth_tf.training import TrainingHparams

    def study(runner):
        store_stubs.count_study(runner, values=(1,), counter=str(tmp_path / "count.txt"))
        runner.run(mask_search.SPEC, mask_search.MaskSearchParams(
            DatasetHparams(num_samples=1000), ModelHparams("lenet_300_100", width=0.1),
            TrainingHparams(budget="1ep", batch_size=64), PruningHparams(levels=1, rewind="2ep")))

    with pytest.raises(ConfigError, match="rewind to an earlier point"):
        Runner(tmp_path / "out", verbose=False).study(study)
    assert not (tmp_path / "count.txt").exists()


def test_cli_component_prints_go_to_the_log_and_to_the_console_with_verbose(tmp_path, capsys, monkeypatch):
    from pipeline_stubs import main_in_process
    real = store_stubs.execute

    def chatty(p, inputs, out, ctx):
        print(f"[count] value {p.value}")
        return real(p, inputs, out, ctx)
    monkeypatch.setattr(store_stubs, "SPEC", dataclasses.replace(store_stubs.SPEC, executor=chatty))
    assert main_in_process(str(_stub_config(tmp_path)), tmp_path / "quiet", []) == 0
    captured = capsys.readouterr()
    assert "[count] value 1" in (tmp_path / "quiet" / "log.txt").read_text()
    assert "[count]" not in captured.out + captured.err
    assert main_in_process(str(_stub_config(tmp_path)), tmp_path / "loud", [], ["--verbose"]) == 0
    assert "[count] value 2" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Resuming an interrupted execution: every finished unit is verified by its checksums first.

def _interrupted(out, counter, value=1):
    """The store as a run killed after execution `value`'s units finished: no artifact.json, no
    loose file (what the stub writes after its units)."""
    _study(Runner(out, verbose=False), counter)
    path = next((out / "artifacts" / "Count").glob(f"v{value}-*"))
    for name in ("artifact.json", "total.json"):
        (path / name).unlink()
    counter.unlink()
    return path


def _flip_value(metrics: Path):
    """A same-size edit of a unit's metrics.json: value 1 -> 9 (1 * 1 in unit_1 of v1)."""
    text = metrics.read_text()
    assert '"value": 1' in text
    metrics.write_text(text.replace('"value": 1', '"value": 9'))


@pytest.mark.parametrize("artifact_json", [None, "{not json", "forged"])
def test_a_damaged_unit_of_an_interrupted_execution_is_recomputed_not_resumed(tmp_path, caplog, artifact_json):
    counter, out = tmp_path / "count.txt", tmp_path / "out"
    total = read_json(_study(Runner(out, verbose=False), counter).path / "total.json")
    shutil.rmtree(out)
    path = _interrupted(out, counter)
    metrics = path / "unit_1" / "metrics.json"
    _flip_value(metrics)
    if artifact_json == "forged":  # valid JSON, the right fingerprint, but vouching for no unit
        fp = path.name.rsplit("-", 1)[1]
        artifact_json = json.dumps({"fingerprint": next(e.fingerprint for e in Runner(out).plan(
            store_stubs.count_study, counter=str(counter)).executions if e.fingerprint.startswith(fp)), "files": {}})
    if artifact_json is not None:
        (path / "artifact.json").write_text(artifact_json)
    with caplog.at_level(logging.WARNING, logger="lth_tf"):
        last = _study(Runner(out, verbose=False), counter)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0]
    assert _lines(counter)[:2] == ["execution 1", "unit 1 1"]  # the damaged unit only, the rest resumed
    assert read_json(metrics)["value"] == 1 and read_json(last.path / "total.json") == total


def test_damage_is_not_forgotten_when_invalidating_fails_midway(tmp_path, monkeypatch):
    """A read-only unit: marking it unfinished fails; the next run still finds the damage."""
    import pipelines.runner as runner_module
    counter, out = tmp_path / "count.txt", tmp_path / "out"
    _study(Runner(out, verbose=False), counter)
    path = next((out / "artifacts" / "Count").glob("v1-*"))
    counter.unlink()
    _flip_value(path / "unit_1" / "metrics.json")

    def read_only(damaged, root):
        raise PermissionError(13, "Permission denied", str(damaged.parent / "manifest.json"))
    monkeypatch.setattr(runner_module, "invalidate_unit", read_only)
    with pytest.raises(PermissionError):
        _study(Runner(out, verbose=False), counter)
    monkeypatch.undo()
    assert not counter.exists()  # nothing was computed
    _study(Runner(out, verbose=False), counter)
    assert _lines(counter)[:2] == ["execution 1", "unit 1 1"] and read_json(path / "unit_1" / "metrics.json")["value"] == 1


def test_large_files_are_verified_by_checksum_too(tmp_path):
    """No size limit on hashing: a byte changed in a 17 MiB file (sparse: cheap) is damage."""
    from lth_tf.io import atomic_path, damaged_files, damaged_units
    unit = tmp_path / "unit"
    with atomic_path(unit, is_dir=True) as tmp:
        with open(tmp / "variables.data", "wb") as f:
            f.truncate(17 << 20)
    assert unit_is_complete(unit, hashes=True)
    with open(unit / "variables.data", "r+b") as f:
        f.seek(9 << 20)
        f.write(b"\x01")
    assert not unit_is_complete(unit, hashes=True) and unit_is_complete(unit)  # same size
    assert damaged_units(tmp_path) == [unit / "variables.data"]
    # a record without a checksum (a manifest written before) cannot vouch for a file
    assert damaged_files(unit, {"variables.data": {"size": 17 << 20}}) == [unit / "variables.data"]


def test_units_are_readable_by_others_as_umask_allows(tmp_path):
    import os
    from lth_tf.io import atomic_path
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "unit", is_dir=True) as tmp:
            (tmp / "a.txt").write_text("hello")
    finally:
        os.umask(old)
    assert (tmp_path / "unit").stat().st_mode & 0o777 == 0o755


def test_every_damaged_byte_of_an_npz_is_an_unreadable_file(tmp_path):
    """load_npz maps every parse and decompression error (zlib.error included) to UnreadableFile,
    which names the file and the fix: a flipped byte anywhere never escapes as another exception."""
    import numpy as np
    from lth_tf.io import load_npz, save_npz
    path = tmp_path / "trained.npz"
    arrays = {"w": np.linspace(-1, 1, 200, dtype=np.float32), "mask": np.eye(8, dtype=np.float32)}
    save_npz(path, arrays, pack_bits=True)
    good = path.read_bytes()
    outcomes = set()
    for position in range(len(good)):
        damaged = bytearray(good)
        damaged[position] ^= 0x10
        path.write_bytes(bytes(damaged))
        try:
            loaded = load_npz(path)
        except UnreadableFile as e:
            assert str(path) in str(e)
            outcomes.add(type(e.__cause__).__name__)
            continue
        assert isinstance(loaded, dict)  # some bytes (timestamps) change nothing read: the manifests' checksums guard
    assert {"error", "BadZipFile"} <= outcomes  # zlib.error escaped raw before


def test_a_mask_search_resumes_only_from_verified_levels(tmp_path, caplog):
    """Issue 22, items 1 and 10 on the real component: a MaskSearch killed after its levels
    finished (no artifact.json, no results.csv), then level_01 damaged without a size change: the
    rerun recomputes level_01 with one warning naming the file, and the results hold none of the
    edit; a flipped byte in its trained.npz likewise (before: a raw zlib.error on every rerun)."""
    from components import mask_search
    from lth_tf.data import DatasetHparams
    from lth_tf.models import ModelHparams
    from lth_tf.sparsity.hparams import PruningHparams
    from lth_tf.training import TrainingHparams
    params = mask_search.MaskSearchParams(DatasetHparams(num_samples=1000), ModelHparams("lenet_300_100", width=0.1),
                                          TrainingHparams(budget="1ep", batch_size=64), PruningHparams(levels=1),
                                          export=False)
    out = tmp_path / "out"
    search = Runner(out, verbose=False).run(mask_search.SPEC, params)
    expected = search.results()
    level = search.level_dir(1)
    for damage in ("metrics", "trained"):
        for name in ("artifact.json", "results.csv"):
            (search.path / name).unlink()
        if damage == "metrics":  # a digit of the test accuracy, same size
            damaged = level / "metrics.json"
            text = damaged.read_text()
            value = f"{read_json(damaged)['test_accuracy']!r}"
            digit = value[2]
            damaged.write_text(text.replace(value, value[:2] + ("1" if digit != "1" else "2") + value[3:], 1))
        else:
            damaged = level / "trained.npz"
            data = bytearray(damaged.read_bytes())
            data[len(data) // 2] ^= 0xFF
            damaged.write_bytes(bytes(data))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="lth_tf"):
            runner = Runner(out, verbose=False)
            rerun = runner.run(mask_search.SPEC, params)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "lth_tf.runner"]
        assert len(warnings) == 1 and str(damaged) in warnings[0], damage
        assert len(runner.executed) == 1 and unit_is_complete(level, hashes=True)
        assert rerun.results().drop(columns="artifact").equals(expected.drop(columns="artifact")), damage


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path, capsys):
    # capsys's stderr is no terminal (like nohup's file or a CI log): a plain line per finished
    # execution with the count, elapsed time and ETA, not tqdm's carriage returns.
    _study(Runner(tmp_path / "out", verbose=False, progress=None), tmp_path / "count.txt")
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("study: ")]
    assert lines[0].startswith("study: 1/2 executions done, ") and "elapsed, ETA 0:0" in lines[0]
    assert lines[-1].startswith("study: 2/2 executions done, ") and "ETA" not in lines[-1]
    assert "[0 reused; Count v1/seed0]" in lines[0]  # the execution that finished


def test_progress_lines_are_at_most_one_per_interval_and_the_last():
    import io

    from pipelines.progress import Lines
    now, out = [0.0], io.StringIO()
    lines = Lines(total=5, initial=1, stream=out, every=30.0, now=lambda: now[0], began=-5.0)  # imports: 5 s
    for t in (10.0, 20.0, 45.0, 50.0):  # executions 2..5 finish at these times
        now[0] = t
        lines.update(1)
    assert out.getvalue().splitlines() == [
        "study: 2/5 executions done, 0:15 elapsed, ETA 0:30",  # the first (1 reused: not in the rate)
        "study: 4/5 executions done, 0:50 elapsed, ETA 0:15",  # 30 s after the last line
        "study: 5/5 executions done, 0:55 elapsed"]  # the last
    now[0] = 70.0  # 20 s later a note changes (the Ray executor's each second): no line yet
    lines.set_postfix_str("ray: 5 done")
    now[0] = 90.0  # 40 s without a line: one, so a long execution is no silence
    lines.set_postfix_str("ray: 5 done, 1 running")
    assert out.getvalue().splitlines()[3:] == ["study: 5/5 executions done, 1:35 elapsed [ray: 5 done, 1 running]"]


def test_cli_progress_lines_and_wall_time_from_process_start(tmp_path, capsys, monkeypatch):
    import time

    import pipelines
    from pipeline_stubs import main_in_process
    monkeypatch.setattr(pipelines, "STARTED", time.time() - 100)  # the process began 100 s ago
    assert main_in_process(str(_stub_config(tmp_path)), tmp_path / "out", []) == 0
    captured = capsys.readouterr()
    assert "study: 2/2 executions done" in captured.err
    seconds = int(re.search(r"done in (\d+)s: 2 executed", captured.out).group(1))
    assert 100 <= seconds < 160  # the 100 s before main() count, plus main's own


def test_started_is_taken_when_the_entry_point_is_imported():
    # The console script imports pipelines.cli: pipelines/__init__ runs before lth_tf (and TensorFlow).
    code = ("import time; t0 = time.time(); import pipelines.cli, pipelines, sys; "
            "print(pipelines.STARTED - t0, time.time() - t0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    started, imported = map(float, out.split())
    assert 0 <= started < 0.05 and started < imported
