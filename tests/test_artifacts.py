"""Typed artifacts (components.artifacts): the registry covers every component's output type,
the Tickets layout, lineage round trips (parameters -> artifact.json -> typed parameters), the
recorded facts and the cost ledger."""
import ast
import dataclasses
import re
import shutil
from pathlib import Path

import lth_tf  # noqa: F401  (first: it sets TF_USE_LEGACY_KERAS)
import numpy as np
import pandas as pd
import pytest

from components.artifacts import TYPES, Artifact, Indices, Labels, Tickets, Trained, level_name, train_steps, typed
from components.artifacts.tickets import results_frame, write_results
from components.mask_search import MaskSearchParams
from lth_tf.data import DatasetHparams
from lth_tf.errors import ConfigError
from lth_tf.io import atomic_path, write_json
from lth_tf.models import ModelHparams
from lth_tf.sparsity.hparams import PruningHparams
from lth_tf.training import TrainingHparams
from pipelines.runner import _describe

REPO = Path(__file__).resolve().parents[1]
SEARCH = MaskSearchParams(DatasetHparams("digits", val_fraction=0.2), ModelHparams("lenet_300_100", width=0.5),
                          TrainingHparams(budget="3ep", momentum=0.5, batch_size=32, milestones=("1ep",)),
                          PruningHparams(levels=3, fraction=0.5, rewind="2it"), seed=7, export=False,
                          export_levels=(0, 3))


def _store(root: Path, component: str, type_: str, params, summary: dict) -> Path:
    """An artifact directory as the runner writes it (only what the typed classes read)."""
    path = root / "artifacts" / component / "x"
    path.mkdir(parents=True)
    write_json(path / "artifact.json", {"type": type_, "producer": component, "parameters": _describe(params),
                                        "inputs": {}, "summary": summary, "files": {}})
    return path


def test_every_output_type_has_a_class():
    outputs = set()
    for source in sorted((REPO / "components").glob("*.py")):
        outputs |= set(re.findall(r'output="(\w+)"', source.read_text()))
    assert {"Tickets", "Indices", "Labels", "Scores", "Weights", "Trained", "Tuning"} <= outputs
    assert outputs <= set(TYPES), sorted(outputs - set(TYPES))
    assert type(typed("Tickets", "p", "fp")) is Tickets and type(typed("Labels", "p", "fp")) is Labels
    other = typed("Count", "p", "fp")  # a type no class stands for (a test's own component)
    assert type(other) is Artifact and other == Artifact("Count", "p", "fp")


def test_tickets_layout(tmp_path):
    tickets = Tickets.at(tmp_path)
    assert tickets.type == "Tickets" and tickets.level_dir(3) == tmp_path / "level_03" == tmp_path / level_name(3)
    assert tickets.round_dir(2) == tmp_path / "round_02"
    for level in (0, 1, 2):
        with atomic_path(tickets.level_dir(level), is_dir=True) as tmp:
            np.savez(tmp / "weights.npz", a=np.arange(3) + level)
            write_json(tmp / "metrics.json", {"level": level, "rewind_step": 2})
    tickets.level_dir(3).mkdir()  # unfinished: no manifest
    (tmp_path / "level_1x").mkdir()  # not a level
    assert tickets.finished_levels() == [0, 1, 2]
    assert tickets.check_levels((), "X.levels") == (0, 1, 2) and tickets.check_levels((2,), "X.levels") == (2,)
    with pytest.raises(ConfigError, match=r"X.levels asks for levels \[3\]"):
        tickets.check_levels((1, 3), "X.levels")
    assert tickets.level_metrics(1) == {"level": 1, "rewind_step": 2}
    assert Trained.unit_dir(tmp_path, "rr", 5) == tmp_path / "rr" / "level_05"


