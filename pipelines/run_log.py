"""A run's log: lth_tf's loggers write everything to <output_dir>/log.txt and warnings (info with
--verbose) to the console, through tqdm so they do not break the progress line; stdout while the
study runs becomes log lines too."""
import logging
import sys
from pathlib import Path


class _ConsoleHandler(logging.Handler):
    """Console lines written through tqdm, so they do not break the progress line."""

    def emit(self, record):
        from tqdm import tqdm
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001  (logging must never crash the run)
            self.handleError(record)


class PrintsToLog:
    """stdout while the study runs: components' and keras-tuner's progress prints become log
    lines (log.txt; the console with --verbose), like the training's per-epoch lines."""

    def __init__(self, logger):
        self.logger, self.pending = logger, ""

    def write(self, text):
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.strip():
                self.logger.info(line)
        return len(text)

    def flush(self):
        pass


def configure_logging(output_dir: Path, verbose: bool) -> list:
    """lth_tf's loggers: everything to <output_dir>/log.txt; the console gets warnings (and info
    with --verbose). Returns the handlers, for `remove_logging`."""
    logger = logging.getLogger("lth_tf")
    logger.setLevel(logging.INFO)
    logger.propagate = False  # absl's root handler would print every line a second time
    to_file = logging.FileHandler(output_dir / "log.txt")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    console = _ConsoleHandler(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(message)s"))
    for handler in (to_file, console):
        logger.addHandler(handler)
    return [to_file, console]


def remove_logging(handlers):
    logger = logging.getLogger("lth_tf")
    for handler in handlers:
        logger.removeHandler(handler)
        handler.close()
