"""Deployable tickets (lth_tf.exporting): raw inputs give the pipeline's answers in every format,
one signature for every ticket, pruned weights zero, ticket.json, pipelines.export.export_from_run on a run."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import json
import warnings

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from components import mask_search
from components.reports.stability import report as stability_report
from components.mask_search import MaskSearchParams
from lth_tf import exporting, networks
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.data.dataset import Dataset, Split
from lth_tf.errors import ConfigError
from lth_tf.io import read_json
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, predict
from pipelines import export as run_export
from pipelines.runner import Runner

FORMATS = tuple(exporting.FORMATS)
N = 64  # test examples compared


def _rgb_dataset():
    """uint8 RGB images with per-channel statistics far from 0/1, and named classes."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (96, 8, 8, 3), dtype=np.uint8)
    x[..., 1] //= 4  # channels with different means and spreads
    split = Split(x, rng.integers(0, 4, 96).astype(np.int64), np.arange(96, dtype=np.int64))
    flat = x.reshape(-1, 3).astype(np.float64)
    return Dataset("rgb", split, split.take([]), split, 4, flat.mean(0).astype(np.float32),
                   flat.std(0).astype(np.float32), "none", ("cat", "dog", "owl", "eel"))


def _ticket(ds, hp, density, seed):
    model = networks.build_network(hp, ds.input_shape, ds.num_classes, seed)
    masks = M.random_prune(M.ones_like(wrapping.prunable_weights(model)), density, np.random.default_rng(seed))
    wrapping.set_masks(model, masks)
    return model, masks


@pytest.fixture(scope="module")
def tickets():
    """Two differently built tickets: LeNet on MNIST-1D (float signals) and Conv-2 on uint8 RGB."""
    lenet_ds = load_dataset(DatasetHparams(num_samples=1000))
    return {"lenet": (lenet_ds, *_ticket(lenet_ds, ModelHparams("lenet_300_100", width=0.1), 0.3, 0)),
            "conv": (_rgb_dataset(), *_ticket(_rgb_dataset(), ModelHparams("conv2", width=0.05), 0.5, 1))}


@pytest.fixture(scope="module")
def exported(tickets, tmp_path_factory):
    """{(ticket, format): path of the exported model}."""
    root = tmp_path_factory.mktemp("exports")
    return {(name, fmt): exporting.export(model, root / f"{name}_{fmt}", fmt, masks=masks, dataset=ds.name,
                                          **exporting.dataset_facts(ds))
            for name, (ds, model, masks) in tickets.items() for fmt in FORMATS}


def _run(path, fmt, x) -> dict:
    """The exported model's outputs {name: array} on `x`, loaded as a deployment would."""
    if fmt == "saved_model":
        served = tf.saved_model.load(str(path))  # kept while serving: it owns the variables
        return {k: v.numpy() for k, v in served.signatures["serving_default"](inputs=tf.constant(x)).items()}
    if fmt == "keras":
        return {k: v.numpy() for k, v in keras.models.load_model(str(path))(x).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        runner = tf.lite.Interpreter(model_path=str(path)).get_signature_runner()
    return runner(inputs=x)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["lenet", "conv"])
