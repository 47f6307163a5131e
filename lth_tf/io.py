"""Atomic writes, verifiable units and locks: what the artifact store is built from.

A reader (or a rerun after a crash) sees either the old state or the complete new one, never a
half-written file. A directory written with `atomic_path(..., is_dir=True)` is a *unit*: it
carries a `manifest.json` of its files' sizes and checksums, written inside it before the
rename, so `unit_is_complete` tells a finished unit from a damaged one (a truncated or deleted
file) and a rerun recomputes the damaged one instead of reusing it (`damaged_units` checks the
checksums of every unit a rerun resumes from).
"""
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from lth_tf.errors import ConfigError

MANIFEST = "manifest.json"
# Every file is hashed, streamed in blocks of this size (sha256, ~700 MB/s on one CPU core: a
# whole stability run's 216 MB in 0.3 s, little next to training). Manifests written before
# recorded no checksum for files over 16 MiB: those count as damaged (unverifiable) and are
# recomputed, never reused on their size alone.
BLOCK = 1 << 20
# atomic_path's temporary siblings: '.<name>.' + the 8 characters tempfile.mkdtemp appends.
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}$")


class UnreadableFile(ConfigError):
    """A stored file that cannot be read (truncated, corrupted): names the file and the fix."""

    def __init__(self, path, error):
        self.path = Path(path)
        owner = next((p for p in self.path.parents if p.parent.parent.name == "artifacts"), None)
        where = f"delete {owner}" if owner else "delete the artifact directory that holds it (under artifacts/)"
        super().__init__(f"{path} is unreadable ({type(error).__name__}: {error}); it is a damaged stored result: "
                         f"{where} and rerun the same command to recompute it, or rerun with --force to "
                         f"recompute everything.")


@contextlib.contextmanager
def atomic_path(path, is_dir: bool = False):
    """Yields a temporary sibling path to write; on success it is renamed to `path`. A directory
    gets its manifest written last, just before the rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    target = tmp if is_dir else tmp / path.name
    try:
        yield target
        if is_dir:
            target.chmod(0o777 & ~_umask())  # mkdtemp makes it 0700: readable by others as mkdir would make it
            _write_manifest(target)
            if path.exists():
                shutil.rmtree(path)
        os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    """The process's umask: from /proc on Linux (setting it to read it would race with other
    threads creating files), else set and restored."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def file_record(path: Path) -> dict:
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            digest.update(block)
    return {"size": size, "sha256": digest.hexdigest()}