def test_results_keep_their_column_order_and_unit_paths(tmp_path):
    rows = [{"zeta": 1, "level": 0, "variant": "dense", "sparsity": 0.0}, {"zeta": 2, "level": 1, "variant": "lt",
                                                                           "sparsity": 0.5}]
    assert list(results_frame(rows).columns) == ["variant", "level", "sparsity", "zeta"]
    root = tmp_path / "artifacts" / "MaskSearch" / "lt-0123abcd"
    root.mkdir(parents=True)
    frame = write_results(root, rows)  # unit paths relative to the output directory (tmp_path)
    assert frame["artifact"].tolist() == ["artifacts/MaskSearch/lt-0123abcd/level_00",
                                          "artifacts/MaskSearch/lt-0123abcd/level_01"]
    pd.testing.assert_frame_equal(pd.read_csv(root / "results.csv"), frame)


def test_tickets_lineage_round_trip(tmp_path):
    path = _store(tmp_path, "MaskSearch", "Tickets", SEARCH, {})
    assert Tickets.at(path).params == SEARCH
    # Any ticket search's shared parameters read back the same (PracMaskSearch has more of its own).
    from components.prac.search import PracSearchParams
    prac = PracSearchParams(SEARCH.dataset, SEARCH.model, SEARCH.training, SEARCH.pruning, seed=7, export=False)
    lineage = Tickets.at(_store(tmp_path / "prac", "PracMaskSearch", "Tickets", prac, {})).params
    assert (lineage.dataset, lineage.model, lineage.training, lineage.pruning, lineage.seed) == \
           (SEARCH.dataset, SEARCH.model, SEARCH.training, SEARCH.pruning, 7)


def test_recorded_facts_and_their_fallback(tmp_path):
    from lth_tf.data import load_dataset, steps_per_epoch
    recorded = Tickets.at(_store(tmp_path / "a", "MaskSearch", "Tickets", SEARCH, {
        "num_classes": 3, "train_examples": 99, "steps_per_epoch": 4, "total_steps": 12, "rewind_step": 2}))
    assert (recorded.num_classes, recorded.train_examples, recorded.steps_per_epoch, recorded.total_steps,
            recorded.rewind_step) == (3, 99, 4, 12, 2)
    # A search stored before the facts were recorded: the same facts, from the dataset.
    old = Tickets.at(_store(tmp_path / "b", "MaskSearch", "Tickets", SEARCH, {}))
    ds = load_dataset(SEARCH.dataset)
    spe = steps_per_epoch(len(ds.train), 32)
    assert (old.num_classes, old.train_examples, old.steps_per_epoch, old.total_steps) == \
           (10, len(ds.train), spe, 3 * spe)


def test_cost_ledger(tmp_path):
    scores = typed("Scores", _store(tmp_path / "s", "DataScoring", "Scores", {}, {"train_steps": 40}), "")
    subset = typed("Indices", _store(tmp_path / "i", "SubsetSlimming", "Indices", {}, {"train_steps": 40, "size": 5}),
                   "")
    labels = typed("Labels", _store(tmp_path / "l", "LabelNoise", "Labels", {}, {"train_steps": 0, "noise": 0.1}), "")
    assert isinstance(subset, Indices) and subset.size == 5 and labels.noise == 0.1
    assert train_steps(scores, None, [subset, labels]) == 80 and train_steps() == 0
    # Tickets: the summary's ledger, else every level's own training plus what came before the search.
    tickets = Tickets.at(_store(tmp_path / "t", "MaskSearch", "Tickets", SEARCH, {}))
    pd.DataFrame({"level": [0, 1, 2], "train_steps": [30, 55, 80], "own_steps": [20, 25, 25]}).to_csv(
        tickets.path / "results.csv", index=False)
    assert tickets.train_steps == 10 + 20 + 25 + 25
    recorded = Tickets.at(_store(tmp_path / "u", "MaskSearch", "Tickets", SEARCH, {"train_steps": 123}))
    assert recorded.train_steps == 123


