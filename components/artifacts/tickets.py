"""Tickets: the artifact of a ticket search (MaskSearch, PracMaskSearch, SaliencyTickets).

Layout (each numbered directory one atomic unit, lth_tf.io):
  level_LL/   mask.npz, trained.npz, metrics.json, history.csv; rewind.npz (the
              weights the level rewinds to) in level_00/ only, stored once per search (or in
              each level where a search has no level 0, SaliencyTickets at initialization);
              saved_model/ + ticket.json for exported levels, whose trained weights are then
              stored once, in the SavedModel's variables, and no trained.npz (`load_trained`;
              units stored before this kept trained.npz beside it, which is read first)
  round_RR/   PracMaskSearch's pruning rounds (mask.npz, sets.npz, round.json, history.csv)
  results.csv one row per level, LEADING_COLUMNS first
  final_set_examples.npz  PracMaskSearch: the examples 001 Fig. 9 shows (outside / inside the
              final PrAC set: x as stored, y, index), drawn by the producer, which has the data

Lineage: `Tickets.params` is the search's dataset, model, training, pruning and seed as a
MaskSearchParams (what every ticket search shares). Facts the producer recorded in its summary
(`num_classes`, `steps_per_epoch`, `total_steps`, `train_examples`) spare readers a dataset load.

Why over 300 lines: this module is the one owner of the Tickets layout (issue 9), so its writers,
readers, lineage and the fallbacks for units stored by older versions stay side by side.
"""
from pathlib import Path

import pandas as pd

from components.artifacts.base import Artifact, from_description, from_list, level_name, stored_path, unit_name
from components.artifacts.tables import in_order
from lth_tf.errors import ConfigError
from lth_tf.io import MANIFEST, atomic_path, load_npz, read_json, save_npz, unit_is_complete, write_csv, write_json


# --- the layout, as plain functions of the artifact's directory (executors write into theirs) ---

def level_dir(root: Path, level: int) -> Path:
    return Path(root) / level_name(level)


def finished_levels(root: Path):
    return sorted(int(p.name[6:]) for p in Path(root).glob("level_[0-9][0-9]") if unit_is_complete(p))


def round_dir(root: Path, r: int) -> Path:
    return Path(root) / unit_name("round", r)


def round_done(root: Path, r: int) -> bool:
    return unit_is_complete(round_dir(root, r))


def load_rewind(root: Path, level: int = 0) -> dict:
    """The weights level `level` rewinds to: its own rewind.npz where it has one (artifacts
    without a level 0, such as SaliencyTickets, and those stored before rewind.npz was stored
    once), else the search's one in level_00/."""
    own = level_dir(root, level) / "rewind.npz"
    return load_npz(own if own.exists() else level_dir(root, 0) / "rewind.npz")


TRAINED, SAVED_MODEL = "trained.npz", "saved_model"


def load_trained(root: Path, level: int) -> dict:
    """A finished level's trained weights (a wrapping.get_state dict): its trained.npz, or at an
    exported level without one the SavedModel's variables (the same names and bit-identical
    values: `write_ticket` checked them before leaving trained.npz out). A damaged SavedModel
    raises UnreadableFile naming it."""
    unit = level_dir(root, level)
    if not (unit / TRAINED).exists() and (unit / SAVED_MODEL).is_dir():
        from lth_tf import exporting
        return exporting.saved_weights(unit / SAVED_MODEL)
    return load_npz(unit / TRAINED)


def load_ticket(root: Path, level: int) -> dict:
    """A finished level's mask, rewind and trained weights, and metrics."""
    from lth_tf.sparsity import masks as M
    unit = level_dir(root, level)
    return {"masks": M.load_masks(unit / "mask.npz"), "rewind": load_rewind(root, level),
            "trained": load_trained(root, level), "meta": read_json(unit / "metrics.json")}


def layer_sparsity(root: Path, level: int):
    """Per-layer sparsity of a level (layer, weights, kept, sparsity, and a 'total' row),
    computed from its mask.npz: derived data is not stored (units written before this stored
    it as sparsity.csv, with the same numbers)."""
    from lth_tf.sparsity import masks as M
    return pd.DataFrame(M.layer_report(M.load_masks(level_dir(root, level) / "mask.npz")))


