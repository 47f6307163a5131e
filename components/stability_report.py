"""StabilityReport: the stability study's tables and plots, in the shape of the paper's.

Inputs are lists of artifacts by role (grid searches, baselines, AIMP, disentangling, dynamics,
instability, rewind search, probes, few-shot, transfer); every row is labelled with the
configuration read from the artifacts' own parameters (momentum, batch size, rewind point), so
nothing depends on the order the pipeline passed them in.

Outputs: results.csv (every evaluated network: study, experiment, config, variant, seed, level,
sparsity, val_accuracy, test_accuracy, train_steps, ..., flagged), sibling CSVs for every other
number (dynamics, barriers, interpolation, rewind_search, probes, few_shot, transfer, and the
tables as printed), report.md and the PNGs it links.

Winning tickets (★). 003 §3.1: "A winning lottery ticket is then defined as a pruned network
that can attain similar (or better) validation accuracy as the dense network in commensurate
training." The numerical test is the shared `VerdictRule` (lth_tf/metrics/verdicts.py): a
ticket (level > 0) is winning when its `verdict_metric` (default: validation accuracy, the
paper's word) over seeds *matches* the dense network of the same configuration (ticket mean ≥
dense mean − one dense std over seeds) and, where baselines (rr, random_mask, ...) were trained
for that configuration at that level, is a *clear gap* above each of them (difference of means
larger than `std_errors` pooled standard errors and than `min_gap`). The ticket table prints
test accuracy; the judged values are in ticket_table.csv. When the dataset has no validation
split, test accuracy is judged and the report says so.

A network is flagged as stuck at chance when its test accuracy is below `chance_factor` /
number of classes.

The report opens with a findings paragraph (which configurations give winning tickets up to which
sparsity, which are stable to SGD noise; `report_text.level_findings`, `stability_finding`) and
ends with a glossary of the terms it uses. Unreached sparsities of `sparsities` print "—".

Over 300 lines because it gathers, tabulates and words ten analyses (grid, baselines, dynamics,
instability, rewind search, probes, few-shot, transfer, AIMP, disentangling); the plots are in
stability_plots.py, the shared words in report_text.py. Next step (issue 9): one section module
per analysis.
"""
import dataclasses
from pathlib import Path
from typing import List, Tuple

import gin
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components import plotting, report_text  # noqa: E402
from components.stability_plots import (plot_accuracy, plot_barriers, plot_few_shot,  # noqa: E402,F401
                                       plot_interpolation, plot_probes)
from components.report import markdown  # noqa: E402
from components.spec import Artifact, ComponentSpec  # noqa: E402
from components.artifacts.base import from_description  # noqa: E402
from components.artifacts.tickets import search_params  # noqa: E402
from components.stability_common import config_columns, training_label  # noqa: E402
from lth_tf.data import load_dataset, steps_per_epoch  # noqa: E402
from lth_tf.errors import ConfigError  # noqa: E402
from lth_tf.io import write_csv, write_text  # noqa: E402
from lth_tf.metrics.verdicts import Stats, VerdictRule  # noqa: E402
from lth_tf.training import TrainingHparams  # noqa: E402

# The sparsities of IMP levels 0, 5, 10, 15, 20 at 20% per level.
PAPER_SPARSITIES = (0.0, 0.6723, 0.8926, 0.9648, 0.9885)
VERDICT_METRICS = ("val_accuracy", "test_accuracy")
LEADING = ("study", "experiment", "config", "variant", "seed", "level", "sparsity", "val_accuracy",
           "test_accuracy", "train_steps")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class StabilityReportParams:
    study: str = "stability"
    title: str = "Stability to SGD noise and lottery tickets"
    sparsities: Tuple[float, ...] = PAPER_SPARSITIES  # columns of the ticket table (nearest level)
    chance_factor: float = 1.5  # flag networks whose test accuracy is below chance_factor / classes
    threshold: float = 0.02  # barrier below which training counts as stable
    verdict_metric: str = "val_accuracy"  # what the ★ judges (003 §3.1: "validation accuracy")
    verdict: VerdictRule = dataclasses.field(default_factory=VerdictRule)

    def __post_init__(self):
        if self.verdict_metric not in VERDICT_METRICS:
            raise ConfigError(f"StabilityReportParams.verdict_metric={self.verdict_metric!r} must be one of "
                              f"{VERDICT_METRICS} ('val_accuracy' is the paper's definition of a winning ticket).")


