"""What a component is (TFX-style): a spec naming its typed inputs, its output artifact type
and its parameter dataclass, plus an executor function. Artifacts are directories holding an
`artifact.json` (type, producer, parameters, fingerprint, created) and their payload."""
import dataclasses
from pathlib import Path
from typing import Callable, Dict, Mapping, Sequence, Union

from lth_tf.io import read_json


@dataclasses.dataclass(frozen=True)
class Artifact:
    type: str
    path: Path
    fingerprint: str

    @property
    def metadata(self) -> dict:
        return read_json(self.path / "artifact.json")


@dataclasses.dataclass(frozen=True)
class Context:
    """What an execution may use that does not change its result (so is not fingerprinted)."""
    tensorboard_dir: Path
    verbose: bool = True


# executor(params, inputs, output_dir, context) -> dict of summary metadata for artifact.json.
# Executors write their payload into output_dir in atomic units (lth_tf.io), so an interrupted
# execution leaves only finished units, which a rerun reuses.
Executor = Callable[[object, Dict[str, Union[Artifact, Sequence[Artifact]]], Path, Context], dict]


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    name: str
    # input name -> artifact type; 'Type*': a list of them; '*': a list of any; 'Type?': optional
    inputs: Mapping[str, str]
    output: str  # artifact type
    params: type  # frozen dataclass of parameters
    executor: Executor
    version: int = 1  # bump when the executor's results change, to invalidate cached artifacts