def check_levels(levels, root: Path, what: str):
    """The requested levels (all finished ones when none are named); a ConfigError names the
    levels the artifact lacks."""
    available = finished_levels(root)
    levels = tuple(levels) or tuple(available)
    missing = sorted(set(levels) - set(available))
    if missing:
        raise ConfigError(f"{what} asks for levels {missing}, but the ticket artifact has levels {available}; "
                          f"raise PruningHparams.levels or drop them.")
    return levels


def search_params(tickets):
    """The parameters a Tickets artifact was searched with, as a MaskSearchParams (so baselines
    and analyses use the same data, model and pruning as the search)."""
    from components.artifacts.search_params import MaskSearchParams
    from lth_tf.data import DatasetHparams
    from lth_tf.models import ModelHparams
    from lth_tf.sparsity.hparams import PruningHparams
    from lth_tf.training import TrainingHparams
    params = tickets.metadata["parameters"]
    return MaskSearchParams(dataset=from_description(DatasetHparams, params["dataset"]),
                            model=from_description(ModelHparams, params["model"]),
                            training=from_description(TrainingHparams, params["training"]),
                            pruning=from_description(PruningHparams, params["pruning"]),
                            seed=params["seed"], export=params["export"],
                            # searches stored before export_levels existed exported every level
                            export_levels=from_list(params.get("export_levels", "all")))


# results.csv columns come in this order, then the rest sorted. A fixed order matters: finished
# rows come back from metrics.json (sorted keys) on resume, fresh ones in insertion order.
LEADING_COLUMNS = ("variant", "seed", "level", "sparsity", "val_accuracy", "test_accuracy", "train_steps")


def results_frame(rows) -> pd.DataFrame:
    """One row per network with a fixed column order, so a resumed execution writes the same
    results.csv as an uninterrupted one."""
    return in_order(rows, LEADING_COLUMNS)


def write_results(root: Path, rows) -> pd.DataFrame:
    """results.csv of a search: `results_frame` plus each level's unit directory."""
    frame = results_frame(rows)
    frame["artifact"] = [stored_path(level_dir(root, int(l))) for l in frame["level"]]
    write_csv(Path(root) / "results.csv", frame)
    return frame


def write_ticket(unit: Path, model, ds, masks, rewind_state, result, export: bool, metrics: dict) -> dict:
    """A ticket's atomic unit: mask, trained weights, the rewind weights (None: the level
    rewinds to level_00's), history, the deployable SavedModel (`export`), and metrics.json
    (with accuracies and sparsity added). The trained weights are stored once: in the
    SavedModel when it holds them bit for bit (`load_trained` reads them there), else in
    trained.npz."""
    from lth_tf.sparsity import masks as M
    from lth_tf.sparsity import wrapping
    from lth_tf.training import best_validation_metrics, evaluate
    metrics = {**metrics, "sparsity": M.sparsity(masks), "density": M.density(masks),
               "val_accuracy": evaluate(model, ds, ds.val)["accuracy"] if len(ds.val) else float("nan"),
               "test_accuracy": evaluate(model, ds, ds.test)["accuracy"],
               **best_validation_metrics(model, ds, result),
               "parameters": wrapping.count_parameters(model, masks)}
    with atomic_path(unit, is_dir=True) as tmp:
        M.save_masks(tmp / "mask.npz", masks)
        if rewind_state is not None:
            save_npz(tmp / "rewind.npz", rewind_state)
        write_csv(tmp / "history.csv", pd.DataFrame(result.history))
        state = wrapping.get_state(model)
        if not (export and _exported_state_is(tmp, export_in_unit(model, ds, tmp, masks, metrics, unit), state)):
            save_npz(tmp / TRAINED, state)
        write_json(tmp / "metrics.json", metrics)
    return metrics


