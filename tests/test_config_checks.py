"""Bad settings are one paragraph, exit 2, before any work (and binding mistakes before TensorFlow
loads): wrong types, misspelt names (with the closest suggested), fields a study sets itself, a
second study in one output directory, levels that leave no weight, a rewind point past the budget,
a full disk, Ctrl-C during start-up; and models / datasets named as 'module:function'."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gin
import pytest

import configs
from lth_tf.errors import ConfigError
from pipelines import cli
from pipeline_stubs import main_in_process

REPO = Path(__file__).resolve().parents[1]
SMOKE = str(configs.resolve("smoke"))
# configs/smoke.gin cut down to one IMP level, no analysis (seconds).
TINY = ["DatasetHparams.num_samples = 1000", "ModelHparams.width = 0.1", "PruningHparams.levels = 1",
        "stability.baselines = ()", "stability.baseline_configs = ()", "stability.baseline_levels = ()", "stability.instability = False", "stability.dynamics = False",
        "stability.rewind_search_configs = ()", "stability.probe_configs = ()", "stability.few_shot_configs = ()",
        "stability.transfer_configs = ()", "stability.aimp_configs = ()", "stability.aimp_levels = ()",
        "InstabilityParams.levels = ()", "ProbingParams.levels = ()", "FewShotParams.levels = ()",
        "TransferParams.levels = ()"]


def _python(code: str, cwd, timeout=120):
    """`code` in a fresh interpreter in `cwd`, this checkout importable but the cwd not on the path
    (as for the installed `lth-tf` console script)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + str(REPO / "tests")
    code = "import sys\nsys.path[:] = [p for p in sys.path if p not in ('', '.')]\n" + code
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _paragraph(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def run_in_process(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)

    def call(*bindings, out=None):
        code = main_in_process("configs/smoke.gin", out or tmp_path / "out", TINY + list(bindings))
        return code, capsys.readouterr().err
    return call


def test_a_wrong_type_is_reported_before_tensorflow_loads_and_leaves_no_directory(tmp_path):
    done = _python(textwrap.dedent(f"""
        import time
        started = time.time()
        from pipelines import cli
        code = cli.main(['run', 'smoke', '--output_dir', 'out', '--gin_bindings', 'TrainingHparams.lr = "fast"'])
        print('tensorflow imported:', 'tensorflow' in sys.modules)
        print('seconds:', round(time.time() - started, 2))
        sys.exit(code)"""), tmp_path)
    assert done.returncode == 2, done.stderr
    assert "tensorflow imported: False" in done.stdout
    message = _paragraph(done.stderr)
    assert "TrainingHparams.lr = 'fast'" in message and "type float" in message and "the string 'fast'" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("binding,expected", [
    ("TrainingHparams.lr = 'abc'", "takes a value of type float (its default: TrainingHparams.lr = 0.1), not the string"),
    ("TrainingHparams.lr = [0.1]", "not the list [0.1]"),
    ("PruningHparams.levels = '3'", "takes a value of type int"),
    ("PruningHparams.levels = 2.5", "PruningHparams.levels takes a value of type int"),
    ("stability.momenta = 0.9", "takes a value of type Sequence[float]"),
    ("TrainingHparams.lrr = 0.1", "Did you mean 'lr'?"),
    ("TrainingHparam.lr = 0.1", "Did you mean 'TrainingHparams'?"),
    ("stabilty.seeds = (0,)", "Did you mean 'stability'?"),
])
def test_binding_mistakes_name_the_binding_and_the_fix(binding, expected):
    from pipelines import config_check
    with pytest.raises(ConfigError, match="Nothing was run") as error:
        config_check.check(SMOKE, [binding])
    assert expected in str(error.value) and "--gin_bindings" in str(error.value)


def test_a_malformed_binding_is_one_paragraph():
    from pipelines import config_check
    for binding in ("TrainingHparams.lr = fast", "TrainingHparams.lr = (0.1", "TrainingHparams.lr 0.1"):
        with pytest.raises(ConfigError) as error:
            config_check.check(SMOKE, [binding])
        assert "\n" not in str(error.value) and repr(binding) in str(error.value)


def test_every_shipped_config_passes_the_check():
    from pipelines import config_check
    for name in configs.names():
        config_check.check(configs.resolve(name), [])


def test_unknown_registered_names_suggest_the_closest():
    from lth_tf.data import DatasetHparams
    from lth_tf.models import ModelHparams
    with pytest.raises(ConfigError, match="Unknown dataset 'mnist1e'. Did you mean 'mnist1d'?"):
        DatasetHparams(name="mnist1e")
    with pytest.raises(ConfigError, match="Unknown model 'lenet300_100'. Did you mean 'lenet_300_100'?"):
        ModelHparams(name="lenet300_100")


@pytest.mark.parametrize("config,binding,setting", [
    ("stability", "TrainingHparams.batch_size = 64", "stability.batch_sizes"),
    ("stability", "TrainingHparams.momentum = 0.5", "stability.momenta"),
    ("stability", "PruningHparams.rewind = '1ep'", "stability.rewind_points"),
    ("sanity", "PruningHparams.method = 'omp'", "sanity.methods"),
    ("sanity", "PruningHparams.rewind = '0it'", "sanity.rewind"),
    ("sanity", "TrainingHparams.lr = 0.08", "sanity.learning_rates (the sweep) and TuningParams.space"),
    ("data_diet", "PruningHparams.rewind = '60it'", "data_diet.baselines"),
    ("data_diet", "pretrain/TrainingHparams.budget = '5ep'", "data_diet.pretrain_steps"),
])
def test_a_field_the_study_sets_itself_cannot_be_bound(config, binding, setting):
    from pipelines import data_diet, run, sanity, stability
    run.register_everything()
    gin.clear_config()
    study = {"stability": stability.stability, "sanity": sanity.sanity, "data_diet": data_diet.data_diet}[config]
    try:
        run.parse_config(config, [binding])
        with pytest.raises(ConfigError) as error:
            study(None)  # refused before the study asks the runner for anything
    finally:
        gin.clear_config()
    assert binding.split(" =")[0] in str(error.value) and setting in str(error.value)


def test_the_operative_config_shows_a_controlled_field_as_set_by_the_study():
    from pipelines import overrides
    from pipelines.stability import CONTROLS
    gin.clear_config()
    overrides.refuse_bound("stability", CONTROLS)
    text = overrides.operative("TrainingHparams.batch_size = 128\nTrainingHparams.lr = 0.2\n")
    assert text == "# TrainingHparams.batch_size: set by the study from stability.batch_sizes\nTrainingHparams.lr = 0.2\n"


def test_another_study_in_the_same_output_directory_is_refused(run_in_process, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.gin").write_text("TrainingHparams.lr = 0.3\n")
    code, err = run_in_process(out=out)
    assert code == 2
    message = _paragraph(err)
    assert "--output_dir" in message and "--force" in message and "'TrainingHparams.lr = 0.3'" in message
    assert sorted(p.name for p in out.iterdir()) == ["config.gin"]  # nothing written


def test_the_same_study_in_its_output_directory_passes(tmp_path):
    from pipelines import run
    run.register_everything()
    gin.clear_config()
    try:
        run.parse_config(SMOKE, TINY)
        (tmp_path / "config.gin").write_text(gin.config_str())
        run.check_same_study(tmp_path, force=False)  # a rerun of the same command
        (tmp_path / "config.gin").write_text("TrainingHparams.lr = 0.3\n")
        run.check_same_study(tmp_path, force=True)  # --force replaces the other study
        with pytest.raises(ConfigError, match="already holds another study"):
            run.check_same_study(tmp_path, force=False)
    finally:
        gin.clear_config()


@pytest.mark.parametrize("binding,expected,not_expected", [
    ("PruningHparams.levels = 100000", "Set PruningHparams.levels to at most 36", None),
    ("stability.seeds = ()", "stability.seeds is empty", "must be among"),
    ("stability.rewind_points = ('500ep',)", "the rewind point exceeds the training budget", "Unknown configuration"),
    ("DatasetHparams.num_samples = 5", "DatasetHparams.num_samples = 5 is too few", None),
])
def test_settings_that_cannot_work_are_one_paragraph(run_in_process, tmp_path, binding, expected, not_expected):
    code, err = run_in_process(binding)
    assert code == 2
    message = _paragraph(err)
    assert expected in message and (not_expected is None or not_expected not in message)
    assert not (tmp_path / "out").exists()


def test_max_useful_level_is_where_round_off_leaves_no_weight():
    from lth_tf.sparsity.masks import max_useful_level
    # 10 weights, half pruned per level: 5, 2, 1, 1 (0.625 rounds up), then 0 at level 5.
    assert max_useful_level([6, 4], 0.5) == 4
    assert max_useful_level([6, 4], 0.5, scope="layerwise") == 2  # 4 -> 2, 1, then 0.5 rounds to 0


def test_a_full_disk_names_the_directory_and_the_space(run_in_process, tmp_path, monkeypatch):
    from pipelines import run

    def full(output_dir, verbose):
        raise OSError(errno.ENOSPC, "No space left on device", str(output_dir / "log.txt"))
    monkeypatch.setattr(run, "configure_logging", full)
    code, err = run_in_process()
    assert code == 2
    message = _paragraph(err)
    assert f"--output_dir {tmp_path / 'out'} is full" in message and "free" in message and "rerun" in message


def test_a_unit_the_run_may_not_change_is_one_paragraph(run_in_process, tmp_path, monkeypatch):
    from pipelines import run

    def read_only(output_dir, verbose):
        raise PermissionError(errno.EACCES, "Permission denied", str(output_dir / "artifacts" / "x" / "level_01"))
    monkeypatch.setattr(run, "configure_logging", read_only)
    code, err = run_in_process()
    assert code == 2
    assert "Permission denied" in _paragraph(err) and "chmod -R u+w" in err


def test_ctrl_c_during_start_up_is_one_line(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "import_tensorflow_quietly", interrupted)
    assert cli.main(["run", "smoke"]) == 130
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.strip()] == ["interrupted; rerun the same command to resume"]


def test_own_model_and_dataset_named_module_function_from_the_project_directory(tmp_path):
    (tmp_path / "my_module.py").write_text(textwrap.dedent("""
        import gin
        import numpy as np
        import tf_keras as keras
        from lth_tf.data import RawData

        def load(hp):
            rng = np.random.default_rng(0)
            x, y = rng.normal(size=(1500, 8)).astype(np.float32), rng.integers(0, 2, 1500)
            return RawData(x[:1200], y[:1200], x[1200:], y[1200:], num_classes=2)

        def build(input_shape, num_classes, width, initializer):
            inputs = keras.Input(input_shape)
            hidden = keras.layers.Dense(16, activation="relu", name="block1")(inputs)
            return keras.Model(inputs, keras.layers.Dense(num_classes, name="output")(hidden))
        """))
    (tmp_path / "my_study.gin").write_text(textwrap.dedent(f"""
        import my_module
        include '{SMOKE}'
        ModelHparams.name = 'my_module:build'
        DatasetHparams.name = 'my_module:load'
        """))
    argv = ["run", "my_study.gin", "--print_config"] + [a for b in TINY for a in ("--gin_bindings", b)]
    done = _python(f"from pipelines import cli\nsys.exit(cli.main({argv!r}))", tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ModelHparams.name = 'my_module:build'" in done.stdout and "executions planned" in done.stdout
