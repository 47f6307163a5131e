"""The one winning-ticket rule every report uses: *matching* and *clear gap* over seeds.

Papers 002 (Appendix B/C) and 003 call a ticket "winning" when it matches the dense network and
beats its baselines, but none of them gives a numerical test for "similar" or "clear gap". We
fix one, stated in every report (`VerdictRule.describe()`), so that the three studies cannot
disagree about the same pair of curves:

- **matching** (ticket vs. reference, usually the dense network): the ticket's mean over seeds
  is at least the reference's mean minus one standard deviation of the *reference* over seeds
  ("within one std of the dense network, or better"). With one reference seed the std is 0,
  so the ticket must be at least as good.
- **clear gap** (A over B): mean(A) − mean(B) is larger than `std_errors` pooled standard errors
  sqrt(s_A²/n_A + s_B²/n_B) *and* larger than `min_gap` (absolute accuracy). The second part
  keeps a single-seed run (standard error 0) from calling a 0.05-point margin a win.

Both tests lean on the spread over seeds, so a verdict needs at least `MIN_SEEDS` (2) values on
each side: with one seed there is no noise estimate, and the reports print `NO_NOISE` instead
of a finding (`VerdictRule.has_noise`). The tables still carry the rule's columns.

Plain functions on arrays of per-seed values; `Stats` carries (mean, std, n) when only a
summary is at hand.
"""
import dataclasses
from typing import Iterable, Union

import gin
import numpy as np

from lth_tf.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Stats:
    """mean, sample std (ddof=1; 0 for one value) and count of per-seed values."""
    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Union["Stats", Iterable[float]]) -> "Stats":
        if isinstance(values, Stats):
            return values
        v = np.asarray(list(values), dtype=np.float64)
        v = v[~np.isnan(v)]
        if v.size == 0:
            return cls(float("nan"), float("nan"), 0)
        return cls(float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size))

    @property
    def standard_error(self) -> float:
        return self.std / np.sqrt(self.n) if self.n else float("nan")


Values = Union[Stats, Iterable[float]]

MIN_SEEDS = 2  # a verdict needs a seed-noise estimate: a std over at least two seeds
NO_NOISE = "one seed: no noise estimate, no verdict"


@gin.configurable
@dataclasses.dataclass(frozen=True)
class VerdictRule:
    std_errors: float = 2.0  # a clear gap exceeds this many pooled standard errors ...
    min_gap: float = 0.005  # ... and this absolute accuracy (0.5 point)

    def __post_init__(self):
        if not 0.0 <= self.std_errors <= 10.0:
            raise ConfigError(f"VerdictRule.std_errors={self.std_errors} must be in [0, 10] (2 is the usual choice).")
        if not 0.0 <= self.min_gap < 1.0:
            raise ConfigError(f"VerdictRule.min_gap={self.min_gap} must be an accuracy difference in [0, 1), e.g. 0.005.")

    def matches(self, ticket: Values, reference: Values) -> bool:
        """Ticket mean ≥ reference mean − one reference std (False when either is missing)."""
        t, r = Stats.of(ticket), Stats.of(reference)
        if not t.n or not r.n:
            return False
        return bool(t.mean >= r.mean - r.std)

    def gap(self, a: Values, b: Values) -> float:
        """mean(A) − mean(B), nan when either is missing."""
        sa, sb = Stats.of(a), Stats.of(b)
        return sa.mean - sb.mean if sa.n and sb.n else float("nan")

    def threshold(self, a: Values, b: Values) -> float:
        """The margin A must beat B by for a clear gap."""
        sa, sb = Stats.of(a), Stats.of(b)
        pooled = np.sqrt(sa.standard_error ** 2 + sb.standard_error ** 2)
        return float(max(self.std_errors * pooled, self.min_gap))

    def clear_gap(self, a: Values, b: Values) -> bool:
        """A is clearly better than B (False when either is missing)."""
        d = self.gap(a, b)
        return bool(not np.isnan(d) and d > self.threshold(a, b))

    def has_noise(self, *values: Values) -> bool:
        """Whether every side has a seed-noise estimate (at least MIN_SEEDS values): without one a
        verdict is not a finding (the reports say NO_NOISE instead)."""
        return all(Stats.of(v).n >= MIN_SEEDS for v in values)

    def describe(self) -> str:
        return (f"*Matching*: mean over seeds at least the reference's mean minus one standard deviation of "
                f"the reference over seeds. *Clear gap*: a difference of means larger than "
                f"{self.std_errors:g} pooled standard errors (sqrt(s_A²/n_A + s_B²/n_B)) and larger than "
                f"{100 * self.min_gap:g} accuracy points (`VerdictRule`, lth_tf/metrics/verdicts.py). Both need "
                f"at least {MIN_SEEDS} seeds on each side; with one seed there is no verdict.")
