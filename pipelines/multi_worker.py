"""Where each worker of a multi-worker study writes, and what finished work it sees, so a rerun of
an interrupted study resumes with every worker taking the same reuse decisions.

Every worker trains every network together (MultiWorkerMirroredStrategy): a worker that reused an
execution or a unit (an IMP level) the others train would leave them waiting in a collective
forever. So all decide from one state: the store as it was when the run started.

- The chief works in the output directory, as one process would.
- Each other worker freezes that state first: it snapshots the chief's `artifacts/` (hard links of
  the files inside units, copies of the rest; temporaries left out) into its own throw-away
  directory `<output_dir>/.workers/<task>/`, and runs there. Then one all-reduce (a barrier) over
  every worker compares a digest of the `artifacts/` each one saw. The chief touches nothing in
  `artifacts/` before that barrier (orphan removal, damage checks and computing come after), so
  every snapshot is the state the chief starts from. From then on each process changes only its
  own copy: the chief and a worker start from the same files and take the same decisions in the
  same order, and what either writes during this run is what the other writes too (a collective
  unit is finished by the chief only after a training every worker took part in, and the worker
  writes it to its copy at the same point), so no unit the chief finishes in this run can look
  "finished before" to a worker. A damaged file is the same file (the same inode, or a copy) in
  every snapshot: every worker finds the same damage and recomputes the same units.
- Digests that differ mean the workers do not share the output directory (no shared filesystem):
  one paragraph, before any work, on every worker, naming the fixes. Equal digests on an empty
  store (a fresh study) need nothing shared: every worker computes everything, as always.
- With --force nothing is snapshotted: every worker recomputes everything (the barrier checks
  that every worker has --force: one without it would reuse what the others recompute).
- One multi-worker study per output directory at a time: what a second run finished meanwhile
  only the chief would see (the per-execution locks keep one process's runs apart, not this).

Hard links keep a snapshot free (and are never written through: units are replaced by atomic
renames, never rewritten in place); loose files outside units, which an executor may rewrite, are
copied so a worker cannot change the chief's file.
"""
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from lth_tf import tf_config
from lth_tf.errors import ConfigError
from lth_tf.io import MANIFEST, is_temporary

WORKERS = ".workers"  # <output_dir>/.workers/<task>/: the other workers' throw-away directories
_METADATA = ("artifact.json", MANIFEST)  # what records finished-ness and checksums: digested whole
FORCED = (1 << 48) - 1  # what a worker run with --force says at the barrier (no digest equals it)


def _files(output_dir: Path):
    """The files of `artifacts/` that make up the finished state (temporaries left out), sorted."""
    root = Path(output_dir) / "artifacts"
    if not root.is_dir():
        return []
    found = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not is_temporary(d))
        found += [Path(directory) / f for f in filenames]
    return sorted(found)


def digest(output_dir) -> int:
    """A 48-bit digest of the store's state: every file's path and size, and the whole text of
    the artifact.json and manifest.json files (which hold the checksums). 0 for an empty store.
    48 bits: exact in the float64 the all-reduce carries."""
    files = _files(output_dir)
    if not files:
        return 0
    h = hashlib.sha256()
    for path in files:
        relative = path.relative_to(output_dir).as_posix()
        try:
            h.update(f"{relative}\0{path.stat().st_size}\0".encode())
            if path.name in _METADATA:
                h.update(path.read_bytes())
        except OSError:  # vanished while listed: a state no other worker can see the same way
            h.update(f"{relative}\0gone\0".encode())
    return int(h.hexdigest()[:12], 16) % FORCED or 1


def snapshot(output_dir, into) -> int:
    """Copies `output_dir/artifacts` into `into/artifacts`: files inside a unit (a directory with
    a manifest.json, below the artifact directory) hard-linked when the filesystem allows it,
    every other file copied. Returns how many files."""
    output_dir, into = Path(output_dir), Path(into)
    files = _files(output_dir)
    for path in files:
        relative = path.relative_to(output_dir)
        target = into / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        in_unit = any((parent / MANIFEST).exists() for parent in list(path.parents)[:len(relative.parts) - 4])
        try:
            if in_unit:
                os.link(path, target)
            else:
                shutil.copy2(path, target)
        except OSError:
            shutil.copy2(path, target)
    return len(files)


def _chunks(value: int):
    """The three 16-bit parts of a 48-bit value, and their squares: what a replica adds in `_agree`."""
    parts = [float((value >> shift) & 0xFFFF) for shift in (0, 16, 32)]
    return [x for part in parts for x in (part, part * part)] + [1.0]


def _agree(strategy, value: int) -> bool:
    """One all-reduce over every worker (a barrier too): whether every replica passed `value`.
    Only SUM is at hand: each replica adds (a, a², ...) for the 16-bit parts a of `value`, and 1;
    all are equal iff Σa = n·a and Σa² = n·a² for every part (no variance). Exact in float64
    (a² < 2^32) for up to 2^20 replicas."""
    import tensorflow as tf
    mine = _chunks(value)
    constant = tf.constant(mine, tf.float64)
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.identity(constant)), axis=None)
    total = [float(x) for x in total.numpy()]
    return all(t == total[-1] * m for t, m in zip(total[:-1], mine[:-1]))


def _not_shared(output_dir: Path) -> ConfigError:
    return ConfigError(
        f"The workers do not see the same finished work in {output_dir} (or --force was given to some of them "
        f"only), so some would recompute what the chief reuses and wait for it forever. To resume a multi-worker "
        f"study, put --output_dir on a filesystem every worker mounts at the same path (NFS, a cluster filesystem); "
        f"or add --force to recompute everything (on every worker or on none); or give a new --output_dir. "
        f"Nothing was run.")


def worker_output_dir(output_dir, strategy, force: bool = False, environ=None) -> Path:
    """Where this process runs the study (see the module docstring): `output_dir` on the chief;
    on another worker, a snapshot of the chief's store under `output_dir/.workers/<task>/`, or a
    fresh temporary directory when the store is empty or with --force. ConfigError, on every
    worker, when the workers do not share the output directory."""
    output_dir = Path(output_dir)
    seen = FORCED if force else digest(output_dir)
    chief = tf_config.is_chief(environ)
    own = None
    if not chief and not force and seen:
        task = tf_config.read(environ)["task"]
        own = output_dir / WORKERS / f"{task['type']}{task['index']}"
        shutil.rmtree(own, ignore_errors=True)  # left by a killed run
        snapshot(output_dir, own)
    if not _agree(strategy, seen):  # the chief waits here until every snapshot is taken
        if own is not None:
            release(own, output_dir)
        raise _not_shared(output_dir)
    if chief:
        return output_dir
    if own is not None:
        return own
    task = tf_config.read(environ)["task"]  # --force, or a fresh study: a temporary directory, as before
    return Path(tempfile.mkdtemp(prefix=f"lth_{task['type']}{task['index']}_"))


def release(worker_dir, output_dir):
    """Removes a worker's snapshot directory at the end of its run (a temporary one is left to
    the system, as before)."""
    worker_dir, output_dir = Path(worker_dir), Path(output_dir)
    if worker_dir.parent == output_dir / WORKERS:
        shutil.rmtree(worker_dir, ignore_errors=True)
        try:
            worker_dir.parent.rmdir()
        except OSError:
            pass

