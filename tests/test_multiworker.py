"""Multi-worker training: TF_CONFIG checks, and two local worker processes (CPU, collectives over
gRPC on localhost) that train one masked network, compared with one process and the same global
batch (tests/multiworker_job.py); and resuming an interrupted study on two workers
(pipelines/multi_worker.py, tests/multiworker_stubs.py). Over 300 lines: the local-cluster
launchers are shared by the training and the resume tests."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from lth_tf import tf_config
from lth_tf.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
TWO = {"worker": ["localhost:2222", "localhost:2223"]}


def env(config) -> dict:
    return {"TF_CONFIG": config if isinstance(config, str) else json.dumps(config)}


def test_tf_config_is_read_and_the_chief_is_worker_zero():
    for index in (0, 1):
        config = tf_config.read(env({"cluster": TWO, "task": {"type": "worker", "index": index}}))
        assert config["task"]["index"] == index
    assert tf_config.is_chief({})  # one process, no cluster
    assert tf_config.is_chief(env({"cluster": TWO, "task": {"type": "worker", "index": 0}}))
    assert not tf_config.is_chief(env({"cluster": TWO, "task": {"type": "worker", "index": 1}}))
    with_chief = dict(TWO, chief=["localhost:2224"])
    assert tf_config.is_chief(env({"cluster": with_chief, "task": {"type": "chief", "index": 0}}))
    assert not tf_config.is_chief(env({"cluster": with_chief, "task": {"type": "worker", "index": 0}}))


def test_non_chief_workers_write_to_a_temporary_directory(tmp_path):
    chief = env({"cluster": TWO, "task": {"type": "worker", "index": 0}})
    other = env({"cluster": TWO, "task": {"type": "worker", "index": 1}})
    assert tf_config.output_dir(tmp_path, chief) == str(tmp_path)
    elsewhere = tf_config.output_dir(tmp_path, other)
    try:
        assert Path(elsewhere).is_dir() and Path(elsewhere).parent == Path(tempfile.gettempdir())
        assert "worker1" in Path(elsewhere).name
    finally:
        os.rmdir(elsewhere)


@pytest.mark.parametrize("config, words", [
    ("", "is not set"),
    ('{"cluster": {"worker": ["localhost:2222"]}, "task": ', "not valid JSON"),
    ('["localhost:2222"]', "must be a JSON object"),
    ({"task": {"type": "worker", "index": 0}}, "no 'cluster'"),
    ({"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", "index": 0}}, "'host:port'"),
    ({"cluster": {"ps": ["localhost:2222"]}, "task": {"type": "ps", "index": 0}}, "parameter servers"),
    ({"cluster": TWO}, "no 'task'"),
    ({"cluster": TWO, "task": {"type": "chief", "index": 0}}, "task type 'chief', which its cluster does not list"),
    ({"cluster": TWO, "task": {"type": "worker", "index": 2}}, "index must be 0..1"),
    ({"cluster": TWO, "task": {"type": "worker", "index": "0"}}, "index must be 0..1"),
])
def test_bad_tf_config_is_one_paragraph_naming_the_fix(config, words):
    with pytest.raises(ConfigError) as caught:
        tf_config.read(env(config))
    message = str(caught.value)
    assert words in message and "\n" not in message
    assert '"task": {"type": "worker", "index": 0}' in message  # an example of a good TF_CONFIG
    assert "strategy_name.name = 'default'" in message  # and the single-process alternative


def test_tf_config_checks_do_not_import_tensorflow():
    code = ("import sys, lth_tf.tf_config as t; t.is_chief({}); "
            "assert 'tensorflow' not in sys.modules, 'tf_config imports tensorflow'")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_multi_worker_strategy_refuses_a_bad_tf_config_before_any_work(monkeypatch):
    from lth_tf.training import strategy
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG is not set"):
        strategy.strategy_name("multi_worker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": TWO, "task": {"type": "worker", "index": 5}}))
    with pytest.raises(ConfigError, match="index must be 0..1"):
        strategy.get_strategy("multi_worker")


def _free_ports(count: int):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run_workers(count: int, timeout: float, reference):
    """Starts `count` worker processes, runs `reference()` here meanwhile, and returns (the
    reference's result, each worker's RESULT line as a dict). A worker that fails or a cluster
    that does not finish in `timeout` seconds fails the test with every worker's stderr."""
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(count)]}
    workers = []
    for index in range(count):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        process = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "multiworker_job.py"), "multi_worker"], cwd=REPO, stdout=out,
            stderr=err, text=True, env=dict(os.environ, TF_CONFIG=config, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2"))
        workers.append((process, out, err))
    try:
        expected = reference()
        deadline = time.time() + timeout
        while time.time() < deadline and any(p.poll() is None for p, _, _ in workers):
            if any(p.poll() not in (None, 0) for p, _, _ in workers):
                break  # the others would wait for it forever
            time.sleep(0.2)
        codes = [p.poll() for p, _, _ in workers]
        if codes != [0] * count:
            logs = []
            for index, (_, _, err) in enumerate(workers):
                err.seek(0)
                logs.append(f"--- worker {index} (exit code {codes[index]}) stderr:\n{err.read()[-3000:]}")
            pytest.fail(f"the {count} workers did not all finish within {timeout:.0f}s:\n" + "\n".join(logs))
        results = []
        for _, out, _ in workers:
            out.seek(0)
            (line,) = [l for l in out.read().splitlines() if l.startswith("RESULT ")]
            results.append(json.loads(line[len("RESULT "):]))
        return expected, results
    finally:
        for process, out, err in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
            out.close()
            err.close()


def _one_worker():
    import gin

    from multiworker_job import job
    try:
        return json.loads(json.dumps(job("default")))
    finally:
        gin.clear_config()


def _max_difference(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def test_two_workers_train_the_same_ticket_as_one_worker_with_the_same_global_batch():
    sys.path.insert(0, str(REPO / "tests"))
    start = time.time()
    single, workers = _run_workers(2, timeout=600, reference=_one_worker)
    print(f"two workers + reference: {time.time() - start:.1f}s wall; CPU seconds per worker:",
          [{k: round(v, 1) for k, v in w["seconds"].items()} for w in workers])

    assert single["replicas"] == 1 and [w["replicas"] for w in workers] == [2, 2]
    assert [w["chief"] for w in workers] == [True, False] and single["chief"]
    # Each worker gets its half of every global batch of the one-worker run (the last batch of
    # an epoch too), so batches stay a pure function of (seed, step).
    half = [len(b) // 2 for b in single["local_batches"]]
    assert [b[:h] for b, h in zip(single["local_batches"], half)] == workers[0]["local_batches"]
    assert [b[h:] for b, h in zip(single["local_batches"], half)] == workers[1]["local_batches"]

    for worker in workers:
        assert worker["masks"] == single["masks"]  # the same ticket, bit for bit
        assert worker["pruned_max"] == 0.0 and single["pruned_max"] == 0.0
    # The workers hold the same weights, and compute the same metrics, bit for bit.
    assert workers[0]["state"] == workers[1]["state"]
    assert workers[0]["history"] == workers[1]["history"] and workers[0]["scores"] == workers[1]["scores"]

    # Against one worker: gradients are summed over two half batches instead of one whole
    # batch, so weights differ by float rounding, ~1e-7 per step, growing a little over steps.
    differences = {
        "weights": max(_max_difference(workers[0]["state"][k], single["state"][k]) for k in single["state"]),
        "train_loss": _max_difference([r["train_loss"] for r in workers[0]["history"]],
                                      [r["train_loss"] for r in single["history"]]),
        "val_loss": _max_difference([r["val_loss"] for r in workers[0]["history"]],
                                    [r["val_loss"] for r in single["history"]]),
        "test_loss": abs(workers[0]["test"]["loss"] - single["test"]["loss"]),
        "el2n": _max_difference(workers[0]["scores"]["el2n"], single["scores"]["el2n"]),
        "grand": _max_difference(workers[0]["scores"]["grand"], single["scores"]["grand"]),
        "barrier": _max_difference(workers[0]["barrier"], single["barrier"]),
    }
    print("max differences two workers vs one:", json.dumps(differences))
    assert all(d < 1e-4 for d in differences.values()), differences
    for key in ("train_accuracy", "val_accuracy"):
        assert [r[key] for r in workers[0]["history"]] == [r[key] for r in single["history"]], key
    assert workers[0]["test"]["accuracy"] == single["test"]["accuracy"]


def test_cli_multi_worker_refuses_a_bad_tf_config_before_any_work(tmp_path, capsys, monkeypatch):
    from pipeline_stubs import main_in_process
    config = tmp_path / "stub.gin"
    config.write_text(f"import store_stubs\nrun_pipeline.pipeline = @count_study\n"
                      f"count_study.counter = '{tmp_path / 'count.txt'}'\n")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    assert main_in_process(str(config), tmp_path / "out", ["strategy_name.name = 'multi_worker'"]) == 2
    err = capsys.readouterr().err
    assert "TF_CONFIG" in err and "Traceback" not in err and not (tmp_path / "count.txt").exists()


# --- resuming a multi-worker study (pipelines/multi_worker.py) ---

class _FakeStrategy:
    """The one all-reduce (a SUM) worker_output_dir makes, with the other workers' values given."""

    def __init__(self, others):
        self.others = others

    def run(self, fn):
        return fn()

    def reduce(self, op, value, axis=None):
        import tensorflow as tf
        assert op == tf.distribute.ReduceOp.SUM

        from pipelines.multi_worker import _chunks
        return value + sum(tf.constant(_chunks(o), tf.float64) for o in self.others)


def _store(root: Path) -> Path:
    """A finished artifact with one unit, and a partial one (a unit and a loose file)."""
    from lth_tf.io import atomic_path, write_json
    done = root / "artifacts" / "Count" / "v1-0123abcd"
    with atomic_path(done / "unit_0", is_dir=True) as tmp:
        (tmp / "data.txt").write_text("11111")
    write_json(done / "artifact.json", {"fingerprint": "x", "files": {}})
    partial = root / "artifacts" / "Count" / "v2-4567abcd"
    with atomic_path(partial / "unit_0", is_dir=True) as tmp:
        (tmp / "data.txt").write_text("22222")
    write_json(partial / "total.json", {"total": 1})
    (partial / ".unit_1.abcd1234").mkdir()  # a write in progress, or an orphan: not part of the state
    return root


def test_a_worker_runs_on_a_snapshot_of_the_chiefs_store_and_the_chief_on_the_store(tmp_path):
    from pipelines import multi_worker
    out = _store(tmp_path / "out")
    chief = env({"cluster": TWO, "task": {"type": "worker", "index": 0}})
    other = env({"cluster": TWO, "task": {"type": "worker", "index": 1}})
    seen = multi_worker.digest(out)
    assert seen and multi_worker.digest(tmp_path / "empty") == 0
    assert multi_worker.worker_output_dir(out, _FakeStrategy([seen]), environ=chief) == out
    mine = multi_worker.worker_output_dir(out, _FakeStrategy([seen]), environ=other)
    assert mine == out / ".workers" / "worker1" and multi_worker.digest(mine) == seen
    unit, loose = Path("artifacts/Count/v2-4567abcd/unit_0/data.txt"), Path("artifacts/Count/v2-4567abcd/total.json")
    assert os.path.samefile(mine / unit, out / unit)  # a unit is hard-linked: replaced by renames only
    assert not os.path.samefile(mine / loose, out / loose)  # a loose file is copied: it may be rewritten
    assert not (mine / "artifacts/Count/v2-4567abcd/.unit_1.abcd1234").exists()
    multi_worker.release(mine, out)
    assert not (out / ".workers").exists() and (out / unit).read_text() == "22222"
    # A fresh study: nothing to share, a temporary directory as before.
    fresh = multi_worker.worker_output_dir(tmp_path / "new", _FakeStrategy([0]), environ=other)
    assert Path(fresh).parent == Path(tempfile.gettempdir())
    os.rmdir(fresh)


@pytest.mark.parametrize("index", [0, 1])
def test_workers_that_do_not_share_the_output_dir_refuse_to_resume_naming_the_fix(tmp_path, index):
    from pipelines import multi_worker
    out = _store(tmp_path / "out")
    task = env({"cluster": TWO, "task": {"type": "worker", "index": index}})
    # The other worker sees an empty (its own, local) directory, or another state.
    for others in ([0], [multi_worker.digest(out) + 1]):
        with pytest.raises(ConfigError) as caught:
            multi_worker.worker_output_dir(out, _FakeStrategy(others), environ=task)
        message = str(caught.value)
        assert "\n" not in message and "every worker mounts at the same path" in message
        assert "--force" in message and "new --output_dir" in message and "Nothing was run" in message
        assert not (out / ".workers").exists()
    # --force on every worker: every worker recomputes everything (the chief in place) ...
    forced = multi_worker.worker_output_dir(out, _FakeStrategy([multi_worker.FORCED]), force=True, environ=task)
    assert (Path(forced) == out) == (index == 0) and not (out / ".workers").exists()
    if index:
        os.rmdir(forced)
    # ... but not on some only: those without it would reuse what the others recompute.
    for force, others in ((True, [multi_worker.digest(out)]), (False, [multi_worker.FORCED])):
        with pytest.raises(ConfigError, match="on every worker or on none"):
            multi_worker.worker_output_dir(out, _FakeStrategy(others), force=force, environ=task)


def _study_workers(config: Path, out: Path, tmp_path: Path, timeout: float, **environ):
    """Runs `python -m pipelines.run` on 2 local workers; returns (exit codes, the units each
    computed as (value, unit, replicas) tuples)."""
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    counters = [tmp_path / f"units_{out.name}_{i}.txt" for i in range(2)]
    for counter in counters:
        counter.unlink(missing_ok=True)
    processes = []
    for index in range(2):
        config_json = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        err = tempfile.TemporaryFile("w+")
        process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.run", "--config", str(config), "--output_dir", str(out),
             "--gin_bindings", "strategy_name.name = 'multi_worker'"], cwd=REPO, stdout=subprocess.DEVNULL,
            stderr=err, text=True, env=dict(os.environ, TF_CONFIG=config_json, PYTHONPATH=f"{REPO}:{REPO / 'tests'}",
                                            TF_CPP_MIN_LOG_LEVEL="2", TF_NUM_INTRAOP_THREADS="1",
                                            TF_NUM_INTEROP_THREADS="1", LTH_TEST_COUNTER=str(counters[index]),
                                            **environ))
        processes.append((process, err))
    try:
        deadline = time.time() + timeout
        while time.time() < deadline and any(p.poll() is None for p, _ in processes):
            time.sleep(0.2)
        codes = [p.poll() for p, _ in processes]
        if None in codes:
            logs = []
            for index, (_, err) in enumerate(processes):
                err.seek(0)
                logs.append(f"--- worker {index} stderr:\n{err.read()[-3000:]}")
            pytest.fail(f"the workers did not finish within {timeout:.0f}s (a divergent reuse decision waits "
                        f"forever in a collective):\n" + "\n".join(logs))
        units = [sorted(tuple(map(int, line.split())) for line in c.read_text().splitlines()) if c.exists() else []
                 for c in counters]
        return codes, units
    finally:
        for process, err in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            err.close()


def test_an_interrupted_two_worker_study_resumes_on_both_workers_with_the_same_results(tmp_path):
    from pipeline_stubs import main_in_process
    config = tmp_path / "collective.gin"
    config.write_text("import multiworker_stubs\nrun_pipeline.pipeline = @collective_study\n")
    out = tmp_path / "out"
    # Interrupted (as Ctrl-C or a kill would) after 4 units: execution 1 finished, 1 unit of execution 2.
    codes, units = _study_workers(config, out, tmp_path, timeout=300, LTH_TEST_STOP_AFTER="4")
    assert codes == [130, 130]
    assert units[0] == units[1] == [(1, 0, 2), (1, 1, 2), (1, 2, 2), (2, 0, 2)]  # every unit by both workers
    # A damaged file of the finished execution (same size, other bytes): found by every worker.
    data = next(out.glob("artifacts/Collective/c1-seed0-*/unit_1/data.txt"))
    data.write_text("9" * len(data.read_text()))

    codes, units = _study_workers(config, out, tmp_path, timeout=300)
    assert codes == [0, 0]
    # Both reused the same units and computed the same rest together: the damaged one, and the
    # two units execution 2 had left.
    assert units[0] == units[1] == [(1, 1, 2), (2, 1, 2), (2, 2, 2)]
    assert not (out / ".workers").exists()  # the other worker's snapshot is thrown away

    # The same results as an uninterrupted run (in one process: the unit values are means).
    reference = tmp_path / "reference"
    assert main_in_process(str(config), reference, []) == 0
    for name in ("c1-seed0", "c2-seed0"):
        (resumed,) = out.glob(f"artifacts/Collective/{name}-*/total.json")
        (uninterrupted,) = reference.glob(f"artifacts/Collective/{name}-*/total.json")
        assert json.loads(resumed.read_text()) == json.loads(uninterrupted.read_text())
