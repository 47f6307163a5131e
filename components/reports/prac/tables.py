"""The PrAC report's tables: savings at matched accuracy (001 Fig. 3's rule), with and without
early stop (001 Fig. 8), matching / clear-gap verdicts, example-set sizes per round (001 Table
A3), class ratios and mask similarity."""
import numpy as np
import pandas as pd

from components.reports.names import PRAC_BASELINES as BASELINES
from lth_tf.metrics import prac as P
from lth_tf.metrics.verdicts import VerdictRule
from lth_tf.sparsity.masks import load_masks


def savings(summary: pd.DataFrame, variants=None) -> pd.DataFrame:
    """For each variant (default: all but the baselines): the highest-sparsity level where it
    matches vanilla IMP by the paper's rule (`P.matches_vanilla`, 001 Fig. 3 caption: "within one
    standard deviation of the performance of vanilla lottery tickets", vanilla IMP's standard
    deviation over seeds), and the iterations saved there."""
    imp = summary[summary.variant == "lt_imp"].set_index("level")
    if variants is None:
        variants = [v for v in set(summary.variant) - set(BASELINES) if "@" not in v]
    rows = []
    for variant in sorted(variants):
        ours = summary[summary.variant == variant].set_index("level")
        levels = sorted(set(ours.index) & set(imp.index) - {0})
        if not levels:
            continue
        matched = [l for l in levels if P.matches_vanilla(ours.at[l, "mean"], imp.at[l, "mean"], imp.at[l, "std"])]
        if not matched:
            rows.append({"variant": variant, "matched_level": "none", "sparsity": np.nan, "accuracy": np.nan,
                         "accuracy_imp": np.nan, "std_imp": np.nan, "search_steps": np.nan,
                         "search_steps_imp": np.nan, "search_saving": np.nan, "train_steps_saving": np.nan,
                         "note": f"below vanilla IMP at every level {levels[0]}..{levels[-1]}"})
            continue
        l = max(matched, key=lambda level: ours.at[level, "sparsity"])
        rows.append({"variant": variant, "matched_level": int(l), "sparsity": ours.at[l, "sparsity"],
                     "accuracy": ours.at[l, "mean"], "accuracy_imp": imp.at[l, "mean"], "std_imp": imp.at[l, "std"],
                     "search_steps": ours.at[l, "search_steps"], "search_steps_imp": imp.at[l, "search_steps"],
                     "search_saving": 1.0 - ours.at[l, "search_steps"] / imp.at[l, "search_steps"],
                     "train_steps_saving": 1.0 - ours.at[l, "train_steps"] / imp.at[l, "train_steps"],
                     "note": f"matches at {len(matched)} of {len(levels)} levels"})
    return pd.DataFrame(rows)


def early_stop_pairs(frame: pd.DataFrame, main: str, saved: pd.DataFrame) -> pd.DataFrame:
    """The headline variant's savings beside those of the searches that differ from it only in
    early stopping (001 Fig. 8: PrAC, PrAC w/o early stop, vanilla IMP)."""
    prac = frame[(frame.get("group") == "prac") & (frame.level > 0)] if "group" in frame else frame.iloc[:0]
    if saved.empty or prac.empty or main not in set(prac.variant):
        return pd.DataFrame()
    keys = [k for k in ("selection", "forgetting_threshold", "dynamic_iterations") if k in prac]
    settings = prac.groupby("variant")[keys + ["early_stop"]].first() if "early_stop" in prac else None
    if settings is None:
        return pd.DataFrame()
    ours = settings.loc[main, keys]
    same = [v for v in settings.index if all(settings.at[v, k] == ours[k] for k in keys)]
    table = saved[saved.variant.isin(same)].copy()
    table.insert(1, "early_stop", [bool(settings.at[v, "early_stop"]) for v in table.variant])
    return table[["variant", "early_stop", "matched_level", "sparsity", "accuracy", "accuracy_imp", "std_imp",
                  "search_steps", "search_steps_imp", "search_saving"]].sort_values("early_stop", ascending=False)


def verdict_table(frame: pd.DataFrame, rule: VerdictRule) -> pd.DataFrame:
    """Per (variant, level): does the ticket *match* the dense network / vanilla IMP, and does it
    beat random pruning by a *clear gap*, by `rule` (VerdictRule) on the per-seed accuracies."""
    def values(variant, level=None, model=None):
        rows = frame[frame.variant == variant]
        if level is not None:
            rows = rows[rows.level == level]
        if model is not None and "model" in rows:
            rows = rows[rows.model == model]
        return rows["reported_accuracy"].to_numpy(np.float64)

    out = []
    for (variant, level), group in frame[frame.level > 0].groupby(["variant", "level"]):
        if "@" in variant or variant.startswith("dense"):
            continue
        model = group["model"].iloc[0] if "model" in group else None
        ticket = group["reported_accuracy"].to_numpy(np.float64)
        dense, imp, rand = values("dense", model=model), values("lt_imp", level, model), \
            values("random_pruning", level, model)
        out.append({"variant": variant, "level": int(level), "sparsity": float(group["sparsity"].mean()),
                    "mean": float(np.nanmean(ticket)), "seeds": int(np.isfinite(ticket).sum()),
                    "dense_mean": float(np.nanmean(dense)) if len(dense) else np.nan,
                    "matches_dense": rule.matches(ticket, dense),
                    "matches_lt_imp": rule.matches(ticket, imp) if variant != "lt_imp" and len(imp) else np.nan,
                    "clear_gap_over_random_pruning": rule.clear_gap(ticket, rand)
                    if variant != "random_pruning" and len(rand) else np.nan})
    return pd.DataFrame(out)