def _exported_state_is(tmp: Path, saved_model: Path, state: dict) -> bool:
    """Whether the SavedModel just written holds exactly `state` (same names, dtypes, shapes
    and bits, so -0.0 and NaN count), which makes a trained.npz beside it a copy."""
    import numpy as np
    from lth_tf import exporting
    saved = exporting.saved_weights(saved_model)
    return saved.keys() == state.keys() and all(
        saved[k].dtype == np.asarray(v).dtype and saved[k].shape == np.shape(v)
        and saved[k].tobytes() == np.asarray(v).tobytes() for k, v in state.items())


def export_in_unit(model, ds, tmp: Path, masks, metrics: dict, unit: Path) -> Path:
    """The deployable SavedModel (raw inputs, named signature) and ticket.json of a trained
    network, written into the unit being written (`tmp`, renamed to `unit` when complete);
    returns the SavedModel's path. The unit's manifest lists its files, so the SavedModel's
    own (atomic_path's, for a standalone export) is left out: it would be a copy, and a disk
    block per export."""
    from lth_tf import exporting
    parts = unit.parts
    where = "/".join(parts[len(parts) - 1 - parts[::-1].index("artifacts"):]) if "artifacts" in parts else str(unit)
    source = {"unit": where, **{k: metrics[k] for k in ("variant", "seed", "level", "sparsity", "val_accuracy",
                                                        "test_accuracy", "train_steps") if k in metrics}}
    path = exporting.export(model, tmp, "saved_model", masks=masks, dataset=ds.name, source=source,
                            probabilities_out=False, **exporting.dataset_facts(ds))
    (path / MANIFEST).unlink(missing_ok=True)
    return path


FINAL_EXAMPLES = "final_set_examples.npz"


def write_final_examples(root: Path, split, selected, seed: int, count: int = 6):
    """The examples of 001 Fig. 9 (`count` outside and inside the final set `selected`, drawn by
    `seed`), recorded by the search so its report need not reload the dataset; a streamed split
    reads only these examples (lth_tf.data.sample)."""
    from lth_tf.data import sample
    from lth_tf.metrics.prac import final_set_positions
    arrays = {"count": count, "seed": seed}
    for name, pick in final_set_positions(split.index, selected, count, seed).items():
        x, y, index = sample.examples(split, pick)
        arrays.update({f"{name}_x": x, f"{name}_y": y, f"{name}_index": index})
    save_npz(Path(root) / FINAL_EXAMPLES, arrays)


def search_facts(ds, spe: int, total: int, rewind_step: int, split_size: int) -> dict:
    """The facts a ticket search records in its summary for readers (Tickets properties)."""
    return {"num_classes": int(ds.num_classes), "train_examples": int(split_size), "steps_per_epoch": int(spe),
            "total_steps": int(total), "rewind_step": int(rewind_step)}