def test_no_component_module_imports_in_a_cycle():
    """Module-level imports among components/ form no cycle (an import inside a function is not
    followed: it runs after every module is loaded)."""
    graph = {}
    for source in sorted((REPO / "components").rglob("*.py")):
        name = ".".join(source.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        deps = set()
        for node in ast.parse(source.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("components"):
                deps |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("components")}
        graph[name] = deps
    graph = {k: {d for d in v if d in graph and d != k} for k, v in graph.items()}
    state = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", f"import cycle: {' -> '.join(trail + [node])}"
        state[node] = "open"
        for dep in sorted(graph[node]):
            visit(dep, trail + [node])
        state[node] = "done"

    for module in sorted(graph):
        visit(module, [])
    assert "components.subset_slimming" not in graph["components.data_scoring"]
    assert "components.data_scoring" not in graph["components.subset_slimming"]
    assert "components.prac.search" not in graph["components.prac.saliency"]


def test_no_component_imports_another_components_private_helpers():
    for source in sorted((REPO / "components").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("components"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{source.name} imports {private} from {node.module}"


def test_old_searches_derive_rewind_step_and_subset_size_or_say_rerun(tmp_path):
    from lth_tf.data import steps_per_epoch
    # rewind_step: from the first finished level's metrics.json that records it
    old = Tickets.at(_store(tmp_path / "a", "MaskSearch", "Tickets", SEARCH, {"num_classes": 10}))
    with pytest.raises(ConfigError, match="rewind_step.*--force"):
        old.rewind_step  # noqa: B018  (no finished level)
    for level, metrics in ((0, {"level": 0}), (1, {"level": 1, "rewind_step": 2})):
        with atomic_path(old.level_dir(level), is_dir=True) as tmp:
            write_json(tmp / "metrics.json", metrics)
    assert old.rewind_step == 2
    # train_examples of a search on a training subset: the subset's size, not the split's
    subset = _store(tmp_path / "b", "SubsetSlimming", "Indices", {}, {"size": 40})
    search = tmp_path / "b" / "artifacts" / "MaskSearch" / "y"
    search.mkdir(parents=True)
    write_json(search / "artifact.json", {"type": "Tickets", "producer": "MaskSearch", "parameters": _describe(SEARCH),
                                          "inputs": {"train_indices": str(subset.relative_to(tmp_path / "b"))},
                                          "summary": {}, "files": {}})
    on_subset = Tickets.at(search)
    assert (on_subset.train_examples, on_subset.steps_per_epoch, on_subset.total_steps) == \
           (40, steps_per_epoch(40, 32), 3 * steps_per_epoch(40, 32))
    shutil.rmtree(subset)  # the subset's artifact was removed (lth-tf gc of another run)
    with pytest.raises(ConfigError, match="train_examples.*--force"):
        on_subset.train_examples  # noqa: B018


def test_reports_read_the_facts_the_search_recorded(tmp_path):
    """The stability report's AIMP label and class count come from the searches' summaries: a
    dataset that cannot load (not prepared) is never loaded."""
    from components.reports.stability.gather import _num_classes, aimp_label
    unloadable = MaskSearchParams(DatasetHparams("cifar10", data_dir=str(tmp_path / "none")), SEARCH.model,
                                  dataclasses.replace(SEARCH.training, budget="1ep"), SEARCH.pruning, seed=7)
    tickets = Tickets.at(_store(tmp_path, "MaskSearch", "Tickets", unloadable, {
        "num_classes": 10, "train_examples": 320, "steps_per_epoch": 10, "total_steps": 10, "rewind_step": 0}))
    assert _num_classes(tickets) == 10
    assert aimp_label(tickets, dataclasses.replace(SEARCH.training, budget="4ep")) == "aimp25"
    with pytest.raises(ConfigError, match="not prepared"):
        Tickets.at(_store(tmp_path / "old", "MaskSearch", "Tickets", unloadable, {})).num_classes  # noqa: B018
