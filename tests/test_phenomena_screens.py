"""bench/instability_screen.py, bench/rewind_imp.py and bench/data_diet_screen.py on a tiny setting (LeNet at quarter width,
MNIST-1D 1,000 samples, 1 epoch): the screen is deterministic and IMP from init and IMP rewound
to k share their dense run (level 0), as the comparison in docs/instability_screen.md assumes;
the data-diet screen without pre-training is the instability screen at k = 0."""
import pytest

from bench import data_diet_screen, instability_screen, rewind_imp

TINY = ("lenet_300_100", 0.25, 0.2, 1, 1000)  # 720 train examples: 6 steps of 128


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(instability_screen.SETTINGS, "tiny", TINY)
    return "tiny"


def test_screen_is_deterministic_and_reports_every_k(tiny):
    first = instability_screen.screen(tiny, [0, 3], seed=0)
    second = instability_screen.screen(tiny, [0, 3], seed=0)
    first.pop("s_per_training"), second.pop("s_per_training")  # wall-clock
    assert first == second
    assert first["steps"] == 6
    assert 0.0 <= first["barrier_k0"] <= 1.0 and 0.0 <= first["barrier_k3"] <= 1.0
    assert 0.0 < first["acc_A"] <= 1.0


def test_rewound_and_init_searches_share_the_dense_run(tiny):
    at_init, _ = rewind_imp.search(tiny, 0, levels=1, seed=0)
    late, _ = rewind_imp.search(tiny, 3, levels=1, seed=0)
    assert at_init[0] == late[0]
    assert at_init[1][0] == pytest.approx(0.2, abs=1e-3) and late[1][0] == pytest.approx(0.2, abs=1e-3)


def test_data_diet_screen_without_pretraining_is_the_barrier_at_init(tiny):
    at_init = instability_screen.screen(tiny, [0], seed=0)
    none, easy = data_diet_screen.screen_seed(tiny, 0, pretrain=2, fraction=0.2, schemes=("none", "el2n_easy"))
    assert (none["barrier"], none["test_acc"]) == (at_init["barrier_k0"], at_init["acc_A"])
    assert easy["scheme"] == "el2n_easy" and 0.0 <= easy["barrier"] <= 1.0
