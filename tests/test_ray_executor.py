"""The Ray executor: the same results as in-process, each execution computed once, a killed
worker's execution retried and resumed at its last finished unit, bad addresses and impossible
resources refused before any work. One local Ray cluster (2 CPUs) serves the module."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import dataclasses
import os
import socket
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

import store_stubs  # noqa: E402
from components import ComponentSpec  # noqa: E402
from lth_tf.errors import ConfigError  # noqa: E402
from lth_tf.io import atomic_path, read_json, unit_is_complete, write_json  # noqa: E402
from pipelines import ray_executor  # noqa: E402
from pipelines.runner import Runner  # noqa: E402

TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture(scope="module")
def cluster():
    # Workers unpickle the stub components by module name: they need tests/ on their path.
    os.environ["PYTHONPATH"] = os.pathsep.join([TESTS] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    ray_executor.connect("", workers=2)
    yield
    ray_executor.shutdown()


def fan_in(runner, values=(1, 2, 3), counter=""):
    """Independent executions (side by side on Ray), then one reading the first's result."""
    firsts = [runner.run(store_stubs.SPEC, store_stubs.CountParams(value=v, counter=counter)) for v in values]
    return runner.run(store_stubs.SPEC, store_stubs.CountParams(value=10, counter=counter), source=firsts[0])


def _lines(path):
    return sorted(Path(path).read_text().splitlines()) if Path(path).exists() else []


def test_ray_gives_the_in_process_results_computing_each_execution_once(cluster, tmp_path):
    here = Runner(tmp_path / "here", verbose=False)
    last_here = here.study(fan_in, counter=str(tmp_path / "here.txt"))
    there = Runner(tmp_path / "ray", verbose=False, executor=ray_executor.RayExecutor())
    last_ray = there.study(fan_in, counter=str(tmp_path / "ray.txt"))
    assert read_json(last_ray.path / "total.json") == read_json(last_here.path / "total.json")
    assert _lines(tmp_path / "ray.txt") == _lines(tmp_path / "here.txt")  # every execution and unit once
    assert len(there.executed) == 4 and not there.reused
    again = Runner(tmp_path / "ray", verbose=False, executor=ray_executor.RayExecutor())
    again.study(fan_in, counter=str(tmp_path / "ray.txt"))
    assert len(again.reused) == 4 and not again.executed


@dataclasses.dataclass(frozen=True)
class DyingParams:
    marker: str  # exists once the first attempt has died
    counter: str
    units: int = 3


def die_after_first_unit(p: DyingParams, inputs, out: Path, ctx):
    for k in range(p.units):
        unit = out / f"unit_{k}"
        if not unit_is_complete(unit):
            with open(p.counter, "a") as f:
                f.write(f"unit {k}\n")
            with atomic_path(unit, is_dir=True) as tmp:
                write_json(tmp / "metrics.json", {"k": k})
        if k == 0 and not Path(p.marker).exists():
            Path(p.marker).write_text("died")
            os._exit(1)  # the worker process dies, as under kill -9
    return {"units": p.units}


DYING = ComponentSpec(name="Dying", inputs={}, output="Dying", params=DyingParams, executor=die_after_first_unit)


def test_a_killed_worker_is_retried_and_resumes_at_its_last_finished_unit(cluster, tmp_path):
    params = DyingParams(marker=str(tmp_path / "died"), counter=str(tmp_path / "units.txt"))
    runner = Runner(tmp_path / "out", verbose=False, executor=ray_executor.RayExecutor())
    artifact = runner.study(lambda r: r.run(DYING, params))
    assert (tmp_path / "died").exists()  # the first attempt did die
    assert _lines(tmp_path / "units.txt") == ["unit 0", "unit 1", "unit 2"]  # unit 0 not recomputed
    assert read_json(artifact.path / "artifact.json")["summary"] == {"units": 3}


def test_resources_no_node_has_are_refused_before_any_work(cluster, tmp_path):
    resources = ray_executor.RayResources(per_component={"Count": {"num_gpus": 8}})
    runner = Runner(tmp_path / "out", verbose=False, executor=ray_executor.RayExecutor(resources=resources))
    with pytest.raises(ConfigError, match="no node of the Ray cluster"):
        runner.study(fan_in, counter=str(tmp_path / "c.txt"))
    assert not (tmp_path / "c.txt").exists()


def test_an_address_that_does_not_answer_is_one_paragraph():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ConfigError, match="No Ray cluster answers at 127.0.0.1:") as e:
        ray_executor._check_address(f"127.0.0.1:{port}")
    assert "ray start --head" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="is not 'host:port'"):
        ray_executor._check_address("nonsense")


def test_bad_resources_are_config_errors():
    with pytest.raises(ConfigError, match="num_cpus"):
        ray_executor.RayResources(per_component={"MaskSearch": {"cpus": 1}})
    with pytest.raises(ConfigError, match="negative"):
        ray_executor.RayResources(num_cpus=-1)


