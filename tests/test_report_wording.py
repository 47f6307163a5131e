"""The reports' wording rules, on tiny hand-made tables: no verdict (and no bold claim) from one
seed, the smoke report's caveat, the run's own names in the glossary, plurals, no Python lists in
prose, and 'none' where the text promises it."""
from types import SimpleNamespace

import numpy as np
import pandas as pd

from components.reports import report as report
from components.reports import text as report_text
from components.reports.stability import report as stability_report
from components.reports.data_diet.sections import pretraining_needed_finding
from components.reports.prac.sections import findings as prac_findings
from components.reports.prac.sections import verdicts as prac_verdicts_section
from components.reports.sanity import words as sanity_words
from components.reports.section import compose, section
from components.reports.stability import instability, tickets
from lth_tf.metrics.verdicts import NO_NOISE, VerdictRule


def _results(seeds):
    """A ticket 5 points above its RR and at the dense network's level: a clear winner with 2 seeds."""
    rows = []
    for seed in seeds:
        for variant, level, sparsity, value in (("dense", 0, 0.0, 0.90), ("lt_imp", 1, 0.5, 0.91),
                                                ("rr_imp", 1, 0.5, 0.86)):
            rows.append({"variant": variant, "seed": seed, "level": level, "sparsity": sparsity,
                         "test_accuracy": value + 0.001 * seed, "train_steps": 1})
    return pd.DataFrame(rows)


def test_generic_report_states_a_winner_from_two_seeds_but_no_verdict_from_one(tmp_path):
    p = report.ReportParams()
    two = report.winning({"p": p, "out": tmp_path, "frame": _results((0, 1))})
    assert "**Winning tickets** come from `lt_imp`" in two.findings[0]
    one = report.winning({"p": p, "out": tmp_path, "frame": _results((0,))})
    assert "**" not in one.findings[0] and NO_NOISE in one.findings[0]
    assert "Winning tickets: one seed: no noise estimate, no verdict" in one.findings[0]
    assert "seed 0." in report.header({"p": p, "frame": _results((0,))}).text  # not 'seeds [0]'


def test_prac_findings_and_verdict_section_from_one_seed(tmp_path):
    verdicts = pd.DataFrame([{"variant": "prac", "level": 1, "sparsity": 0.2, "mean": 0.90, "seeds": 1,
                              "dense_mean": 0.89, "matches_dense": True, "matches_lt_imp": True,
                              "clear_gap_over_random_pruning": True}])
    saved = pd.DataFrame([{"variant": "prac", "matched_level": 1, "search_steps": 300.0, "search_steps_imp": 400.0,
                           "search_saving": 0.25}])
    text = " ".join(prac_findings(verdicts, saved, "prac"))
    assert NO_NOISE in text and "**" not in text and "matches vanilla IMP" not in text and "fewer" not in text
    d = SimpleNamespace(verdicts=verdicts, main="prac", out=tmp_path, rule=VerdictRule(), saved=saved)
    body = prac_verdicts_section(d).text
    assert f"Whether `prac` matches the dense network: {NO_NOISE}." in body and "up to" not in body


def _grid(seeds, rewinds=("0it",)):
    rows = []
    for rewind in rewinds:
        for seed in seeds:
            for level, sparsity, acc in ((0, 0.0, 0.90), (1, 0.5, 0.95)):
                rows.append({"config": f"mu0.9_bs128_rw{rewind}", "training_config": "mu0.9_bs128",
                             "momentum": 0.9, "batch_size": 128, "rewind": rewind, "seed": seed, "level": level,
                             "sparsity": sparsity, "test_accuracy": acc + 0.001 * seed + (rewind != "0it") * 0.02,
                             "val_accuracy": acc + 0.001 * seed, "model": "lenet", "dataset": "mnist1d",
                             "budget": "2ep", "lr": 0.1, "method": "imp", "scope": "global"})
    return pd.DataFrame(rows)


