"""PrAC lottery tickets: set rules, early-bird stop, dynamic iterations, the iteration ledger,
saliency scores, and a tiny end-to-end PracMaskSearch (with resume and the report)."""
import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest
import tf_keras as keras

from components import mask_search
from components.reports.prac import report as prac_report
from components.prac import search as prac_search
from components.prac import saliency as saliency_tickets
from components.prac import rounds as ticket_training
from lth_tf import networks
from lth_tf.data import DatasetHparams, load_dataset
from lth_tf.errors import ConfigError
from lth_tf.io import load_npz, read_json
from lth_tf.metrics import prac as P
from lth_tf.metrics.forgetting import NEVER_LEARNED
from lth_tf.models import ModelHparams
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import saliency, wrapping
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams, evaluate, predict
from pipelines.runner import Runner


# ---- set rules ---------------------------------------------------------------------------

def test_disagreement_set_on_constructed_logits():
    dense = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 5.0], [1.0, 0.9, 0.0], [0.0, 3.0, 1.0]])
    pruned = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.8, 0.9, 0.0], [0.0, 3.0, 1.0]])
    indices = np.array([40, 7, 12, 3, 25])
    # rows 1 (class 1 -> 0) and 3 (class 0 -> 1) change their prediction; logits may move freely
    np.testing.assert_array_equal(P.disagreement_set(dense, pruned, indices), [3, 7])
    assert len(P.disagreement_set(dense, dense, indices)) == 0


def test_cet_set_thresholds_and_never_learned():
    counts = np.array([-1, 0, 1, 3, NEVER_LEARNED, 2, -1])  # -1: never presented
    np.testing.assert_array_equal(P.cet_set(counts, 0), [2, 3, 4, 5])
    np.testing.assert_array_equal(P.cet_set(counts, 2), [3, 4])
    np.testing.assert_array_equal(P.cet_set(counts, 10), [4])  # never learned counts as infinite


def test_prac_set_overlap_and_class_ratios():
    cet, cep = np.array([5, 1, 9]), np.array([9, 2, 5, 8])
    np.testing.assert_array_equal(P.prac_set(cet, cep), [1, 2, 5, 8, 9])
    assert P.overlap_rate(cep, cet) == pytest.approx(2 / 4)
    assert np.isnan(P.overlap_rate([], cet))
    indices, labels = np.arange(10), np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    np.testing.assert_allclose(P.class_ratios([0, 1, 4, 6, 7, 8], indices, labels, 4), [0.5, 0.5, 0.75, 0.0])


def test_mask_similarity_is_intersection_over_union():
    a = {"l": np.array([1, 1, 1, 0, 0, 0], np.float32)}
    b = {"l": np.array([0, 1, 1, 1, 0, 0], np.float32)}
    assert P.mask_similarity(a, b) == pytest.approx(2 / 4)
    assert P.mask_similarity(a, a) == 1.0
    # two random masks of density d overlap by d / (2 - d) on average
    rng = np.random.default_rng(0)
    full = {"l": np.ones(200_000, np.float32)}
    x, y = M.random_prune(full, 0.3, rng), M.random_prune(full, 0.3, rng)
    assert P.mask_similarity(x, y) == pytest.approx(P.random_mask_similarity(0.3), abs=0.005)


# ---- early-bird stop ---------------------------------------------------------------------

def _masks_pruning(support, scores, density):
    return M.prune_by_score({"l": scores}, support, density)


def test_hamming_early_stop_triggers_on_converging_masks_only():
    rng = np.random.default_rng(0)
    support = {"l": (rng.random(4000) < 0.5).astype(np.float32)}  # the round's current mask
    base = rng.normal(size=4000)
    # Converging: the scores that decide the next mask settle, noise shrinking each epoch.
    converging = [_masks_pruning(support, base + rng.normal(size=4000) * s, 0.4) for s in (4.0, 1.0, 0.15, 0.02)]
    dists = [P.mask_distance(b, a, support) for a, b in zip(converging, converging[1:])]
    assert dists[0] > 0.07 > dists[-1]
    stops = [P.early_stop(converging[:k], 0.07, 1, support) for k in range(1, 5)]
    assert stops == [False, False, False, True]
    # Changing: a fresh random choice each epoch never settles.
    changing = [_masks_pruning(support, rng.normal(size=4000), 0.4) for _ in range(6)]
    assert not any(P.early_stop(changing[:k], 0.07, 1, support) for k in range(1, 7))
    # A FIFO window asks the newest mask to be close to several before it.
    assert not P.early_stop(converging, 0.07, 3, support)
    assert not P.early_stop(converging[1:] + converging[-1:], 0.07, 3, support)  # epoch 1 still too far
    assert P.early_stop(converging[2:] + converging[-1:] * 2, 0.07, 3, support)


