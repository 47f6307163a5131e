"""Runs components: plans a study, then executes it; fingerprints, cache, locks, damage checks.

An execution's fingerprint hashes the component name and version, its parameters and its input
artifacts' fingerprints, never their contents, so a study's whole list of executions is known
before anything runs: `plan(pipeline)` runs the pipeline function with `run` only recording
(every params' and spec's validation happens then, before the first execution), and
`execute(plan)` runs the recorded executions in order. `study(pipeline)` does both (and plans
again after executing when a pipeline reads a result to decide what comes next: `need`).

Store: an artifact lives in `artifacts/<Component>/<label>-<fp8>/` (the label from the params'
optional `label()`, else inherited from its first single input; no label: `<fp16>`). Its
`artifact.json`, written last and atomically, marks it finished and records its files' sizes and
checksums, input paths relative to the output directory (a moved or copied directory is reused
whole), provenance and wall time. Reuse verifies the files; a damaged artifact is recomputed
(its damaged units only) with one warning naming the file; an interrupted execution resumes from
its finished units only after their checksums are verified the same way. A finished execution's unit files
identical to stored ones become hard links to them (pipelines/dedup.py). Each execution holds a file lock
(`<output_dir>/.locks/`) while it checks and computes, so concurrent runs on one directory compute it once.

The plan's records (Execution, Plan, fingerprint) are in pipelines/plan.py. This file is one class (~350
lines) on purpose: recording, reuse checks, locking and computing share the Runner's per-run state.
"""
import datetime
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Optional

from components import Artifact, ComponentSpec, Context
from pipelines.dedup import ContentIndex
from pipelines.progress import Lines
from pipelines.plan import Execution, Plan, _NeedsResult, _describe, _recorded_label, _safe, fingerprint
from pipelines.publish import publish
from pipelines.run_dirs import lock_path, study_lock
from lth_tf.io import (UnreadableFile, damaged_files, damaged_units, file_lock, invalidate_unit, manifest, read_json,
                       remove_temporaries, unit_manifests, write_json)

# Execution, Plan, fingerprint and _describe live in pipelines/plan.py; importable from here too.
__all__ = ["Runner", "Execution", "Plan", "fingerprint"]

log = logging.getLogger("lth_tf.runner")


