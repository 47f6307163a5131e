"""The plateau check in every study's report: did the dense network of each configuration
finish training? (lth_tf/metrics/plateau.py defines it: the last 20% of training gained less
than 0.5 point of best-so-far validation accuracy.) A comparison between configurations of
which some are still improving is confounded by under-training, so the report shows the check
per configuration and names, in its findings, those that did not reach the plateau."""
from pathlib import Path
from typing import Iterable, Tuple

import pandas as pd

from components.reports import text as report_text
from components.artifacts.tickets import Tickets
from components.reports import section as S
from lth_tf.io import write_csv
from lth_tf.metrics.plateau import FRACTION, MIN_GAIN, plateau


def dense_runs(searches, label) -> Iterable[Tuple[str, int, Tickets]]:
    """(configuration, seed, search) for each search with a finished dense level, labelled by
    `label(Tickets)`; one per (configuration, seed), the first given (searches that differ only
    in what follows the dense network share its training)."""
    seen = set()
    for artifact in searches:
        tickets = Tickets.at(artifact.path)
        if 0 not in tickets.finished_levels():
            continue
        key = (label(tickets), int(tickets.params.seed))
        if key not in seen:
            seen.add(key)
            yield key + (tickets,)


def plateau_table(runs: Iterable[Tuple[str, int, Tickets]]) -> pd.DataFrame:
    """One row per configuration: best-so-far validation accuracy at 80% and 100% of the dense
    training and the gain (means over seeds), and whether every seed reached the plateau."""
    rows = []
    for config, seed, tickets in runs:
        history = tickets.history(0)
        if "val_accuracy" not in history or history["val_accuracy"].isna().all():
            continue  # trained without a validation split: nothing to judge the plateau on
        check = plateau(history.to_dict("records"), tickets.level_start_step(0))
        rows.append({"configuration": config, "seed": seed, "val_at_80": check.at_80, "val_at_100": check.at_end,
                     "gain": check.gain, "reached": check.reached})
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    table = frame.groupby("configuration", sort=False).agg(
        seeds=("seed", "size"), val_at_80=("val_at_80", "mean"), val_at_100=("val_at_100", "mean"),
        gain=("gain", "mean"), reached=("reached", "all")).reset_index()
    table["reached"] = table["reached"].map({True: "yes", False: "no"})
    return table


def plateau_section(runs, out: Path, what: str = "configuration") -> S.Section:
    """The report's section: the table (plateau.csv) and, in the findings, the configurations
    whose dense network did not reach its plateau. `what` names a configuration in prose."""
    runs = list(runs)
    table = plateau_table(runs)
    if table.empty:
        if not runs:
            return S.Section()
        return S.section("## Plateau check of the dense network, per configuration\n",
                         "Not checked: the dense networks were trained without a validation split, and the "
                         "plateau check reads the per-epoch validation accuracy.\n")
    write_csv(Path(out) / "plateau.csv", table)
    missed = list(table.loc[table.reached == "no", "configuration"])
    last, point = f"{100 * (1 - FRACTION):.0f}%", f"{100 * MIN_GAIN:g} point"
    if missed:
        finding = (f"The dense network of {report_text.plural(len(missed), what)} ({report_text.join(missed)}) did "
                   f"not reach its plateau (its last {last} of training gained {point} of validation accuracy or "
                   f"more): it was still improving when training stopped, so comparisons with it are confounded "
                   f"by under-training.")
    else:
        finding = (f"The dense network of every {what} reached its plateau (its last {last} of training gained "
                   f"less than {point} of validation accuracy).")
    return S.section("## Plateau check of the dense network, per configuration\n",
                     f"A dense network has reached its plateau when the last {last} of its training gained less "
                     f"than {point} of validation accuracy (the best so far; mean over seeds in the table, 'yes' "
                     f"only when every seed reached it). A {what} that did not is flagged in the findings.\n",
                     S.markdown(table.rename(columns={"val_at_80": "val. accuracy at 80%",
                                                      "val_at_100": "val. accuracy at 100%"})),
                     findings=[finding], plateau_missed=len(missed))