def test_prac_rule_records_from_the_first_large_distance_and_needs_five_small_ones():
    """PrAC-LTH's main_PrAC_imp.py: a FIFO of the last 5 consecutive-epoch distances that starts
    filling with the first distance above the threshold; stop when all 5 are below it."""
    small_first = [0.05, 0.04, 0.03, 0.02, 0.01, 0.01]  # never moved: recording never starts
    assert not any(P.prac_early_stop(small_first[:k], 0.07) for k in range(1, 7))
    d = [0.03, 0.2, 0.1, 0.06, 0.05, 0.04, 0.08, 0.05, 0.04, 0.03, 0.02, 0.01, 0.01]
    # recorded from 0.2 (epoch 2); 0.08 at index 6 resets the run of small ones: the 5th small
    # one after it is index 11 (distance 12, between the masks of epochs 12 and 13).
    stops = [P.prac_early_stop(d[:k], 0.07) for k in range(1, len(d) + 1)]
    assert stops.index(True) == 11
    assert P.prac_early_stop([0.2, 0.01, 0.01], 0.07, queue=2)
    assert not P.prac_early_stop([0.2, 0.01, 0.01], 0.07, queue=3)  # 0.2 still in the queue


def test_the_two_rules_stop_at_different_epochs_on_the_same_masks():
    """Early-Bird compares the newest mask with each of the previous four; the authors' rule
    waits for five consecutive small distances after a large one."""
    support = {"l": np.ones(100, np.float32)}

    def stops(starts):  # epoch e's mask prunes weights starts[e] .. starts[e] + 39 of 100
        masks = [{"l": np.where((np.arange(100) >= s) & (np.arange(100) < s + 40), 0.0, 1.0).astype(np.float32)}
                 for s in starts]
        distances = [P.mask_distance(b, a, support) for a, b in zip(masks, masks[1:])]
        assert distances[0] == 0.6
        prac = [P.prac_early_stop(distances[:k - 1], 0.07) for k in range(1, len(masks) + 1)]
        bird = [P.early_stop(masks[:k], 0.07, 4, support) for k in range(1, len(masks) + 1)]
        return prac.index(True) + 1, bird.index(True) + 1  # the epoch each stops at
    # A jump, then still: Early-Bird needs 5 equal masks (epoch 6), the authors' rule 5 small
    # distances after the large one (epoch 7).
    assert stops([0, 30, 30, 30, 30, 30, 30, 30, 30]) == (7, 6)
    # A jump, then a slow drift (2/100 per epoch, 8/100 over four epochs): every consecutive
    # distance is small, so the authors' rule stops at epoch 7; Early-Bird waits for the drift
    # to stop (epoch 8).
    assert stops([0, 30, 31, 32, 33, 34, 35, 35, 35, 35]) == (7, 8)


def test_mask_distance_is_normalized_by_the_support():
    support = {"l": np.array([1, 1, 1, 1, 0, 0, 0, 0], np.float32)}
    a = {"l": np.array([1, 1, 0, 0, 0, 0, 0, 0], np.float32)}
    b = {"l": np.array([1, 0, 1, 0, 0, 0, 0, 0], np.float32)}
    assert P.mask_distance(a, b, support) == pytest.approx(2 / 4)
    assert P.mask_distance(a, b) == pytest.approx(2 / 8)


# ---- dynamic iterations ------------------------------------------------------------------

def test_round_schedule_scales_budget_and_milestones():
    hp = TrainingHparams(budget="20ep", schedule="multistep", milestones=("12ep", "16ep"), warmup="1ep")
    spe, rewind = 10, 10  # 200 steps on the full set; rewind to step 10
    first, start = ticket_training.round_schedule(hp, 100, 100, spe, rewind, first=True)
    assert (first.budget, first.milestones, start) == ("200it", ("120it", "160it"), 0)
    half, start = ticket_training.round_schedule(hp, 50, 100, spe, rewind, first=False)
    assert (half.budget, half.milestones, half.warmup, start) == ("100it", ("60it", "80it"), "5it", 5)
    assert half.total_steps(spe) - start == 95  # N = |P| / |D0| * (N0 - rewind)
    static, start = ticket_training.round_schedule(hp, 50, 100, spe, rewind, first=False, dynamic=False)
    assert (static.budget, static.milestones, start) == ("200it", ("120it", "160it"), 10)
    # The budget is in iterations: training on a subset does not shrink it a second time.
    assert half.total_steps(3) == 100


