"""Copies a Report artifact's files to the top of the output directory (the output contract)."""
import shutil
from pathlib import Path

from lth_tf.io import atomic_path


def publish(report, output_dir):
    output_dir = Path(output_dir)
    for path in sorted(report.path.iterdir()):
        if path.is_file() and path.suffix in (".csv", ".md", ".png"):
            with atomic_path(output_dir / path.name) as tmp:
                shutil.copyfile(path, tmp)