def test_real_searches_on_ray_give_the_in_process_results_csv(cluster, tmp_path):
    """Two tiny IMP searches (TensorFlow in the workers): the same masks and metrics as here."""
    import pandas as pd
    from components import mask_search
    from lth_tf.data import DatasetHparams
    from lth_tf.models import ModelHparams
    from lth_tf.sparsity.hparams import PruningHparams
    from lth_tf.training import TrainingHparams

    def searches(runner):
        return [runner.run(mask_search.SPEC, mask_search.MaskSearchParams(
            DatasetHparams(num_samples=600), ModelHparams("lenet_300_100", width=0.1),
            TrainingHparams(budget="1ep", batch_size=64), PruningHparams(levels=2), seed, export=False))
            for seed in (0, 1)]

    here = Runner(tmp_path / "here", verbose=False).study(searches)
    there = Runner(tmp_path / "ray", verbose=False, executor=ray_executor.RayExecutor()).study(searches)
    for a, b in zip(here, there):
        x, y = (pd.read_csv(t.path / "results.csv").drop(columns=["artifact"]) for t in (a, b))
        pd.testing.assert_frame_equal(x, y)
        for level in (1, 2):
            assert (a.path / f"level_0{level}" / "mask.npz").read_bytes() == (b.path / f"level_0{level}" / "mask.npz").read_bytes()


def _stub_config(tmp_path) -> Path:
    path = tmp_path / "stub.gin"
    path.write_text(f"import store_stubs\nrun_pipeline.pipeline = @count_study\n"
                    f"count_study.counter = '{tmp_path / 'count.txt'}'\n")
    return path


@pytest.mark.parametrize("flags,message", [
    (["--ray_address", "127.0.0.1:1"], "take effect with --executor ray only"),
    (["--executor", "ray", "--force"], "--force recomputes in this process only"),
    (["--executor", "ray", "--ray_workers", "-1"], "--ray_workers=-1 must be >= 0"),
])
def test_cli_bad_ray_flags_exit_2_before_any_work(tmp_path, capsys, flags, message):
    from pipeline_stubs import main_in_process
    assert main_in_process(str(_stub_config(tmp_path)), tmp_path / "out", [], flags) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "count.txt").exists()


def test_cli_runs_a_study_on_ray(cluster, tmp_path, capsys):
    from pipeline_stubs import main_in_process
    assert main_in_process(str(_stub_config(tmp_path)), tmp_path / "out", [], ["--executor", "ray"]) == 0
    assert "2 executed, 0 reused" in capsys.readouterr().out
    assert _lines(tmp_path / "count.txt") == ["execution 1", "execution 2", "unit 1 0", "unit 1 1", "unit 1 2",
                                              "unit 2 0", "unit 2 1", "unit 2 2"]


# configs/smoke.gin cut down to one IMP level, with only its transfer (a search on classes 0-4,
# whose class-split datasets the driver derives while planning) and few-shot analyses.
TRANSFER_AND_FEW_SHOT = [
    "DatasetHparams.num_samples = 1000", "ModelHparams.width = 0.1", "PruningHparams.levels = 1",
    "stability.baselines = ()", "stability.baseline_configs = ()", "stability.baseline_levels = ()",
    "stability.instability = False", "stability.dynamics = False", "stability.rewind_search_configs = ()",
    "stability.probe_configs = ()", "stability.aimp_configs = ()", "stability.aimp_levels = ()",
    "InstabilityParams.levels = ()", "ProbingParams.levels = ()", "FewShotParams.levels = (0, 1)",
    "TransferParams.levels = (0, 1)", "TransferParams.epochs = 1"]


def test_a_study_with_transfer_and_few_shot_gives_the_in_process_results_on_ray(cluster, tmp_path):
    """The class-split datasets the driver derives while planning resolve in the workers (they
    were a KeyError there): every table the same as in-process."""
    import pandas as pd
    from pipeline_stubs import main_in_process
    smoke = str(Path(TESTS).parent / "configs" / "smoke.gin")
    assert main_in_process(smoke, tmp_path / "here", TRANSFER_AND_FEW_SHOT) == 0
    assert main_in_process(smoke, tmp_path / "ray", TRANSFER_AND_FEW_SHOT, ["--executor", "ray"]) == 0
    for table in ("results.csv", "transfer.csv", "few_shot.csv"):
        here, there = (pd.read_csv(tmp_path / run / table) for run in ("here", "ray"))
        assert len(here) > 0
        pd.testing.assert_frame_equal(here, there)


def test_the_reaper_ends_the_cluster_a_killed_driver_started():
    """After a driver's kill -9, Ray 2.60's agents waited 60 s on the dead GCS: the reaper ends
    every process the cluster's own processes started, and leaves alone once they are gone."""
    import subprocess
    import sys
    import threading

    import psutil

    from pipelines.ray_reaper import reap
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    cluster = subprocess.Popen(["bash", "-c", "sleep 60 & sleep 60 & wait"])  # a root and what it started
    time.sleep(0.5)
    started = psutil.Process(cluster.pid).children()
    watcher = threading.Thread(target=reap, args=(driver.pid, [cluster.pid], 0.1))
    watcher.start()
    time.sleep(0.5)
    assert watcher.is_alive() and cluster.poll() is None  # the driver lives: nothing is touched
    driver.kill()
    driver.wait()
    watcher.join(timeout=10)
    assert not watcher.is_alive() and cluster.wait(timeout=10) is not None
    assert len(started) == 2 and not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in started)

    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    done = subprocess.Popen(["true"])
    done.wait()
    reap(driver.pid, [done.pid], 0.1)  # the cluster is gone (ray.shutdown): it leaves at once
    assert driver.poll() is None
    driver.kill()
    driver.wait()