def test_stability_star_and_findings_need_two_seeds():
    two, _ = stability_report.ticket_table(_grid((0, 1)), (0.5,))
    one, _ = stability_report.ticket_table(_grid((0,)), (0.5,))
    assert "★" in two.iloc[0]["50.00%"] and "★" not in one.iloc[0]["50.00%"]
    rows = tickets.level_verdicts(_grid((0,)), pd.DataFrame(), VerdictRule(), "val_accuracy")
    text = report_text.level_findings(rows, "winning tickets", seeds=1)
    assert text.startswith("Winning tickets: one seed: no noise estimate, no verdict") and "**" not in text
    late = tickets.late_rewinding_finding(_grid((0,), ("0it", "5it")), VerdictRule())
    assert NO_NOISE in late and "**" not in late and "clearly better" not in late
    assert "**Late rewinding" in tickets.late_rewinding_finding(_grid((0, 1), ("0it", "5it")), VerdictRule())


def test_sanity_jackpot_words_from_one_seed():
    verdicts = pd.DataFrame([{"ticket": "lt_imp", "sparsity": 0.6, "jackpot": False, "jackpot_but_epochs": False,
                              "A_LT": 0.9, "A_dense_at_best_lr": 0.9, "①": True, "②": False, "③": True, "④": True,
                              "⑤": True}])
    words = " ".join(sanity_words.opening_findings(verdicts, [], seeds=1))
    assert NO_NOISE in words and "**" not in words and "Conditions failing" not in words
    assert sanity_words.jackpot_finding(verdicts, True, seeds=1) == "One seed: no noise estimate, no verdict."
    gap = sanity_words.gap_finding("LT-IMP", {0.1: 0.05, 0.2: 0.02}, {0.1: (1, 1), 0.2: (1, 1)},
                                   {0.1: {1: 0.05}, 0.2: {1: 0.02}}, {1: 0.6}, seeds=1)
    assert "still clear at 1 of" not in gap and f"Sparsities with a clear gap (VerdictRule): {NO_NOISE}." in gap


def test_data_diet_pretraining_question_from_one_seed_is_not_answered():
    summary = pd.DataFrame([{"variant": v, "level": 3, "sparsity": 0.5, "mean": m, "std": 0.0, "seeds": 1}
                            for v, m in (("rewind_init", 0.80), ("ref", 0.90))])
    text = pretraining_needed_finding(summary, "ref", VerdictRule())
    assert NO_NOISE in text and "**" not in text and "falls behind" not in text


def test_smoke_config_says_its_numbers_mean_nothing():
    import gin

    from pipelines import run
    run.register_everything()
    gin.clear_config()
    try:
        run.parse_config("configs/smoke.gin", [])
        note = stability_report.StabilityReportParams().note
    finally:
        gin.clear_config()
    assert "mean nothing" in note
    text = compose("smoke", [section("x\n", findings=["A finding."])], note)
    assert text.startswith(f"# smoke\n\n> {note}\n\n## Findings\n")


def test_glossary_uses_the_run_s_own_names():
    text = report_text.glossary("config `mu0.9_bs128_rw5it` at L3; `aimp50_lt_imp_rewind`")
    assert "**rw5it**" in text and "after 5 iterations" in text and "rw0it" not in text and "rw1ep" not in text
    assert "**mu0.9 / bs128**" in text and "**level, L3**" in text and "`aimp50` = 50%" in text
    assert "aimp10" not in text and "L5" not in text
    assert "1 epoch of" in report_text.glossary("mu0_bs64_rw1ep")


def test_plurals_lists_and_none(tmp_path):
    assert report_text.plural(1, "configuration") == "1 configuration"
    assert report_text.plural(3, "configuration") == "3 configurations"
    assert report_text.join(["a"]) == "a" and report_text.join(["a", "b", "c"]) == "a, b and c"
    assert report_text.join([]) == "none" and report_text.seeds([1, 0, 1]) == "seeds 0 and 1"
    d = SimpleNamespace(grid=_grid((0,)), results=_grid((0,)), p=SimpleNamespace(study="s"))
    header = tickets.header(d).text
    assert "1 configuration (" in header and "seed 0." in header and "[" not in header
    rewind = pd.DataFrame([{"config": "c", "level": 0, "seeds": 1, "pairs": 1, "candidates": "0it 5it",
                            "evaluated": 2, "first_stable": np.nan, "first_stable_step": np.nan, "split": "val"}])
    text = instability.rewind_search(SimpleNamespace(concat=lambda *_: rewind, out=tmp_path)).text
    assert "| c | 0 | 1 | 1 | 0it 5it | 2 | none |" in text  # 'none', as the text promises
