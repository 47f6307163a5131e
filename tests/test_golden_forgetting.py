"""Forgetting statistics and PrAC's CET against the authors' code (tests/golden/forgetting.npz:
Toneva et al.'s `compute_forgetting_statistics` / `sort_examples_by_forgetting` and PrAC-LTH's
`forget_times` / `sorted_examples`, on one correctness record; README there). Exact.

Conventions compared: a never-learned example counts NEVER_LEARNED in ForgettingCounter.counts()
(PrAC-LTH: 200000; both above any threshold) and its number of presentations in .scores()
(Toneva: npresentations); a never-presented example counts -1 (PrAC-LTH's -1 record; Toneva's
statistics omit it)."""
import numpy as np

from golden_fixtures import load
from lth_tf.metrics import prac as P
from lth_tf.metrics.forgetting import NEVER_LEARNED, ForgettingCounter

REF = load("forgetting")


def _tracked():
    """The record fed to the tracker as training would: each epoch in two shuffled batches."""
    record, presented = REF["record"], REF["presented"]
    tracker = ForgettingCounter(len(record))
    rng = np.random.default_rng(0)
    for epoch in range(int(REF["epochs"])):
        order = rng.permutation(presented)
        for batch in np.array_split(order, 2):
            tracker.on_batch(epoch, batch, record[batch, epoch])
    return tracker


def test_forgetting_scores_equal_tonevas():
    scores = _tracked().scores()
    reference = dict(zip(REF["toneva_ids"].tolist(), REF["toneva_counts"].tolist()))
    assert {i: int(scores[i]) for i in REF["presented"].tolist()} == reference
    absent = np.setdiff1d(np.arange(len(scores)), REF["presented"])
    assert len(absent) == 2 and np.isnan(scores[absent]).all()


def test_forgetting_counts_and_cet_equal_prac_lths():
    counts = _tracked().counts()
    presented = REF["presented"]
    ref = np.where(REF["prac_forget_times"] == 200000, NEVER_LEARNED, REF["prac_forget_times"])
    np.testing.assert_array_equal(counts[presented], ref)
    assert (counts[np.setdiff1d(np.arange(len(counts)), presented)] == -1).all()
    for t in REF["prac_thresholds"].tolist():
        np.testing.assert_array_equal(P.cet_set(counts, t), REF[f"prac_cet_{t}"], err_msg=f"E_F = {t}")