def highest_sparsity(verdicts: pd.DataFrame, variant: str, column: str):
    hits = verdicts[(verdicts.variant == variant) & (verdicts[column] == True)]  # noqa: E712
    return None if hits.empty else hits.loc[hits.sparsity.idxmax()]


def set_sizes(inputs) -> pd.DataFrame:
    frames = [pd.read_csv(a.path / "rounds.csv") for a in inputs.get("prac") or [] if (a.path / "rounds.csv").exists()]
    if not frames:
        return pd.DataFrame()
    rounds = pd.concat(frames, ignore_index=True)
    rounds["early_stopped"] = rounds["early_stopped"].astype(float)
    columns = ["trained_on", "steps", "budget_steps", "early_stopped", "cet", "cep", "selected", "selected_fraction",
               "overlap_rate", "sparsity"]
    if "cep_subnetwork_sparsity" in rounds:  # artifacts of PracMaskSearch version >= 2
        columns.insert(columns.index("cep"), "cep_subnetwork_sparsity")
    table = rounds.groupby(["variant", "round"], as_index=False)[columns].mean()
    # (no '|' in the names: they would split the markdown table's cells)
    return table.rename(columns={"trained_on": "D trained on", "cet": "CET", "cep": "CEP",
                                 "cep_subnetwork_sparsity": "CEP subnetwork sparsity",
                                 "selected": "next set", "selected_fraction": "next set / D0",
                                 "early_stopped": "early stopped (share of seeds)"})


def class_ratio_table(inputs, variant: str) -> pd.DataFrame:
    frames = [pd.read_csv(a.path / "rounds.csv") for a in inputs.get("prac") or [] if (a.path / "rounds.csv").exists()]
    rounds = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if rounds.empty or variant not in set(rounds.variant):
        return pd.DataFrame()
    rounds = rounds[rounds.variant == variant]
    columns = [c for c in rounds.columns if c.startswith("class_")]
    return rounds.groupby("round", as_index=False)[columns].mean()


def _identity(artifact):
    params = artifact.metadata["parameters"]
    return params["seed"], params["model"]["name"], params["training"].get("data_seed_offset", 0)


def _level_masks(artifact):
    out = {}
    for path in sorted(artifact.path.glob("level_[0-9][0-9]/mask.npz")):
        out[int(path.parent.name[6:])] = path
    return out


def mask_similarity_table(inputs) -> pd.DataFrame:
    """|m_i ∩ m_j| / |m_i ∪ m_j| per level between each PrAC-family ticket (and the vanilla
    reference run) and the vanilla ticket of the same seed and architecture."""
    vanilla = {}
    for a in inputs.get("vanilla") or []:
        seed, model, _ = _identity(a)
        vanilla[(seed, model)] = _level_masks(a)
    rows = []
    others = [("prac", a) for a in inputs.get("prac") or []] + \
             [("vanilla_reference", a) for a in inputs.get("vanilla_reference") or []]
    for group, artifact in others:
        seed, model, _ = _identity(artifact)
        theirs = vanilla.get((seed, model))
        if theirs is None:
            continue
        label = "lt_imp vs lt_imp (other data order)" if group == "vanilla_reference" else None
        if label is None:
            results = pd.read_csv(artifact.path / "results.csv")
            named = results.loc[results.level > 0, "variant"]
            if named.empty:
                continue
            label = f"{named.iloc[0]} vs lt_imp"
        for level, path in _level_masks(artifact).items():
            if level == 0 or level not in theirs:
                continue
            a, b = load_masks(path), load_masks(theirs[level])
            density = sum(float(m.sum()) for m in a.values()) / sum(m.size for m in a.values())
            rows.append({"pair": label, "seed": seed, "level": level, "sparsity": 1.0 - density,
                         "similarity": P.mask_similarity(a, b), "random_expectation": P.random_mask_similarity(density)})
    return pd.DataFrame(rows)


def cep_table(sizes: pd.DataFrame, variant: str) -> pd.DataFrame:
    """001 Table A3's layout for one variant: per round, the sparsity of the subnetwork CEP
    compared with the dense network, |CEP|, |CET|, |PrAC| and the overlap rate."""
    if sizes.empty or "CEP subnetwork sparsity" not in sizes or variant not in set(sizes.variant):
        return pd.DataFrame()
    rows = sizes[sizes.variant == variant]
    return rows[["round", "CEP subnetwork sparsity", "CEP", "CET", "next set", "overlap_rate"]].rename(
        columns={"CEP subnetwork sparsity": "sparsity of the subnetwork", "next set": "PrAC"})