# ---- saliency ----------------------------------------------------------------------------

def _tiny_mlp(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, activation="relu", name="fc1")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="output")(hidden))
    return wrapping.wrap(model)


def test_synflow_matches_a_numpy_reference():
    model = _tiny_mlp()
    w1, b1, w2, b2 = (np.abs(v.numpy()) for v in (model.layers[1].layer.kernel, model.layers[1].layer.bias,
                                                   model.layers[2].layer.kernel, model.layers[2].layer.bias))
    before = wrapping.get_state(model)
    scores = saliency.synflow_scores(model)
    # all weights positive, one all-ones input (the paper's, Synaptic-Flow's): R = 1ᵀ(|W2|ᵀ(|W1|ᵀ1 + |b1|) + |b2|)
    out_weight = w2.sum(1)  # dR/dh_j per input
    hidden = w1.sum(0) + b1
    np.testing.assert_allclose(scores["fc1"], w1 * out_weight[None, :], rtol=1e-5)
    np.testing.assert_allclose(scores["output"], w2 * hidden[:, None], rtol=1e-5)
    for k, v in wrapping.get_state(model).items():  # weights restored, signs included
        np.testing.assert_array_equal(v, before[k])


def test_iterative_saliency_pruning_reaches_density_and_keeps_weights():
    model = _tiny_mlp(1)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    y = np.array([0, 1] * 4)
    before = wrapping.get_state(model)
    full = wrapping.get_masks(model)
    for method in ("snip", "grasp", "synflow"):
        new = saliency.iterative_prune(model, method, full, 0.5, x, y, iterations=3)
        assert M.density(new) == pytest.approx(0.5, abs=1 / 20)
        assert all(np.all(new[n] <= full[n]) for n in full)
        assert M.matching(wrapping.get_masks(model), full)
        for k, v in wrapping.get_state(model).items():
            np.testing.assert_array_equal(v, before[k])


# ---- end to end --------------------------------------------------------------------------

DATA = DatasetHparams(num_samples=600)  # 432 train / 48 val / 120 test examples
MODEL = ModelHparams(width=0.1)
TRAINING = TrainingHparams(budget="4ep", batch_size=32, lr=0.05, schedule="multistep", milestones=("3ep",))
PRUNING = PruningHparams(levels=2, fraction=0.3, rewind="1ep")


