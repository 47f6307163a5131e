"""The five-condition "jackpot" verdict of paper 002 (Ma et al. 2021, Appendix B and C).

A ticket (a mask m with the weights it is rewound to: θ_0 for LT, θ_t for WR) at one sparsity,
trained at each learning rate of a sweep, is a *jackpot winning ticket* when all five hold:

① a non-trivial sparsity (at least `min_sparsity`) and sufficient training epochs;
② the small-dense network of equal parameter count (SD) is clearly below the ticket: the
   ticket at its best rate has a clear gap over SD at SD's best rate;
③ some rate gives the ticket a clear gap over the randomly reinitialized subnetwork (RR,
   θ'_0 ⊙ m trained the full T) trained at *any* rate of the sweep (every one of them);
④ some rate gives the ticket an accuracy similar to or higher than the dense network trained
   at that same rate;
⑤ some rate gives the ticket an accuracy similar to or higher than the *well-trained* dense
   network (the dense network trained with an appropriate recipe, e.g. found by a tuner).

"Clear gap" and "similar or higher" are the project's one rule (VerdictRule.clear_gap and
VerdictRule.matches, lth_tf/metrics/verdicts.py), applied to per-seed values. Everything here
is plain functions on a pandas frame with one row per trained network (columns `variant`,
`lr`, `seed`, `level`, `sparsity` and the metric), so a notebook user can judge their own runs.
"""
import dataclasses
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import pandas as pd

from lth_tf.errors import ConfigError
from lth_tf.metrics.verdicts import Stats, VerdictRule

CONDITIONS = ("①", "②", "③", "④", "⑤")
DEFINITIONS = {
    "①": "non-trivial sparsity (at least {min_sparsity:.0%} of the prunable weights removed) and sufficient "
         "training epochs (training the well-trained dense recipe for twice as long gives no clear gain)",
    "②": "the small-dense network of equal parameter count (SD), at its best learning rate, is clearly below the "
         "ticket at its best learning rate",
    "③": "at some learning rate the ticket has a clear gap over the randomly reinitialized subnetwork (RR, θ'_0 ⊙ m "
         "trained the full T) trained at every learning rate of the sweep",
    "④": "at some learning rate the ticket matches (is similar to or better than) the dense network trained at that "
         "same rate",
    "⑤": "at some learning rate the ticket matches the well-trained dense network (the tuned recipe)",
}
FAILURES = {
    "①": "① trivial sparsity or insufficient epochs",  # the verdict names the half that fails
    "②": "② SD not clearly below",
    "③": "③ no clear gap over RR at every rate",
    "④": "④ below the dense network at every rate",
    "⑤": "⑤ below the well-trained dense network",
}


def check_min_sparsity(value: float, what: str = "min_sparsity") -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{what}={value} is out of range: the smallest sparsity called non-trivial (condition ①) "
                          f"is a fraction of pruned weights in [0, 1), e.g. 0.5.")
    return value


def _values(frame: pd.DataFrame, metric: str, **where) -> pd.Series:
    selected = frame
    for column, value in where.items():
        selected = selected[np.isclose(selected[column], value)] if column == "lr" else selected[selected[column] == value]
    return selected[metric].dropna()


def by_rate(frame: pd.DataFrame, metric: str, variant: str, level: Optional[int] = None) -> Dict[float, pd.Series]:
    """{learning rate: per-seed values} of one variant (at one level)."""
    rows = frame[frame.variant == variant]
    if level is not None:
        rows = rows[rows.level == level]
    return {float(lr): group[metric].dropna() for lr, group in rows.groupby("lr") if group[metric].notna().any()}


def _best(values: Dict[float, pd.Series]):
    """(rate, values) with the highest mean, or (nan, empty)."""
    if not values:
        return float("nan"), pd.Series(dtype=float)
    rate = max(values, key=lambda r: (Stats.of(values[r]).mean, -r))
    return rate, values[rate]


def rr_variant_for(ticket: str, variants: Iterable[str]) -> Optional[str]:
    """The RR baseline of a ticket variant: 'lt_imp' -> 'rr_imp', 'lt_imp_rewind' -> 'rr_imp_rewind',
    falling back to the RR of the same method's init-rewound mask ('rr_imp') when the rewound
    ticket's own RR was not trained."""
    variants = set(variants)
    own = "rr_" + ticket[3:]
    if own in variants:
        return own
    plain = own.replace("_rewind", "")
    return plain if plain in variants else None


def condition_one(sparsity: float, min_sparsity: float, epochs_sufficient: bool) -> bool:
    return bool(sparsity >= min_sparsity and epochs_sufficient)


