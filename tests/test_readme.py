"""Every code block of README.md is a test, so the README cannot drift from the code.

- ```python blocks run, each in a fresh namespace that supplies what the README's prose says
  the reader brings (`model`: a small Keras model that outputs logits, `train_ds` / `val_ds`,
  numpy `x, y`, `raw_x`), in a temporary working directory, and must earn none of lth-tf's
  warnings (a logits model with a probabilities loss, a late rewind step, unmasked layers). A
  block preceded by `<!-- README test: imports and names only (why) -->` needs what a test
  cannot have (a cluster, a pipeline's runner): its imports run and every attribute it reads
  from an imported module must exist.
- ```bash blocks: every `python -m pipelines.run` and `lth-tf` command line is parsed with the
  real parsers (absl flags, the CLI's argparse, the gin config and bindings); nothing runs.
  `[...]` marks an optional part, `a|b` alternatives, `NAME` a study.
- the plain block of gin lines parses with gin.
"""
import argparse
import ast
import re
import shlex
import warnings
from pathlib import Path

import gin
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import lth_tf
from lth_tf import keras_utils
from pipelines import cli
from pipelines import run as run_main

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
IMPORTS_ONLY = "<!-- README test: imports and names only"
# lth-tf's warnings about a user's set-up: a README example must not earn one.
LTH_WARNING = re.compile(r"outputs logits|rewind_step=|masks no weight")


def _blocks(lang):
    """(line number, text, imports only?) of every fenced block of the language."""
    text = (REPO / "README.md").read_text()
    out = []
    for m in FENCE.finditer(text):
        if m.group(1) == lang:
            before = text[:m.start()].rstrip().rsplit("\n", 1)[-1]
            out.append((text.count("\n", 0, m.start()) + 1, m.group(2), before.startswith(IMPORTS_ONLY)))
    return out


PYTHON = _blocks("python")
SHELL = _blocks("bash")


def test_the_readme_has_the_blocks_this_test_reads():
    first = SHELL[0][1].splitlines()
    assert first[0].endswith("pip install -e . && python -m pipelines.run --config configs/stability.gin")
    assert first[1].endswith('pip install -e ".[test]" && python -m pytest -q tests')  # what CI runs
    assert len(PYTHON) >= 4 and len(SHELL) >= 5 and sum(only for _, _, only in PYTHON) == 2


# ----------------------------------------------------------------------------- Python blocks