@pytest.fixture(scope="module")
def steps_counter():
    """Counts the steps every train() call of PracMaskSearch actually ran (its rounds call train
    directly, its level tickets through the lottery core's trainer, lth_tf/lottery/loop_trainer.py)."""
    from lth_tf.lottery import loop_trainer
    calls = []
    original = prac_search.train
    assert loop_trainer.train is original

    def counting(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append((kwargs.get("label", ""), result.steps))
        return result
    prac_search.train = loop_trainer.train = counting
    yield calls
    prac_search.train = loop_trainer.train = original


@pytest.fixture(scope="module")
def searched(tmp_path_factory, steps_counter):
    runner = Runner(tmp_path_factory.mktemp("prac"), verbose=False)
    # No early stop here: the step counts below are the dynamic-iterations rule's exactly.
    params = prac_search.PracSearchParams(DATA, MODEL, TRAINING, PRUNING, seed=3, early_stop=False, export=False)
    artifact = runner.run(prac_search.SPEC, params)
    return runner, params, artifact, list(steps_counter)


def test_prac_sets_follow_the_rules(searched):
    _, params, artifact, _ = searched
    full = load_dataset(DATA).train.index
    trained_on = full
    for r in (1, 2):
        sets = load_npz(artifact.round_dir(r) / "sets.npz")
        np.testing.assert_array_equal(sets["trained_on"], trained_on)  # D_r is what round r+1 trains on
        assert set(sets["cet"]) <= set(trained_on)  # forgetting is counted where the round trained
        assert set(sets["cep"]) <= set(full)
        np.testing.assert_array_equal(sets["selected"], np.union1d(sets["cet"], sets["cep"]))
        assert np.isin(sets["cet"], np.flatnonzero(sets["forgetting"] > 0)).all()
        info = read_json(artifact.round_dir(r) / "round.json")
        assert (info["cet"], info["cep"], info["selected"]) == (len(sets["cet"]), len(sets["cep"]), len(sets["selected"]))
        trained_on = sets["selected"]
    assert 0 < len(trained_on) < len(full)  # the set actually shrank


def test_cep_is_the_disagreement_with_the_round_one_dense_network(searched):
    """001 §3.1 Approach II / Algorithm 1 line 10: CEP = examples of D_0 on which the *full dense*
    network and the subnetwork disagree; the dense network is round 1's (best validation)."""
    _, params, artifact, _ = searched
    ds = load_dataset(DATA)
    full = ds.train.index
    round_sets = [load_npz(artifact.round_dir(r) / "sets.npz") for r in (1, 2)]
    # The reference: the round-1 dense network at its best-validation epoch, kept in round_01/.
    model = networks.build_network(MODEL, ds.input_shape, ds.num_classes, params.seed, PRUNING.prunable())
    wrapping.set_state(model, load_npz(artifact.round_dir(1) / "dense_best.npz"))
    assert M.density(wrapping.get_masks(model)) == 1.0
    dense_classes = predict(model, ds, ds.train).argmax(-1)
    dense_meta = read_json(artifact.level_dir(0) / "metrics.json")
    assert evaluate(model, ds, ds.val)["accuracy"] == pytest.approx(dense_meta["best_val_accuracy"])
    for r, sets in enumerate(round_sets, start=1):
        np.testing.assert_array_equal(sets["dense_prediction"], dense_classes)  # the same reference every round
        np.testing.assert_array_equal(sets["cep"], full[sets["dense_prediction"] != sets["subnetwork_prediction"]])
    # Round 1's network is the dense network: nothing to disagree on (the authors' code skips it).
    assert len(round_sets[0]["cep"]) == 0
    np.testing.assert_array_equal(round_sets[0]["selected"], round_sets[0]["cet"])
    # Round 2's subnetwork (the level-1 mask, trained on D_1) is compared with the dense network.
    info = read_json(artifact.round_dir(2) / "round.json")
    assert info["cep_subnetwork_sparsity"] == pytest.approx(1 - 0.7, abs=1e-3)
    rounds = pd.read_csv(artifact.path / "rounds.csv")
    assert list(rounds["cep"]) == [len(s["cep"]) for s in round_sets]  # CEP sizes recorded per round


def test_dynamic_iterations_and_ledger_add_up(searched):
    _, params, artifact, calls = searched
    rounds = pd.read_csv(artifact.path / "rounds.csv")
    results = pd.read_csv(artifact.path / "results.csv").set_index("level")
    ledger = pd.read_csv(artifact.path / "ledger.csv")
    spe = 14  # ceil(432 / 32)
    n0 = 4 * spe
    assert rounds.loc[0, "steps"] == n0
    factor = rounds.loc[1, "trained_on"] / 432
    hp, start = ticket_training.round_schedule(TRAINING, rounds.loc[1, "trained_on"], 432, spe, spe, first=False)
    assert rounds.loc[1, "steps"] == hp.total_steps(spe) - start == pytest.approx(factor * (n0 - spe), abs=1)
    # every step the search ran is in the ledger exactly once
    assert ledger["steps"].sum() == sum(steps for _, steps in calls)
    assert list(ledger["kind"]) == ["search_round", "ticket", "search_round", "ticket"]
    # each network: search steps = the rounds that produced its mask; train = search + own
    assert results.loc[0, "train_steps"] == n0 and results.loc[0, "search_steps"] == 0
    assert results.loc[1, "search_steps"] == rounds.loc[0, "steps"]
    assert results.loc[2, "search_steps"] == rounds["steps"].sum()
    assert (results["train_steps"] == results["search_steps"] + results["own_steps"]).all()
    assert (results.loc[[1, 2], "own_steps"] == n0 - spe).all()
    assert results.loc[2, "sparsity"] == pytest.approx(1 - 0.7 ** 2, abs=1e-3)


def test_interrupted_search_resumes_and_matches(searched, steps_counter):
    runner, params, artifact, _ = searched
    before = pd.read_csv(artifact.path / "results.csv")
    (artifact.path / "artifact.json").unlink()
    shutil.rmtree(artifact.round_dir(2))
    shutil.rmtree(artifact.level_dir(2))
    steps_counter.clear()
    again = runner.run(prac_search.SPEC, params)
    labels = [label for label, _ in steps_counter]
    assert len(labels) == 2 and "round 2" in labels[0] and "level 2 ticket" in labels[1]  # only what was lost
    pd.testing.assert_frame_equal(pd.read_csv(again.path / "results.csv"), before)


def test_early_stop_ends_rounds_and_report_compares(searched, tmp_path):
    runner, params, artifact, _ = searched
    stopped = runner.run(prac_search.SPEC, dataclasses.replace(params, early_stop=True, early_stop_threshold=0.5,
                                                               early_stop_queue=2, early_stop_rule="early_bird",
                                                               evaluate=False))
    rounds = pd.read_csv(stopped.path / "rounds.csv")
    # a 30% pruning round changes at most 2 * 0.3 of the support: 0.5 stops at the 2nd epoch
    assert rounds["early_stopped"].all()
    assert rounds.loc[0, "steps"] == 2 * 14
    assert len(rounds.loc[0, "distances"].strip("[]").split(",")) == 1
    vanilla = runner.run(mask_search.SPEC, mask_search.MaskSearchParams(DATA, MODEL, TRAINING, PRUNING, 3, False))
    report = runner.run(prac_report.SPEC, prac_report.PracReportParams(), prac=[artifact], vanilla=[vanilla])
    results = pd.read_csv(report.path / "results.csv")
    assert list(results.columns[:9]) == prac_report.FIRST_COLUMNS
    assert sorted(results.variant.unique()) == ["dense", "lt_imp", "prac_no_es"]
    assert (results.variant == "dense").sum() == 1
    # PrAC and vanilla train the same dense network first, so the level-1 masks come from it
    similarity = pd.read_csv(report.path / "mask_similarity.csv")
    assert similarity.loc[similarity.level == 1, "similarity"].iloc[0] == 1.0
    savings = pd.read_csv(report.path / "savings.csv")
    assert list(savings.variant) == ["prac_no_es"]
    for name in ("report.md", "accuracy_vs_sparsity.png", "set_sizes.csv", "class_ratios.png", "mask_similarity.png",
                 "verdicts.csv", "cep_table.csv"):
        assert (report.path / name).exists()
    # every network trained through write_ticket reports its best-validation model; the report uses it
    assert results["best_val_test_accuracy"].notna().all()
    np.testing.assert_allclose(results["reported_accuracy"], results["best_val_test_accuracy"])


def test_early_bird_queue_of_five_masks(searched):
    """The paper's PrAC stops every round early (001 §3.2 ii) with Early-Bird's queue of 5 masks
    and threshold 0.07 (000 A1): a round cannot stop before its 5th prospective mask."""
    runner, params, _, _ = searched
    default = prac_search.PracSearchParams(DATA, MODEL, TRAINING, PRUNING)
    assert (default.early_stop, default.early_stop_queue, default.early_stop_threshold) == (True, 5, 0.07)
    assert default.early_stop_rule == "prac"  # the authors' rule; Early-Bird's is the option tested here
    assert default.variant() == "prac" and dataclasses.replace(default, early_stop=False).variant() == "prac_no_es"
    # Threshold 0.99: any two masks of a 30% pruning round are close (they differ on at most 60% of
    # the support), so the queue alone decides: the 5th mask, epoch 5 (one-mask comparison: epoch 2).
    longer = dataclasses.replace(TRAINING, budget="6ep", milestones=("5ep",))
    loose = dataclasses.replace(params, training=longer, pruning=dataclasses.replace(PRUNING, levels=1),
                                early_stop=True, early_stop_threshold=0.99, early_stop_rule="early_bird",
                                evaluate=False)
    rounds = pd.read_csv(runner.run(prac_search.SPEC, loose).path / "rounds.csv")
    assert bool(rounds.loc[0, "early_stopped"]) and rounds.loc[0, "stop_epoch"] == 5
    assert len(rounds.loc[0, "distances"].strip("[]").split(",")) == 4  # epochs 1..5: four consecutive distances
    with pytest.raises(ConfigError):
        dataclasses.replace(params, early_stop_queue=1)
    with pytest.raises(ConfigError, match="Unknown early-stopping rule 'bird'"):
        dataclasses.replace(params, early_stop_rule="bird")
    assert dataclasses.replace(default, early_stop_rule="early_bird").variant() == "prac_eb"
    # the default rule on the same run: no distance exceeds 0.99, so recording never starts
    default_rule = runner.run(prac_search.SPEC, dataclasses.replace(loose, early_stop_rule="prac"))
    assert not pd.read_csv(default_rule.path / "rounds.csv").loc[0, "early_stopped"]


def test_saliency_trains_between_steps_with_the_prac_budget(searched, tmp_path):
    """001 §4.3: iterative SNIP/GraSP/SynFlow "with the training iterations and the number of
    training data consistent with our approaches": each round replays the PrAC round's set and
    steps, and the tickets cost the same search steps as PrAC's."""
    runner, params, artifact, _ = searched
    sal = saliency_tickets.SaliencyParams(DATA, MODEL, TRAINING, PRUNING, seed=params.seed, method="snip",
                                          iterations=2, export=False)
    with pytest.raises(ConfigError):
        runner.run(saliency_tickets.SPEC, sal)  # needs the PrAC search whose budget it replays
    calls = []
    original = saliency_tickets.train

    def counting(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append((kwargs["train_split"], result.steps))
        return result
    saliency_tickets.train = counting
    try:
        out = runner.run(saliency_tickets.SPEC, sal, reference=artifact)
    finally:
        saliency_tickets.train = original
    prac_rounds = pd.read_csv(artifact.path / "rounds.csv")
    prac_results = pd.read_csv(artifact.path / "results.csv").set_index("level")
    results = pd.read_csv(out.path / "results.csv").set_index("level")
    ledger = pd.read_csv(out.path / "ledger.csv")
    rounds = ledger[ledger.kind.str.startswith("search_round")]
    assert list(rounds["steps"]) == list(prac_rounds["steps"])
    assert list(rounds["examples"]) == list(prac_rounds["trained_on"])
    # round 2 trained on PrAC's D_1 (round 1 is PrAC's own dense round, reused)
    assert len(calls) == 1
    d1 = load_npz(artifact.round_dir(1) / "sets.npz")["selected"]
    np.testing.assert_array_equal(np.sort(calls[0][0].index), d1)
    assert calls[0][1] == prac_rounds.loc[1, "steps"]
    for level in (1, 2):
        assert results.loc[level, "search_steps"] == prac_results.loc[level, "search_steps"] > 0
        assert results.loc[level, "own_steps"] == prac_results.loc[level, "own_steps"]
        assert results.loc[level, "sparsity"] == pytest.approx(prac_results.loc[level, "sparsity"], abs=1e-3)
    assert (results["train_steps"] == results["search_steps"] + results["own_steps"]).all()
    assert set(results["variant"]) == {"snip"}


@pytest.mark.parametrize("config", ["configs/prac.gin", "configs/prac_cifar10.gin"])
def test_configs_parse_into_valid_parameters(config):
    import gin
    from pipelines import prac as prac_pipeline  # noqa: F401  (registers the pipeline)
    from pipelines.run import register_everything
    register_everything()
    gin.clear_config()
    try:
        gin.parse_config_file(config)
        training, pruning = TrainingHparams(), PruningHparams()
        params = prac_search.PracSearchParams(DatasetHparams(), ModelHparams(), training, pruning)
        analyses = gin.query_parameter("prac.analyses")
        assert set(analyses) <= set(prac_pipeline.ANALYSES)
        assert params.selection == "prac" and params.early_stop_threshold == 0.07
        # the headline is the paper's PrAC: early-bird stop, queue of 5 masks; best-validation accuracy
        assert params.early_stop and params.early_stop_queue == 5 and params.variant() == "prac"
        assert "early_stop" in analyses  # ... and PrAC w/o early stop beside it
        assert prac_report.PracReportParams().metric == "best_val_test_accuracy"
        if "cifar10" in config:
            assert (params.dataset.name, params.model.name, params.dataset.val_fraction) == ("cifar10", "resnet20", 0.1)
            assert (training.budget, training.milestones, training.batch_size) == ("182ep", ("91ep", "136ep"), 128)
            assert (training.lr, training.momentum, training.weight_decay) == (0.1, 0.9, 1e-4)
            assert pruning.rewind == "3ep"
    finally:
        gin.clear_config()