def test_the_export_answers_raw_inputs_as_the_pipeline_answers_normalized_ones(tickets, exported, name, fmt):
    ds, model, _ = tickets[name]
    expected = predict(model, ds, ds.test)[:N]  # the pipeline: normalized in the input pipeline
    out = _run(exported[name, fmt], fmt, ds.test.x[:N])  # raw: float signals / uint8 pixels
    np.testing.assert_allclose(out["logits"], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(out["logits"].argmax(1), expected.argmax(1))
    softmax = np.exp(expected - expected.max(1, keepdims=True))
    np.testing.assert_allclose(out["probabilities"], softmax / softmax.sum(1, keepdims=True), atol=1e-5)


def test_every_ticket_has_the_same_signature_whatever_keras_named_its_input(tickets, exported):
    assert tickets["lenet"][1].inputs[0].name != tickets["conv"][1].inputs[0].name  # Keras' input_N names
    for name in tickets:
        served = tf.saved_model.load(str(exported[name, "saved_model"]))
        serve = served.signatures["serving_default"]
        assert set(serve.structured_input_signature[1]) == {"inputs"}
        assert set(serve.structured_outputs) == {"logits", "probabilities"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lite = tf.lite.Interpreter(model_path=str(exported[name, "tflite"])).get_signature_list()
        assert lite == {"serving_default": {"inputs": ["inputs"], "outputs": ["logits", "probabilities"]}}
    conv = keras.models.load_model(str(exported["conv", "keras"]))
    assert conv.inputs[0].dtype == tf.uint8  # raw pixels, cast before normalizing


@pytest.mark.parametrize("fmt", ["saved_model", "keras"])
def test_pruned_weights_are_exactly_zero_in_plain_layers(tickets, exported, fmt):
    for name, (_, model, masks) in tickets.items():
        loaded = keras.models.load_model(str(exported[name, fmt]), compile=False)
        assert not wrapping.wrappers(loaded)
        kernels = wrapping.prunable_weights(model)
        for layer, m in masks.items():
            kernel = loaded.get_layer(layer).kernel.numpy()
            np.testing.assert_array_equal(kernel, kernels[layer] * m)
            assert np.all(kernel[m == 0] == 0.0) and np.all(kernel[m == 1] != 0.0)
        record = exporting.read_record(exported[name, fmt])
        assert record["zero_weights"] == {layer: int((m == 0).sum()) for layer, m in masks.items()}


def test_ticket_json_records_provenance_data_and_sparsity(tickets, exported):
    ds, _, masks = tickets["conv"]
    for fmt in FORMATS:
        record = exporting.read_record(exported["conv", fmt])
        assert record["format"] == fmt and record["model"] == exported["conv", fmt].name
        assert len(record["provenance"]["git_commit"]) in (0, 40)
        assert record["provenance"]["libraries"]["tensorflow"].startswith("2.")
        assert any(d.startswith("CPU:") for d in record["provenance"]["devices"])
        assert record["export_wall_time_s"] > 0 and record["exported_at"]
        assert record["dataset"] == "rgb" and record["class_names"] == ["cat", "dog", "owl", "eel"]
        assert record["sparsity"] == pytest.approx(M.sparsity(masks))
        np.testing.assert_allclose(record["normalization"]["mean"], ds.mean)
        assert record["signature"]["inputs"]["inputs"] == {"shape": [None, 8, 8, 3], "dtype": "uint8"}
    assert exporting.read_record(exported["lenet", "keras"])["class_names"] == [str(d) for d in range(10)]


@pytest.mark.parametrize("name", ["lenet", "conv"])
def test_saved_weights_are_the_tickets_state_bit_for_bit(tickets, exported, name):
    """What a ticket search reads back at an exported level instead of a trained.npz: the
    network's own variables, by name, without the normalization the export adds."""
    ds, model, _ = tickets[name]
    state = wrapping.get_state(model)
    saved = exporting.saved_weights(exported[(name, "saved_model")])
    assert set(saved) == set(state)
    assert all(saved[k].dtype == v.dtype and saved[k].tobytes() == v.tobytes() for k, v in state.items())


def test_a_damaged_saved_model_is_unreadable_naming_it(tickets, exported, tmp_path):
    import shutil
    from lth_tf.io import UnreadableFile
    copy = tmp_path / "saved_model"
    shutil.copytree(exported[("lenet", "saved_model")], copy)
    data = copy / "variables" / "variables.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:-100])  # truncated
    with pytest.raises(UnreadableFile, match=str(copy / "variables")):
        exporting.saved_weights(copy)
    (copy / "variables" / "variables.index").unlink()
    with pytest.raises(UnreadableFile):
        exporting.saved_weights(copy)


def test_every_format_has_one_layout_and_replaces_nothing_unasked(tickets, tmp_path):
    """A directory per export, the model and its own ticket.json inside (keras and tflite no
    longer share one record); a second export into it is refused without overwrite; every file
    readable by others as the umask allows (SavedModel directories were 0700)."""
    import os
    ds, model, masks = tickets["lenet"]
    old = os.umask(0o022)
    try:
        for fmt in FORMATS:
            path = exporting.export(model, tmp_path / fmt, fmt, masks=masks, **exporting.dataset_facts(ds))
            assert path == tmp_path / fmt / exporting.FORMATS[fmt]
            assert read_json(tmp_path / fmt / "ticket.json")["format"] == fmt
        with pytest.raises(ConfigError, match="ticket.keras exists .*--force .*overwrite=True"):
            exporting.export(model, tmp_path / "keras", "keras", **exporting.dataset_facts(ds))
        exporting.export(model, tmp_path / "keras", "keras", overwrite=True, **exporting.dataset_facts(ds))
        with pytest.raises(ConfigError, match="ticket.json exists"):  # another format into the same directory
            exporting.export(model, tmp_path / "keras", "tflite", **exporting.dataset_facts(ds))
    finally:
        os.umask(old)
    for path in tmp_path.rglob("*"):
        assert path.stat().st_mode & (0o055 if path.is_dir() else 0o044) == (0o055 if path.is_dir() else 0o044), path
    with pytest.raises(ConfigError, match="names a file; give a directory such as '.*/t'"):
        exporting.export(model, tmp_path / "t.tflite", "tflite", **exporting.dataset_facts(ds))
    with pytest.raises(ConfigError, match="export format"):
        exporting.export(model, tmp_path / "x", "onnx")


def test_a_network_tflite_cannot_convert_is_one_paragraph(tmp_path, capfd):
    inputs = keras.Input((6, 3))
    lstm = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.LSTM(5)(inputs)))
    capfd.readouterr()
    with pytest.raises(ConfigError) as error:
        exporting.export(lstm, tmp_path / "lstm", "tflite")
    message = str(error.value)
    assert message.startswith("TFLite cannot convert this network (") and "--format saved_model" in message
    assert "\n" not in message and len(message) < 600 and error.value.__cause__ is None
    assert "loc(" not in capfd.readouterr().err  # the converter's MLIR log stays off the terminal
    assert not (tmp_path / "lstm" / "ticket.json").exists()


