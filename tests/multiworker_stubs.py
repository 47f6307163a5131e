"""A tiny component whose every unit is one collective (an all-reduce over every worker), for the
multi-worker resume test of tests/test_multiworker.py: a worker that reused a unit the others
compute would leave them waiting in the all-reduce, so a divergent decision hangs the study.

Outside the parameters (so the fingerprints stay the same on every worker), two environment
variables: LTH_TEST_COUNTER, a file that gets one line per unit this process computes, and
LTH_TEST_STOP_AFTER=N, which interrupts the process (as Ctrl-C would) once it has computed N
units."""
import dataclasses
import os
from pathlib import Path

import gin

from components import ComponentSpec
from lth_tf.io import atomic_path, read_json, unit_is_complete, write_json

_computed = []  # units computed in this process


@dataclasses.dataclass(frozen=True)
class CollectiveParams:
    value: int = 1
    units: int = 3

    def label(self) -> str:
        return f"c{self.value}/seed0"


def _all_reduce(value: float):
    """(the mean of `value` over every replica of every worker, how many replicas)."""
    import tensorflow as tf

    from lth_tf.training import get_strategy
    strategy = get_strategy()
    mean = strategy.reduce(tf.distribute.ReduceOp.MEAN, strategy.run(lambda: tf.constant(float(value))), axis=None)
    replicas = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)
    return float(mean), int(replicas)


def execute(p: CollectiveParams, inputs, out: Path, ctx):
    total = read_json(inputs["source"].path / "total.json")["total"] if inputs.get("source") else 0.0
    for k in range(p.units):
        unit = out / f"unit_{k}"
        if not unit_is_complete(unit):
            value, replicas = _all_reduce(p.value * 10 + k)
            with atomic_path(unit, is_dir=True) as tmp:
                write_json(tmp / "metrics.json", {"value": value, "replicas": replicas})
                (tmp / "data.txt").write_text(f"{value:08.1f}")
            _computed.append(unit)
            if os.environ.get("LTH_TEST_COUNTER"):
                with open(os.environ["LTH_TEST_COUNTER"], "a") as f:
                    f.write(f"{p.value} {k} {replicas}\n")
            if len(_computed) == int(os.environ.get("LTH_TEST_STOP_AFTER", "0")):
                raise KeyboardInterrupt
        total += read_json(unit / "metrics.json")["value"]
    write_json(out / "total.json", {"total": total})
    return {"total": total}


SPEC = ComponentSpec(name="Collective", inputs={"source": "Collective?"}, output="Collective",
                     params=CollectiveParams, executor=execute)


@gin.configurable
def collective_study(runner, values=(1, 2), units: int = 3):
    """A chain of Collective executions, each adding the previous one's total."""
    previous = None
    for value in values:
        previous = runner.run(SPEC, CollectiveParams(value=value, units=units),
                              **({"source": previous} if previous else {}))
    return previous
