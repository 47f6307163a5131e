"""Executes a study's plan on a Ray cluster: independent executions run side by side.

The runner plans a study before computing anything (pipelines/runner.py), and an execution's
fingerprint depends only on its parameters and its inputs' fingerprints, so the whole graph is
known up front. Each pending execution becomes one Ray task whose arguments include the tasks of
its inputs: Ray starts it when those are finished, on any node with the resources it asks for.

A task runs the same code as the in-process executor (`Runner.execute_one`: the per-execution
lock, damage checks, units resumed), in a worker that parsed the study's gin config, so results
are identical. Workers are reused from task to task (TensorFlow imported, gin parsed, datasets
cached once per worker process), and prepared while the runner plans: `RayExecutor(...)` starts
or joins the cluster and sends each CPU slot a warm-up task. Workers share the output directory
(a shared filesystem). A worker that dies mid-execution is retried by Ray (`max_retries`); the
retry resumes after the last finished unit. A local cluster is shut down by `shutdown()` (also at
exit) and, when the driver is killed, by pipelines/ray_reaper.py.
"""
import atexit
import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping, Tuple

import gin

from lth_tf.errors import ConfigError
from pipelines.ray_resources import RayResources

log = logging.getLogger("lth_tf.runner")


def _check_address(address: str):
    """A one-paragraph ConfigError when a 'host:port' address does not answer (ray.init would
    otherwise wait a long time, then fail with a long traceback)."""
    host, _, port = address.rpartition(":")
    if address.startswith("ray://"):
        host, _, port = address[len("ray://"):].rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray_address {address!r} is not 'host:port' (e.g. 10.0.0.5:6379 for a cluster "
                          f"started with `ray start --head --port 6379`), 'auto' (the cluster this machine "
                          f"joined) or '' (start a local one). Nothing was run.")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ConfigError(f"No Ray cluster answers at {address} ({e.strerror or e}). Start one with "
                          f"`ray start --head --port {port}` on {host}, check the address and firewall, or "
                          f"drop --ray_address to run on a local Ray cluster. Nothing was run.") from e


_reaper = None  # pipelines/ray_reaper.py, watching the local cluster connect() started


