"""Typed artifacts: one class per artifact type the runner produces, owning its directory layout,
the reading and writing of its payload, its lineage (typed parameters) and its cost ledger
(`train_steps`). Not a component: components import it, never the other way round.

`TYPES` maps an artifact type (a ComponentSpec's `output`) to its class; `typed(type, path,
fingerprint)` is what the runner builds, so executors receive these objects.
"""
from components.artifacts.base import Artifact, from_description, level_name, train_steps, unit_name  # noqa: F401
from components.artifacts.examples import Indices, Labels, training_split  # noqa: F401
from components.artifacts.scores import Scores  # noqa: F401
from components.artifacts.tables import Dynamics, Table, Trained, Tuning  # noqa: F401
from components.artifacts.tickets import Tickets  # noqa: F401
from components.artifacts.weights import Weights  # noqa: F401

TYPES = {cls.TYPE: cls for cls in (Tickets, Indices, Labels, Scores, Weights, Trained, Tuning, Dynamics)}
# Artifacts read as tables only.
TYPES.update({name: Table for name in ("Analysis", "Probes", "Transfer", "Instability", "RewindSearch", "FewShot",
                                       "Table", "Report")})


def typed(type_: str, path, fingerprint: str) -> Artifact:
    """The artifact of type `type_` as its class (the base Artifact for a type not listed, such
    as a test's own component)."""
    return TYPES.get(type_, Artifact)(type_, path, fingerprint)
