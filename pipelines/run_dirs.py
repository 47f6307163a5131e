"""What a study's output directory holds, read without TensorFlow (for `lth-tf ls`, `compare`,
`gc`): its executions, its results, and the artifacts no current study references.

A run is a directory with `config.gin` (pipelines.run writes it); its executions are the
`artifacts/<Component>/<fingerprint>/` directories the Runner made; `executions.json`, written at
the end of a run, lists the artifacts that run executed or reused. Locks (`.locks/`): a study holds
a shared study lock from planning until executions.json is written, each execution its own lock
while it checks and computes; gc takes both exclusively, so it never removes what a live run uses.
"""
import dataclasses
import datetime
import json
import os
import shutil
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from lth_tf.errors import ConfigError
from lth_tf.io import file_lock

# results.csv columns that identify a network although they are numbers, and one that is
# neither key nor metric (where the run keeps the network: differs between any two runs).
KEY_NUMBERS = ("seed", "level")
PER_RUN = ("artifact",)


@dataclasses.dataclass(frozen=True)
class Execution:
    component: str
    path: Path
    label: str
    status: str  # 'finished', 'partial (N units)' or 'missing'
    size: int  # bytes
    created: str
    referenced: Optional[bool]  # listed in executions.json (None: the run has none yet)


def find_runs(root) -> List[Path]:
    """Every run directory at or below `root` (a directory with config.gin), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"No runs directory {str(root)!r}. Runs are written to runs/<config name> under the "
                          f"directory where `lth-tf run` was started; give that path, e.g. `lth-tf ls path/to/runs`.")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        if "config.gin" in filenames:
            found.append(Path(dirpath))
            dirnames.clear()  # a run's own subdirectories (artifacts/, tensorboard/) are not runs
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found)


def dir_size(path: Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files
               if not os.path.islink(os.path.join(d, f)))


def referenced(run_dir: Path) -> Optional[dict]:
    """{relative artifact path: fingerprint} from executions.json, None when the run has none."""
    path = Path(run_dir) / "executions.json"
    if not path.is_file():
        return None
    return {e["path"]: e["fingerprint"] for e in json.loads(path.read_text())["executions"]}


def _units_done(path: Path) -> int:
    # A search or training writes one atomic unit per level (level_LL/, possibly under a variant's
    # directory); other components' units are their top-level entries. Hidden names are temporaries.
    levels = [p for p in path.rglob("level_*") if p.is_dir() and not any(s.startswith(".") for s in p.parts)]
    return len(levels) if levels else sum(1 for p in path.iterdir() if not p.name.startswith("."))


def _label(meta: dict, path: Path) -> str:
    return str(meta.get("label") or (meta.get("summary") or {}).get("label") or path.name)


def executions(run_dir) -> List[Execution]:
    """The run's artifact directories (finished or partial) and the artifacts executions.json
    references that are gone ('missing'), sorted by component then creation."""
    run_dir = Path(run_dir)
    used = referenced(run_dir)
    found = []
    for path in sorted(run_dir.glob("artifacts/*/*")):
        if not path.is_dir() or path.name.startswith("."):
            continue
        meta_path = path / "artifact.json"
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            status, created = "finished", str(meta.get("created", ""))
        else:
            meta, status = {}, f"partial ({_units_done(path)} units)"
            created = datetime.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")
        rel = path.relative_to(run_dir).as_posix()
        found.append(Execution(path.parent.name, path, _label(meta, path), status, dir_size(path), created,
                               None if used is None else rel in used))
    present = {e.path.relative_to(run_dir).as_posix() for e in found}
    for rel in sorted(set(used or {}) - present):
        found.append(Execution(Path(rel).parent.name, run_dir / rel, Path(rel).name, "missing", 0, "", True))
    return sorted(found, key=lambda e: (e.component, e.created, e.label))


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def read_results(run: str):
    """A run's results.csv (`run` is the run directory or the csv itself) as a DataFrame."""
    import pandas as pd
    path = Path(run)
    csv = path / "results.csv" if path.is_dir() else path
    if not path.exists():
        raise ConfigError(f"No run directory {run!r}. Give the output directory of a run (e.g. runs/stability) "
                          f"or its results.csv; `lth-tf ls` lists the runs under runs/.")
    if not csv.is_file():
        raise ConfigError(f"{run!r} has no results.csv: the run has not finished (its report step writes it). "
                          f"Rerun the same `lth-tf run` command to finish it (finished work is reused).")
    return pd.read_csv(csv)