# ---------------------------------------------------------------------------------------------
# Gathering
# ---------------------------------------------------------------------------------------------

def _tickets_of(trained: Artifact) -> Artifact:
    path = Path(trained.metadata["inputs"]["tickets"])
    return Artifact("Tickets", path, "")


def _training_of(trained: Artifact, search) -> TrainingHparams:
    d = trained.metadata["parameters"].get("training")
    if d is None:
        return search.training
    return from_description(TrainingHparams, d)


def _read(artifact: Artifact, name: str = "results.csv") -> pd.DataFrame:
    path = artifact.path / name
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def _num_classes(search, cache={}) -> int:  # noqa: B006  (a per-process cache of dataset sizes)
    key = search.dataset
    if key not in cache:
        cache[key] = load_dataset(search.dataset).num_classes
    return cache[key]


def _with(frame: pd.DataFrame, **columns) -> pd.DataFrame:
    frame = frame.copy()
    for k, v in columns.items():
        frame[k] = v
    return frame


def _search_rows(tickets: Artifact, experiment: str, prefix: str = "") -> pd.DataFrame:
    search = search_params(tickets)
    frame = _read(tickets)
    if frame.empty:
        return frame
    frame = _with(frame, experiment=experiment, num_classes=_num_classes(search), **config_columns(search))
    if prefix:
        frame["variant"] = prefix + frame["variant"]
    return frame


def _trained_rows(trained: Artifact, experiment: str) -> pd.DataFrame:
    tickets = _tickets_of(trained)
    search = search_params(tickets)
    hp = _training_of(trained, search)
    frame = _read(trained)
    if frame.empty:
        return frame
    frame = _with(frame, experiment=experiment, num_classes=_num_classes(search), **config_columns(search))
    frame["train_config"] = training_label(hp)
    if experiment == "aimp":
        frame["variant"] = f"{aimp_label(search, hp)}_" + frame["variant"]
    if experiment == "disentangle":
        frame["variant"] = f"search_{training_label(search.training)}_train_{training_label(hp)}"
    return frame


def aimp_label(search, full: TrainingHparams) -> str:
    """'aimp10' for a search that trained 10% of the full training's steps."""
    ds = load_dataset(search.dataset)
    short = search.training.total_steps(steps_per_epoch(len(ds.train), search.training.batch_size))
    whole = full.total_steps(steps_per_epoch(len(ds.train), full.batch_size))
    return f"aimp{100.0 * short / whole:.0f}"


def gather_results(inputs, p: StabilityReportParams) -> pd.DataFrame:
    frames = [_search_rows(t, "grid") for t in inputs["searches"]]
    frames += [_trained_rows(t, "baseline") for t in inputs.get("baselines", [])]
    for trained in inputs.get("aimp", []):
        frames.append(_trained_rows(trained, "aimp"))
    for tickets in inputs.get("aimp_searches", []):
        search = search_params(tickets)
        full = [_training_of(t, search) for t in inputs.get("aimp", []) if _tickets_of(t).path == tickets.path]
        prefix = f"{aimp_label(search, full[0])}_search_" if full else "aimp_search_"
        frames.append(_search_rows(tickets, "aimp_search", prefix))
    frames += [_trained_rows(t, "disentangle") for t in inputs.get("disentangle", [])]
    for few in inputs.get("few_shot", []):
        frame = _read(few)
        if not frame.empty:
            search = search_params(Artifact("Tickets", Path(few.metadata["inputs"]["tickets"]), ""))
            frames.append(_with(frame, experiment="few_shot", num_classes=_num_classes(search)))
    frames += [_search_rows(t, "transfer_search") for t in inputs.get("transfer_searches", [])]
    frame = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    frame["study"] = p.study
    frame["flagged"] = frame["test_accuracy"] < p.chance_factor / frame["num_classes"]
    first = [c for c in LEADING if c in frame.columns]
    return frame[first + sorted(c for c in frame.columns if c not in first)]


def _concat(artifacts, name) -> pd.DataFrame:
    frames = [_read(a, name) for a in artifacts]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def _config_order(frame: pd.DataFrame) -> List[str]:
    keys = frame.groupby("config")[["momentum", "batch_size"]].first()
    rewinds = frame.groupby("config")["rewind"].first()
    return sorted(keys.index, key=lambda c: (rewinds[c] != "0it", rewinds[c], keys.loc[c, "momentum"],
                                             keys.loc[c, "batch_size"]))


