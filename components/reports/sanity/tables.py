"""The sanity report's tables: accuracy per rate, level and variant; the five-condition verdicts
as printed; R_p (002 App. G) per network and rate, and its distance from p."""
import numpy as np
import pandas as pd

from components.reports.names import SANITY_SWEEP_ORDER as SWEEP_ORDER, sanity_label as label
from lth_tf.metrics import jackpot as J
from lth_tf.metrics.verdicts import Stats


def mean_std_text(values) -> str:
    s = Stats.of(values)
    return "" if not s.n else f"{s.mean:.4f} ± {s.std:.4f}"


def accuracy_table(sweep: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per rate and level: mean ± std over seeds of every variant (columns in SWEEP_ORDER)."""
    rows = []
    for (rate, level), group in sweep.groupby(["lr", "level"]):
        row = {"lr": rate, "level": int(level), "weights remaining %": 100 * (1 - group.sparsity.mean())}
        for variant in ("dense",) + SWEEP_ORDER:
            values = group[group.variant == variant][metric]
            if len(values):
                row[label(variant)] = mean_std_text(values)
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def verdict_markdown(verdicts: pd.DataFrame) -> pd.DataFrame:
    if verdicts.empty:
        return verdicts
    mark = {True: "✓", False: "✗"}
    return pd.DataFrame({
        "ticket": verdicts.ticket.map(label), "level": verdicts.level,
        "weights remaining %": [f"{100 * (1 - v):.1f}" for v in verdicts.sparsity],
        **{c: verdicts[c].map(mark) for c in J.CONDITIONS},
        "jackpot": verdicts.jackpot.map({True: "★ jackpot", False: "—"}),
        "but for epochs": verdicts.jackpot_but_epochs.map({True: "✓", False: "✗"}),
        "failing": verdicts.failing.replace("", "none"),
        "best lr": [f"{v:g}" for v in verdicts.best_lr], "A_LT": verdicts.A_LT, "RR": verdicts.rr.map(label),
        "A_RR (best lr)": verdicts.A_RR, "A_SD (best lr)": verdicts.A_SD,
        "A_dense (ticket's best lr)": verdicts.A_dense_at_best_lr, "A_well-trained": verdicts.A_well_trained,
        "③ at lr": verdicts.gap_rates, "④ at lr": verdicts.dense_match_rates, "⑤ at lr": verdicts.well_trained_rates})


def correlation_summary(corr: pd.DataFrame) -> pd.DataFrame:
    """Mean R_p over seeds per (network, variant, level, rate, p)."""
    if corr.empty:
        return corr
    keep = corr[(corr.network != "dense") | (corr.rewind_step == 0)]
    return keep.groupby(["network", "variant", "level", "lr", "p"], as_index=False).agg(
        sparsity=("sparsity", "mean"), R_p=("R_p", "mean"), seeds=("seed", "nunique"))


def correlation_table(summary: pd.DataFrame, levels) -> pd.DataFrame:
    """Rows: dense and, at each correlation level, the tickets and RR, per rate; columns: p."""
    if summary.empty:
        return summary
    picked = summary[(summary.network == "dense") | summary.level.isin(levels)]
    picked = picked[~picked.variant.str.endswith("_rewind") | (picked.network == "ticket")]
    table = picked.pivot_table(index=["network", "variant", "level", "lr"], columns="p", values="R_p").reset_index()
    order = {"dense": 0, "ticket": 1, "rr": 2}
    table = table.sort_values(["level", "network", "variant", "lr"], key=lambda c: c.map(order) if c.name == "network"
                              else c).reset_index(drop=True)
    names = {"dense": "R_p(θ_0, θ_T)", "ticket": "R_p(θ_0⊙m, θ_T⊙m)", "rr": "R_p(θ'_0⊙m, θ'_T⊙m)"}
    network = [("R_p(θ_t⊙m, θ_T⊙m)" if n == "ticket" and v.endswith("_rewind") else names[n])
               for n, v in zip(table.network, table.variant)]
    table.pop("network")
    table.insert(0, "network", network)
    table["variant"] = table.variant.map(label)
    table.columns = [f"p={c:g}" if isinstance(c, float) else c for c in table.columns]
    return table


def distance_from_p(summary: pd.DataFrame, network: str, variant: str = None, level: int = None) -> dict:
    """{rate: mean over p of |R_p − p|} (0: the large weights of the two collections look independent)."""
    rows = summary[summary.network == network]
    if variant is not None:
        rows = rows[rows.variant == variant]
    if level is not None:
        rows = rows[rows.level == level]
    return {float(r): float(np.mean(np.abs(g.R_p - g.p))) for r, g in rows.groupby("lr")}