def compare(a, b, metrics=None, on=None, names=("A", "B"), sides=False):
    """Two results tables side by side: rows joined on the columns that identify a network
    (`on`; by default the text columns, seed and level, except the artifact path, which differs
    between runs), each shared metric column (numbers; `metrics` picks some) of both and B − A.
    Rows of one run only keep empty cells for the other; `sides` adds the column `in` ('both',
    'A only', 'B only'). Returns (table, the columns only one run has, row counts)."""
    import pandas as pd

    def identifying(frame):
        return [c for c in frame.columns if c not in PER_RUN and
                (c in KEY_NUMBERS or not pd.api.types.is_numeric_dtype(frame[c]) or frame[c].isna().all())]
    keys_a, keys_b = identifying(a), identifying(b)
    if on is not None:
        missing = [c for c in on if c not in a.columns or c not in b.columns]
        if missing:
            raise ConfigError(f"--on names {missing}, which are not columns of both results tables; "
                              f"their shared columns are: {', '.join(c for c in a.columns if c in b.columns)}.")
        keys_a = keys_b = list(on)
    elif set(keys_a) != set(keys_b):
        only_a, only_b = sorted(set(keys_a) - set(keys_b)), sorted(set(keys_b) - set(keys_a))
        raise ConfigError(f"The two results tables identify their networks by different columns (only in "
                          f"{names[0]}: {only_a or 'none'}; only in {names[1]}: {only_b or 'none'}), so their rows "
                          f"cannot be matched. Compare runs of the same study, or name the columns to join on "
                          f"with --on, e.g. --on variant,seed,level.")
    shared = [c for c in a.columns if c not in keys_a and c not in PER_RUN and c in b.columns
              and pd.api.types.is_numeric_dtype(a[c]) and pd.api.types.is_numeric_dtype(b[c])]
    if metrics is not None and not set(metrics) <= set(shared):
        raise ConfigError(f"--metrics names {sorted(set(metrics) - set(shared))}, which are not metric columns of "
                          f"both runs; the shared metrics are: {', '.join(shared)}.")
    metrics = shared if metrics is None else list(metrics)

    def side(frame):  # empty identifying cells (no rewind for a dense row) must match each other
        part = frame[keys_a + metrics].astype({m: float for m in metrics})
        return part.fillna({k: "" for k in keys_a})
    joined = side(a).merge(side(b), on=keys_a, how="outer", suffixes=(f"_{names[0]}", f"_{names[1]}"),
                           indicator=True)
    columns = list(keys_a)
    for m in metrics:
        joined[f"{m}_diff"] = joined[f"{m}_{names[1]}"] - joined[f"{m}_{names[0]}"]
        columns += [f"{m}_{names[0]}", f"{m}_{names[1]}", f"{m}_diff"]
    if sides:
        joined["in"] = joined["_merge"].astype(str).map(
            {"both": "both", "left_only": f"{names[0]} only", "right_only": f"{names[1]} only"})
        columns.append("in")
    counts = joined["_merge"].value_counts()
    matched = {"both": int(counts.get("both", 0)), names[0]: int(counts.get("left_only", 0)),
               names[1]: int(counts.get("right_only", 0))}
    unshared = sorted((set(a.columns) ^ set(b.columns)) - set(keys_a))
    table = joined[columns].sort_values(keys_a, kind="stable").reset_index(drop=True)
    return table, unshared, matched


def unreferenced(run_dir) -> List[Path]:
    """Artifact directories of the run that its executions.json does not list."""
    run_dir = Path(run_dir)
    used = referenced(run_dir)
    if used is None:
        raise ConfigError(f"{str(run_dir)!r} has no executions.json, so what its study references is unknown and "
                          f"nothing was removed. Rerun the study (`lth-tf run ... --output_dir {run_dir}`: finished "
                          f"work is reused); its end writes executions.json.")
    return [p for p in sorted(run_dir.glob("artifacts/*/*"))
            if p.is_dir() and not p.name.startswith(".") and p.relative_to(run_dir).as_posix() not in used]


def freed_size(path: Path) -> int:
    """The bytes deleting `path` frees: files with no hard link outside it (pipelines/dedup.py
    links identical files of different artifacts), each counted once."""
    links, sizes = {}, {}
    for d, _, files in os.walk(path):
        for f in files:
            st = os.lstat(os.path.join(d, f))
            if not os.path.islink(os.path.join(d, f)):
                key = (st.st_dev, st.st_ino)
                links[key], sizes[key] = links.get(key, 0) + 1, (st.st_size, st.st_nlink)
    return sum(size for key, (size, nlink) in sizes.items() if links[key] >= nlink)


def lock_path(artifact: Path) -> Path:
    """<output_dir>/.locks/<Component>/<name>.lock: the lock an execution holds while it checks and
    computes, out of the store's listings (lock files are never deleted: that would race with a
    process waiting on one)."""
    artifact = Path(artifact)
    return artifact.parents[2] / ".locks" / artifact.parent.name / f"{artifact.name}.lock"


def study_lock(run_dir, blocking: bool = True, shared: bool = True):
    """The lock a study holds (shared: two runs of one directory go together) until its
    executions.json is written; gc takes it exclusively. Yields whether it is held."""
    return file_lock(Path(run_dir) / ".locks" / "study.lock", blocking=blocking, shared=shared)


def _is_link(run_dir: Path, path: Path) -> bool:
    """Whether `path` (artifacts/<Component>/<name>) is reached through a symbolic link, or lies
    outside the run directory once links are resolved: gc never deletes through a link."""
    return (any(p.is_symlink() for p in (path, path.parent, path.parent.parent))
            or not path.resolve().is_relative_to(Path(run_dir).resolve()))


def collect(run_dir, paths: List[Path], dry_run: bool = False) -> Iterator[Tuple[str, int]]:
    """gc of the run's unreferenced artifact directories `paths` (the caller holds the study
    lock): a line and the bytes freed for each, saying only what was removed (or would be). A
    link, or a path whose execution lock a live process holds, is skipped with a word."""
    for path in paths:
        if _is_link(Path(run_dir), path):
            yield f"skipped {path}: a symbolic link (gc never follows links out of the output directory)", 0
            continue
        with file_lock(lock_path(path), blocking=False) as held:
            if not held:
                yield f"skipped {path}: an execution running now holds it ({lock_path(path)})", 0
            elif dry_run:
                size = freed_size(path)
                yield f"would remove {path} ({human_size(size)})", size
            else:
                size = freed_size(path)
                try:
                    remove([path])
                except OSError as e:
                    yield f"could not remove {path} ({e.strerror or e}); fix that and rerun `lth-tf gc`", 0
                else:
                    yield f"removed {path} ({human_size(size)})", size


def remove(paths: List[Path]) -> int:
    """Deletes the directories (and component directories left empty); returns the bytes freed."""
    freed = 0
    for path in paths:
        freed += freed_size(path)
        shutil.rmtree(path)
        if not any(path.parent.iterdir()):
            path.parent.rmdir()
    return freed
