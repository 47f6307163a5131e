"""TF_CONFIG: which cluster a multi-worker process belongs to and which task it is.

`tf.distribute.MultiWorkerMirroredStrategy` reads the `TF_CONFIG` environment variable, a JSON
object such as

    {"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}}

and fails late and obscurely on a bad one (a hang waiting for a worker that does not exist, or a
gRPC error minutes in). `read()` checks it first and raises one ConfigError naming the fix. This
module does not import TensorFlow, so the checks (and `is_chief`) are cheap to call anywhere.
"""
import json
import os
import tempfile

from lth_tf.errors import ConfigError

EXAMPLE = ('TF_CONFIG=\'{"cluster": {"worker": ["localhost:12345", "localhost:12346"]}, '
           '"task": {"type": "worker", "index": 0}}\'')
# MultiWorkerMirroredStrategy's task types: an optional single chief beside the workers.
TASK_TYPES = ("chief", "worker")


def _error(problem: str) -> ConfigError:
    return ConfigError(
        f"{problem} strategy_name.name = 'multi_worker' needs every process to be started with a "
        f"TF_CONFIG environment variable that lists the same cluster (task type -> 'host:port' "
        f"addresses, one per process) and names this process's own task, e.g. {EXAMPLE} for the "
        f"first of two workers (index 1 for the second); or use strategy_name.name = 'default' "
        f"to train in one process.")


def read(environ=None) -> dict:
    """The parsed and checked TF_CONFIG of this process (ConfigError when missing or bad)."""
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG", "")
    if not text.strip():
        raise _error("TF_CONFIG is not set.")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise _error(f"TF_CONFIG is not valid JSON ({e.msg} at character {e.pos}: {text[:80]!r}).") from None
    if not isinstance(config, dict):
        raise _error(f"TF_CONFIG must be a JSON object, got {type(config).__name__}.")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise _error("TF_CONFIG has no 'cluster' object.")
    for kind, addresses in cluster.items():
        if kind not in TASK_TYPES:
            raise _error(f"TF_CONFIG's cluster has task type {kind!r}; multi-worker training knows only "
                         f"{', '.join(TASK_TYPES)} (no parameter servers or evaluators).")
        if not isinstance(addresses, list) or not addresses or not all(_is_address(a) for a in addresses):
            raise _error(f"TF_CONFIG's cluster[{kind!r}] must be a non-empty list of 'host:port' strings, "
                         f"got {addresses!r}.")
    if len(cluster.get("chief", [])) > 1:
        raise _error(f"TF_CONFIG's cluster lists {len(cluster['chief'])} chiefs; there can be at most one.")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise _error(f"TF_CONFIG has no 'task' object with 'type' and 'index' (got {task!r}).")
    kind, index = task["type"], task["index"]
    if kind not in cluster:
        raise _error(f"TF_CONFIG names this process task type {kind!r}, which its cluster does not list "
                     f"(it lists {', '.join(map(repr, cluster))}).")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise _error(f"TF_CONFIG names this process {kind} index {index!r}, but the cluster lists "
                     f"{len(cluster[kind])} {kind} address(es), so the index must be 0..{len(cluster[kind]) - 1}.")
    return config


def _is_address(address) -> bool:
    if not isinstance(address, str) or ":" not in address:
        return False
    host, port = address.rsplit(":", 1)
    return bool(host) and port.isdigit()


def is_chief(environ=None) -> bool:
    """True for the process that writes artifacts and summaries: a process without TF_CONFIG
    (single-process training), the 'chief' task, or worker 0 of a cluster without a chief
    (TensorFlow's own convention). Every worker computes the same results; only the chief
    keeps them."""
    environ = os.environ if environ is None else environ
    if not environ.get("TF_CONFIG", "").strip():
        return True
    config = read(environ)
    kind, index = config["task"]["type"], config["task"]["index"]
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in config["cluster"])


def output_dir(path, environ=None) -> str:
    """Where this process writes: `path` on the chief, a fresh temporary directory on any other
    worker (its artifacts are copies of the chief's, thrown away)."""
    if is_chief(environ):
        return str(path)
    task = read(environ)["task"]
    return tempfile.mkdtemp(prefix=f"lth_{task['type']}{task['index']}_")