# ----------------------------------------------------------------------------- from a run

TINY = dict(dataset=DatasetHparams(num_samples=1000), model=ModelHparams("lenet_300_100", width=0.1),
            training=TrainingHparams(budget="1ep", batch_size=64), pruning=PruningHparams(levels=1))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory with two finished searches (seeds 0 and 1), nothing exported in-run."""
    root = tmp_path_factory.mktemp("run")
    runner = Runner(root, verbose=False)
    searches = [runner.run(mask_search.SPEC, MaskSearchParams(**TINY, seed=seed, export=False)) for seed in (0, 1)]
    return root, searches


def test_export_from_run_rebuilds_the_level_and_answers_raw_inputs(run_dir, tmp_path):
    root, searches = run_dir
    with pytest.raises(ConfigError, match="2 MaskSearch artifacts") as many:
        run_export.export_from_run(root, 1, None, "keras", tmp_path / "a")
    assert all(s.path.name in str(many.value) for s in searches)
    assert "(seed=0)" in str(many.value) and "(seed=1)" in str(many.value)  # what tells them apart
    with pytest.raises(ConfigError, match="levels \\[3\\]"):
        run_export.export_from_run(root, 3, searches[1].fingerprint[:12], "keras", tmp_path / "b")
    path = run_export.export_from_run(root, 1, searches[1].fingerprint[:12], "saved_model", tmp_path / "c")
    record = exporting.read_record(path)
    meta = read_json(searches[1].path / "artifact.json")
    assert record["source"]["fingerprint"] == meta["fingerprint"] and record["source"]["level"] == 1
    assert record["source"]["provenance"] == meta["provenance"] and record["source"]["seed"] == 1
    # Its accuracy on the raw test split is the test accuracy the search recorded for the level.
    ds = load_dataset(TINY["dataset"])
    logits = _run(path, "saved_model", ds.test.x)["logits"]
    level = read_json(searches[1].level_dir(1) / "metrics.json")
    assert float(np.mean(logits.argmax(1) == ds.test.y)) == pytest.approx(level["test_accuracy"], abs=1e-12)
    assert record["sparsity"] == pytest.approx(level["sparsity"])


def _fake_search(root, name, export=True, budget="2ep", levels=3, seed=0):
    path = root / "artifacts" / "MaskSearch" / name
    path.mkdir(parents=True)
    (path / "artifact.json").write_text(json.dumps({"fingerprint": name * 4, "label": f"mu0.9/seed{seed}", "parameters": {
        "dataset": {"name": "mnist1d"}, "model": {"name": "lenet_300_100"}, "seed": seed, "export": export,
        "training": {"budget": budget, "momentum": 0.9, "batch_size": 128},
        "pruning": {"levels": levels, "rewind": "5it", "method": "imp"}}}))
    return path


def test_without_search_the_main_grid_is_exported_and_look_alikes_show_their_differences(tmp_path):
    """The smoke study's three searches at level 3: the grid's (export on), AIMP's (12-step budget)
    and transfer's (2 levels); without --search the grid's is the one."""
    main = _fake_search(tmp_path, "main")
    _fake_search(tmp_path, "aimp", export=False, budget="12it")
    _fake_search(tmp_path, "transfer", export=False, levels=2)
    assert run_export.find_search(tmp_path) == main
    with pytest.raises(ConfigError) as several:
        run_export.find_search(tmp_path, "seed0")
    message = str(several.value)
    assert "3 MaskSearch artifacts" in message and "aimp (export=False, pruning.levels=3, training.budget='12it')" in message
    assert "main (export=True, pruning.levels=3, training.budget='2ep')" in message
    _fake_search(tmp_path, "main_seed1", seed=1)  # two grid searches: no default
    with pytest.raises(ConfigError, match="4 MaskSearch artifacts .*main_seed1 \\(export=True, .*seed=1"):
        run_export.find_search(tmp_path)


def test_export_reads_only_verified_files_and_replaces_nothing_unasked(run_dir, tmp_path, capsys):
    """A same-size edit of a level's metrics.json never reaches ticket.json: the export refuses,
    naming the file and the fix. The command refuses an existing export without --force."""
    import shutil
    from pipelines import cli
    root, searches = run_dir
    run = tmp_path / "run"
    shutil.copytree(root, run, ignore=shutil.ignore_patterns("tensorboard"))
    search = run / searches[1].path.relative_to(root)
    args = ["export", str(run), "--level", "1", "--search", searches[1].fingerprint[:12], "--format", "keras"]
    out = tmp_path / "ticket"
    assert cli.main(args + ["--out", str(out)]) == 0
    assert "exported the level-1 ticket of" in capsys.readouterr().out
    assert cli.main(args + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "ticket.keras exists" in err and "--force" in err and err.count("\n") == 1
    assert cli.main(args + ["--out", str(out), "--force"]) == 0

    metrics = search / "level_01" / "metrics.json"
    accuracy = repr(read_json(metrics)["test_accuracy"])
    edited = accuracy[:2] + ("9" if accuracy[2] != "9" else "8") + accuracy[3:]
    metrics.write_text(metrics.read_text().replace(accuracy, edited, 1))
    capsys.readouterr()
    assert cli.main(args + ["--out", str(tmp_path / "again")]) == 2
    err = capsys.readouterr().err
    assert f"error: {metrics} is damaged" in err and "rerun the study" in err and err.count("\n") == 1
    assert not (tmp_path / "again").exists()


# ----------------------------------------------------------------------------- which levels

def test_report_levels_are_the_levels_the_stability_report_shows():
    assert mask_search.REPORT_SPARSITIES == stability_report.PAPER_SPARSITIES
    assert mask_search.report_levels(PruningHparams(levels=20)) == (0, 5, 10, 15, 20)
    assert mask_search.report_levels(PruningHparams(levels=4)) == (0, 4)  # unreached columns: the last level
    params = MaskSearchParams(**{**TINY, "pruning": PruningHparams(levels=20)})
    assert params.exported_levels() == (0, 5, 10, 15, 20)
    assert MaskSearchParams(**TINY, export_levels="all").exported_levels() == (0, 1)
    assert MaskSearchParams(**TINY, export_levels=[1]).exported_levels() == (1,)
    assert MaskSearchParams(**TINY, export=False).exported_levels() == ()
    with pytest.raises(ConfigError, match="outside 0..1"):
        MaskSearchParams(**TINY, export_levels=(0, 7))
    with pytest.raises(ConfigError, match="'report'"):
        MaskSearchParams(**TINY, export_levels="some")