def connect(address: str = "", workers: int = 0):
    """Starts a local Ray cluster (address '') with `workers` CPUs (0: all), or joins one."""
    import psutil  # a Ray dependency
    import ray
    if ray.is_initialized():
        return
    env = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           # the workers import this checkout's packages even when it is not installed
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1])] +
                                         ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
    kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    if address and address != "local":
        if address != "auto":
            _check_address(address)
        try:
            ray.init(address=address, runtime_env={"env_vars": env}, **kwargs)
        except ConnectionError as e:
            raise ConfigError(f"Could not join the Ray cluster at {address!r} ({e}). Start one with "
                              f"`ray start --head`, or drop --ray_address to run on a local cluster. "
                              f"Nothing was run.") from e
    else:
        # A local cluster's workers inherit this process's environment. A runtime_env instead
        # would keep Ray from using the workers ray.init starts: the first tasks waited ~9 s for
        # new ones on this loaded 2-core machine, against 1.5 s.
        before = {p.pid for p in psutil.Process().children()}
        with _environment(env):
            ray.init(num_cpus=workers or os.cpu_count(), **kwargs)
        # What this process started, it ends: at exit, and (the reaper) when killed.
        global _reaper
        atexit.register(shutdown)
        started = sorted({p.pid for p in psutil.Process().children()} - before)
        _reaper = subprocess.Popen([sys.executable, str(Path(__file__).with_name("ray_reaper.py")), str(os.getpid()),
                          *map(str, started)], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def _environment(values: Mapping[str, str]):
    """os.environ with `values` for the block (the processes it starts keep them), then restored."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def check_resources(plan_executions, resources: RayResources):
    """Every task must fit on some node: otherwise Ray would wait for it forever."""
    import ray
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    for name in sorted({e.spec.name for e in plan_executions}):
        wanted = resources.for_component(name)
        if not any(node.get("CPU", 0) >= wanted["num_cpus"] and node.get("GPU", 0) >= wanted["num_gpus"]
                   for node in nodes):
            have = "; ".join(f"CPU {n.get('CPU', 0):g}, GPU {n.get('GPU', 0):g}" for n in nodes) or "no nodes"
            raise ConfigError(f"{name} tasks ask for {wanted['num_cpus']:g} CPUs and {wanted['num_gpus']:g} GPUs, "
                              f"but no node of the Ray cluster has that (nodes: {have}). Lower "
                              f"RayResources.num_cpus / num_gpus (or per_component) or add a node that has them. "
                              f"Nothing was run.")


_worker_config = None  # the gin config this worker process parsed (a worker runs many tasks)


def _prepare_worker(config: str, threads: int, deterministic: bool):
    """TensorFlow imported and its threads set, gin parsed: once per worker process, then reused."""
    global _worker_config
    import lth_tf  # noqa: F401  (legacy Keras before TensorFlow)
    import tensorflow as tf
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass  # this worker already ran a task: TensorFlow keeps its first setting
    if deterministic:
        from lth_tf.training.seeding import enable_determinism
        enable_determinism()
    if _worker_config != config:
        from pipelines.configurables import register_everything
        register_everything()
        gin.clear_config()
        gin.parse_config(config)
        _worker_config = config


def _run_task(output_dir: str, execution, config: str, threads: int, deterministic: bool, *upstream) -> Tuple[str, bool]:
    """One execution in a Ray worker; `upstream` (the input tasks' results) only orders it."""
    _prepare_worker(config, threads, deterministic)
    from pipelines.runner import Runner
    running = Path(output_dir) / ".running" / execution.fingerprint
    running.parent.mkdir(parents=True, exist_ok=True)
    running.write_text(f"{socket.gethostname()} {os.getpid()}\n")
    try:
        runner = Runner(output_dir, verbose=False)
        runner.execute_one(execution)
        return execution.fingerprint, bool(runner.executed)
    finally:
        running.unlink(missing_ok=True)


class RayExecutor:
    """`Runner(..., executor=RayExecutor(...))`: the runner's `execute(plan)` hands the pending
    executions to Ray and waits for them, with one progress line for the study."""

    def __init__(self, address: str = "", workers: int = 0, resources: RayResources = None):
        """Starts or joins the cluster and prepares its workers now, while the runner plans, so
        that neither waits for the other."""
        self.address, self.workers = address, workers
        self.resources = resources or RayResources()
        connect(address, workers)
        self._warm_up()

    def _warm_up(self):
        """One task per CPU slot that only prepares its worker (imports, gin, threads): the
        study's first tasks then find workers ready. Not awaited (`ray.get(executor.warming)`
        waits); a failure shows again in the study's tasks."""
        import ray
        slot = self.resources.num_cpus or 1.0
        slots = max(1, min(64, int(ray.cluster_resources().get("CPU", 1) // slot)))
        prepare = ray.remote(_prepare_worker).options(num_cpus=slot, max_retries=0, name="prepare worker")
        self.warming = [prepare.remote(gin.config_str(), self.resources.threads, _deterministic())
                         for _ in range(slots)]

    def __call__(self, runner, plan, bar=None):
        import ray
        for e in plan.executions:  # finished when planned: reused (verified) here, as in-process
            if e.fingerprint in plan.finished:
                runner.execute_one(e)
        pending = [e for e in plan.pending if not runner.is_done(e)]
        if not pending:
            return
        connect(self.address, self.workers)
        check_resources(pending, self.resources)
        config, deterministic = gin.config_str(), _deterministic()
        task = ray.remote(_run_task)
        refs = {}
        for e in pending:  # call order: an execution's inputs come before it
            upstream = [refs[fp] for fp in e.depends_on if fp in refs]
            options = dict(self.resources.for_component(e.spec.name), max_retries=self.resources.max_retries,
                           retry_exceptions=False, name=f"{e.spec.name} {e.label}".strip())
            refs[e.fingerprint] = task.options(**options).remote(
                str(runner.output_dir), e, config, self.resources.threads, deterministic, *upstream)
        by_ref = {ref: fp for fp, ref in refs.items()}
        executions = {e.fingerprint: e for e in pending}
        waiting = list(refs.values())
        shown = time.time()
        try:
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1, timeout=1.0)
                for ref in done:
                    fp, executed = ray.get(ref)
                    runner.mark_done(executions[fp], executed)
                    if bar is not None:
                        bar.update(1)
                if bar is not None or time.time() - shown >= 30:  # without a bar: a line every 30 s
                    self._show(runner, bar, executions, len(waiting))
                    shown = time.time()
        except ray.exceptions.RayTaskError as e:
            for ref in waiting:
                ray.cancel(ref)
            cause = e.cause if isinstance(getattr(e, "cause", None), BaseException) else None
            raise (cause or e) from None
        except KeyboardInterrupt:
            for ref in waiting:
                ray.cancel(ref, force=True)
            raise

    @staticmethod
    def _show(runner, bar, executions, left):
        running = sum((runner.output_dir / ".running" / fp).exists() for fp in executions)
        line = f"ray: {len(executions) - left} done, {running} running, {left - running} waiting"
        if bar is not None:
            bar.set_postfix_str(line)
        else:
            print(line, file=sys.stderr, flush=True)


def _deterministic() -> bool:
    try:
        return bool(gin.query_parameter("run_pipeline.deterministic"))
    except ValueError:
        return True


def shutdown():
    """Stops the cluster connect() started or joined (also at exit)."""
    global _reaper
    import ray
    if ray.is_initialized():
        ray.shutdown()
    if _reaper is not None:
        try:
            _reaper.wait(timeout=5)  # it leaves within a second of the cluster
        except subprocess.TimeoutExpired:
            pass  # still watching a straggler: it ends it when this process ends
        _reaper = None
