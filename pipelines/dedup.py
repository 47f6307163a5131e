"""Identical files of the store kept once: hard links between the unit files of artifacts.

Executions of one study often write the same bytes: the searches of one recipe and seed that
differ only in their rewind point train the same dense network (level_00's SavedModel), the
searches rewinding to init of one seed store the same rewind.npz, every SavedModel of one
architecture has the same keras_metadata.pb (a stability run: ~4 MB of copies). When an
execution finishes, the Runner hands its manifest to `ContentIndex.link_copies`: each file
inside one of its units whose size and sha256 are those of a unit file already stored in the
output directory becomes a hard link to that file (compared byte for byte first).

Why this is safe with the store's checksums and resume: a unit (a directory with a manifest,
lth_tf.io.atomic_path) is never written in place: it is written whole in a temporary directory
and renamed over the old one; a recomputed unit, --force and `lth-tf gc` replace or delete
directories, never a file's contents. So no write through one link changes what the other
artifact's checksums guard. Only unit files are linked: an artifact's loose files (a
keras-tuner oracle's json) may be rewritten in place by their writer. A file someone damages
in place afterwards shows in the checksums of both artifacts, and each is recomputed as any
damaged artifact is. Where the filesystem has no hard links, the files stay copies.
"""
import filecmp
import os
import secrets
from pathlib import Path

from lth_tf.io import MANIFEST, UnreadableFile


class ContentIndex:
    """(size, sha256) -> one stored unit file with that content, for one output directory
    (built from the finished artifacts' artifact.json on first use, then kept up to date by
    `link_copies`)."""

    def __init__(self, output_dir):
        self.artifacts = Path(output_dir) / "artifacts"
        self._files = None

    def link_copies(self, path, files: dict) -> int:
        """Replaces the unit files of the artifact at `path` (`files`: its manifest, relative
        names -> size and sha256) that have a stored twin by hard links to it; returns the
        bytes no longer stored twice."""
        if self._files is None:
            self._files = {}
            for marker in sorted(self.artifacts.glob("*/*/artifact.json")):
                if marker.parent != Path(path):
                    self._add(marker.parent)
        saved, units = 0, {}
        for name, record in sorted(files.items()):
            if not record.get("size") or "sha256" not in record or not _in_unit(Path(path), name, units):
                continue
            key, target = (record["size"], record["sha256"]), Path(path) / name
            source = self._files.get(key)
            if source is not None and source != target and _link(source, target):
                saved += record["size"]
            elif source is None or not source.exists():
                self._files[key] = target
        return saved

    def _add(self, path: Path):
        from lth_tf.io import read_json
        try:
            files = read_json(path / "artifact.json")["files"]
        except (UnreadableFile, OSError, KeyError, TypeError):
            return
        units = {}
        for name, record in sorted(files.items()):
            if record.get("size") and "sha256" in record and _in_unit(path, name, units):
                self._files.setdefault((record["size"], record["sha256"]), path / name)


def _in_unit(root: Path, name: str, cache: dict) -> bool:
    """Whether the file `name` (relative to the artifact `root`) lies inside a unit: a
    directory below `root` with a manifest."""
    parts = Path(name).parts[:-1]
    for i in range(1, len(parts) + 1):
        directory = root.joinpath(*parts[:i])
        if directory not in cache:
            cache[directory] = (directory / MANIFEST).is_file()
        if cache[directory]:
            return True
    return False


def _link(source: Path, target: Path) -> bool:
    """Replaces `target` by a hard link to `source` when both hold the same bytes (atomically:
    a reader sees one file or the other, never none)."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
    try:
        os.link(source, tmp)
    except OSError:  # gone since, another filesystem, or no hard links here
        return False
    try:
        if os.stat(tmp).st_ino == os.stat(target).st_ino or not filecmp.cmp(tmp, target, shallow=False):
            return False
        os.replace(tmp, target)
        return True
    except OSError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
