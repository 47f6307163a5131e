"""The stability report's shared tables: the winning-ticket verdict of a ticket (★), the ticket
table at the paper's sparsities, verdicts at every level, and level tables.

Winning tickets (★). 003 §3.1: "A winning lottery ticket is then defined as a pruned network
that can attain similar (or better) validation accuracy as the dense network in commensurate
training." The numerical test is the shared `VerdictRule` (lth_tf/metrics/verdicts.py): a
ticket (level > 0) is winning when its `verdict_metric` (default: validation accuracy, the
paper's word) over seeds *matches* the dense network of the same configuration (ticket mean ≥
dense mean − one dense std over seeds) and, where baselines (rr, random_mask, ...) were trained
for that configuration at that level, is a *clear gap* above each of them (difference of means
larger than `std_errors` pooled standard errors and than `min_gap`).
"""
from typing import Tuple

import numpy as np
import pandas as pd

from components.reports.section import mean_std as _mean_std
from components.reports.stability.gather import config_order as _config_order
from lth_tf.metrics.verdicts import Stats, VerdictRule


def nearest_level(levels: pd.Series, sparsity: float) -> int:
    """The level whose sparsity is closest to `sparsity` (`levels`: sparsity indexed by level)."""
    return int((levels - sparsity).abs().idxmin())


def verdict_metric(grid: pd.DataFrame, wanted: str) -> str:
    """The metric the ★ judges: `wanted`, or test accuracy when the grid has no value of it
    (no validation split)."""
    if wanted in grid.columns and grid[wanted].notna().any():
        return wanted
    return "test_accuracy"


def ticket_verdict(rule: VerdictRule, ticket, dense, baselines: dict) -> dict:
    """The winning-ticket verdict of one ticket (its per-seed values) against the dense network
    of the same configuration and any baselines {variant: per-seed values} at its level:
    matching the dense network, and a clear gap above every baseline present."""
    matches = rule.matches(ticket, dense)
    beaten = sorted(v for v, values in baselines.items() if rule.clear_gap(ticket, values))
    missed = sorted(set(baselines) - set(beaten))
    return {"matches_dense": matches, "baselines_beaten": " ".join(beaten), "baselines_not_beaten": " ".join(missed),
            "winning": bool(matches and not missed)}


def ticket_table(grid: pd.DataFrame, sparsities, baselines: pd.DataFrame = None, rule: VerdictRule = None,
                 metric: str = "val_accuracy") -> Tuple[pd.DataFrame, pd.DataFrame]:
    """(printed table, long csv): mean ± std test accuracy per configuration at the nearest
    level to each sparsity, ★ where the ticket is winning (`ticket_verdict` on `metric`: it
    matches the configuration's dense network and clearly beats the baselines at that level)."""
    rule = VerdictRule() if rule is None else rule
    baselines = pd.DataFrame() if baselines is None else baselines
    printed, long = [], []
    for config in _config_order(grid):
        rows = grid[grid.config == config]
        by_level = rows.groupby("level")
        level_sparsity = by_level["sparsity"].mean()
        dense = rows[rows.level == 0]
        dense_mean = float(dense["test_accuracy"].mean()) if len(dense) else float("nan")
        dense_judged = Stats.of(dense[metric])
        line = {"config": config, "seeds": int(rows.seed.nunique())}
        for target in sparsities:
            if target > level_sparsity.max() + 0.005:  # not reached: no column of a level it never got to
                line[f"{100 * target:.2f}%"] = "—"
                continue
            level = nearest_level(level_sparsity, target)
            at = rows[rows.level == level]
            acc = at["test_accuracy"].to_numpy()
            against = {}
            if len(baselines):
                found = baselines[(baselines.config == config) & (baselines.level == level)]
                against = {variant: group[metric].to_numpy() for variant, group in found.groupby("variant")}
            verdict = ticket_verdict(rule, at[metric].to_numpy(), dense[metric].to_numpy(), against)
            winning = level > 0 and verdict["winning"]
            exact = abs(level_sparsity[level] - target) < 0.005
            shown = winning and rule.has_noise(at[metric], dense[metric], *against.values())  # one seed: no ★
            cell = _mean_std(acc) + (" ★" if shown else "") + ("" if exact else f" (L{level}: {100 * level_sparsity[level]:.2f}%)")
            line[f"{100 * target:.2f}%"] = cell
            judged = Stats.of(at[metric])
            long.append({"config": config, "target_sparsity": target, "level": level,
                         "sparsity": float(level_sparsity[level]), "mean": float(acc.mean()),
                         "std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0, "seeds": len(acc),
                         "dense_mean": dense_mean, "verdict_metric": metric, "judged_mean": judged.mean,
                         "judged_std": judged.std, "dense_judged_mean": dense_judged.mean,
                         "dense_judged_std": dense_judged.std, **verdict, "winning": bool(winning),
                         "nearest_not_exact": not exact})
        printed.append(line)
    return pd.DataFrame(printed), pd.DataFrame(long)


def level_verdicts(grid: pd.DataFrame, baselines: pd.DataFrame, rule: VerdictRule, metric: str) -> pd.DataFrame:
    """`ticket_verdict` at every sparse level of every configuration (not only the table's
    sparsities): rows name, level, sparsity, matches, winning, value, reference, baselines_beaten
    (the shape `report_text.level_findings` reads)."""
    rows = []
    for config in _config_order(grid):
        at_config = grid[grid.config == config]
        dense = at_config[at_config.level == 0][metric].to_numpy()
        for level, at in at_config[at_config.level > 0].groupby("level"):
            found = baselines[(baselines.config == config) & (baselines.level == level)] if len(baselines) else baselines
            against = {variant: g[metric].to_numpy() for variant, g in found.groupby("variant")} if len(found) else {}
            verdict = ticket_verdict(rule, at[metric].to_numpy(), dense, against)
            rows.append({"name": config, "level": int(level), "sparsity": float(at.sparsity.mean()),
                         "matches": verdict["matches_dense"], "winning": verdict["winning"],
                         "value": float(at[metric].mean()), "reference": float(np.mean(dense)) if len(dense) else np.nan,
                         "baselines_beaten": verdict["baselines_beaten"]})
    return pd.DataFrame(rows)


def pivot_mean(frame: pd.DataFrame, index, columns, values) -> pd.DataFrame:
    table = frame.pivot_table(index=index, columns=columns, values=values, aggfunc="mean")
    table.columns = [str(c) for c in table.columns]
    return table.reset_index()


def level_table(frame: pd.DataFrame, label_column: str, order=None) -> pd.DataFrame:
    """Rows: `label_column` values (in `order`, default sorted); columns: levels (with
    sparsity); cells: mean test accuracy over seeds."""
    if frame.empty:
        return frame
    sparsity = frame.groupby("level")["sparsity"].mean()
    table = frame.pivot_table(index=label_column, columns="level", values="test_accuracy", aggfunc="mean")
    table.columns = [f"L{l} ({100 * sparsity[l]:.2f}%)" for l in table.columns]
    if order is not None:
        table = table.loc[order]
    return table.reset_index()


def split_words(frame: pd.DataFrame) -> str:
    """'validation split' / 'test split' (rows written before the split was recorded: test)."""
    splits = sorted(set(frame["split"].dropna())) if "split" in frame.columns else ["test"]
    splits = splits or ["test"]
    return " and ".join({"val": "validation", "test": "test"}.get(s, s) for s in splits) + " split"