class Tickets(Artifact):
    TYPE = "Tickets"

    # layout
    def level_dir(self, level: int) -> Path:
        return level_dir(self.path, level)

    def finished_levels(self):
        return finished_levels(self.path)

    def check_levels(self, levels, what: str):
        return check_levels(levels, self.path, what)

    def layer_sparsity(self, level: int):
        return layer_sparsity(self.path, level)

    def round_dir(self, r: int) -> Path:
        return round_dir(self.path, r)

    def round_done(self, r: int) -> bool:
        return round_done(self.path, r)

    # payload
    def load(self, level: int) -> dict:
        """{'masks', 'rewind', 'trained', 'meta'} of a finished level."""
        return load_ticket(self.path, level)

    def final_examples(self, count: int = 6, seed: int = 0):
        """{'outside': (x, y, index), 'inside': (...)} as `write_final_examples` recorded them for
        this `count` and `seed`; None when the artifact has none (or drew another sample)."""
        path = Path(self.path) / FINAL_EXAMPLES
        if not path.exists():
            return None
        arrays = load_npz(path)
        if (int(arrays["count"]), int(arrays["seed"])) != (count, seed):
            return None
        return {name: (arrays[f"{name}_x"], arrays[f"{name}_y"], arrays[f"{name}_index"]) for name in ("outside", "inside")}

    def trained(self, level: int) -> dict:
        """A finished level's trained weights (`load_trained`)."""
        return load_trained(self.path, level)

    def rewind(self, level: int = 0) -> dict:
        return load_rewind(self.path, level)

    def level_metrics(self, level: int) -> dict:
        return read_json(self.level_dir(level) / "metrics.json")

    def history(self, level: int = 0) -> pd.DataFrame:
        """A finished level's per-epoch history rows (TrainResult.history: epoch, step, lr,
        train_*, val_*)."""
        return pd.read_csv(self.level_dir(level) / "history.csv")

    def level_start_step(self, level: int = 0) -> int:
        """The step a finished level's training started from: its last epoch's step minus the
        steps it trained (metrics.json `own_steps`; 0 when a level stored before lacks it)."""
        metrics = self.level_metrics(level)
        if "own_steps" not in metrics:
            return 0
        return int(self.history(level)["step"].iloc[-1]) - int(metrics["own_steps"])

    def results(self) -> pd.DataFrame:
        return pd.read_csv(Path(self.path) / "results.csv")

    # lineage
    @property
    def params(self):
        """The search's MaskSearchParams (dataset, model, training, pruning, seed, export)."""
        return search_params(self)

    # facts the producer recorded (derived for searches stored before: from the dataset, the
    # training subset's Indices artifact and the levels' metrics, or a ConfigError naming --force)
    def _fact(self, name: str) -> int:
        summary = self.summary
        if name in summary:
            return int(summary[name])
        if name == "rewind_step":
            return self._old_rewind_step()
        from lth_tf.data import load_dataset, steps_per_epoch
        p = self.params
        if name == "num_classes":
            return int(load_dataset(p.dataset).num_classes)
        examples = self._old_train_examples()
        if name == "train_examples":
            return examples
        spe = steps_per_epoch(examples, p.training.batch_size)
        return int({"steps_per_epoch": spe, "total_steps": p.training.total_steps(spe)}[name])

    def _stale(self, fact: str, why: str) -> ConfigError:
        return ConfigError(f"The ticket search {self.path} was stored before it recorded `{fact}` in its "
                           f"artifact.json summary, and {why}. Rerun the study with --force to recompute it (or "
                           f"delete that directory: the next run recomputes only what is missing).")

    def _old_rewind_step(self) -> int:
        """The step the levels rewind to, from the first finished level's metrics.json."""
        for level in self.finished_levels():
            metrics = self.level_metrics(level)
            if "rewind_step" in metrics:
                return int(metrics["rewind_step"])
        raise self._stale("rewind_step", "none of its finished levels' metrics.json records it")

    def _old_train_examples(self) -> int:
        """The size of the split the search trained on: its training subset's (an Indices input),
        else the whole training split (label noise keeps the size)."""
        subset = self.input_path("train_indices")
        if subset is None:
            from lth_tf.data import load_dataset
            return len(load_dataset(self.params.dataset).train)
        from components.artifacts.examples import Indices
        if not (Path(subset) / "artifact.json").exists():
            raise self._stale("train_examples", f"the training subset it searched on ({subset}) is gone")
        indices = Indices.at(subset)
        return indices.size if "size" in indices.summary else len(indices.indices())

    @property
    def num_classes(self) -> int:
        return self._fact("num_classes")

    @property
    def train_examples(self) -> int:
        """The size of the split the search trained on."""
        return self._fact("train_examples")

    @property
    def steps_per_epoch(self) -> int:
        return self._fact("steps_per_epoch")

    @property
    def total_steps(self) -> int:
        """The training budget of one network of the search, in steps."""
        return self._fact("total_steps")

    @property
    def rewind_step(self) -> int:
        return self._fact("rewind_step")

    @property
    def train_steps(self) -> int:
        """Cost ledger: every training step the search spent (upstream work, the dense network
        and every level's retraining; PrAC rounds and proxies included where recorded)."""
        if "train_steps" in self.summary:
            return int(self.summary["train_steps"])
        frame = self.results()
        return int((frame["train_steps"] - frame["own_steps"]).min() + frame["own_steps"].sum())
