"""Puts a Report artifact's files at the top of the output directory (the output contract).

They are hard links to the artifact's files where the filesystem allows (a stability run's
report files are 1.4 MB twice otherwise), else copies. Both are replaced atomically, never
written in place, so the artifact's checksums keep guarding its files.
"""
import os
import shutil
from pathlib import Path

from lth_tf.io import atomic_path


def publish(report, output_dir):
    output_dir = Path(output_dir)
    for path in sorted(report.path.iterdir()):
        if path.is_file() and path.suffix in (".csv", ".md", ".png"):
            with atomic_path(output_dir / path.name) as tmp:
                try:
                    os.link(path, tmp)
                except OSError:  # another filesystem, or one without hard links
                    shutil.copyfile(path, tmp)