def jackpot_verdicts(frame: pd.DataFrame, metric: str, rule: VerdictRule, well_trained,
                     epochs_sufficient: bool, min_sparsity: float = 0.5,
                     tickets: Optional[Sequence[str]] = None, sd_variant: str = "small_dense",
                     dense_variant: str = "dense") -> pd.DataFrame:
    """One row per (ticket variant, level) with the five conditions, the jackpot verdict and the
    failing conditions named.

    `frame`: one row per trained network with `variant`, `lr`, `seed`, `level`, `sparsity` and
    `metric`; tickets are variants 'lt_<method>[_rewind]', their RR 'rr_<method>[_rewind]' (see
    rr_variant_for), the dense network at each rate `dense_variant` (level 0) and SD
    `sd_variant` (at the tickets' levels). `well_trained`: the well-trained dense network's
    per-seed values. `epochs_sufficient`: the epochs half of condition ①."""
    min_sparsity = check_min_sparsity(min_sparsity)
    variants = sorted(frame.variant.unique())
    tickets = [t for t in (tickets or variants) if t.startswith("lt_") and t in variants]
    dense = by_rate(frame, metric, dense_variant)
    rows: List[dict] = []
    for ticket in tickets:
        rr_name = rr_variant_for(ticket, variants)
        for level in sorted(frame[frame.variant == ticket].level.unique()):
            level = int(level)
            lt = by_rate(frame, metric, ticket, level)
            if not lt:
                continue
            sparsity = float(frame[(frame.variant == ticket) & (frame.level == level)].sparsity.mean())
            rr = by_rate(frame, metric, rr_name, level) if rr_name else {}
            sd = by_rate(frame, metric, sd_variant, level)
            lt_rate, lt_best = _best(lt)
            sd_rate, sd_best = _best(sd)
            rr_rate, rr_best = _best(rr)
            c1 = condition_one(sparsity, min_sparsity, epochs_sufficient)
            c2 = bool(sd) and rule.clear_gap(lt_best, sd_best)
            gap_rates = [r for r, v in lt.items() if rr and all(rule.clear_gap(v, other) for other in rr.values())]
            c3 = bool(gap_rates)
            match_rates = [r for r, v in lt.items() if r in dense and rule.matches(v, dense[r])]
            c4 = bool(match_rates)
            well_rates = [r for r, v in lt.items() if rule.matches(v, well_trained)]
            c5 = bool(well_rates)
            conditions = dict(zip(CONDITIONS, (c1, c2, c3, c4, c5)))
            failing = [FAILURES[c] for c, ok in conditions.items() if not ok]
            if not c1:  # name which half of ① fails
                halves = [w for w, bad in (("trivial sparsity", sparsity < min_sparsity),
                                           ("insufficient epochs", not epochs_sufficient)) if bad]
                failing[0] = f"① {' and '.join(halves)}"
            rows.append({
                "ticket": ticket, "level": level, "sparsity": sparsity, **conditions,
                "jackpot": all(conditions.values()), "failing": "; ".join(failing),
                # The verdict were T sufficient: all conditions with only the sparsity half of ①.
                "jackpot_but_epochs": bool(sparsity >= min_sparsity and c2 and c3 and c4 and c5),
                "best_lr": lt_rate, "A_LT": Stats.of(lt_best).mean,
                "rr": rr_name or "", "best_rr_lr": rr_rate, "A_RR": Stats.of(rr_best).mean if rr else float("nan"),
                "best_sd_lr": sd_rate, "A_SD": Stats.of(sd_best).mean if sd else float("nan"),
                "A_dense_at_best_lr": Stats.of(dense[lt_rate]).mean if lt_rate in dense else float("nan"),
                "A_well_trained": Stats.of(well_trained).mean,
                "gap_rates": ", ".join(f"{r:g}" for r in gap_rates),
                "dense_match_rates": ", ".join(f"{r:g}" for r in match_rates),
                "well_trained_rates": ", ".join(f"{r:g}" for r in well_rates),
            })
    return pd.DataFrame(rows)


def epochs_sufficient(at_T, at_2T, rule: VerdictRule) -> bool:
    """The epochs half of ①: training twice as long (the same recipe, schedule stretched) gives
    no clear gain (VerdictRule.clear_gap of the 2T network over the T network is False)."""
    return not rule.clear_gap(at_2T, at_T)


@dataclasses.dataclass(frozen=True)
class Trend:
    """How a quantity moves along the learning-rate sweep."""
    rates: tuple
    values: tuple
    spearman: float  # rank correlation of value with rate (nan with < 3 finite points)

    @property
    def first(self) -> float:
        return self.values[0]

    @property
    def last(self) -> float:
        return self.values[-1]

    def decreasing(self) -> bool:
        """Smaller at the largest rate than at the smallest, and falling with rate overall
        (Spearman ρ < 0; with two rates, the first comparison alone)."""
        finite = [v for v in self.values if not np.isnan(v)]
        if len(finite) < 2 or np.isnan(self.first) or np.isnan(self.last):
            return False
        return bool(self.last < self.first and (np.isnan(self.spearman) or self.spearman < 0))

    def monotone_decreasing(self) -> bool:
        return bool(all(b < a for a, b in zip(self.values, self.values[1:])))


def trend(values_by_rate: Dict[float, float]) -> Trend:
    rates = tuple(sorted(values_by_rate))
    values = tuple(float(values_by_rate[r]) for r in rates)
    finite = [(r, v) for r, v in zip(rates, values) if not np.isnan(v)]
    if len(finite) >= 3:
        x = pd.Series([r for r, _ in finite]).rank().to_numpy()
        y = pd.Series([v for _, v in finite]).rank().to_numpy()
        rho = float(np.corrcoef(x, y)[0, 1]) if np.std(x) > 0 and np.std(y) > 0 else float("nan")
    else:
        rho = float("nan")
    return Trend(rates, values, rho)


def rr_gap_by_rate(frame: pd.DataFrame, metric: str, ticket: str, levels: Iterable[int]) -> Dict[float, float]:
    """{rate: mean over `levels` of (ticket mean − RR mean)}, both trained at that rate: the
    ticket's advantage over random reinitialization as the learning rate grows (002 App. A)."""
    rr_name = rr_variant_for(ticket, frame.variant.unique())
    out = {}
    if rr_name is None:
        return out
    for rate in sorted(frame[frame.variant == ticket].lr.unique()):
        gaps = []
        for level in levels:
            a = _values(frame, metric, variant=ticket, level=level, lr=rate)
            b = _values(frame, metric, variant=rr_name, level=level, lr=rate)
            if len(a) and len(b):
                gaps.append(a.mean() - b.mean())
        out[float(rate)] = float(np.mean(gaps)) if gaps else float("nan")
    return out
