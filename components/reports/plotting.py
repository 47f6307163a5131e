"""Shared plotting for every report: one 'weights remaining' axis, one colour per configuration.

- `remaining_axis(ax, remaining)`: the x axis of every accuracy / barrier / similarity plot:
  weights remaining in %, log scale, dense on the left, ticks at the reached sparsities with
  plain labels (100, 33, 11, 3.6, 1.2), never 10⁰ / 10¹.
- `label_colors(labels)`: a deterministic label → colour mapping, built once per report from
  every label the report draws, and passed to all its plots, so a configuration has the same
  colour in each of them. The dense network is always black.
- `level_colors(values)`: a sequential colour per level / round / learning rate (viridis, densest
  or smallest dark, never pale yellow), so an ordered quantity is never mistaken for a
  configuration.
- `VARIANT_STYLES`: the sanity study's fixed (colour, line style, marker) per variant: a ticket
  and its random reinitialization share a colour (solid vs. dotted).
- `log_axis(ax, values, fmt)`: any other log-scaled x axis (learning rates, data fractions) with
  ticks at exactly `values`, labelled `fmt(value)`.
- `save(fig, path)`: tight layout, PNG, figure closed.

No other module sets a log scale, a colour map or a per-configuration colour by hand.
"""
from pathlib import Path
from typing import Dict, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from lth_tf.io import save_png  # noqa: E402

DENSE_COLOR = "black"
# tab10 first (the most distinguishable), then the darker half of tab20 and Dark2.
PALETTE = tuple(plt.get_cmap("tab10").colors) + tuple(plt.get_cmap("tab20").colors[1::2]) + \
    tuple(plt.get_cmap("Dark2").colors)
MAX_TICKS = 8


def label_colors(labels: Iterable) -> Dict[str, tuple]:
    """{label: colour}: labels sorted (as strings) take the palette in order; labels that start
    with 'dense' are black. The same set of labels always gives the same mapping, whatever
    order they are met in."""
    labels = sorted({str(l) for l in labels})
    others = [l for l in labels if not l.startswith("dense")]
    colors = {l: PALETTE[i % len(PALETTE)] for i, l in enumerate(others)}
    colors.update({l: DENSE_COLOR for l in labels if l.startswith("dense")})
    return colors


def level_colors(values, top: float = 0.85) -> Dict:
    """{value: colour} along viridis from 0 to `top` in sorted order (`top` < 1 avoids the pale
    yellow end)."""
    values = sorted(values)
    cmap = plt.get_cmap("viridis")
    return {v: cmap(top * i / max(1, len(values) - 1)) for i, v in enumerate(values)}


VARIANT_STYLES = {"lt_imp": ("tab:red", "-", "o"), "lt_omp": ("tab:blue", "-", "s"),
                  "lt_imp_rewind": ("tab:orange", "-", "^"), "lt_omp_rewind": ("tab:cyan", "-", "v"),
                  "rr_imp": ("tab:red", ":", "o"), "rr_omp": ("tab:blue", ":", "s"),
                  "rr_imp_rewind": ("tab:orange", ":", "^"), "rr_omp_rewind": ("tab:cyan", ":", "v"),
                  "small_dense": ("tab:green", "--", "D")}


def percent_label(value: float) -> str:
    """A weights-remaining percentage as a tick label: 100, 33, 11, 3.6, 1.2, 0.46."""
    if value >= 9.95:
        return f"{value:.0f}"
    return f"{value:.2g}"


def remaining_ticks(remaining) -> list:
    """At most MAX_TICKS of the reached weights-remaining values (%), evenly spread in log space,
    the densest and the sparsest always included."""
    values = sorted({float(f"{v:.3g}") for v in np.asarray(list(remaining), float) if v > 0}, reverse=True)
    if len(values) <= MAX_TICKS:
        return values
    picks = np.unique(np.round(np.linspace(0, len(values) - 1, MAX_TICKS)).astype(int))
    return [values[i] for i in picks]


def remaining_axis(ax, remaining=None, label: str = "weights remaining (%)"):
    """Log-scaled weights remaining (%), decreasing to the right. `remaining`: the reached values
    (%), which become the ticks; without them, ticks at 100, 50, 20, 10, 5, 2, 1, ..."""
    ax.set_xscale("log")
    ticks = remaining_ticks(remaining) if remaining is not None else []
    if ticks:
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
        ax.set_xlim(max(ticks) * 1.15, min(ticks) / 1.15)
    else:
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([100, 50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1]))
        ax.invert_xaxis()
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: percent_label(v)))
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel(label)
    ax.grid(True, which="major", alpha=0.3)


def log_axis(ax, values, fmt=lambda v: f"{v:g}"):
    """Log-scaled x axis with ticks at `values` (none when empty), labelled `fmt(value)`, no
    minor ticks."""
    ax.set_xscale("log")
    values = sorted(values)
    if values:
        ax.set_xticks(values, [fmt(v) for v in values])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def remaining_of(sparsity) -> np.ndarray:
    """Weights remaining in % from sparsities (fractions of pruned weights)."""
    return 100.0 * (1.0 - np.asarray(sparsity, float))


def save(fig, path: Path, dpi: int = 110, rect=(0, 0, 1, 1)):
    """`rect`: the part of the figure tight_layout fills (leave room for a figure legend)."""
    fig.tight_layout(rect=rect)
    save_png(fig, path, dpi=dpi)
    plt.close(fig)
