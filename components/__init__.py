"""What a component is (TFX-style): a spec naming its typed inputs, its output artifact type
and its parameter dataclass, plus an executor function. Artifacts are directories holding an
`artifact.json` (type, producer, parameters, fingerprint, input paths relative to the output
directory, the manifest of its files, provenance, wall time) and their payload; their typed
classes (layout, payload, lineage, cost ledger) live in components.artifacts."""
import dataclasses
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Sequence, Union

from components.artifacts.base import Artifact  # noqa: F401  (re-exported: the base of every typed artifact)


@dataclasses.dataclass(frozen=True)
class Context:
    """What an execution may use that does not change its result (so is not fingerprinted)."""
    tensorboard_dir: Path
    verbose: bool = True


# executor(params, inputs, output_dir, context) -> dict of summary metadata for artifact.json.
# Executors write their payload into output_dir in atomic units (lth_tf.io), so an interrupted
# execution leaves only finished units, which a rerun reuses (`lth_tf.io.unit_is_complete`).
Executor = Callable[[object, Dict[str, Union[Artifact, Sequence[Artifact]]], Path, Context], dict]
# validate(params, inputs) raises a ConfigError for a combination the params' own __post_init__
# cannot see (e.g. an input that a setting requires); the runner calls it while planning, before
# the first execution starts, with inputs that may not exist yet (use types and fingerprints only).
Validator = Callable[[object, Dict[str, Union[Artifact, Sequence[Artifact]]]], None]


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    name: str
    # input name -> artifact type; 'Type*': a list of them; '*': a list of any; 'Type?': optional
    inputs: Mapping[str, str]
    output: str  # artifact type
    params: type  # frozen dataclass of parameters; an optional `label()` names its directory
    executor: Executor
    version: int = 1  # bump when the executor's results change, to invalidate cached artifacts
    validate: Optional[Validator] = None
    # False: several processes execute it together (keras-tuner's distributed workers share one
    # Tuning execution), so the runner takes no per-execution lock for it.
    exclusive: bool = True