def _mean_std(values, digits: int = 4) -> str:
    """'mean ± std' over seeds (just the mean for one seed)."""
    values = np.asarray(values, float)
    if len(values) > 1:
        return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"
    return f"{values.mean():.{digits}f}"


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
            cell = _mean_std(acc) + (" ★" if winning else "") + ("" if exact else f" (L{level}: {100 * level_sparsity[level]:.2f}%)")
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


def stability_finding(barriers: pd.DataFrame, threshold: float) -> str:
    """Which configurations are stable to SGD noise (mean noise barrier below `threshold`) at
    which levels, with the barriers."""
    noise = barriers[barriers.kind == "noise"] if len(barriers) else barriers
    if noise.empty:
        return ""
    stable_all, partly, unstable = [], [], []
    for config in _config_order(noise):
        by_level = noise[noise.config == config].groupby("level").barrier.mean()
        stable = by_level[by_level < threshold]
        if len(stable) == len(by_level):
            stable_all.append(f"`{config}` (all {len(by_level)} levels measured, barrier at most {by_level.max():.3f})")
        elif len(stable):
            partly.append(f"`{config}` at {', '.join(f'L{l}' for l in stable.index)} only ({len(stable)} of "
                          f"{len(by_level)} levels measured; highest barrier {by_level.max():.3f} at L{by_level.idxmax()})")
        else:
            unstable.append(f"`{config}` (barrier {by_level.min():.3f} or more)")
    words = [f"**Stable to SGD noise** (error barrier below {threshold:g}): " + ("; ".join(stable_all + partly) or "none")
             + "."]
    if unstable:
        words.append("Unstable at every level measured: " + "; ".join(unstable) + ".")
    return " ".join(words)


TRANSFER_ORDER = ("ticket", "frozen_dense", "retrained_dense", "trained_ticket", "random_dense")


def _transfer_label(row) -> str:
    where = f"L{int(row.level)} ({100 * row.sparsity:.2f}%)"
    return {"ticket": f"{row.config} ticket, untrained (mask ⊙ rewind weights) {where}",
            "trained_ticket": f"{row.config} trained ticket {where} [extra: trained weights, frozen]",
            "frozen_dense": f"{row.training_config} frozen dense* (trained on the source)",
            "retrained_dense": f"retrained dense* (trained on the target, {row.training_config} recipe)",
            "random_dense": "random dense network, untrained [extra]"}[row.network]


def transfer_table(transfer: pd.DataFrame) -> pd.DataFrame:
    """Rows: networks (Table 6's order: tickets, frozen dense, retrained dense, then the extras);
    columns: target datasets; cells: target test accuracy, mean ± std over seeds. Networks that
    do not depend on the rewind point (dense ones) appear once per seed."""
    t = transfer.assign(label=transfer.apply(_transfer_label, axis=1),
                        order=transfer.network.map(TRANSFER_ORDER.index))
    t = t.drop_duplicates(["label", "target", "seed"])
    t = t.sort_values(["order", "config", "level"])
    targets = list(dict.fromkeys(t.target))
    rows = []
    for label, group in t.groupby("label", sort=False):
        line = {"network": label, "seeds": int(group.seed.nunique())}
        for target in targets:
            values = group[group.target == target].target_test_accuracy
            line[target] = _mean_std(values) if len(values) else ""
        rows.append(line)
    return pd.DataFrame(rows)


def dynamics_table(dynamics: pd.DataFrame, chance: float) -> pd.DataFrame:
    if dynamics.empty:
        return dynamics
    rows = []
    for config, group in dynamics.groupby("training_config", sort=False):
        rows.append({"training": config, "momentum": group.momentum.iloc[0], "batch_size": group.batch_size.iloc[0],
                     "seeds": len(group), "forgetting (mean ± std over examples)":
                     f"{group.forgetting_mean.mean():.3f} ± {group.forgetting_std.mean():.3f}",
                     "unforgettable %": _mean_std(group.unforgettable_pct, 2),
                     "never learned %": _mean_std(group.never_learned_pct, 2),
                     "convergence speed": _mean_std(group.convergence_speed),
                     "dense test acc": _mean_std(group.test_accuracy),
                     "flag": "stuck at chance" if group.test_accuracy.mean() < chance else ""})
    return pd.DataFrame(rows).sort_values(["momentum", "batch_size"])


