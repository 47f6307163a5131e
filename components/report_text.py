"""The words of every report: the findings paragraph it opens with, and its glossary.

`level_findings(rows, ...)` turns per-(name, level) verdicts (the project's one rule,
lth_tf/metrics/verdicts.py `VerdictRule`) into sentences with the numbers in them: which
configurations give winning / matching tickets up to which sparsity, which clear which
baselines. `glossary(text)` lists the terms of GLOSSARY that the report uses, so a reader meets
`rw0it`, `L5` or `AIMP` with its meaning beside it.
"""
import re
from typing import Iterable, Optional

import pandas as pd

# term -> (pattern that finds it in a report, its meaning). Patterns are word-bounded.
GLOSSARY = {
    "rw0it / rw1ep": (r"rw\d+(it|ep)", "the rewind point of a configuration: `rw0it` rewinds the kept weights to "
                      "their initialization (step 0), `rw1ep` to their values after 1 epoch of dense training "
                      "(late rewinding)."),
    "mu / bs": (r"mu\d|bs\d+", "a configuration's momentum (`mu0.9`) and batch size (`bs128`)."),
    "level, L5": (r"\bL\d+\b|\blevel", "pruning level (round) of IMP: level L keeps (1 − p)^L of the prunable weights "
                  "(p the fraction pruned per level); L0 is the dense network."),
    "IMP / OMP": (r"\bIMP\b|\bOMP\b|_imp|_omp", "iterative magnitude pruning (train, prune the smallest p of the "
                  "remaining weights, rewind, repeat) / one-shot magnitude pruning (all at once from the dense "
                  "network)."),
    "AIMP": (r"AIMP|aimp", "IMP whose mask search trains with a fraction of the training budget (e.g. `aimp10` = "
             "10% of the steps); the tickets are then trained with the full budget (003 §4)."),
    "LT": (r"\bLT\b|lt_", "lottery ticket: the IMP mask on the initial weights θ_0 (002)."),
    "WR": (r"\bWR\b|_rewind", "weight rewinding: the mask on the weights of step t of dense training (002)."),
    "RR / rr": (r"\bRR\b|\brr\b|rr_", "random reinitialization: the ticket's mask on a fresh draw θ'_0, trained the "
                "full budget (002 condition ③)."),
    "SD": (r"\bSD\b|small_dense|small-dense", "small-dense: a dense network of the same architecture with the "
           "ticket's parameter count, trained from scratch."),
    "random_mask / random pruning": (r"random_mask|random_pruning|random pruning", "a random mask of the same "
                                     "sparsity on the same rewind weights."),
    "matching": (r"match", "mean over seeds at least the reference's mean minus one standard deviation of the "
                 "reference over seeds (`VerdictRule`)."),
    "winning ticket": (r"winning|★", "a pruned network that matches the dense network and shows a clear gap over "
                       "every baseline trained at that sparsity."),
    "clear gap": (r"clear gap|clearly", "a difference of means larger than 2 pooled standard errors and 0.5 "
                  "accuracy points (`VerdictRule`)."),
    "barrier, stable": (r"barrier|stable", "error barrier sup_α E(αW1 + (1−α)W2) − (E(W1)+E(W2))/2 between two "
                        "copies trained with different SGD noise (003 eq. 3); stable when it is below the "
                        "threshold."),
    "PrAC": (r"PrAC|prac", "Pruning-Aware Critical set: the examples a round keeps, CET ∪ CEP (001 Alg. 1)."),
    "CET": (r"\bCET\b|cet_", "examples of the round's training set forgotten more than E_F times (001 §3.1)."),
    "CEP": (r"\bCEP\b", "examples on which the round-1 dense network and the round's subnetwork disagree "
            "(001 Alg. 1 line 10)."),
    "forgetting event": (r"forgett|forgotten", "an example going from correctly to incorrectly classified between "
                         "two presentations during training (Toneva et al. 2019)."),
    "EL2N": (r"EL2N|el2n", "error L2 norm: ‖softmax(f(x)) − onehot(y)‖₂, averaged over networks early in training "
             "(004 §2)."),
    "dominate": (r"dominat", "A dominates (weakly dominates) B when A's sparse networks are better (no worse) at "
                 "every sparsity of the range (004 Def. 3.1)."),
    "w_t*": (r"w_t\*|w_\{t\*\}", "the dense network trained on all data for t* steps, the reference of a matching "
             "initialization (004 Def. 3.2)."),
    "jackpot": (r"jackpot", "a ticket meeting all five conditions of 002 Appendix B/C at one sparsity."),
    "R_p": (r"R_p", "the fraction of the top-p largest weights that are large in both of two weight collections "
            "(002 App. G); ≈ p for unrelated weights."),
    "Hamming distance": (r"Hamming", "the number of positions where two masks differ (001 §3.2), here divided by "
                         "the number of prunable weights."),
}


