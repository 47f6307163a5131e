"""WeightCorrelation: the correlation indicator R_p (002 Appendix G) of a search's networks and
their random reinitializations -> a Table artifact (correlation.csv).

For a Tickets artifact (MaskSearch) and, optionally, SparseTraining artifacts trained on it:
- dense (level 0): R_p(θ_0, θ_T), the rewind weights (θ_0 when the search rewinds to init, θ_t
  for late rewinding: then the row's rewind_step is t) against the trained dense weights;
- ticket (level L >= 1): R_p(θ_0 ⊙ m, θ_T ⊙ m), over the remaining weights of the mask m;
- rr (level L, from a SparseTraining 'rr' unit): R_p(θ'_0 ⊙ m, θ'_T ⊙ m), the fresh draw and
  the trained RR network.
R_p is taken over the prunable kernels (the layers masks cover), p relative to each layer's
remaining weights (lth_tf/metrics/correlation.py).

The RR network's final weights θ'_T are its trained weights (`Trained.load`); θ'_0 is redrawn
with the initialization seed SparseTraining drew it from (`lth_tf.lottery.reinit_seed`;
tests/test_sanity_pipeline.py checks that the redraw retrains to θ'_T bit for bit).
"""
import dataclasses
from pathlib import Path
from typing import Tuple

import gin
import pandas as pd

from components import ComponentSpec
from lth_tf import networks
from lth_tf.data import load_dataset
from lth_tf.errors import ConfigError
from lth_tf.io import write_csv
from lth_tf.lottery import reinit_seed
from lth_tf.lottery.levels import kernels
from lth_tf.metrics.correlation import check_fraction, correlation_curve
from lth_tf.sparsity import wrapping

DEFAULT_PS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class CorrelationParams:
    ps: Tuple[float, ...] = DEFAULT_PS
    levels: Tuple[int, ...] = ()  # () = every finished level (0 = the dense network)

    def __post_init__(self):
        if not self.ps:
            raise ConfigError("CorrelationParams.ps is empty: give the fractions p of R_p, e.g. (0.1, 0.5, 0.9).")
        ps = tuple(sorted({check_fraction(p, "CorrelationParams.ps entry") for p in self.ps}))
        object.__setattr__(self, "ps", ps)
        object.__setattr__(self, "levels", tuple(int(l) for l in self.levels))


def rr_weights(trained, search, level: int, model, ds):
    """(θ'_0, θ'_T, unit) of the RR network of level `level` in the Trained artifact `trained`:
    θ'_0 redrawn as SparseTraining drew it, θ'_T its trained weights (kernels by layer name)."""
    unit = trained.load("rr", level)
    fresh = networks.build_network(search.model, ds.input_shape, ds.num_classes, reinit_seed(trained.seed, level),
                                   search.pruning.prunable())
    wrapping.set_masks(fresh, unit["masks"])
    return kernels(wrapping.get_state(fresh), fresh), kernels(unit["trained"], model), unit


def execute(p: CorrelationParams, inputs, out: Path, ctx):
    tickets = inputs["tickets"]
    search = tickets.params
    ds = load_dataset(search.dataset)
    model = networks.build_network(search.model, ds.input_shape, ds.num_classes, search.seed, search.pruning.prunable())
    levels = tickets.check_levels(p.levels, "CorrelationParams.levels")
    common = {"search_seed": search.seed, "method": search.pruning.method, "lr": search.training.lr,
              "weight_decay": search.training.weight_decay, "model": search.model.name, "dataset": search.dataset.name}
    rows = []

    def add(network, variant, level, seed, meta, curve):
        for q, value in curve.items():
            rows.append({"network": network, "variant": variant, "level": level, "seed": seed,
                         "sparsity": meta["sparsity"], "rewind_step": meta["rewind_step"], "p": q, "R_p": value,
                         **common})

    for level in levels:
        ticket = tickets.load(level)
        meta = ticket["meta"]
        theta_0, theta_T = kernels(ticket["rewind"], model), kernels(ticket["trained"], model)
        masks = ticket["masks"] if level > 0 else None
        add("dense" if level == 0 else "ticket", meta["variant"], level, search.seed, meta,
            correlation_curve(theta_0, theta_T, p.ps, masks))
    for trained in inputs.get("baselines", []):
        for level in trained.levels("rr"):
            if level not in levels:
                continue
            theta_0, theta_T, unit = rr_weights(trained, search, level, model, ds)
            add("rr", unit["meta"]["variant"], level, trained.seed, {**unit["meta"], "rewind_step": 0},
                correlation_curve(theta_0, theta_T, p.ps, unit["masks"]))
    frame = pd.DataFrame(rows)
    write_csv(out / "correlation.csv", frame)
    return {"rows": len(frame), "networks": int(frame.groupby(["network", "level", "seed"]).ngroups) if len(frame) else 0}


SPEC = ComponentSpec(name="WeightCorrelation", inputs={"tickets": "Tickets", "baselines": "Trained*?"},
                     output="Table", params=CorrelationParams, executor=execute)
