"""A tiny component for the store's tests: no TensorFlow, units of text, every execution and
every computed unit counted in a file (so a test sees what was computed, across processes)."""
import dataclasses
import time
from pathlib import Path

import gin

from components import ComponentSpec
from lth_tf.errors import ConfigError
from lth_tf.io import atomic_path, read_json, unit_is_complete, write_json


@dataclasses.dataclass(frozen=True)
class CountParams:
    value: int = 1
    units: int = 3
    sleep: float = 0.0  # seconds, before the first unit (to overlap two runs, or interrupt one)
    counter: str = ""  # file that gets one line per execution and per computed unit

    def __post_init__(self):
        if self.units < 1:
            raise ConfigError(f"CountParams.units={self.units} must be >= 1.")

    def label(self) -> str:
        return f"v{self.value}/seed0"


def _count(p: CountParams, line: str):
    if p.counter:
        with open(p.counter, "a") as f:
            f.write(line + "\n")


def execute(p: CountParams, inputs, out: Path, ctx):
    _count(p, f"execution {p.value}")
    if p.sleep:
        marker = Path(p.counter).with_suffix(".started") if p.counter else None
        if marker:
            marker.write_text("started")
        time.sleep(p.sleep)
    offset = read_json(inputs["source"].path / "total.json")["total"] if inputs.get("source") else 0
    total = offset
    for k in range(p.units):
        unit = out / f"unit_{k}"
        if not unit_is_complete(unit):
            _count(p, f"unit {p.value} {k}")
            with atomic_path(unit, is_dir=True) as tmp:
                (tmp / "data.txt").write_text(str(p.value * k) * 50)
                write_json(tmp / "metrics.json", {"k": k, "value": p.value * k})
        total += read_json(unit / "metrics.json")["value"]
    write_json(out / "total.json", {"total": total})
    return {"total": total}


def validate(p: CountParams, inputs):
    if p.value < 0:
        raise ConfigError(f"CountParams.value={p.value} must be >= 0 (checked while planning).")


SPEC = ComponentSpec(name="Count", inputs={"source": "Count?"}, output="Count", params=CountParams,
                     executor=execute, validate=validate)


@gin.configurable
def count_study(runner, values=(1, 2), units: int = 3, sleep: float = 0.0, counter: str = ""):
    """A chain of Count executions, each reading the previous one's total."""
    previous = None
    for value in values:
        params = CountParams(value=value, units=units, sleep=sleep, counter=counter)
        previous = runner.run(SPEC, params, **({"source": previous} if previous else {}))
    return previous
