"""Entry point: python -m pipelines.run --config configs/NAME.gin [--gin_bindings 'a.b = 1' ...]
[--output_dir DIR] [--force] [--verbose].

The study is planned first (every setting checked, nothing computed), then executed with one
progress line for the whole study (off a terminal: a line per finished execution); per-epoch training lines and the runner's messages go to
<output_dir>/log.txt (and to the console with --verbose)."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import contextlib
import errno
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import gin
from absl import app, flags

import configs
import pipelines  # pipelines.STARTED: when this process began, before any import (the "done in" time)
from lth_tf.errors import ConfigError
from lth_tf.io import write_json, write_text
from pipelines import config_check, overrides, run_dirs
from pipelines.configurables import register_everything

flags.DEFINE_string("config", None, "gin file describing the study, e.g. configs/stability.gin")
flags.DEFINE_multi_string("gin_bindings", [], "gin bindings overriding the config, e.g. \"TrainingHparams.lr = 0.05\"")
flags.DEFINE_string("output_dir", None, "where results go (default: runs/<config name>)")
flags.DEFINE_bool("force", False, "recompute everything instead of reusing finished artifacts")
flags.DEFINE_bool("verbose", False, "also print per-epoch training lines and the runner's messages on the console "
                  "(they always go to <output_dir>/log.txt)")
flags.DEFINE_enum("executor", "in_process", ["in_process", "ray"],
                  "in_process: executions one after the other here; ray: independent executions side by side "
                  "on a Ray cluster (see --ray_address, and RayResources in gin for CPUs/GPUs per task)")
flags.DEFINE_string("ray_address", "", "with --executor ray: '' starts a local Ray cluster, 'auto' joins the one "
                    "this machine belongs to, 'host:port' a given head node")
flags.DEFINE_integer("ray_workers", 0, "with a local Ray cluster: how many CPUs it has (0: all)")
flags.DEFINE_bool("quiet", False, "the default (no per-epoch lines on the console); kept for old command lines")
FLAGS = flags.FLAGS


@gin.configurable
def run_pipeline(runner, pipeline=gin.REQUIRED, deterministic: bool = True):
    from lth_tf.training.seeding import enable_determinism  # here: this module loads before TensorFlow
    if deterministic:
        enable_determinism()
    return pipeline(runner)


def parse_config(config: str, bindings):
    config = str(configs.resolve(config))
    try:
        gin.parse_config_files_and_bindings([config], [], finalize_config=False)
    except Exception as e:  # gin raises ValueError / SyntaxError / KeyError with a location
        raise ConfigError(f"Bad gin config {config}: {e}") from e
    for binding in bindings:
        try:
            gin.parse_config(binding)
        except Exception as e:
            raise ConfigError(f"Bad gin binding {binding!r}: {e}. Bindings look like "
                              f"\"TrainingHparams.lr = 0.05\"; the configurables are listed in the README.") from e
    gin.finalize()


def _without_gin_call_chain(error) -> str:
    """The message without the "In call to configurable ..." lines gin appends (they name
    function addresses, not the user's mistake): one paragraph."""
    return "\n".join(line for line in str(error).splitlines()
                     if not line.strip().startswith("In call to configurable"))


def stray_arguments_error(stray) -> str:
    """absl takes one value per flag: `--gin_bindings A B` leaves B behind as a positional
    argument, which would otherwise be dropped without a word."""
    shown = " ".join(repr(a) for a in stray)
    return (f"error: unexpected argument(s) {shown}. Each binding needs its own flag: write "
            f"--gin_bindings 'TrainingHparams.lr = 0.05' --gin_bindings 'PruningHparams.levels = 5' "
            f"(one --gin_bindings per binding, each binding quoted as one shell word), not "
            f"--gin_bindings A B. Nothing was run.")


def write_executions(runner, output_dir: Path):
    """Every artifact this run executed or reused (fingerprint, path relative to the output
    directory): what the study references, so `lth-tf gc` may remove every other artifact."""
    used = {a.fingerprint: a for a in runner.executed + runner.reused}
    write_json(output_dir / "executions.json", {"executions": [
        {"component": a.path.parent.name, "fingerprint": fp,
         "path": Path(os.path.relpath(a.path, output_dir)).as_posix()} for fp, a in used.items()]})


def check_output_url(output_dir: str):
    """A ConfigError for an object-store URL (gs://, s3://): the store's guarantees rest on a POSIX
    filesystem (atomic renames of unit directories, fcntl locks per execution), which object stores
    do not give, and pathlib would silently turn 'gs://b/x' into a local directory 'gs:/b/x'."""
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", output_dir or "")
    if scheme:
        raise ConfigError(f"--output_dir {output_dir} is a {scheme.group(1)}:// URL, but the artifact store needs a "
                          f"POSIX filesystem that every worker shares (units are written by atomic directory renames "
                          f"and guarded by file locks, which object stores do not provide). Mount the bucket (e.g. "
                          f"gcsfuse or an NFS/Filestore share) and pass the mount path, e.g. --output_dir "
                          f"/mnt/bucket/runs/stability. Nothing was run.")


def check_output_dir(output_dir: Path):
    """A ConfigError, before any work, for an output directory that is a file or cannot be written."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(f"--output_dir {output_dir} is a file, not a directory. Give a directory path with "
                          f"--output_dir DIR (it is created when missing) or move the file away. Nothing was run.")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output_dir):
            pass
    except OSError as e:
        raise ConfigError(f"--output_dir {output_dir} cannot be written ({e.strerror or e}). Choose a directory you "
                          f"can write to with --output_dir DIR, or fix its permissions. Nothing was run.") from e


def check_executor_flags():
    """A ConfigError for executor flags that do not fit together (before TensorFlow loads)."""
    if FLAGS.executor != "ray":
        if FLAGS.ray_address or FLAGS.ray_workers:
            raise ConfigError("--ray_address / --ray_workers take effect with --executor ray only; add it, or drop "
                              "them. Nothing was run.")
        return
    if FLAGS.force:
        raise ConfigError("--force recomputes in this process only: run it without --executor ray, or delete the "
                          "artifacts to recompute and keep Ray. Nothing was run.")
    if FLAGS.ray_workers < 0:
        raise ConfigError(f"--ray_workers={FLAGS.ray_workers} must be >= 0 (0: all CPUs). Nothing was run.")


def make_executor():
    """None (in-process) or the Ray executor the flags describe; bad flags fail before any work."""
    check_executor_flags()
    if FLAGS.executor != "ray":
        return None
    from pipelines.ray_executor import RayExecutor
    from pipelines.ray_resources import RayResources
    return RayExecutor(FLAGS.ray_address, FLAGS.ray_workers, RayResources())


class _ConsoleHandler(logging.Handler):
    """Console lines written through tqdm, so they do not break the progress line."""

    def emit(self, record):
        from tqdm import tqdm
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001  (logging must never crash the run)
            self.handleError(record)


class _PrintsToLog:
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


def check_flags():
    """The command line's own checks, before TensorFlow loads (a message in about a second)."""
    if not FLAGS.config:
        raise ConfigError("--config is required, e.g. --config configs/stability.gin (or `lth-tf run stability`).")
    check_output_url(FLAGS.output_dir)
    check_executor_flags()
    config_check.check(configs.resolve(FLAGS.config), FLAGS.gin_bindings)


def check_same_study(output_dir: Path, force: bool):
    """A ConfigError when `output_dir` holds another study (or this study with other settings): its
    top-level files (config.gin, results.csv, report.md) would mix with this run's. A rerun of the
    same command (same config.gin) passes: it reuses the finished work."""
    recorded = output_dir / "config.gin"
    if force or not recorded.is_file():
        return
    old, new = recorded.read_text().splitlines(), gin.config_str().splitlines()
    if old == new:
        return
    ours, theirs = [l for l in new if l not in old and l.strip()], [l for l in old if l not in new and l.strip()]
    example = (f" (e.g. there: {theirs[0].strip()!r}; this run: {ours[0].strip()!r})" if ours and theirs else
               f" (e.g. {(ours or theirs)[0].strip()!r} in one of them only)" if ours or theirs else "")
    raise ConfigError(f"--output_dir {output_dir} already holds another study or other settings: its config.gin "
                      f"differs from this run's{example}. One output directory holds one study, else their "
                      f"results.csv, report.md and config files mix. Give this run its own directory with "
                      f"--output_dir DIR, or add --force to replace that study's results in {output_dir} (and "
                      f"recompute everything). Nothing was run.")


def _remove_if_unused(output_dir: Path, existed: bool):
    """Removes the output directory this run created when a bad setting stopped it before any result
    (nothing in it but log.txt, lock files and empty directories): a rejected run leaves nothing behind."""
    if existed or not output_dir.is_dir():
        return
    if all((f == "log.txt" and d == str(output_dir)) or f.endswith(".lock")
           for d, _, files in os.walk(output_dir) for f in files):
        shutil.rmtree(output_dir, ignore_errors=True)


def environment_error_message(error: Exception, output_dir: Path) -> str:
    """One paragraph for a full disk (an OSError, or TensorFlow's own error type when it writes) or a
    file the run may not change, naming the directory and what to do; '' for other errors."""
    where = f" ({error.filename})" if getattr(error, "filename", None) else ""
    if getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in str(error):
        free = shutil.disk_usage(output_dir).free if output_dir.exists() else 0
        finished = len(list(output_dir.glob("artifacts/*/*/artifact.json")))
        written = run_dirs.dir_size(output_dir) if output_dir.exists() else 0
        per_execution = (f"; each execution still to run needs about {run_dirs.human_size(written / finished)} "
                         f"more (the average of the {finished} finished there)" if finished else "")
        return (f"The disk of --output_dir {output_dir} is full: no space left writing{where or ' a result'}. "
                f"{run_dirs.human_size(free)} free, {run_dirs.human_size(written)} written by the study so far"
                f"{per_execution}. Free space on that disk (`lth-tf gc {output_dir}` removes artifacts no study "
                f"references) or give another --output_dir, then rerun the same command: finished work is reused.")
    if isinstance(error, PermissionError):
        return (f"Permission denied{where} in --output_dir {output_dir}: the run must be able to write and replace "
                f"files there (a damaged or unfinished unit is recomputed in place). Make it writable, e.g. "
                f"chmod -R u+w {output_dir}, or give another --output_dir, then rerun the same command: finished "
                f"work is reused.")
    return ""


def main(argv):
    if len(argv) > 1:
        print(stray_arguments_error(argv[1:]), file=sys.stderr)
        sys.exit(2)
    handlers, shared_dir, output_dir, existed = [], None, None, True
    try:
        check_flags()  # before TensorFlow loads: bad input is reported in about a second
        import tensorflow as tf
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.WARNING)
        tf.get_logger().setLevel("ERROR")
        from pipelines.run_dirs import study_lock
        from pipelines.runner import Runner
        register_everything()
        parse_config(FLAGS.config, FLAGS.gin_bindings)
        output_dir = Path(FLAGS.output_dir or Path("runs") / Path(FLAGS.config).stem)
        existed = output_dir.exists()
        check_same_study(output_dir, FLAGS.force)
        from lth_tf.training.strategy import get_strategy, strategy_name
        if strategy_name() == "multi_worker":
            from pipelines.multi_worker import worker_output_dir
            # get_strategy() checks TF_CONFIG and must come before any TensorFlow work; then every
            # worker takes the chief's finished state as its own (a rerun resumes on all of them).
            worker_dir = worker_output_dir(output_dir, get_strategy(), force=FLAGS.force)
            shared_dir, output_dir = output_dir, worker_dir
        check_output_dir(output_dir)
        handlers = configure_logging(output_dir, FLAGS.verbose)
        runner = Runner(output_dir, force=FLAGS.force, verbose=True, progress=None,  # a bar on terminals
                        executor=make_executor())
        # config.gin is written once the whole study is planned: a rejected run leaves none behind.
        # The study lock until executions.json lists what the study used: gc leaves the run alone.
        with study_lock(output_dir), contextlib.redirect_stdout(_PrintsToLog(logging.getLogger("lth_tf.components"))):
            runner.study(run_pipeline, on_planned=lambda: write_text(output_dir / "config.gin", gin.config_str()))
            write_text(output_dir / "operative_config.gin", overrides.operative(gin.operative_config_str()))
            write_executions(runner, output_dir)
    except ConfigError as e:
        remove_logging(handlers)
        handlers = []
        if output_dir is not None:
            _remove_if_unused(output_dir, existed)
        print(f"error: {_without_gin_call_chain(e)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted; rerun the same command to resume", file=sys.stderr, flush=True)
        sys.exit(130)
    except Exception as e:  # noqa: BLE001  (a full disk or a read-only file: one paragraph; others re-raised)
        message = environment_error_message(e, output_dir or Path("."))
        if not message:
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    finally:
        remove_logging(handlers)
        if shared_dir is not None:
            from pipelines.multi_worker import release
            release(output_dir, shared_dir)  # a worker's snapshot: thrown away
        if FLAGS.executor == "ray":
            from pipelines.ray_executor import shutdown
            shutdown()
    print(f"done in {time.time() - pipelines.STARTED:.0f}s: {len(runner.executed)} executed, "
          f"{len(runner.reused)} reused. "
          f"Results in {output_dir}/ (report.md, results.csv, log.txt); "
          f"tensorboard --logdir {output_dir}/tensorboard", flush=True)


def run_main():
    """app.run(main), with Ctrl-C at any moment (TensorFlow's import included) one line, exit 130."""
    try:
        app.run(main)
    except KeyboardInterrupt:
        print("\ninterrupted; rerun the same command to resume", file=sys.stderr, flush=True)
        sys.exit(130)


if __name__ == "__main__":
    run_main()
