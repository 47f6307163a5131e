"""The extension points: a toy pruning criterion and a toy baseline, registered in a few lines
each, run through a tiny study (MaskSearch, then SparseTraining) via the Runner; SNIP as a
MaskSearch method; unknown names rejected with the registered ones listed."""
import lth_tf  # (also sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import numpy as np
import pandas as pd
import pytest

from components import mask_search, sparse_training
from components.mask_search import MaskSearchParams, level_dir
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset, steps_per_epoch
from lth_tf.errors import ConfigError
from lth_tf.io import load_npz, read_json
from lth_tf.models import ModelHparams
from lth_tf.sparsity import baselines, criteria, saliency, wrapping
from lth_tf.sparsity import masks as M
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams
from pipelines.runner import Runner

DATA, MODEL = DatasetHparams(num_samples=600), ModelHparams("lenet_300_100", width=0.1)
TRAINING = TrainingHparams(budget="1ep", batch_size=64)
REWIND = 2


@pytest.fixture
def toys():
    """A criterion that keeps the *smallest* magnitudes with its own cost rule (7 steps per
    level), and a baseline that trains the ticket's complement from the rewind point at a
    declared cost of 5 steps. Removed from the registries afterwards."""
    @criteria.register_criterion("smallest", cost=lambda level, dense_steps, level_steps: 7 * level)
    def smallest(inputs):
        return {n: -np.abs(w) for n, w in inputs.trained.items()}

    baselines.register_baseline("complement", lambda ticket, rng: {n: 1 - m for n, m in ticket["masks"].items()},
                                cost=lambda ticket: 5)
    yield
    criteria.CRITERIA.pop("smallest")
    baselines.BASELINES.pop("complement")


def _kernels(state):
    return {k.split("/")[0]: v for k, v in state.items() if k.endswith("/kernel")}


def _keep_smallest(weights, masks, density):
    """By hand: among the kept weights, the round(N * density) smallest |w| over all layers."""
    names = list(masks)
    flat = np.concatenate([np.where(masks[n] > 0, np.abs(weights[n]), np.inf).ravel() for n in names])
    keep = np.zeros(flat.size, np.float32)
    keep[np.argsort(flat, kind="stable")[:int(round(flat.size * density))]] = 1
    sizes = np.cumsum([masks[n].size for n in names])[:-1]
    return {n: k.reshape(masks[n].shape) for n, k in zip(names, np.split(keep, sizes))}


def test_a_toy_criterion_and_a_toy_baseline_run_through_a_study(toys, tmp_path):
    runner = Runner(tmp_path, verbose=False)
    params = MaskSearchParams(DATA, MODEL, TRAINING, PruningHparams(method="smallest", levels=2, rewind=f"{REWIND}it"),
                              seed=0, export=False)
    tickets = runner.run(mask_search.SPEC, params)
    results = pd.read_csv(tickets.path / "results.csv").set_index("level")
    assert results["variant"].tolist() == ["dense", "lt_smallest_rewind", "lt_smallest_rewind"]
    for level in (1, 2):
        prev = level_dir(tickets.path, level - 1)
        expected = _keep_smallest(_kernels(load_npz(prev / "trained.npz")), M.load_masks(prev / "mask.npz"),
                                  0.8 ** level)
        assert M.matching(M.load_masks(level_dir(tickets.path, level) / "mask.npz"), expected)
        # the criterion's cost rule, beside the level's own training
        assert results.loc[level, "train_steps"] == 7 * level + results.loc[level, "own_steps"]

    trained = runner.run(sparse_training.SPEC, sparse_training.SparseTrainingParams(
        baselines=("complement", "lt"), levels=(2,)), tickets=tickets)
    rows = pd.read_csv(trained.path / "results.csv").set_index("variant")
    assert sorted(rows.index) == ["complement_rewind", "lt_smallest_rewind"]
    ticket = M.load_masks(level_dir(tickets.path, 2) / "mask.npz")
    assert M.matching(M.load_masks(trained.path / "complement" / "level_02" / "mask.npz"),
                      {n: 1 - m for n, m in ticket.items()})
    total = TRAINING.total_steps(steps_per_epoch(len(load_dataset(DATA).train), TRAINING.batch_size))
    assert rows.loc["complement_rewind", "own_steps"] == total - REWIND  # from the rewind step (the default start)
    assert rows.loc["complement_rewind", "train_steps"] == 5 + total - REWIND  # its cost rule
    assert rows.loc["complement_rewind", "sparsity"] == pytest.approx(1 - results.loc[2, "sparsity"], abs=1e-6)


