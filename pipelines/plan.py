"""A study's plan: the executions it asks for, each named by its fingerprint before anything runs
(the runner, pipelines/runner.py, records them while planning and executes them after).

An execution's fingerprint hashes the component name and version, its parameters and its input
artifacts' fingerprints, never their contents; its artifact directory is
`artifacts/<Component>/<label>-<fp8>/` (`_safe(label)`; no label: `<fp16>`).
"""
import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import List, Mapping, Tuple, Union

from components.artifacts import typed
from components import Artifact, ComponentSpec
from lth_tf.io import UnreadableFile, read_json


def _describe(value):
    if dataclasses.is_dataclass(value):
        return {"__class__": type(value).__name__,
                **{f.name: _describe(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _describe(v) for k, v in value.items()}
    return value


def fingerprint(spec: ComponentSpec, params, inputs) -> str:
    description = {"component": spec.name, "version": spec.version, "params": _describe(params),
                   "inputs": {k: ([a.fingerprint for a in v] if isinstance(v, (list, tuple)) else v.fingerprint)
                              for k, v in sorted(inputs.items())}}
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Execution:
    """One component execution, self-contained (picklable: the spec and params are module-level
    objects): what `execute` (or a worker of another executor) needs to run it."""
    spec: ComponentSpec
    params: object
    inputs: Mapping[str, Union[Artifact, Tuple[Artifact, ...]]]
    fingerprint: str
    path: Path  # the artifact directory
    label: str  # human label ('mu0.9_bs128_rw0it/seed0'), '' when none
    tensorboard_dir: Path
    depends_on: Tuple[str, ...]  # fingerprints of the input artifacts

    @property
    def artifact(self) -> Artifact:
        """The output as its typed class (components.artifacts.TYPES): what executors receive."""
        return typed(self.spec.output, self.path, self.fingerprint)


@dataclasses.dataclass
class Plan:
    executions: List[Execution]  # every distinct execution the pipeline asked for, in call order
    finished: set  # fingerprints of those already finished (verified) when planned
    complete: bool = True  # False: the pipeline needs a result first (Runner.need); execute, then plan again
    result: object = None  # what the pipeline function returned (when complete)
    publish: List[Artifact] = dataclasses.field(default_factory=list)  # reports copied to the output dir

    @property
    def pending(self) -> List[Execution]:
        return [e for e in self.executions if e.fingerprint not in self.finished]


class _NeedsResult(Exception):
    """Planning stops: the pipeline reads an artifact that is not computed yet."""


def _recorded_label(artifact: Artifact) -> str:
    """The label a finished artifact recorded ('' when it is not finished or has none)."""
    try:
        return str(read_json(Path(artifact.path) / "artifact.json").get("label", ""))
    except (OSError, UnreadableFile, AttributeError):
        return ""


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]", "_", label.replace("/", "-"))
