"""Definitions 3.1 / 3.2 of 004 (Paul et al. 2022, §3) applied to the mean accuracy curves over
seeds: dominance between every pair of initializations, the D / W matrix, matching
initializations (weak dominance of w_t*), and the mean ± std table (see
components/reports/data_diet/report.py for the definitions quoted)."""
import numpy as np
import pandas as pd

from lth_tf.metrics.verdicts import Stats, VerdictRule


ROUNDING = 12  # decimals: means are compared exactly, up to floating-point rounding


def relation(acc_a, acc_b) -> str:
    """Definition 3.1 on two aligned accuracy curves over a range of sparsities: 'D' when A is
    better at every level (A dominates B), 'W' when A is no worse at every level but not better at
    all of them (A only weakly dominates B), '-' when A is worse somewhere."""
    gap = np.round(np.asarray(acc_a, dtype=np.float64) - np.asarray(acc_b, dtype=np.float64), ROUNDING)
    if gap.size == 0 or np.isnan(gap).any():
        return "-"
    if (gap > 0).all():
        return "D"
    return "W" if (gap >= 0).all() else "-"


def sparse_curves(summary: pd.DataFrame) -> dict:
    """variant -> its summary rows at the sparse levels (level >= 1), indexed by level."""
    sparse = summary[summary.level >= 1]
    return {v: g.set_index("level").sort_index() for v, g in sparse.groupby("variant", sort=False)}


def dominance(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per ordered pair (A, B) of different variants, over the sparse levels both have:
    dominates / weakly_dominates (Definition 3.1, on mean accuracy over seeds), the worst and mean
    gap mean_A - mean_B, and the largest seed std of either curve over those levels (the noise the
    relation is read against; it is not part of the definition)."""
    curves = sparse_curves(summary)
    rows = []
    for a, ga in curves.items():
        for b, gb in curves.items():
            if a == b:
                continue
            levels = ga.index.intersection(gb.index)
            if not len(levels):
                continue
            mark = relation(ga.loc[levels, "mean"], gb.loc[levels, "mean"])
            gap = ga.loc[levels, "mean"] - gb.loc[levels, "mean"]
            rows.append({"a": a, "b": b, "dominates": mark == "D", "weakly_dominates": mark in ("D", "W"),
                         "levels": len(levels), "worst_gap": float(gap.min()), "mean_gap": float(gap.mean()),
                         "max_std_a": float(ga.loc[levels, "std"].max()),
                         "max_std_b": float(gb.loc[levels, "std"].max())})
    return pd.DataFrame(rows, columns=["a", "b", "dominates", "weakly_dominates", "levels", "worst_gap",
                                       "mean_gap", "max_std_a", "max_std_b"])


def dominance_matrix(table: pd.DataFrame, variants) -> pd.DataFrame:
    """Rows A, columns B: 'D' when A dominates B, 'W' when A weakly dominates B (and does not
    dominate it), '-' when neither (or no common sparse level); '·' on the diagonal."""
    mark = {(r.a, r.b): "D" if r.dominates else ("W" if r.weakly_dominates else "-") for r in table.itertuples()}
    matrix = pd.DataFrame({"A \\ B": list(variants)})
    for b in variants:
        matrix[b] = ["·" if a == b else mark.get((a, b), "-") for a in variants]
    return matrix


def matching(summary: pd.DataFrame, table: pd.DataFrame, reference: str, rule: VerdictRule,
             variants=None) -> pd.DataFrame:
    """Per variant (in the order of `variants`, default: the summary's): is it a matching
    initialization (Definition 3.2: weakly dominates the reference w_{t*}), the worst gap to
    w_{t*}, its largest seed std over the range, and the levels where `rule` sees a clear gap
    either way."""
    curves = sparse_curves(summary)
    ref = curves[reference]
    pairs = {(r.a, r.b): r for r in table.itertuples()}
    rows = []
    for variant in [v for v in (variants or curves) if v in curves]:
        g = curves[variant]
        levels = g.index.intersection(ref.index)
        stats = {lv: (Stats(float(g.at[lv, "mean"]), float(g.at[lv, "std"]), int(g.at[lv, "seeds"])),
                      Stats(float(ref.at[lv, "mean"]), float(ref.at[lv, "std"]), int(ref.at[lv, "seeds"])))
                 for lv in levels}
        pair = pairs.get((variant, reference))
        rows.append({
            "variant": variant,
            "matching initialization": "yes (reference)" if variant == reference else
            ("yes" if pair is not None and pair.weakly_dominates else "no"),
            "dominates w_t*": "—" if variant == reference else ("yes" if pair is not None and pair.dominates else "no"),
            "worst gap to w_t*": 0.0 if variant == reference else (pair.worst_gap if pair is not None else np.nan),
            "max seed std": float(g["std"].max()),
            "w_t* clearly better at levels": " ".join(str(lv) for lv, (s, r) in stats.items() if rule.clear_gap(r, s)),
            "clearly better than w_t* at levels": " ".join(str(lv) for lv, (s, r) in stats.items()
                                                           if rule.clear_gap(s, r)),
        })
    return pd.DataFrame(rows)


def mean_pm_std(summary: pd.DataFrame, variants) -> pd.DataFrame:
    """Rows levels, columns variants: 'mean ± std' over seeds ('mean' alone with one seed)."""
    text = summary.assign(cell=[f"{m:.4f} ± {s:.4f}" if n > 1 else f"{m:.4f}"
                                for m, s, n in zip(summary["mean"], summary["std"], summary["seeds"])])
    table = text.pivot(index="level", columns="variant", values="cell").reindex(columns=list(variants))
    table.insert(0, "weights remaining %", 100 * (1 - summary.groupby("level")["sparsity"].mean()))
    return table.reset_index()
