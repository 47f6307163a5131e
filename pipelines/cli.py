"""The `lth-tf` console script: run a study, print its config, list, compare, clean and export runs.

    lth-tf run stability [--gin_bindings 'TrainingHparams.lr = 0.05'] [--output_dir DIR] [--force]
    lth-tf run smoke --print_config
    lth-tf ls [RUNS_DIR]
    lth-tf compare RUN_A RUN_B [--table]
    lth-tf gc [RUN_DIR] [--dry_run]
    lth-tf export RUN_DIR --level L [--search LABEL_OR_FP] [--format saved_model|keras|tflite] [--out DIR] [--force]

`run` is `python -m pipelines.run` with the config named by path or by study name (the studies
ship as package data, so `lth-tf run stability` works from any directory). Help and the
run-directory commands never import TensorFlow (help answers in well under a second); the
commands that need it import it with its start-up log lines silenced.
"""
import os

_USER_TF_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL")  # before lth_tf sets its default

import lth_tf  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from lth_tf.errors import ConfigError  # noqa: E402

FORMATS = ("saved_model", "keras", "tflite")


def import_tensorflow_quietly():
    """Imports TensorFlow with its C++ start-up lines (absl's "All log messages before
    absl::InitializeLog()", cudart's "Could not find cuda drivers") silenced by `import lth_tf`'s
    import hook (lth_tf/quiet_import.py), and its later C++ log lines below errors off too. A
    TF_CPP_MIN_LOG_LEVEL of 0 or 1 set by the user keeps them."""
    if "tensorflow" in sys.modules or _USER_TF_LOG_LEVEL in ("0", "1"):
        import tensorflow  # noqa: F401
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    from absl import logging
    logging.set_verbosity(logging.WARNING)
    import tensorflow as tf
    import tf_keras  # noqa: F401
    tf.get_logger().setLevel("ERROR")


def _gin_blocks(text: str) -> dict:
    """gin's config text split into its '# Parameters for NAME:' blocks, by NAME."""
    blocks = {}
    for block in text.strip().split("\n\n"):
        first = block.strip().splitlines()[0] if block.strip() else ""
        name = first[len("# Parameters for "):].rstrip(":") if first.startswith("# Parameters for ") else first
        blocks[name] = block.strip()
    return blocks


def print_config(config: str, bindings) -> str:
    """The operative config: every value the study uses (defaults included: gin's operative
    config after the study is planned; planning builds every execution's parameters and trains
    nothing), then anything bound that the study never reads."""
    import gin

    from pipelines import overrides, run
    from pipelines.runner import Runner
    run.register_everything()
    gin.clear_config()
    try:
        run.parse_config(config, bindings)
        plan = Runner(Path("runs") / Path(config).stem, verbose=False).plan(run.run_pipeline)
        operative = _gin_blocks(overrides.operative(gin.operative_config_str()))
        later = [b for name, b in _gin_blocks(gin.config_str()).items() if name not in operative]
    finally:
        gin.clear_config()
    text = (f"# Operative config of {config} (gin's operative config: the values the study uses, defaults "
            f"included)\n\n" + "\n\n".join(operative.values()) + "\n")
    if later:
        text += "\n# Bound in the config but not read while planning the study\n\n"
        text += "\n\n".join(later) + "\n"
    return text + f"\n# {len(plan.executions)} executions planned ({len(plan.finished)} already finished)\n"


