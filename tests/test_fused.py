"""The fused trainer: K networks in one compiled step equal the same K networks trained one by one
with train() (within float rounding), keep masks and pruned zeros exactly, and are deterministic."""
import lth_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

import numpy as np
import pytest
import tf_keras as keras

from lth_tf import lottery, networks
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.data.dataset import Dataset, Split
from lth_tf.lottery import fused as fused_search
from lth_tf.lottery.fused import search_many
from lth_tf.lottery.loop_trainer import LoopTrainer
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping
from lth_tf.training import TrainingHparams, train
from lth_tf.training.fused import Member, NotFusable, train_fused

LENET = ModelHparams("lenet_300_100", width=0.1)
# A grid as the studies vary it: learning rate, momentum, weight decay, start (rewind) step, seed.
GRID = [dict(lr=0.1, momentum=0.9, weight_decay=1e-3, start=0),
        dict(lr=0.05, momentum=0.5, weight_decay=0.0, start=0),
        dict(lr=0.1, momentum=0.0, weight_decay=1e-4, start=7)]
# Seeds (data order, init, mask) only: one learning rate and momentum, Keras' fused update kernel.
SEEDS = [dict(lr=0.1, momentum=0.9, weight_decay=1e-4, start=0)] * 3
STEPS = 200
# Measured: max |fused - solo| / max |solo| per variable about 2e-6 after 300 steps (batched
# matmuls round like single ones up to summation order); 1e-5 leaves room for other CPUs.
RTOL = 1e-5


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DatasetHparams(num_samples=1000))  # 720 training examples: a partial last batch


@pytest.fixture(autouse=True)
def _fresh_session():
    keras.backend.clear_session()


def _networks(ds, grid=GRID):
    """Three networks with their own init and mask (dense, 30% and 60% pruned)."""
    models = []
    for i in range(len(grid)):
        model = networks.build_network(LENET, ds.input_shape, ds.num_classes, i)
        ones = M.ones_like(wrapping.prunable_weights(model))
        wrapping.set_masks(model, M.random_prune(ones, 0.3 * i, np.random.default_rng(i)) if i else ones)
        models.append(model)
    return models


def _members(models, grid=GRID):
    return [Member(m, TrainingHparams(budget=f"{STEPS}it", batch_size=32, lr=g["lr"], momentum=g["momentum"],
                                      weight_decay=g["weight_decay"]), seed=10 + i, start_step=g["start"],
                   snapshot_steps=(50,)) for i, (m, g) in enumerate(zip(models, grid))]


def _close(a, b):
    assert set(a) == set(b)
    for key in a:
        scale = max(float(np.max(np.abs(a[key]))), 1e-12)
        assert float(np.max(np.abs(a[key] - b[key]))) <= RTOL * scale, key


@pytest.mark.parametrize("grid", [GRID, SEEDS], ids=["grid", "seeds"])
def test_fused_networks_equal_the_same_networks_trained_alone(ds, grid):
    solo_members, fused_members = _members(_networks(ds), grid), _members(_networks(ds), grid)
    masks = [wrapping.get_masks(m.model) for m in fused_members]
    alone = [train(m.model, ds, m.hp, seed=m.seed, start_step=m.start_step, snapshot_steps=m.snapshot_steps,
                   verbose=False) for m in solo_members]
    fused = train_fused(fused_members, ds, verbose=False)
    for a, f, sm, fm, mask in zip(alone, fused, solo_members, fused_members, masks):
        assert (f.start_step, f.end_step, f.steps) == (a.start_step, a.end_step, a.steps)
        _close(wrapping.get_state(sm.model), wrapping.get_state(fm.model))  # written back into the Keras model
        assert sorted(f.snapshots) == sorted(a.snapshots) == [50]
        _close(a.snapshots[50], f.snapshots[50])
        _close(a.best_state, f.best_state)
        assert [r["step"] for r in f.history] == [r["step"] for r in a.history]
        for ra, rf in zip(a.history, f.history):
            assert ra["epoch"] == rf["epoch"] and ra["lr"] == rf["lr"]
            np.testing.assert_allclose([rf["train_loss"], rf["val_loss"]], [ra["train_loss"], ra["val_loss"]],
                                       rtol=1e-4)
            assert abs(rf["val_accuracy"] - ra["val_accuracy"]) <= 1 / len(ds.val) + 1e-9
        # the mask is the one set, and every pruned weight is exactly zero
        assert M.matching(wrapping.get_masks(fm.model), mask)
        kernels = wrapping.prunable_weights(fm.model)
        assert all(np.all(kernels[name][m == 0] == 0.0) for name, m in mask.items())


def test_convolutional_networks_fuse_as_grouped_convolutions(ds):
    """Conv-2 (Conv1D on MNIST-1D, max pooling, Dense head): equal to training alone."""
    def conv_members():
        out = []
        for i in range(2):
            model = networks.build_network(ModelHparams("conv2", width=0.1), ds.input_shape, ds.num_classes, i)
            ones = M.ones_like(wrapping.prunable_weights(model))
            wrapping.set_masks(model, M.random_prune(ones, 0.5, np.random.default_rng(i)))
            hp = TrainingHparams(budget="40it", batch_size=32, lr=0.05 * (i + 1), momentum=0.9, weight_decay=1e-4)
            out.append(Member(model, hp, seed=i))
        return out
    solo, fused = conv_members(), conv_members()
    for m in solo:
        train(m.model, ds, m.hp, seed=m.seed, verbose=False)
    train_fused(fused, ds, verbose=False)
    for s, f in zip(solo, fused):
        _close(wrapping.get_state(s.model), wrapping.get_state(f.model))