def _namespace():
    """What the README's prose says you bring: tiny, so each block runs in seconds."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    y = (x @ rng.normal(size=(8, 3))).argmax(1).astype(np.int64)
    xv = rng.normal(size=(64, 8)).astype(np.float32)
    yv = (xv @ rng.normal(size=(8, 3))).argmax(1).astype(np.int64)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    h = keras.layers.Dense(32, activation="relu", name="fc1")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(h))  # outputs logits, as the README says
    return dict(model=model, x=x, y=y, raw_x=x[:4],
                train_ds=tf.data.Dataset.from_tensor_slices((x, y)).shuffle(256, seed=0).batch(32),  # 8 steps
                val_ds=tf.data.Dataset.from_tensor_slices((xv, yv)).batch(64))


@pytest.mark.parametrize("line, code, imports_only", PYTHON, ids=[f"README.md:{b[0]}" for b in PYTHON])
def test_python_block(line, code, imports_only, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if imports_only:
        return _check_imports_and_names(code, line)
    ns = _namespace()
    if "ticket_level05_saved_model" in code:  # the block loads what `lth-tf export` wrote
        lth_tf.export_ticket(lth_tf.wrap(ns["model"]), "ticket_level05_saved_model")
    monkeypatch.setattr(keras_utils, "_WARNED_LOGITS_LOSS", set())
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        exec(compile(code, f"README.md:{line}", "exec"), ns)  # noqa: S102  (the README's own code)
    ours = [str(w.message) for w in record if LTH_WARNING.search(str(w.message))]
    assert not ours, f"README.md:{line} gets lth-tf's warnings: {ours}"


def _check_imports_and_names(code, line):
    tree = ast.parse(code, f"README.md:{line}")
    ns = {}
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    exec(compile(ast.Module(imports, []), f"README.md:{line}", "exec"), ns)  # noqa: S102
    read = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)]
    missing = [f"{a.value.id}.{a.attr}" for a in read if a.value.id in ns and not hasattr(ns[a.value.id], a.attr)]
    assert not missing, f"README.md:{line} reads names its imports lack: {missing}"


# ----------------------------------------------------------------------------- shell blocks

def _commands():
    """(line, argv) of every `python -m pipelines.run` and `lth-tf` command of the shell blocks,
    placeholders filled: `[...]` kept without brackets, `a|b` -> a, NAME -> smoke."""
    found = []
    for line, code, _ in SHELL:
        for command in code.replace("\\\n", " ").splitlines():
            for part in command.split("&&"):
                part = part.split(" #")[0].strip()
                if part.startswith("python -m pipelines.run") or part.startswith("lth-tf "):
                    argv = [re.sub(r"^(\w+)\|[\w|]+$", r"\1", w) for w in shlex.split(_unbracket(part))]
                    found.append((line, [w.replace("NAME", "smoke") for w in argv]))
    return found


def _unbracket(command):
    """`[--force]` -> `--force`, outside quotes only (a binding may hold brackets)."""
    out, quote = [], None
    for ch in command:
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote else ch
        if quote or ch not in "[]":
            out.append(ch)
    return "".join(out)


COMMANDS = _commands()


def _check_gin(config, bindings):
    run_main.register_everything()
    gin.clear_config()
    try:
        run_main.parse_config(config, bindings)
    finally:
        gin.clear_config()


@pytest.mark.parametrize("line, argv", COMMANDS, ids=[f"README.md:{c[0]}:{' '.join(c[1][:4])}" for c in COMMANDS])
def test_shell_command_line_parses(line, argv, monkeypatch):
    monkeypatch.chdir(REPO)  # the README's paths are relative to the repository
    if argv[0] == "python":  # python -m pipelines.run: absl's flags, then the gin config and bindings
        flags = run_main.FLAGS
        try:
            flags(["pipelines.run"] + argv[3:])
            config, bindings = flags.config, list(flags.gin_bindings)
        finally:
            flags.unparse_flags()
        _check_gin(config, bindings)
        return
    try:
        args, extra = cli.build_parser().parse_known_args(argv[1:])
    except SystemExit:
        pytest.fail(f"README.md:{line}: `{' '.join(argv)}` does not parse (see `lth-tf {argv[1]} --help`)")
    assert not extra or args.command == "run", f"README.md:{line}: unknown arguments {extra}"
    for arg in extra:  # what `lth-tf run` passes on to pipelines.run must be one of its flags
        assert arg.lstrip("-").split("=")[0] in run_main.FLAGS, f"README.md:{line}: unknown flag {arg}"
    if args.command == "run":
        _check_gin(args.config, args.gin_bindings)


def _cli_options():
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {o for p in commands.choices.values() for a in p._actions for o in a.option_strings}


def test_every_flag_the_readme_names_is_a_flag_of_the_command_line():
    others = {"--address", "--head", "--port", "--logdir", "--help"}  # ray start's, tensorboard's; --help
    named = set(re.findall(r"(?<![\w-])--[a-z_]+", (REPO / "README.md").read_text())) - others
    unknown = [f for f in sorted(named) if f[2:] not in run_main.FLAGS and f not in _cli_options()]
    assert not unknown, f"the README names flags no parser has: {unknown}"
    assert "--verbose" in _cli_options()  # `lth-tf run --help` lists the flag the README documents


def test_gin_block_parses():
    (gin_block,) = [code for _, code, _ in _blocks("") if "ModelHparams.name" in code]
    run_main.register_everything()
    gin.clear_config()
    try:
        gin.parse_config(gin_block)
    finally:
        gin.clear_config()