def glossary(text: str) -> str:
    """A markdown glossary of the GLOSSARY terms that occur in `text` ('' when none does)."""
    used = [(term, meaning) for term, (pattern, meaning) in GLOSSARY.items() if re.search(pattern, text)]
    if not used:
        return ""
    return "## Glossary\n\n" + "\n".join(f"- **{term}**: {meaning}" for term, meaning in used) + "\n"


def remaining(sparsity: float, more: str = "") -> str:
    """'89.3% sparsity (10.7% of the weights remaining[; more])'."""
    return f"{100 * sparsity:.1f}% sparsity ({100 * (1 - sparsity):.3g}% of the weights remaining" + \
        (f"; {more})" if more else ")")


def _names(names: Iterable[str]) -> str:
    names = [f"`{n}`" for n in names]
    return ", ".join(names) if names else "none"


def _versus(row) -> str:
    """'0.9012 vs. dense 0.9100' (just the value when there is no reference)."""
    if pd.isna(row.reference):
        return f"{row.value:.4f}"
    return f"{row.value:.4f} vs. dense {row.reference:.4f}"


def highest(rows: pd.DataFrame, flag: str) -> pd.DataFrame:
    """Per name: the row of the highest sparsity where `flag` is True (names without one are
    left out), with `hits` (levels where it holds) and `levels` (levels judged)."""
    out = []
    for name, group in rows.groupby("name", sort=False):
        hits = group[group[flag].astype(bool)]
        if hits.empty:
            continue
        best = hits.loc[hits.sparsity.idxmax()].copy()
        best["hits"], best["levels"] = len(hits), len(group)
        out.append(best)
    return pd.DataFrame(out)


def level_findings(rows: pd.DataFrame, what: str = "winning tickets",
                   baselines_column: Optional[str] = "baselines_beaten") -> str:
    """Sentences from per-(name, level) verdict rows with columns name, level, sparsity,
    matches (bool), winning (bool), value (the judged mean), reference (the dense mean) and,
    optionally, `baselines_column` (space-separated baselines cleared with a clear gap)."""
    if rows.empty:
        return ""
    order = list(dict.fromkeys(rows.name))
    won = highest(rows, "winning")
    matched = highest(rows, "matches")
    parts = []
    if len(won):
        parts.append(f"**{what[0].upper() + what[1:]}** come from " + "; ".join(
            f"`{r.name}` up to {remaining(r.sparsity)}, level {int(r.level)} ({_versus(r)}; {int(r.hits)} of "
            f"{int(r.levels)} levels)" for r in won.itertuples()) + ".")
    else:
        parts.append(f"**No configuration gives {what}** at any level judged.")
    losers = [n for n in order if n not in set(won.name if len(won) else [])]
    if len(won) and losers:
        parts.append(f"None at any level from {_names(losers)}.")
    only = matched[~matched.name.isin(set(won.name))] if len(won) and len(matched) else matched
    if len(only):
        parts.append("Matching the dense network without a win: " + "; ".join(
            f"`{r.name}` up to {remaining(r.sparsity, _versus(r))}"
            for r in only.itertuples()) + ".")
    if baselines_column and baselines_column in rows and len(won):
        beats = [f"`{r['name']}` clears {r[baselines_column].replace(' ', ', ')}"
                 for _, r in won.iterrows() if str(r[baselines_column]).strip()]
        if beats:
            parts.append("At those sparsities, with a clear gap: " + "; ".join(beats) + ".")
    return " ".join(parts)


def findings_section(sentences: Iterable[str]) -> str:
    """The report's opening paragraph."""
    text = " ".join(s.strip() for s in sentences if s and s.strip())
    return f"## Findings\n\n{text}\n" if text else ""
