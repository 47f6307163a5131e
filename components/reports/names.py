"""The variant names the reports know: the baselines each report judges tickets against and the
names it prints. One place, so a baselines registry can re-point them.

- `rr_of(ticket)` / `small_dense_of(ticket)`: the generic report's baselines of an `lt_*` ticket
  (random reinitialization and small-dense, 002 condition ③).
- `PRAC_BASELINES`: the PrAC study's reference variants (not PrAC-family variants, so no saving
  is computed for them).
- `SANITY_SWEEP_ORDER` / `SANITY_LABELS`: the sanity study's tickets and baselines, in the
  order its tables print them, and the paper's names for them (002).
"""
from lth_tf.sparsity import baselines


def rr_of(ticket: str) -> str:
    """'lt_imp' -> 'rr_imp': the ticket's mask on a fresh initialization (the baselines
    registry names the row, lth_tf/sparsity/baselines.py)."""
    return baselines.row_for_ticket("rr", ticket)


def small_dense_of(ticket: str) -> str:
    """The small-dense network a ticket is judged against (its rewound variant for WR tickets)."""
    return baselines.row_for_ticket("small_dense", ticket)


PRAC_BASELINES = ("dense", "lt_imp", "random_pruning", "random_ticket", "snip", "grasp", "synflow",
                  "lt_imp_other_order", "dense_other_order")

SANITY_LABELS = {"dense": "dense", "lt_imp": "LT-IMP", "lt_omp": "LT-OMP", "lt_imp_rewind": "WR-IMP",
                 "lt_omp_rewind": "WR-OMP", "rr_imp": "RR-IMP", "rr_omp": "RR-OMP", "rr_imp_rewind": "RR-WR-IMP",
                 "rr_omp_rewind": "RR-WR-OMP", "small_dense": "SD", "dense_well_trained": "dense (well-trained)",
                 "dense_well_trained_2T": "dense (well-trained, 2T)", "tuning_trial": "tuner trial"}
SANITY_SWEEP_ORDER = ("lt_imp", "lt_omp", "lt_imp_rewind", "lt_omp_rewind", "rr_imp", "rr_omp", "rr_imp_rewind",
                      "rr_omp_rewind", "small_dense")


def sanity_label(variant: str) -> str:
    return SANITY_LABELS.get(variant, variant)
