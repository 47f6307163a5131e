"""`lth-tf compare`'s default answer: what differs between two runs, in a few lines.

From run_dirs.compare's table (rows matched on their identifying columns, with its `in` column):
per metric, how many matched rows differ and by how much (the range and mean of B − A, then the
rows with the largest differences, named by the key columns that vary), the metrics equal in
every row, the rows only one run has, and "No differences" when both runs have the same rows with
the same values. `lth-tf compare --table` prints the whole table instead.
"""
from typing import List, Sequence

import pandas as pd

SHOWN = 5  # rows named per metric and per one-sided set (largest |B − A| first)


def _value(v) -> str:
    return "missing" if pd.isna(v) else f"{v:.4g}"


def _row_name(row, keys) -> str:
    """'variant=lt_imp, seed=0, level=3' (keys with no value in this row left out)."""
    return ", ".join(f"{k}={row[k]}" for k in keys if not pd.isna(row[k]) and str(row[k]) != "")


def summary(table: pd.DataFrame, names: Sequence[str] = ("A", "B"), shown: int = SHOWN) -> List[str]:
    a, b = names
    metrics = [c[:-len("_diff")] for c in table.columns if c.endswith("_diff")]
    per_metric = {f"{m}_{side}" for m in metrics for side in (a, b, "diff")}
    keys = [c for c in table.columns if c not in per_metric and c != "in"]
    varying = [k for k in keys if table[k].nunique(dropna=False) > 1] or keys  # constant keys name no row
    both = table[table["in"] == "both"]
    lines, equal = [], []
    for m in metrics:
        va, vb = both[f"{m}_{a}"], both[f"{m}_{b}"]
        rows = both[~((va == vb) | (va.isna() & vb.isna()))]
        if rows.empty:
            equal.append(m)
            continue
        diff = rows[f"{m}_diff"].dropna()
        spread = (f"; {b} - {a} from {diff.min():+.4g} to {diff.max():+.4g} (mean {diff.mean():+.4g})"
                  if len(diff) else "")
        lines.append(f"{m}: differs in {len(rows)} of {len(both)} rows{spread}")
        largest = rows.assign(_size=rows[f"{m}_diff"].abs()).sort_values("_size", ascending=False, na_position="first")
        for _, r in largest.head(shown).iterrows():
            change = "" if pd.isna(r[f"{m}_diff"]) else f" ({r[f'{m}_diff']:+.4g})"
            lines.append(f"  {_row_name(r, varying)}: {_value(r[f'{m}_{a}'])} -> {_value(r[f'{m}_{b}'])}{change}")
        if len(rows) > shown:
            lines.append(f"  ... and {len(rows) - shown} more (--table shows every row)")
    for side in (a, b):
        only = table[table["in"] == f"{side} only"]
        if len(only):
            lines.append(f"Rows in {side} only: {len(only)}")
            lines += [f"  {_row_name(r, varying)}" for _, r in only.head(shown).iterrows()]
            if len(only) > shown:
                lines.append(f"  ... and {len(only) - shown} more (--table shows every row)")
    compared = ", ".join(metrics) if metrics else "none"
    if not lines:
        return [f"No differences: the same {len(both)} rows, and every compared metric is equal in all of them "
                f"({compared})."]
    if equal:
        lines.append(f"Equal in all {len(both)} matched rows: {', '.join(equal)}.")
    return lines