def barrier_table(barriers: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per configuration: the noise barrier (mean ± std over seeds and pairs) at each level,
    'stable' where its mean is below the threshold, and the successive-level barriers."""
    if barriers.empty:
        return barriers
    rows = []
    for config in _config_order(barriers):
        group = barriers[barriers.config == config]
        noise, successive = group[group.kind == "noise"], group[group.kind == "successive"]
        line = {"config": config}
        for level, at in noise.groupby("level"):
            mark = " (stable)" if at.barrier.mean() < threshold else ""
            line[f"L{level} ({100 * at.sparsity.mean():.2f}%)"] = _mean_std(at.barrier) + mark
        if len(successive):
            line["successive: mean"] = f"{successive.barrier.mean():.4f}"
            line["successive: max"] = f"{successive.barrier.max():.4f}"
            line["successive: stable %"] = f"{100 * (successive.barrier < threshold).mean():.0f}"
        rows.append(line)
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


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------

def _split_words(frame: pd.DataFrame) -> str:
    """'validation split' / 'test split' (rows written before the split was recorded: test)."""
    splits = sorted(set(frame["split"].dropna())) if "split" in frame.columns else ["test"]
    splits = splits or ["test"]
    return " and ".join({"val": "validation", "test": "test"}.get(s, s) for s in splits) + " split"


# ---------------------------------------------------------------------------------------------
# The executor
# ---------------------------------------------------------------------------------------------

def _setup(grid: pd.DataFrame) -> str:
    """One line on the recipe shared by the grid (what the grid varies is in each row's config)."""
    first = grid.iloc[0]
    levels = int(grid.level.max())
    return (f"Setup: {first.model} on {first.dataset}, {first.budget} of SGD at lr {first.lr:g} per search level "
            f"(momentum and batch size from the configuration), IMP ({first.method}, {first.scope}) for {levels} levels "
            f"to {100 * grid.sparsity.max():.2f}% sparsity.\n")


def late_rewinding_finding(grid: pd.DataFrame, rule: VerdictRule, metric: str = "test_accuracy") -> str:
    """One sentence: at the grid's highest level, does late rewinding beat rewinding to init?

    The papers' premise for late rewinding (003 §2; Frankle et al. 2020 on CIFAR-10) is that IMP
    rewound to initialization falls behind at high sparsity while late rewinding does not. Whether
    that happens on *this* run is measured, per training configuration, with the one verdict rule
    (clear gap either way), not implied."""
    rewinds = sorted(grid.rewind.unique(), key=lambda r: (r != "0it", r))
    if "0it" not in rewinds or len(rewinds) < 2:
        return ""
    level = int(grid.level.max())
    top = grid[grid.level == level]
    late, init_better, neither = [], [], []
    for config, group in top.groupby("training_config"):
        at_init = group[group.rewind == "0it"][metric]
        for rewind in rewinds[1:]:
            other = group[group.rewind == rewind][metric]
            if other.empty or at_init.empty:
                continue
            name = f"{config} (init {at_init.mean():.3f}, {rewind} {other.mean():.3f})"
            (late if rule.clear_gap(other, at_init) else init_better if rule.clear_gap(at_init, other) else neither).append(name)
    total = len(late) + len(init_better) + len(neither)
    if not total:
        return ""
    sparsity = 100 * top.sparsity.mean()
    words = (f"**Late rewinding vs. rewinding to init** at the highest level ({sparsity:.2f}% sparsity, {metric.replace('_', ' ')}): "
             f"late rewinding is clearly better in {len(late)} of {total} training configurations"
             + (f" ({'; '.join(late)})" if late else "")
             + f", rewinding to init clearly better in {len(init_better)}"
             + (f" ({'; '.join(init_better)})" if init_better else "")
             + f", neither in {len(neither)}" + (f" ({'; '.join(neither)})" if neither else "") + ". ")
    if len(late) > total / 2:
        return words + "As on CIFAR-10 in the papers, IMP from initialization falls behind late rewinding here.\n"
    return (words + "Unlike CIFAR-10 in the papers, IMP from initialization does not fall behind late rewinding on "
            "this run, so the late-rewinding arms here say little about why late rewinding helps; run the "
            "`*_cifar10.gin` configs for that.\n")


def execute(p: StabilityReportParams, inputs, out: Path, ctx):
    results = gather_results(inputs, p)
    write_csv(out / "results.csv", results)
    grid = results[results.experiment == "grid"]
    colors = plotting.label_colors(results.config.dropna()) if "config" in results else {}
    chance = float(p.chance_factor / grid.num_classes.iloc[0]) if len(grid) else 0.0
    sections = [f"# {p.title}\n",
                f"Study `{p.study}`: {len(results)} networks; {grid.config.nunique()} configurations "
                f"(momentum × batch size × rewind point), seeds {sorted(grid.seed.unique().tolist())}. "
                f"All numbers are test accuracy unless named; every number is also in `results.csv` or a sibling csv.\n",
                _setup(grid)]

    flagged = results[results.flagged]
    sections += ["## Runs stuck at chance\n",
                 f"Networks with test accuracy below {p.chance_factor} / classes: "
                 + (f"{len(flagged)}, listed in `flags.csv` and marked `flagged` in results.csv.\n" if len(flagged)
                    else "none.\n")]
    if len(flagged):
        write_csv(out / "flags.csv", flagged)
        sections.append(markdown(flagged[["experiment", "config", "variant", "seed", "level", "sparsity", "test_accuracy"]]))

    dynamics = _concat(inputs.get("dynamics", []), "dynamics.csv")
    if not dynamics.empty:
        write_csv(out / "dynamics.csv", dynamics)
        sections += ["## Forgetting and convergence of the dense network, per configuration\n",
                     "Forgetting events per training example (mean ± std over examples that were learned), "
                     "% of examples never forgotten, % never learned, and convergence speed "
                     "(1/T) Σ_ep (E(W0) − E(W_ep)) / (E(W0) − E(W_T)) on the validation error; "
                     "the dense training does not depend on the rewind point.\n",
                     markdown(dynamics_table(dynamics, chance))]

    metric = verdict_metric(grid, p.verdict_metric)
    baselines = results[results.experiment == "baseline"]
    judged_baselines = baselines[~baselines.variant.astype(str).str.startswith("lt")]
    printed, long = ticket_table(grid, p.sparsities, judged_baselines, p.verdict, metric)
    write_csv(out / "ticket_table.csv", long)
    inexact = long[long.nearest_not_exact]
    metric_words = {"val_accuracy": "validation accuracy", "test_accuracy": "test accuracy"}[metric]
    fallback = (" (the study has no validation split, so test accuracy is judged instead of the paper's "
                "validation accuracy)" if metric != p.verdict_metric else "")
    sections += ["## Ticket accuracy per configuration\n",
                 "Test accuracy (mean ± std over seeds) of the IMP ticket at the level nearest each sparsity.\n",
                 f"★ = winning ticket: a pruned ticket whose {metric_words} over seeds matches the dense network of "
                 f"the same configuration (003 §3.1: \"a pruned network that can attain similar (or better) validation "
                 f"accuracy as the dense network\") and, where rr / random-mask baselines were trained for that "
                 f"configuration at that level, shows a clear gap above each of them{fallback}. "
                 f"{p.verdict.describe()} The judged values are in `ticket_table.csv` "
                 f"(judged_mean, dense_judged_mean, baselines_beaten).\n",
                 markdown(printed)]
    unreached = [f"{100 * t:.2f}%" for t in p.sparsities if t > grid.sparsity.max() + 0.005]
    if unreached:
        sections.append(f"Sparsities the search did not reach (—): {unreached}.\n")
    if len(inexact):
        sections.append(f"Sparsities not reached exactly (nearest level used, shown in the cell): "
                        f"{sorted(set(f'{100 * s:.2f}%' for s in inexact.target_sparsity))}.\n")
    plot_accuracy(grid, out / "accuracy_vs_sparsity.png", colors)
    found = [report_text.level_findings(level_verdicts(grid, judged_baselines, p.verdict, metric),
                                        f"winning tickets (judged on {metric_words})")]
    sections.append("![accuracy vs sparsity](accuracy_vs_sparsity.png)\n")
    every = grid.pivot_table(index="level", columns="config", values="test_accuracy", aggfunc="mean")
    every = every[[c for c in _config_order(grid) if c in every.columns]]
    every.insert(0, "sparsity %", 100 * grid.groupby("level")["sparsity"].mean())
    sections += ["### Every level (mean test accuracy over seeds)\n", markdown(every.reset_index())]

    if len(baselines):
        both = pd.concat([grid[grid.config.isin(baselines.config.unique()) & grid.level.isin(baselines.level.unique())
                               & grid.seed.isin(baselines.seed.unique())], baselines])
        both = both.assign(network=both.config + " " + both.variant)
        sections += ["## Tickets against their baselines\n",
                     "rr: the ticket's mask on a fresh initialization; random_mask: a random mask of the same "
                     "sparsity on the rewind weights.\n", markdown(level_table(both, "network"))]

    barriers = _concat(inputs.get("instability", []), "barriers.csv")
    curves = _concat(inputs.get("instability", []), "curves.csv")
    if not barriers.empty:
        write_csv(out / "barriers.csv", barriers)
        write_csv(out / "interpolation.csv", curves)
        table = barrier_table(barriers, p.threshold)
        write_csv(out / "barrier_table.csv", table)
        split_words = _split_words(barriers)
        sections += ["## Instability to SGD noise\n",
                     f"Error barrier sup_α E(αW1 + (1−α)W2) − (E(W1) + E(W2))/2 (003 eq. 3), E the classification "
                     f"error on the {split_words}, {len(set(curves.alpha))} "
                     f"values of α, between the ticket and a copy trained from the same weights (mask and rewind point) "
                     f"with a different data order (mean ± std over seeds and noise pairs; stable below {p.threshold}); "
                     f"'successive' columns: between the trained tickets of IMP levels L and L+1.\n",
                     markdown(table),
                     "![interpolation](interpolation.png)\n", "![barrier vs sparsity](barrier_vs_sparsity.png)\n"]
        if (curves.kind == "noise").any():
            plot_interpolation(curves, out / "interpolation.png", _config_order(curves[curves.kind == "noise"]),
                               split_words.split()[0])
        plot_barriers(barriers, p.threshold, out / "barrier_vs_sparsity.png", colors)
        found.append(stability_finding(barriers, p.threshold))

    rewind = _concat(inputs.get("rewind_search", []), "rewind_summary.csv")
    if not rewind.empty:
        write_csv(out / "rewind_search.csv", _concat(inputs.get("rewind_search", []), "rewind_search.csv"))
        write_csv(out / "rewind_summary.csv", rewind)
        sections += ["## First stable rewind point\n",
                     "Binary search over the candidate rewind points (assuming stability is monotone in them): the "
                     "earliest from which copies trained with different SGD noise have a mean barrier (eq. 3, on the "
                     f"{_split_words(rewind)}) below the threshold; 'none' when even the last candidate is unstable. "
                     "Level > 0 applies that level's mask to the dense run's weights at each candidate.\n",
                     markdown(rewind[["config", "level", "seeds", "pairs", "candidates", "evaluated", "first_stable",
                                      "first_stable_step"]])]

    probes = _concat(inputs.get("probes", []), "probes.csv")
    if not probes.empty:
        write_csv(out / "probes.csv", probes)
        probes = probes.sort_values(["network", "level"]).assign(
            network_level=probes.network + " L" + probes.level.astype(str) + " (" + (100 * probes.sparsity).round(2).astype(str) + "%)")
        sections += ["## Linear probes per block\n",
                     f"Test accuracy of a linear probe (channel-wise global pooling, {probes.probe_epochs.iloc[0]} epochs "
                     f"of Adam, lr {probes.probe_lr.iloc[0]:g}, wd {probes.probe_weight_decay.iloc[0]:g}) after "
                     "each block of the frozen untrained ticket (mask on rewind weights), the same weights under a "
                     "layerwise-permuted mask, a random dense network, and the trained ticket (ceiling).\n"]
        for config in _config_order(probes):
            table = pivot_mean(probes[probes.config == config], "network_level", "block", "test_accuracy")
            order = probes[probes.config == config].drop_duplicates("network_level").network_level.tolist()
            sections += [f"**{config}**\n", markdown(table.set_index("network_level").loc[order].reset_index())]
        plot_probes(probes, out / "probes.png", _config_order(probes))
        sections.append("![probes](probes.png)\n")

    few = results[results.experiment == "few_shot"]
    if len(few):
        write_csv(out / "few_shot.csv", few)
        few = few.sort_values(["config", "fraction"])
        few = few.assign(subset=few.config + " " + (100 * few.fraction).round(2).astype(str) + "% (" +
                         few.subset_size.astype(int).astype(str) + " examples)")
        sections += ["## Few-shot: training on class-balanced subsets\n",
                     f"Tickets (mask + rewind weights) and the dense network trained on {few.selection.iloc[0]} "
                     f"class-balanced subsets, for as many {few.budget_mode.iloc[0]} as full training.\n",
                     markdown(level_table(few, "subset", order=few.subset.drop_duplicates().tolist()))]
        plot_few_shot(few, out / "few_shot.png", colors)
        sections.append("![few-shot](few_shot.png)\n")

    transfer = _concat(inputs.get("transfer", []), "transfer.csv")
    if not transfer.empty:
        write_csv(out / "transfer.csv", transfer)
        table = transfer_table(transfer)
        write_csv(out / "transfer_table.csv", table)
        head = transfer[transfer.network != "retrained_dense"]["head_training"].dropna()
        sources = ", ".join(sorted(set(transfer.source)))
        scaled = sorted(set(transfer[transfer.resized.astype(bool)].target)) if "resized" in transfer.columns else []
        resized = (f" Images of {', '.join(scaled)} are resized to the source's input shape (bilinear; one channel "
                   f"repeated to three) and normalized with their own statistics." if scaled else "")
        sections += ["## Transfer of frozen tickets\n",
                     f"Transfer accuracy (003 §5.1, Table 6): the *untrained* ticket (its mask on its rewind weights), "
                     f"found on {sources}, frozen, with a new linear head for the target's classes trained on the "
                     f"target's training split ({head.iloc[0] if len(head) else 'new linear head'}, features "
                     f"standardized); cells are the target's test accuracy, mean ± std over seeds.{resized} Baselines as "
                     f"Table 6: the dense network trained on the source, frozen, with a new head (frozen dense*), and "
                     f"a dense network trained from scratch on the target (retrained dense*, the upper limit). Extra "
                     f"rows, not in Table 6: a random dense network's features, and the *trained* ticket frozen "
                     f"(what this report transferred before following the paper).\n",
                     markdown(table)]

    aimp = results[results.experiment.isin(["aimp"])]
    if len(aimp):
        reference = grid[grid.config.isin(aimp.config.unique()) & grid.level.isin(aimp.level.unique())
                         & grid.seed.isin(aimp.seed.unique())]
        both = pd.concat([reference.assign(network=reference.config + " full IMP"),
                          aimp.assign(network=aimp.config + " " + aimp.variant)])
        sections += ["## AIMP: mask search on a fraction of the training\n",
                     "Masks searched with the training budget (and LR schedule) scaled down, the tickets then "
                     "trained with the full budget; the reference is the grid's ticket (same seeds).\n",
                     markdown(level_table(both, "network"))]

    disentangle = results[results.experiment == "disentangle"]
    if len(disentangle):
        reference = grid[grid.level.isin(disentangle.level.unique()) & (grid.rewind == "0it")
                         & grid.seed.isin(disentangle.seed.unique())]
        reference = reference.assign(network="search_" + reference.training_config + "_train_" + reference.training_config)
        involved = set(disentangle.training_config) | set(disentangle.train_config)
        both = pd.concat([reference[reference.training_config.isin(involved)],
                          disentangle.assign(network=disentangle.variant)])
        sections += ["## Disentangling mask search from sparse training\n",
                     "Masks found with one configuration's hyperparameters, trained (from the same rewind weights) "
                     "with another's; the diagonal rows (search = train) are the grid's own tickets of the same seeds.\n",
                     markdown(level_table(both, "network"))]

    found.append(late_rewinding_finding(grid, p.verdict).replace("\n", " "))
    sections.insert(1, report_text.findings_section(found))
    text = "\n".join(sections)
    write_text(out / "report.md", text + "\n" + report_text.glossary(text))
    return {"rows": len(results), "flagged": int(len(flagged)),
            "winning_cells": int(long.winning.sum()) if len(long) else 0}


SPEC = ComponentSpec(
    name="StabilityReport",
    inputs={"searches": "Tickets*", "baselines": "Trained*?", "aimp": "Trained*?", "aimp_searches": "Tickets*?",
            "disentangle": "Trained*?", "dynamics": "Dynamics*?", "instability": "Instability*?",
            "rewind_search": "RewindSearch*?", "probes": "Probes*?", "few_shot": "FewShot*?", "transfer": "Transfer*?",
            "transfer_searches": "Tickets*?"},
    output="Report", params=StabilityReportParams, executor=execute,
    version=2)  # 2: findings, glossary, fixed colours, unreached sparsities shown as —