def test_augmented_batches_are_each_networks_own(ds):
    """Random crops drawn per network from its (seed, step), the partial last batch included."""
    rng = np.random.default_rng(0)
    split = Split(rng.integers(0, 255, (100, 8, 8, 1)).astype(np.uint8), rng.integers(0, 3, 100), np.arange(100))
    images = Dataset("images", split, split.take(np.arange(20)), split.take(np.arange(0)), 3,
                     np.full(1, 127.0, np.float32), np.full(1, 64.0, np.float32), "crop")
    hp = TrainingHparams(budget="30it", batch_size=16, lr=0.05)

    def group():
        return [Member(networks.build_network(LENET, (8, 8, 1), 3, i), hp, seed=i) for i in range(2)]
    solo, fused = group(), group()
    for m in solo:
        train(m.model, images, hp, seed=m.seed, verbose=False)
    train_fused(fused, images, verbose=False)
    for s, f in zip(solo, fused):
        _close(wrapping.get_state(s.model), wrapping.get_state(f.model))


def test_a_fused_run_is_deterministic(ds):
    runs = []
    for _ in range(2):
        members = _members(_networks(ds))
        results = train_fused(members, ds, verbose=False)
        runs.append(([wrapping.get_state(m.model) for m in members], [r.history for r in results]))
    (states_a, history_a), (states_b, history_b) = runs
    assert history_a == history_b
    for a, b in zip(states_a, states_b):
        assert all(np.array_equal(a[key], b[key]) for key in a)


def test_a_second_call_on_the_same_models_continues_from_their_weights(ds):
    """The group's stacks are cached on the models: a second call reads the models' weights
    anew (and zero momentum, as train() starts every call), as IMP's next level needs."""
    fused_members, solo_members = _members(_networks(ds)), _members(_networks(ds))
    for ms in (fused_members, solo_members):
        for m in ms:
            m.start_step, m.snapshot_steps = 150, ()
    train_fused(fused_members, ds, verbose=False)
    for m in solo_members:
        train(m.model, ds, m.hp, seed=m.seed, start_step=150, verbose=False)
    ones = M.ones_like(wrapping.prunable_weights(fused_members[0].model))
    for ms in (fused_members, solo_members):  # a new mask on network 0, as the next level sets it
        wrapping.set_masks(ms[0].model, M.random_prune(ones, 0.5, np.random.default_rng(5)))
    train_fused(fused_members, ds, verbose=False)
    for m in solo_members:
        train(m.model, ds, m.hp, seed=m.seed, start_step=150, verbose=False)
    for s, f in zip(solo_members, fused_members):
        _close(wrapping.get_state(s.model), wrapping.get_state(f.model))


def test_networks_that_cannot_share_a_step_are_refused_before_training(ds):
    lenets = _members(_networks(ds))[:2]
    resnet = networks.build_network(ModelHparams("resnet20", width=0.25), ds.input_shape, ds.num_classes, 0)
    with pytest.raises(NotFusable, match="BatchNormalization|previous layer"):
        train_fused([Member(resnet, lenets[0].hp, seed=0)] * 2, ds, verbose=False)
    wider = networks.build_network(ModelHparams("lenet_300_100", width=0.2), ds.input_shape, ds.num_classes, 0)
    with pytest.raises(NotFusable, match="different architectures"):
        train_fused([lenets[0], Member(wider, lenets[0].hp, seed=0)], ds, verbose=False)
    lenets[1].hp = TrainingHparams(budget=f"{STEPS}it", batch_size=64)
    with pytest.raises(NotFusable, match="batch size"):
        train_fused(lenets, ds, verbose=False)


def _searches(ds):
    """Three searches as a stability grid varies them: seeds, learning rates, rewind points; the
    last one a level shorter (it leaves the lockstep early)."""
    models, trainers, plans = [], [], []
    for i, (lr, rewind, levels) in enumerate([(0.1, 0, 2), (0.05, 10, 2), (0.1, 20, 1)]):
        hp = TrainingHparams(budget="60it", batch_size=32, lr=lr, momentum=0.9, weight_decay=1e-4)
        trainer = LoopTrainer(ds, hp, i, LENET, wrapping.prunable_predicate(), verbose=False)
        models.append(trainer.network())
        trainers.append(trainer)
        plans.append(lottery.Plan("imp", levels, 0.5, "global", rewind, seed=i))
    return models, trainers, plans


def test_fused_searches_yield_the_levels_of_separate_searches(ds, monkeypatch):
    alone = [list(lottery.search(*args)) for args in zip(*_searches(ds))]
    rounds = []
    monkeypatch.setattr(fused_search, "train_fused", lambda members, *a, **kw: rounds.append(len(members)) or
                        train_fused(members, *a, **kw))
    fused = [[] for _ in alone]
    for i, run in search_many(*_searches(ds)):
        fused[i].append(run)
    assert rounds == [3, 3, 2]  # each level of the running searches trained in one fused call
    for runs_alone, runs_fused in zip(alone, fused):
        assert [r.level for r in runs_fused] == [r.level for r in runs_alone]
        for a, f in zip(runs_alone, runs_fused):
            assert M.matching(a.masks, f.masks), a.level
            assert (a.search_steps, a.train_steps) == (f.search_steps, f.train_steps)
            _close(a.trained, f.trained)
            if a.rewind is not None:
                _close(a.rewind, f.rewind)


def test_an_error_in_one_search_is_raised_and_the_others_stop(ds):
    models, trainers, plans = _searches(ds)
    plans[1] = lottery.Plan("imp", 1, 0.5, "global", 60, seed=1)  # rewind at the end: refused at level 0
    with pytest.raises(Exception, match="rewind"):
        list(search_many(models, trainers, plans))