class Runner:
    def __init__(self, output_dir, force: bool = False, verbose: bool = True, progress: Optional[bool] = False,
                 executor=None):
        """`progress`: one line for the whole study on stderr: True always, None when stderr is a
        terminal (a log or a pipe gets a plain line per finished execution instead,
        pipelines/progress.py), False never. `executor`: None
        runs executions here, one after the other; else executor(runner, plan, bar) runs the
        plan's pending executions (pipelines/ray_executor.RayExecutor)."""
        self.output_dir = Path(output_dir)
        self.force, self.verbose, self.progress = force, verbose, progress
        self.executor = executor
        self.executed, self.reused = [], []
        self._known = {}  # fingerprint -> Execution (recorded in this process)
        self._tensorboard_names = {}  # tensorboard run dir -> fingerprint that claimed it
        self._verified = set()  # fingerprints found finished (or computed) in this run
        self._done = set()  # fingerprints executed or reused in this run
        self._forced = set()
        self._warned = set()  # fingerprints whose damage was reported
        self._plan = None  # the Plan being recorded, while planning
        self._bar = None
        self._hparams_declared = False
        self._contents = ContentIndex(self.output_dir)  # identical unit files stored once (pipelines/dedup.py)

    # --- the pipeline's interface ---
    @property
    def planning(self) -> bool:
        return self._plan is not None

    def run(self, spec: ComponentSpec, params, **inputs) -> Artifact:
        """The artifact of `spec` run with `params` on `inputs`: recorded while planning,
        otherwise reused or computed now."""
        execution = self._record(spec, params, inputs)
        if self._plan is None:  # called directly: look at the store again, as a fresh run would
            self._done.discard(execution.fingerprint)
            self._verified.discard(execution.fingerprint)
            self.execute_one(execution)
        return execution.artifact

    def need(self, artifact: Artifact) -> Artifact:
        """Say so before reading an artifact's contents in a pipeline: planning stops there (the
        plan so far is executed, then planning resumes with the result at hand)."""
        if self._plan is not None and artifact.fingerprint not in self._verified:
            raise _NeedsResult(artifact)
        return artifact

    def publish(self, report: Artifact):
        """Copies a report's files to the top of the output directory (after execution)."""
        if self._plan is not None:
            self._plan.publish.append(report)
        else:
            publish(report, self.output_dir)

    # --- plan, execute ---
    def plan(self, pipeline, *args, **kwargs) -> Plan:
        """Runs `pipeline(self, *args, **kwargs)` recording executions, computing nothing."""
        self._plan = plan = Plan([], set())
        try:
            plan.result = pipeline(self, *args, **kwargs)
        except _NeedsResult:
            plan.complete = False
        finally:
            self._plan = None
        return plan

    def execute(self, plan: Plan):
        counted = plan.finished | self._done  # reused or done: they take no time (a fair ETA)
        bar = self._progress_bar(plan, len(counted))
        try:
            if self.executor is not None:
                self.executor(self, plan, bar)
            for execution in ([] if self.executor is not None else plan.executions):
                if bar is not None:
                    bar.set_postfix_str(f"{len(self.reused)} reused; {execution.spec.name} {execution.label}".rstrip())
                self.execute_one(execution)
                if bar is not None and execution.fingerprint not in counted:
                    bar.update(1)
            if bar is not None:
                bar.set_postfix_str(f"{len(self.reused)} reused")
        except BaseException:
            self._close_bar()
            raise
        if plan.complete:
            self._close_bar()
        for report in plan.publish:
            publish(report, self.output_dir)

    def study(self, pipeline, *args, on_planned=None, **kwargs):
        """Plans and executes `pipeline` (again after a `need`) and returns what it returns;
        `on_planned()` runs once, after the first planning succeeded, before any execution. The
        study lock (shared) is held throughout: `lth-tf gc` removes nothing of a live study."""
        with study_lock(self.output_dir):
            self.remove_orphans()
            while True:
                plan = self.plan(pipeline, *args, **kwargs)
                if on_planned is not None:
                    on_planned()
                    on_planned = None
                self.execute(plan)
                if plan.complete:
                    return plan.result

    def remove_orphans(self):
        """Temporary directories left by a killed process, in artifacts no live execution holds."""
        for path in sorted(self.output_dir.glob("artifacts/[!.]*/[!.]*")):
            if path.is_dir():
                with file_lock(self._lock_path(path), blocking=False) as held:
                    if held:
                        for orphan in remove_temporaries(path):
                            log.info("removed %s (left by an interrupted run)", orphan)

    # --- recording ---
    def _record(self, spec, params, inputs) -> Execution:
        if not isinstance(params, spec.params):
            raise TypeError(f"{spec.name} takes {spec.params.__name__}, got {type(params).__name__}")
        self._check_inputs(spec, inputs)
        fp = fingerprint(spec, params, inputs)
        execution = self._known.get(fp)
        if execution is None:
            if spec.validate is not None:
                spec.validate(params, inputs)
            inputs = {k: tuple(v) if isinstance(v, list) else v for k, v in inputs.items()}
            label = self._label(spec, params, inputs)
            name = f"{_safe(label)}-{fp[:8]}" if label else fp[:16]
            execution = Execution(spec, params, inputs, fp, self.output_dir / "artifacts" / spec.name / name, label,
                                  self._tensorboard_dir(spec, label, fp), tuple(dict.fromkeys(
                                      a.fingerprint for v in inputs.values() for a in (v if isinstance(v, tuple) else [v]))))
            self._known[fp] = execution
        if self._plan is not None and fp not in {e.fingerprint for e in self._plan.executions}:
            self._plan.executions.append(execution)
            if not self.force and self._finished(execution):
                self._plan.finished.add(fp)
        return execution

    def _label(self, spec, params, inputs) -> str:
        label = getattr(params, "label", None)
        if callable(label):
            return label()
        for name in spec.inputs:  # inherited: an analysis of a search reads like the search
            value = inputs.get(name)
            if isinstance(value, Artifact):
                if value.fingerprint in self._known:
                    return self._known[value.fingerprint].label
                return _recorded_label(value)  # computed by another process: its artifact.json says it
        return ""

    def _tensorboard_dir(self, spec, label, fp) -> Path:
        run = f"{label}/{spec.name}" if label else f"{spec.name}-{fp[:8]}"
        if self._tensorboard_names.setdefault(run, fp) != fp:  # same label, other params or inputs
            run = f"{run}-{fp[:8]}"
        return self.output_dir / "tensorboard" / run

    # --- the store ---
    def _finished(self, execution) -> bool:
        """Whether the artifact is finished and undamaged (one warning naming the file if not)."""
        fp, path = execution.fingerprint, execution.path
        if fp in self._verified and (path / "artifact.json").exists():  # still there (nothing deleted it since)
            return True
        if not (path / "artifact.json").exists():
            return False
        try:
            meta = read_json(path / "artifact.json")
            files = meta.get("files") if isinstance(meta, dict) and meta.get("fingerprint") == fp else None
        except UnreadableFile:
            files = None
        if isinstance(files, dict):
            # a unit artifact.json does not list (a garbage or foreign artifact.json) is not vouched for
            damaged = damaged_files(path, files) + [m for m in unit_manifests(path)
                                                    if m.relative_to(path).as_posix() not in files]
        else:
            damaged = [path / "artifact.json"]
        if damaged:
            self._warn_damaged(fp, damaged, "missing, unlisted, or its size or checksum differs from artifact.json")
            return False
        self._verified.add(fp)
        return True

    def is_done(self, execution: Execution) -> bool:
        """Executed or reused by this run (its artifact still there)."""
        return execution.fingerprint in self._done and (execution.path / "artifact.json").exists()

    def mark_done(self, execution: Execution, executed: bool):
        """Records an execution another process (an executor's worker) computed or reused."""
        (self.executed if executed else self.reused).append(execution.artifact)
        self._done.add(execution.fingerprint)
        self._verified.add(execution.fingerprint)

    def execute_one(self, execution: Execution):
        """Reuses or computes one execution under its lock (what a worker of another executor
        calls once the execution's inputs are finished)."""
        fp, path = execution.fingerprint, execution.path
        if self.is_done(execution):
            return
        with file_lock(self._lock_path(path), blocking=False) as held:
            if not held and execution.spec.exclusive:
                log.info("%s %s: waiting for another run computing %s", execution.spec.name, execution.label, path)
        # Shared for a spec several processes execute together: orphan removal still sees it live.
        with file_lock(self._lock_path(path), shared=not execution.spec.exclusive):
            forced = self.force and fp not in self._forced
            if not forced and self._finished(execution):
                self.reused.append(execution.artifact)
                log.info("%s: reusing %s", execution.spec.name, path)
            else:
                if forced and path.exists():
                    shutil.rmtree(path)
                self._forced.add(fp)
                self._compute(execution)
                self.executed.append(execution.artifact)
                self._verified.add(fp)
            self._done.add(fp)

    def _compute(self, execution: Execution):
        spec, params, inputs, path = execution.spec, execution.params, execution.inputs, execution.path
        if spec.exclusive:
            remove_temporaries(path)  # orphans of a killed run: this process holds the lock
        self._invalidate_damaged(execution)
        path.mkdir(parents=True, exist_ok=True)
        log.info("%s: running -> %s", spec.name, path)
        self._declare_hparams()
        context = Context(execution.tensorboard_dir, self.verbose)
        started = time.time()
        try:
            summary = spec.executor(params, {k: list(v) if isinstance(v, tuple) else v for k, v in inputs.items()},
                                    path, context) or {}
        except BaseException:
            if path.exists() and not any(path.iterdir()):
                path.rmdir()  # leave nothing behind for an execution that finished no unit
            raise
        from lth_tf import provenance
        files = manifest(path, exclude=("artifact.json",))
        self._contents.link_copies(path, files)
        write_json(path / "artifact.json", {
            "type": spec.output, "producer": spec.name, "version": spec.version, "fingerprint": execution.fingerprint,
            "label": execution.label, "parameters": _describe(params),
            "inputs": {k: ([self._relative(a) for a in v] if isinstance(v, tuple) else self._relative(v))
                       for k, v in inputs.items()},
            "created": datetime.datetime.now().isoformat(timespec="seconds"), "summary": summary,
            "wall_time_s": round(time.time() - started, 3), "provenance": provenance.collect(),
            "files": files})

    def _warn_damaged(self, fp: str, damaged: list, how: str):
        """One warning per execution, naming the first damaged file."""
        if fp not in self._warned:
            self._warned.add(fp)
            more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
            log.warning("warning: %s is damaged (%s)%s: recomputing it", damaged[0], how, more)

    def _invalidate_damaged(self, execution: Execution):
        """Before computing into a directory that holds work (a damaged artifact, or the units an
        interrupted run finished): the damaged files artifact.json lists and every unit whose files
        differ from its own manifest's checksums are marked unfinished (the executor recomputes
        them and reuses the rest; one warning names the file), damaged loose files removed.
        artifact.json goes last, so a failure midway (a read-only unit) leaves the damage for the
        next run to find again."""
        path, marker = execution.path, execution.path / "artifact.json"
        try:
            files = read_json(marker)["files"] if marker.exists() else {}
        except (UnreadableFile, KeyError, TypeError):
            files = {}
        damaged = list(dict.fromkeys((damaged_files(path, files) if isinstance(files, dict) else [])
                                     + damaged_units(path)))
        if damaged:
            self._warn_damaged(execution.fingerprint, damaged, "its size or checksum differs from its manifest")
        for file in damaged:
            if invalidate_unit(file, path) is None and file.is_file():
                file.unlink()
        marker.unlink(missing_ok=True)

    def _relative(self, artifact: Artifact) -> str:
        return Path(os.path.relpath(Path(artifact.path).resolve(), self.output_dir.resolve())).as_posix()

    @staticmethod
    def _lock_path(path: Path) -> Path:
        return lock_path(path)  # <output_dir>/.locks/<Component>/<name>.lock (gc takes it too)

    def _progress_bar(self, plan: Plan, initial: int):
        if self.progress is False:
            return None
        if self._bar is None and self.progress is None and not sys.stderr.isatty():
            self._bar = Lines(len(plan.executions), initial)  # a log file or a pipe: plain lines, no bar
        elif self._bar is None:
            from tqdm import tqdm
            self._bar = tqdm(total=len(plan.executions), initial=initial, desc="study", unit="execution",
                             dynamic_ncols=True)
        else:
            self._bar.total = len(plan.executions)
            self._bar.refresh()
        return self._bar

    def _close_bar(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

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