def test_snip_is_a_mask_search_method(tmp_path):
    """SNIP in MaskSearch scores the previous level's trained network on a class-balanced batch."""
    params = MaskSearchParams(DATA, MODEL, TRAINING, PruningHparams(method="snip", levels=1), seed=0, export=False)
    tickets = Runner(tmp_path, verbose=False).run(mask_search.SPEC, params)
    ds = load_dataset(DATA)
    model = networks.build_network(MODEL, ds.input_shape, ds.num_classes, 0, params.pruning.prunable())
    wrapping.set_state(model, load_npz(level_dir(tickets.path, 0) / "trained.npz"))
    x, y = saliency.scoring_batch(ds, ds.train, 0)
    full = wrapping.get_masks(model)
    expected = M.prune_by_score(saliency.snip_scores(model, x, y), full, 0.8)
    assert M.matching(M.load_masks(level_dir(tickets.path, 1) / "mask.npz"), expected)
    meta = read_json(level_dir(tickets.path, 1) / "metrics.json")
    assert meta["variant"] == "lt_snip" and meta["train_steps"] == 2 * meta["own_steps"]  # IMP's cost rule


def test_unknown_names_list_the_registered_ones():
    with pytest.raises(ConfigError, match="Known pruning methods: grasp, imp, omp, random, snip, synflow"):
        PruningHparams(method="magnitude")
    with pytest.raises(ConfigError, match="Known sparse-training variants: lt, permuted_mask, random_mask, rr, "
                                          "small_dense"):
        sparse_training.SparseTrainingParams(baselines=("reinit",))
    with pytest.raises(ConfigError, match="Known saliency methods: grasp, snip, synflow"):
        saliency.scorer("imp")


def _tiny_keras_problem():
    """A 2-layer functional model on 240 separable 12-d examples (batches of 40: 6 steps an epoch)."""
    import tensorflow as tf
    import tf_keras as keras
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 12)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(16, activation="relu")(inputs)))
    compile_kwargs = lambda: dict(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"],  # noqa: E731
                                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, tf.data.Dataset.from_tensor_slices((x, y)).batch(40), compile_kwargs


def test_the_same_toy_criterion_and_baseline_run_through_the_python_api(toys):
    """Registered once, available everywhere: the study's toy criterion and baseline in lth_tf.imp."""
    model, ds, compile_kwargs = _tiny_keras_problem()
    search = lth_tf.imp(model, ds, compile_kwargs=compile_kwargs, epochs=1, levels=2, fraction=0.2, rewind_step=2,
                        criterion="smallest", verbose=0)
    for level in (1, 2):
        prev = search.levels[level - 1]
        expected = _keep_smallest(_kernels(prev.weights), prev.masks, 0.8 ** level)
        assert M.matching(search.levels[level].masks, expected)
        # the criterion's cost rule, as in the study: 7 steps a level
        assert search.levels[level].metrics["train_steps"] == 7 * level + search.levels[level].steps
    run = search.train(2, "complement")
    assert M.matching(run.masks, {n: 1 - m for n, m in search.levels[2].masks.items()})
    assert run.steps == search.total_steps - 2 and run.metrics["train_steps"] == 5 + run.steps


def test_the_python_api_trains_every_registered_baseline(toys):
    """search.baselines over every registered name: small_dense narrows the hidden layer to the
    ticket's parameter count and trains from step 0; rr draws fresh weights; all are the core's."""
    model, ds, compile_kwargs = _tiny_keras_problem()
    search = lth_tf.imp(model, ds, compile_kwargs=compile_kwargs, epochs=1, levels=3, fraction=0.5, verbose=0)
    runs = search.baselines(3, names=tuple(baselines.BASELINES))
    assert set(runs) == set(baselines.BASELINES)
    ticket = search.ticket(3)
    kept = wrapping.count_parameters(ticket, search.levels[3].masks)
    small = runs["small_dense"].model
    assert runs["small_dense"].steps == search.total_steps and M.sparsity(runs["small_dense"].masks) == 0
    assert abs(wrapping.count_parameters(small) - kept) <= 0.1 * kept < wrapping.count_parameters(ticket)
    assert small.output_shape[-1] == 2  # the output layer keeps its classes; the hidden one is narrower
    assert [w.layer.units for w in wrapping.wrappers(small)][0] < 16
    assert M.matching(runs["lt"].masks, search.levels[3].masks) and M.matching(runs["rr"].masks, runs["lt"].masks)
    assert not np.array_equal(runs["rr"].model.get_weights()[0], runs["lt"].model.get_weights()[0])


def test_imp_driver_prunes_by_a_registered_criterion(toys):
    model, ds, compile_kwargs = _tiny_keras_problem()
    wrapped = lth_tf.wrap(model)
    wrapped.compile(**compile_kwargs())
    wrapped.fit(ds, epochs=1, verbose=0)
    trained, masks = wrapping.get_state(wrapped), wrapping.get_masks(wrapped)
    driver = lth_tf.IMPDriver(wrapped, fraction=0.2, criterion="smallest")
    assert M.matching(driver.next_level(), _keep_smallest(_kernels(trained), masks, 0.8))
    with pytest.raises(ConfigError, match="scoring_data"):
        lth_tf.IMPDriver(wrapped, criterion="snip")
