"""Runs components: wires artifacts, fingerprints executions, reuses finished ones.

An execution's fingerprint hashes the component name and version, its parameters and its input
artifacts' fingerprints; its output directory is derived from it, so a rerun of the same
description finds and reuses the finished artifact (open_lth's idea), and an interrupted one
resumes from the units it finished. `artifact.json` is written last and atomically: it is the
mark of a finished artifact.
"""
import dataclasses
import datetime
import hashlib
import json
import shutil
from pathlib import Path

from components.spec import Artifact, ComponentSpec, Context
from lth_tf.io import write_json


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


class Runner:
    def __init__(self, output_dir, force: bool = False, verbose: bool = True):
        self.output_dir = Path(output_dir)
        self.force, self.verbose = force, verbose
        self.executed, self.reused = [], []
        self._hparams_declared = False

    def run(self, spec: ComponentSpec, params, **inputs) -> Artifact:
        if not isinstance(params, spec.params):
            raise TypeError(f"{spec.name} takes {spec.params.__name__}, got {type(params).__name__}")
        self._check_inputs(spec, inputs)
        fp = fingerprint(spec, params, inputs)
        path = self.output_dir / "artifacts" / spec.name / fp[:16]
        artifact = Artifact(spec.output, path, fp)
        if (path / "artifact.json").exists() and not self.force:
            self.reused.append(artifact)
            self._log(f"{spec.name}: reusing {path}")
            return artifact
        if self.force and path.exists() and fp not in {a.fingerprint for a in self.executed}:
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        self._log(f"{spec.name}: running -> {path}")
        self._declare_hparams()
        context = Context(self.output_dir / "tensorboard" / f"{spec.name}-{fp[:8]}", self.verbose)
        try:
            summary = spec.executor(params, inputs, path, context) or {}
        except BaseException:
            if path.exists() and not any(path.iterdir()):
                path.rmdir()  # leave nothing behind for an execution that finished no unit
            raise
        write_json(path / "artifact.json", {
            "type": spec.output, "producer": spec.name, "version": spec.version, "fingerprint": fp,
            "parameters": _describe(params),
            "inputs": {k: ([str(a.path) for a in v] if isinstance(v, (list, tuple)) else str(v.path))
                       for k, v in inputs.items()},
            "created": datetime.datetime.now().isoformat(timespec="seconds"), "summary": summary})
        self.executed.append(artifact)
        return artifact

    @staticmethod
    def _check_inputs(spec, inputs):
        required = {k for k, t in spec.inputs.items() if not t.endswith("?")}
        if not required <= set(inputs) <= set(spec.inputs):
            raise TypeError(f"{spec.name} takes inputs {sorted(spec.inputs)} (required {sorted(required)}), "
                            f"got {sorted(inputs)}")
        for name, value in inputs.items():
            wanted = spec.inputs[name].rstrip("?")
            items = value if wanted.endswith("*") else [value]
            for item in items:
                if wanted.rstrip("*") and item.type != wanted.rstrip("*"):
                    raise TypeError(f"{spec.name}.{name} wants a {wanted} artifact, got {item.type}")

    def _declare_hparams(self):
        """The HParams dashboard's columns, once per study at its TensorBoard root (before the
        first execution that may train)."""
        if not self._hparams_declared:
            from lth_tf.training import tensorboard  # here: importing the runner stays free of TensorFlow
            tensorboard.write_hparams_config(self.output_dir / "tensorboard")
            self._hparams_declared = True

    def _log(self, message):
        if self.verbose:
            print(message, flush=True)