def cmd_run(args, extra):
    import configs
    from pipelines import config_check
    if os.getcwd() not in sys.path:  # `import my_module` in the user's gin file, as `python -m` finds it
        sys.path.insert(0, os.getcwd())
    # an unknown study, name or type of a binding is an error now, before TensorFlow loads
    config_check.check(configs.resolve(args.config), args.gin_bindings)
    import_tensorflow_quietly()
    if args.print_config:
        from pipelines import run
        try:
            print(print_config(args.config, args.gin_bindings), end="")
        except ConfigError as e:
            raise ConfigError(run._without_gin_call_chain(e)) from None
        return 0
    from absl import app, flags

    from pipelines import run
    for arg in extra:  # absl would answer an unknown flag with exit status 1 and "FATAL"
        name = arg.lstrip("-").split("=")[0]
        if arg.startswith("-") and name not in flags.FLAGS and name[2:] not in flags.FLAGS:
            raise ConfigError(f"Unknown flag {arg.split('=')[0]} for `lth-tf run`. Its flags are listed by "
                              f"`lth-tf run --help` (e.g. --gin_bindings, --output_dir, --force, --print_config).")
    argv = ["lth-tf run", "--config", args.config]
    for binding in args.gin_bindings:
        argv += ["--gin_bindings", binding]
    if args.output_dir:
        argv += ["--output_dir", args.output_dir]
    argv += ["--force"] * args.force + ["--quiet"] * args.quiet + ["--verbose"] * args.verbose + list(extra)
    flags.FLAGS.unparse_flags()  # a second call in one process (the tests) parses afresh
    app.run(run.main, argv=argv)  # exits with main's status


def cmd_ls(args, extra):
    from pipelines import run_dirs
    runs = run_dirs.find_runs(args.runs_dir)
    if not runs:
        print(f"No runs under {args.runs_dir} (a run is a directory with config.gin).")
    for run_dir in runs:
        execs = run_dirs.executions(run_dir)
        results = run_dir / "results.csv"
        tracked = "executions.json" if (run_dir / "executions.json").is_file() else "no executions.json"
        print(f"{run_dir}  ({len(execs)} executions, {run_dirs.human_size(run_dirs.dir_size(run_dir))}, "
              f"{'results.csv' if results.is_file() else 'no results.csv yet'}, {tracked})")
        width = max([len(e.component) for e in execs] + [9])
        label_width = max([len(e.label) for e in execs] + [5])
        for e in execs:
            use = {True: "in use", False: "unused", None: ""}[e.referenced]
            print(f"  {e.component:<{width}}  {e.label:<{label_width}}  {e.status:<18}  "
                  f"{run_dirs.human_size(e.size):>9}  {e.created:<19}  {use}".rstrip())
    return 0


def cmd_compare(args, extra):
    import pandas as pd

    from pipelines import run_dirs
    a, b = run_dirs.read_results(args.run_a), run_dirs.read_results(args.run_b)
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    on = [c.strip() for c in args.on.split(",")] if args.on else None
    table, unshared, matched = run_dirs.compare(a, b, metrics=metrics, on=on, sides=True)
    print(f"A = {args.run_a}\nB = {args.run_b}\ndiff = B - A; {matched['both']} rows in both, "
          f"{matched['A']} in A only, {matched['B']} in B only")
    if unshared:
        print(f"Columns in one run only (not compared): {', '.join(unshared)}")
    if not args.table:  # the default: what differs, by how much (pipelines/run_diff.py)
        from pipelines import run_diff
        print("\n".join(run_diff.summary(table)))
        return 0
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
        print(table.drop(columns="in").to_string(index=False))
    return 0


def cmd_gc(args, extra):
    import contextlib
    from pipelines import run_dirs
    runs = [Path(args.run_dir)] if (Path(args.run_dir) / "config.gin").is_file() else run_dirs.find_runs(args.run_dir)
    total = 0
    with contextlib.ExitStack() as held:  # each study lock until gc is done: a study starting now waits
        idle = [r for r in runs if held.enter_context(run_dirs.study_lock(r, blocking=False, shared=False))]
        for run_dir in sorted(set(runs) - set(idle)):
            print(f"skipped {run_dir}: a study is running there (what it uses is known when it ends); rerun "
                  f"`lth-tf gc` after it has finished")
        stale = {run_dir: run_dirs.unreferenced(run_dir) for run_dir in idle}  # all checked before any removal
        for run_dir, paths in stale.items():
            for line, freed in run_dirs.collect(run_dir, paths, args.dry_run):
                print(line)
                total += freed
    verb = "would free" if args.dry_run else "freed"
    print(f"{verb} {total} bytes ({run_dirs.human_size(total)}) in {len(runs)} run(s)")
    return 0


