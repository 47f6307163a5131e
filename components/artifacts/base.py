"""The base artifact: a finished component execution's directory, its artifact.json and the
helpers every typed artifact shares (lineage from descriptions, the cost ledger, unit names)."""
import dataclasses
from pathlib import Path

import pandas as pd

from lth_tf.io import read_json


@dataclasses.dataclass(frozen=True)
class Artifact:
    """An artifact directory: <output_dir>/artifacts/<Component>/<name>/ with artifact.json
    (type, producer, parameters, fingerprint, relative input paths, summary, files) and its
    payload. Subclasses (one per artifact type, `components.artifacts.TYPES`) own the payload's
    layout; this class knows only artifact.json."""
    type: str
    path: Path
    fingerprint: str

    TYPE = ""  # the artifact type a subclass stands for ('' here: any)

    @classmethod
    def at(cls, path, fingerprint: str = ""):
        """The artifact of this class at `path` (an executor's own output directory, or a path a
        reader found in another artifact's inputs)."""
        return cls(cls.TYPE or read_json(Path(path) / "artifact.json")["type"], Path(path), fingerprint)

    @property
    def output_dir(self) -> Path:
        """The run's output directory: artifacts live in <output_dir>/artifacts/<Component>/<name>/."""
        return Path(self.path).parents[2]

    @property
    def metadata(self) -> dict:
        """artifact.json, with input paths (stored relative, so a moved output directory still
        works) resolved against this artifact's output directory."""
        meta = read_json(Path(self.path) / "artifact.json")
        meta["inputs"] = {k: ([str(self.output_dir / p) for p in v] if isinstance(v, list) else str(self.output_dir / v))
                          for k, v in meta.get("inputs", {}).items()}
        return meta

    @property
    def summary(self) -> dict:
        """What the producer's executor returned (the facts readers need)."""
        return self.metadata.get("summary", {})

    @property
    def parameters(self) -> dict:
        """The producer's parameters as described in artifact.json (typed: a subclass's `params`)."""
        return self.metadata["parameters"]

    @property
    def train_steps(self) -> int:
        """Cost ledger: the training steps spent to produce this artifact, upstream work included
        (what its producer recorded as summary['train_steps']; 0 for what needs no training)."""
        return int(self.summary.get("train_steps", 0))

    def input_path(self, name: str):
        """The path of input `name` (a list for list inputs), None when it had none."""
        return self.metadata["inputs"].get(name)

    def table(self, name: str = "results.csv") -> pd.DataFrame:
        """The named CSV of this artifact (an empty frame when it has none)."""
        path = Path(self.path) / name
        return pd.read_csv(path) if path.exists() else pd.DataFrame()


def train_steps(*artifacts) -> int:
    """The summed cost ledgers of artifacts (None and lists allowed): the training steps spent
    on everything they hold."""
    total = 0
    for item in artifacts:
        for artifact in (item if isinstance(item, (list, tuple)) else [item]):
            if artifact is not None:
                total += artifact.train_steps
    return total


def from_description(cls, described: dict):
    """A parameter dataclass back from its artifact.json description (lists become tuples)."""
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in described.items() if k != "__class__"})


def from_list(value):
    return tuple(value) if isinstance(value, list) else value


def unit_name(kind: str, number: int) -> str:
    """'level_03', 'round_01', 'network_02': the name of a numbered atomic unit (or TensorBoard run)."""
    return f"{kind}_{number:02d}"


def stored_path(path) -> str:
    """A path inside an artifact as tables write it: relative to the output directory
    ('artifacts/<Component>/<name>/level_03', the runner's layout), so the tables of a moved or
    copied output directory, which is reused whole, still point at their files. A path outside
    that layout (an executor called on a directory of one's own) is written as given."""
    parts = Path(path).parts
    if "artifacts" not in parts:
        return Path(path).as_posix()
    start = len(parts) - 1 - parts[::-1].index("artifacts")
    return Path(*parts[start:]).as_posix()


def level_name(level: int) -> str:
    """'level_03': the unit (or TensorBoard run) of a pruning level, in every per-level layout."""
    return unit_name("level", level)
