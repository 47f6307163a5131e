"""TensorBoard logging: the study's tags, sparsity equal to the mask's zero fraction, kernel
histograms, the hparams dashboard's data, no duplicate points on a rerun, runs named
variant/level through the runner, and training identical with and without logging."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import gin
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2 as hp_api_pb2
from tensorboard.plugins.hparams import metadata as hp_metadata

from components import mask_search
from components.stability import instability as stability_instability
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset, steps_per_epoch
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, evaluate, train
from lth_tf.training.tensorboard import EVENT_GLOB
from pipelines.runner import Runner

DATA = DatasetHparams(num_samples=600)
LENET = ModelHparams("lenet_300_100", width=0.1)
HP = TrainingHparams(budget="3ep", batch_size=64, lr=0.1, momentum=0.9)  # 7 steps per epoch


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DATA)


@pytest.fixture(autouse=True)
def _fresh_session():
    keras.backend.clear_session()


def _masked_network(ds, seed=0):
    model = networks.build_network(LENET, ds.input_shape, ds.num_classes, seed)
    masks = M.random_prune(M.ones_like(wrapping.prunable_weights(model)), 0.4, np.random.default_rng(1), "layerwise")
    wrapping.set_masks(model, masks)
    return model, masks


def _events(run_dir) -> EventAccumulator:
    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    events.Reload()
    return events


def _scalars(events, tag):
    return [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]


def _session_hparams(events) -> dict:
    content = events.PluginTagToContent("hparams")[hp_metadata.SESSION_START_INFO_TAG]
    info = hp_metadata.parse_session_start_info_plugin_data(content)
    return {k: (v.string_value or v.number_value) for k, v in info.hparams.items()}


def test_a_run_logs_curves_sparsity_histograms_test_accuracy_and_hparams(ds, tmp_path):
    model, masks = _masked_network(ds)
    train(model, ds, HP, seed=0, verbose=False, log_dir=tmp_path / "lt_imp" / "level_03",
          log_hparams={"variant": "lt_imp", "level": 3})
    events = _events(tmp_path / "lt_imp" / "level_03")
    tags = set(events.Tags()["tensors"])
    assert {"lr", "train/loss", "train/accuracy", "val/loss", "val/accuracy", "test/accuracy", "test/loss",
            "final/test_accuracy", "final/best_val_accuracy", "final/val_error", "final/test_error"} <= tags
    steps = [s for s, _ in _scalars(events, "train/loss")]
    assert steps == [7, 14, 21]  # one point per epoch, at the global step
    for layer, mask in masks.items():  # once: masks do not change during a run
        assert _scalars(events, f"sparsity/{layer}") == [(7, pytest.approx(1.0 - mask.mean()))]
    assert _scalars(events, "sparsity/global") == [(7, pytest.approx(M.sparsity(masks)))]
    # Histograms (default: at the end only) of the unpruned kernel weights only.
    for layer, mask in masks.items():
        (histogram,) = events.Tensors(f"kernel/{layer}")
        buckets = tf.make_ndarray(histogram.tensor_proto)  # rows: left edge, right edge, count
        assert histogram.step == 21 and buckets[:, 2].sum() == mask.sum()
    test = evaluate(model, ds, ds.test)["accuracy"]
    assert _scalars(events, "test/accuracy") == [(21, pytest.approx(test))]
    assert _scalars(events, "final/test_error")[0][1] == pytest.approx(1.0 - test)
    best = max(v for _, v in _scalars(events, "val/accuracy"))
    assert _scalars(events, "final/best_val_accuracy") == [(21, pytest.approx(best))]
    hparams = _session_hparams(events)
    assert hparams["variant"] == "lt_imp" and hparams["level"] == 3 and hparams["batch_size"] == 64
    assert hparams["momentum"] == pytest.approx(0.9) and hparams["sparsity"] == pytest.approx(M.sparsity(masks))


def test_logging_does_not_change_training(ds, tmp_path):
    runs = []
    with gin.unlock_config():  # the most logging there is: test split and histograms every epoch
        gin.bind_parameter("SummaryOptions.test_every_epoch", True)
        gin.bind_parameter("SummaryOptions.histogram_every", 1)
    try:
        for log_dir in (None, tmp_path / "run"):
            keras.backend.clear_session()
            model, _ = _masked_network(ds)
            result = train(model, ds, HP, seed=4, verbose=False, log_dir=log_dir)
            runs.append((result.history, wrapping.get_state(model)))
    finally:
        with gin.unlock_config():
            gin.bind_parameter("SummaryOptions.test_every_epoch", False)
            gin.bind_parameter("SummaryOptions.histogram_every", 0)
    (history, state), (logged_history, logged_state) = runs
    assert history == logged_history
    assert all(np.array_equal(state[k], logged_state[k]) for k in state)
    events = _events(tmp_path / "run")
    assert [s for s, _ in _scalars(events, "test/accuracy")] == [7, 14, 21]  # no second point at the end
    assert [e.step for e in events.Tensors("kernel/fc1")] == [7, 14, 21]


def test_training_a_unit_again_replaces_its_run(ds, tmp_path):
    run = tmp_path / "dense" / "level_00"
    (run / "copy_1").mkdir(parents=True)
    (run / "copy_1" / "events.out.tfevents.0.other").write_bytes(b"")  # a nested run: not this one's
    for _ in range(2):  # an interrupted unit trained again
        keras.backend.clear_session()
        model, _ = _masked_network(ds)
        train(model, ds, HP, seed=0, end_step=14, verbose=False, log_dir=run)
    assert len(list(run.glob(EVENT_GLOB))) == 1
    assert [s for s, _ in _scalars(_events(run), "train/loss")] == [7, 14]
    assert (run / "copy_1" / "events.out.tfevents.0.other").exists()


def test_runner_names_runs_by_variant_and_level_and_resumes_without_duplicates(tmp_path):
    training = TrainingHparams(budget="2ep", batch_size=128, lr=0.1)
    params = mask_search.MaskSearchParams(DATA, LENET, training, PruningHparams(levels=1), seed=0, export=False)
    tickets = Runner(tmp_path, verbose=False).run(mask_search.SPEC, params)
    instability = stability_instability.InstabilityParams(levels=(1,), alphas=(0.0, 0.5, 1.0), successive=False)
    Runner(tmp_path, verbose=False).run(stability_instability.INSTABILITY, instability, tickets=tickets)
    root = tmp_path / "tensorboard"
    runs = {p.parent.relative_to(root).as_posix() for p in root.rglob(EVENT_GLOB) if p.parent != root}
    # <configuration>/<seed>/<component>/<variant>/level_LL, alike for the search and its analysis
    assert runs == {"mu0.9_bs128_rw0it/seed0/MaskSearch/dense/level_00", "mu0.9_bs128_rw0it/seed0/MaskSearch/lt_imp/level_01",
                    "mu0.9_bs128_rw0it/seed0/Instability/instability/level_01/copy_1"}
    experiment = _events(root).PluginTagToContent("hparams")
    assert hp_metadata.EXPERIMENT_TAG in experiment
    declared = hp_metadata.parse_experiment_plugin_data(experiment[hp_metadata.EXPERIMENT_TAG])
    assert {"variant", "level", "sparsity", "momentum", "batch_size", "rewind", "seed"} <= {h.name for h in declared.hparam_infos}
    assert {h.name: h.type for h in declared.hparam_infos}["momentum"] == hp_api_pb2.DATA_TYPE_FLOAT64

    # Resume: level 1 did not commit; level 0 is reused and not logged again, level 1 is trained again.
    (dense_file,) = root.glob("*/*/MaskSearch/dense/level_00/" + EVENT_GLOB)
    level_1 = next(root.glob("*/*/MaskSearch/lt_imp/level_01"))
    before = dense_file.stat().st_mtime_ns
    unit = tickets.level_dir(1)
    for f in (tickets.path / "artifact.json", unit / "metrics.json"):
        f.unlink()
    Runner(tmp_path, verbose=False).run(mask_search.SPEC, params)
    assert dense_file.stat().st_mtime_ns == before and len(list(dense_file.parent.glob(EVENT_GLOB))) == 1
    spe = steps_per_epoch(len(load_dataset(DATA).train), training.batch_size)
    assert [s for s, _ in _scalars(_events(level_1), "train/loss")] == [spe, 2 * spe]
    hparams = _session_hparams(_events(level_1))
    assert hparams["variant"] == "lt_imp" and hparams["level"] == 1 and hparams["rewind"] == "0it"