def cmd_export(args, extra):
    run_dir = Path(args.run_dir)
    if not (run_dir / "artifacts").is_dir():
        raise ConfigError(f"No run directory {args.run_dir!r} with artifacts/. Give the output directory of a "
                          f"finished run (e.g. runs/stability); `lth-tf ls` lists them.")
    import_tensorflow_quietly()
    from lth_tf.exporting import read_record
    from pipelines.export import export_from_run
    out = Path(args.out or f"ticket_level{args.level:02d}_{args.format}")  # one directory per export
    path = export_from_run(run_dir, args.level, args.search, args.format, out, overwrite=args.force)
    print(f"exported the level-{args.level} ticket of {run_dir / read_record(path)['source']['artifact']} "
          f"as {args.format}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lth-tf", description="Lottery-ticket studies with TensorFlow/Keras 2.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a study (a shipped study name such as stability or smoke, or a gin file)",
                         description="Run a study; a rerun reuses finished work. Flags not listed here are "
                                     "passed on to python -m pipelines.run.")
    run.add_argument("config", help="a shipped study (stability, smoke, data_diet, prac, sanity, ..._cifar10) "
                                    "or the path of a gin file")
    run.add_argument("--gin_bindings", action="append", default=[], metavar="BINDING",
                     help="one gin binding, e.g. 'TrainingHparams.lr = 0.05'; repeat the flag for each")
    run.add_argument("--output_dir", help="where results go (default: runs/<config name>)")
    run.add_argument("--force", action="store_true", help="recompute everything instead of reusing artifacts")
    run.add_argument("--verbose", action="store_true", help="also print per-epoch training lines on the console "
                                                            "(they always go to <output_dir>/log.txt)")
    run.add_argument("--quiet", action="store_true", help="the default (no per-epoch lines); kept for old command lines")
    run.add_argument("--print_config", action="store_true",
                     help="print the operative config (every value the study would use) and exit without training")
    run.set_defaults(handler=cmd_run)

    ls = sub.add_parser("ls", help="list runs and their executions (label, status, size, created)")
    ls.add_argument("runs_dir", nargs="?", default="runs", help="a run or a directory of runs (default: runs)")
    ls.set_defaults(handler=cmd_ls)

    compare = sub.add_parser("compare", help="what differs between two runs' results.csv (--table: side by side)")
    compare.add_argument("run_a", help="a run directory or its results.csv")
    compare.add_argument("run_b", help="a run directory or its results.csv")
    compare.add_argument("--metrics", help="comma-separated metric columns to show (default: all shared)")
    compare.add_argument("--on", help="comma-separated columns to join rows on (default: the text columns, "
                                      "seed and level)")
    compare.add_argument("--table", action="store_true", help="print every row of both runs side by side, with "
                         "B - A (default: a summary of the metrics that differ and by how much)")
    compare.set_defaults(handler=cmd_compare)

    gc = sub.add_parser("gc", help="remove artifacts the run's study no longer references (executions.json)")
    gc.add_argument("run_dir", nargs="?", default="runs", help="a run or a directory of runs (default: runs)")
    gc.add_argument("--dry_run", action="store_true", help="only list what would be removed")
    gc.set_defaults(handler=cmd_gc)

    export = sub.add_parser("export", help="export a ticket of a run as SavedModel, .keras or TFLite")
    export.add_argument("run_dir", help="the run's output directory")
    export.add_argument("--level", type=int, required=True, help="the IMP level of the ticket")
    export.add_argument("--search", help="which search (a part of its label, directory name or fingerprint) when the run has "
                             "several; default: the study's main grid (the searches that export their report levels)")
    export.add_argument("--format", choices=FORMATS, default="saved_model")
    export.add_argument("--out", help="the export's directory: the model and its ticket.json "
                                      "(default: ./ticket_levelLL_FORMAT)")
    export.add_argument("--force", action="store_true", help="replace an export already in that directory")
    export.set_defaults(handler=cmd_export)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    if extra and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.handler(args, extra)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # at any moment, TensorFlow's import included: one line, no traceback
        print("\ninterrupted; rerun the same command to resume", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:  # `lth-tf compare A B | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