def manifest(root, exclude=()) -> dict:
    """{relative path: {size, sha256}} of every file under `root`."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): file_record(p) for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).as_posix() not in exclude}


def damaged_files(root, files: dict, hashes: bool = True) -> list:
    """The files of a manifest that are missing or differ (size; sha256 when `hashes`: a record
    without one, or not a record, counts as damaged)."""
    root, damaged = Path(root), []
    for name, record in sorted(files.items()):
        path = root / name
        try:
            if not isinstance(record, dict) or path.stat().st_size != record.get("size"):
                damaged.append(path)
            elif hashes and file_record(path)["sha256"] != record.get("sha256"):
                damaged.append(path)
        except OSError:
            damaged.append(path)
    return damaged


def unit_manifests(root) -> list:
    """The manifests of the units below `root`, sorted (not those of atomic_path's temporaries)."""
    root = Path(root)
    return [m for m in sorted(root.rglob(MANIFEST)) if not any(p.startswith(".") for p in m.relative_to(root).parts)]


def damaged_units(root) -> list:
    """One damaged file (or the unreadable manifest) of each unit below `root` whose files differ
    from its manifest's sizes and checksums: what a rerun must recompute before it resumes an
    interrupted execution from its finished units (atomic_path's temporaries are not units)."""
    damaged = []
    for listed in unit_manifests(root):
        try:
            files = json.loads(listed.read_text())
            bad = damaged_files(listed.parent, files) if isinstance(files, dict) else [listed]
        except (OSError, ValueError):
            bad = [listed]
        damaged += bad[:1]
    return damaged


def _write_manifest(directory: Path):
    files = manifest(directory, exclude=(MANIFEST,))
    (directory / MANIFEST).write_text(json.dumps(files, indent=1, sort_keys=True) + "\n")


def unit_is_complete(path, hashes: bool = False) -> bool:
    """Whether `path` is a unit written whole by atomic_path: its manifest is there and every file
    it lists has the recorded size (and checksum, with `hashes`). Cheap without hashes: the
    runner verifies the checksums of a whole artifact on reuse, and of every unit an execution
    resumes from before it computes (`damaged_units`), and invalidates damaged units."""
    try:
        files = json.loads((Path(path) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return not damaged_files(path, files, hashes)


def invalidate_unit(path, root):
    """Marks the innermost unit holding `path` (below `root`) as unfinished, so it is recomputed."""
    root, here = Path(root), Path(path).parent
    while here != root and root in here.parents:
        if (here / MANIFEST).exists():
            (here / MANIFEST).unlink()
            return here
        here = here.parent
    return None


@contextlib.contextmanager
def file_lock(path, blocking: bool = True, shared: bool = False):
    """An exclusive (or `shared`) flock on `path` (created if needed) for the block; yields False
    without waiting when `blocking` is False and another process (or open file) holds a
    conflicting one. flock works across processes and, on Linux NFS clients, across machines
    sharing the filesystem."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB))
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_temporary(name: str) -> bool:
    """Whether `name` is one of atomic_path's temporary siblings (a write in progress, or an orphan)."""
    return bool(_TEMPORARY.match(name))


def remove_temporaries(root) -> list:
    """Removes atomic_path's temporary directories left below `root` by a killed process; the
    caller holds the lock that makes them orphans."""
    removed = []
    for path in sorted(Path(root).rglob(".*"), reverse=True):
        if path.is_dir() and is_temporary(path.name):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def write_text(path, text: str):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise UnreadableFile(path, e) from e


# save_npz(..., pack_bits=True) stores 0/1 arrays (masks) as bits: np.packbits, then deflate,
# which deflate on float32 0/1 values does not match (a stability run's 437 mask.npz files:
# 3.2 -> 2.4 MB on disk). The PACKED key lists the packed arrays' dtype and shape as JSON; files
# without it (written before, or without pack_bits) load as plain npz.
PACKED = "__packed_bits__"


def save_npz(path, arrays: dict, pack_bits: bool = False):
    """Writes `arrays` as a compressed npz, atomically. `pack_bits`: arrays whose values are all
    exactly 0 or 1 (masks) are stored bit-packed; `load_npz` gives them back identical (same
    dtype, shape and values), other arrays are stored as they are."""
    stored, packed = {}, {}
    for key, value in arrays.items():
        value = np.asarray(value)
        if pack_bits and _is_binary(value):
            stored[key] = np.packbits(value.reshape(-1) != 0)
            packed[key] = [value.dtype.str, list(value.shape)]
        else:
            stored[key] = value
    if packed:
        if PACKED in arrays:
            raise ValueError(f"{PACKED!r} is reserved (save_npz(pack_bits=True) lists the packed arrays under it)")
        stored[PACKED] = np.array(json.dumps(packed, sort_keys=True))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **stored)


def load_npz(path) -> dict:
    """The arrays of an npz written by save_npz (bit-packed ones unpacked) or by np.savez."""
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        packed = json.loads(str(arrays.pop(PACKED))) if PACKED in arrays else {}
        for key, (dtype, shape) in packed.items():
            count = int(np.prod(shape, dtype=np.int64))
            arrays[key] = np.unpackbits(arrays[key], count=count).astype(np.dtype(dtype)).reshape(shape)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, KeyError, TypeError, IndexError, struct.error, zlib.error,
            NotImplementedError, zipfile.BadZipFile, zipfile.LargeZipFile) as e:  # every error a damaged file gives
        raise UnreadableFile(path, e) from e
    return arrays


def _is_binary(value: np.ndarray) -> bool:
    """Every entry exactly 0 or 1 (for floats: no -0.0, whose sign bit packing would lose)."""
    if value.dtype == bool:
        return True
    if value.dtype.kind not in "iuf" or value.size == 0:
        return False
    if value.dtype.kind == "f" and np.signbit(value).any():
        return False
    return bool(np.all((value == 0) | (value == 1)))


def write_csv(path, frame):
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value)}")


def save_png(fig, path, dpi: int = 120):
    """Writes a matplotlib figure atomically and closes it (open figures pile up in memory)."""
    import matplotlib.pyplot as plt
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
