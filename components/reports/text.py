"""The words of every report: the findings paragraph it opens with, and its glossary.

`level_findings(rows, ...)` turns per-(name, level) verdicts (the project's one rule,
lth_tf/metrics/verdicts.py `VerdictRule`) into sentences with the numbers in them: which
configurations give winning / matching tickets up to which sparsity, which clear which
baselines; from one seed it says there is no verdict (no noise estimate). `glossary(text)`
lists the terms of GLOSSARY that the report uses, in the run's own names (a run that rewound to
`rw5it` gets `rw5it` explained), so a reader meets `rw5it`, `L3` or `AIMP` with its meaning
beside it. `plural` and `join` keep the prose grammatical ("1 configuration", "a, b and c").
"""
import re
from typing import Iterable, Optional

import pandas as pd

from lth_tf.metrics.verdicts import MIN_SEEDS, NO_NOISE


def plural(n: int, word: str, many: Optional[str] = None) -> str:
    """'1 configuration', '2 configurations' (`many`: an irregular plural)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def join(items: Iterable[str], empty: str = "none") -> str:
    """'a', 'a and b', 'a, b and c'; `empty` when there is nothing (prose, not a Python list)."""
    items = [str(i) for i in items]
    if not items:
        return empty
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def seeds(values) -> str:
    """'seed 0', 'seeds 0 and 1', 'seeds 0, 1 and 2' (sorted, each once)."""
    values = sorted(set(int(v) for v in values))
    return ("seed " if len(values) == 1 else "seeds ") + join(str(v) for v in values)


def _rewinds(found):
    """The rewind points the run used, each explained (`rw0it`: init; `rw5it`: 5 iterations; `rw1ep`: 1 epoch)."""
    names = sorted(set(found), key=lambda n: (n.endswith("ep"), int(re.sub(r"\D", "", n))))
    words = []
    for name in names:
        count, unit = re.fullmatch(r"rw(\d+)(it|ep)", name).groups()
        rewinds = "rewinds them" if words else "rewinds the kept weights"
        after = plural(int(count), "iteration" if unit == "it" else "epoch")
        words.append(f"`{name}` {rewinds} to their initialization (step 0)" if int(count) == 0 else
                     f"`{name}` {rewinds} to their values after {after} of dense training (late rewinding)")
    return " / ".join(names), "the rewind point of a configuration: " + "; ".join(words) + "."


def _momentum_batch(found):
    mu = next((f for f in found if f.startswith("mu")), None)
    bs = next((f for f in found if f.startswith("bs")), None)
    words = ([f"`{mu}` is momentum {mu[2:]}"] if mu else []) + ([f"`{bs}` batch size {bs[2:]}"] if bs else [])
    return " / ".join(n for n in (mu, bs) if n), "a configuration's momentum and batch size: " + join(words) + "."


def _level(found):
    named = [f for f in found if f.startswith("L")]
    name = next((f for f in named if f != "L0"), named[0] if named else None)  # a sparse level as the example
    return f"level, {name}" if name else "level", ("pruning level (round) of IMP: level L keeps (1 − p)^L of the "
                                                   "prunable weights (p the fraction pruned per level); L0 is the "
                                                   "dense network.")


def _aimp(found):
    named = sorted({f for f in found if re.fullmatch(r"aimp\d+", f)})
    example = (f" (" + join(f"`{n}` = {n[4:]}%" for n in named) + " of the steps)") if named else ""
    return "AIMP", (f"IMP whose mask search trains with a fraction of the training budget{example}; the tickets "
                    f"are then trained with the full budget (003 §4).")


# term -> (pattern that finds it in a report, its meaning). Patterns are word-bounded. A meaning may
# be a function of the matches found (the run's own names) returning (term, meaning).
GLOSSARY = {
    "rewind point": (r"rw\d+(?:it|ep)", _rewinds),
    "mu / bs": (r"mu\d+(?:\.\d+)?|bs\d+", _momentum_batch),
    "level": (r"\bL\d+\b|\blevel", _level),
    "IMP / OMP": (r"\bIMP\b|\bOMP\b|_imp|_omp", "iterative magnitude pruning (train, prune the smallest p of the "
                  "remaining weights, rewind, repeat) / one-shot magnitude pruning (all at once from the dense "
                  "network)."),
    "AIMP": (r"AIMP|aimp\d*", _aimp),
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
    used = []
    for term, (pattern, meaning) in GLOSSARY.items():
        found = [m.group(0) for m in re.finditer(pattern, text)]
        if found:
            used.append(meaning(found) if callable(meaning) else (term, meaning))
    if not used:
        return ""
    return "## Glossary\n\n" + "\n".join(f"- **{term}**: {meaning}" for term, meaning in used) + "\n"


def remaining(sparsity: float, more: str = "") -> str:
    """'89.3% sparsity (10.7% of the weights remaining[; more])'."""
    return f"{100 * sparsity:.1f}% sparsity ({100 * (1 - sparsity):.3g}% of the weights remaining" + \
        (f"; {more})" if more else ")")


def _names(names: Iterable[str]) -> str:
    return join(f"`{n}`" for n in names)


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


def no_verdict(what: str) -> str:
    """The sentence a report prints instead of a verdict when it has one seed."""
    return (f"{what[0].upper() + what[1:]}: {NO_NOISE} (matching and a clear gap need the spread over at least "
            f"{MIN_SEEDS} seeds; rerun with more seeds).")


def level_findings(rows: pd.DataFrame, what: str = "winning tickets",
                   baselines_column: Optional[str] = "baselines_beaten", seeds: Optional[int] = None) -> str:
    """Sentences from per-(name, level) verdict rows with columns name, level, sparsity,
    matches (bool), winning (bool), value (the judged mean), reference (the dense mean) and,
    optionally, `baselines_column` (space-separated baselines cleared with a clear gap).
    `seeds`: the fewest seeds behind a judged value; below MIN_SEEDS there is no verdict."""
    if rows.empty:
        return ""
    if seeds is not None and seeds < MIN_SEEDS:
        return no_verdict(what)
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
