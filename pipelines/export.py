"""`lth-tf export`: one level's trained ticket of a study's run, as a deployable model
(lth_tf/exporting.py builds and writes it). The run's MaskSearch artifact is found by a part of
its name, label or fingerprint (by default the study's main grid: `find_search`), its files are
verified by their checksums before anything is read, and its network is rebuilt from the
artifact's own parameters."""
from pathlib import Path
from typing import Optional

from components.artifacts.tickets import check_levels, load_ticket, search_params
from components import Artifact
from lth_tf import networks
from lth_tf.data import load_dataset
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.exporting import FORMATS, dataset_facts, export, paths
from lth_tf.io import damaged_files, read_json
from lth_tf.sparsity import wrapping


def find_search(run_dir, search: Optional[str] = None) -> Path:
    """The finished MaskSearch artifact of `run_dir` whose directory name, label or fingerprint
    contains `search`. Without `search`, the run's only search, else the study's main grid: the
    searches stored with `export` on (MaskSearchParams.export: a grid's searches export the
    levels the report shows; the searches an analysis runs for itself, transfer's and AIMP's, do
    not, and are exported by naming them). Several or none: a ConfigError listing them with the
    parameters that tell them apart."""
    root = Path(run_dir) / "artifacts" / "MaskSearch"
    found = {p.parent: read_json(p) for p in sorted(root.glob("*/artifact.json"))}
    if not found:
        raise ConfigError(f"No finished MaskSearch artifact in {str(root)!r}: pass the output directory of a run "
                          f"(the one holding artifacts/) whose searches finished.")
    matches = [p for p, meta in found.items()
               if search is None or any(search in s for s in (p.name, meta.get("label") or "", meta["fingerprint"]))]
    grid = [p for p in matches if found[p]["parameters"].get("export", True)]
    if len(matches) == 1 or (search is None and len(grid) == 1):
        return matches[0] if len(matches) == 1 else grid[0]
    listing = _differences({p: found[p] for p in (matches or found)})
    if not matches:
        raise ConfigError(f"No MaskSearch artifact of {str(run_dir)!r} matches {search!r}; it has: {listing}. Pass a "
                          f"part of one's directory name, label or fingerprint as the search.")
    raise ConfigError(f"{len(matches)} MaskSearch artifacts of {str(run_dir)!r} match"
                      f"{'' if search is None else f' {search!r}'}: {listing}. Pass a part of one's directory name, "
                      f"label or fingerprint as the search to pick one (without --search: the study's main grid, the one "
                      f"with export=True).")


def _flat(value, prefix: str = "") -> dict:
    """{'training.budget': '12it', ...}: a description's nested fields by dotted name."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat = {}
    for key, item in value.items():
        if key != "__class__":
            flat.update(_flat(item, f"{prefix}.{key}" if prefix else key))
    return flat


def _differences(metas: dict) -> str:
    """'<dir> (training.budget='12it', export=False); ...': each search with the parameters that
    differ between the listed ones (all look alike otherwise: same dataset, model, seed, ...)."""
    flat = {p: _flat(meta["parameters"]) for p, meta in metas.items()}
    keys = sorted({k for f in flat.values() for k in f})
    differ = [k for k in keys if len({repr(f.get(k)) for f in flat.values()}) > 1]
    return "; ".join(f"{p.name} ({', '.join(f'{k}={f.get(k)!r}' for k in differ) or 'identical parameters'})"
                     for p, f in flat.items())


def export_from_run(run_dir, level: int, search: Optional[str], fmt: str, out, overwrite: bool = False) -> Path:
    """Exports level `level`'s trained ticket of a MaskSearch artifact of `run_dir` (found by
    `find_search(run_dir, search)`, its files verified by their checksums first) as `fmt` into the
    directory `out` (`paths`; an existing export replaced only with `overwrite`); returns the
    model's path. The network is rebuilt from the artifact's parameters (dataset, model, seed,
    prunable layers), given the level's mask and trained weights, and exported with the
    dataset's normalization and class names."""
    if fmt not in FORMATS:
        raise unknown_name("export format", fmt, FORMATS)
    paths(out, fmt, overwrite)  # refused before any work
    path = find_search(run_dir, search)
    meta = read_json(path / "artifact.json")
    files = meta.get("files")
    damaged = damaged_files(path, files) if isinstance(files, dict) else [path / "artifact.json"]
    if damaged:
        raise ConfigError(f"{damaged[0]} is damaged (missing, or its size or checksum differs from what "
                          f"{path / 'artifact.json'} records), so nothing was exported: rerun the study on "
                          f"{str(run_dir)!r} (the same `lth-tf run` command; it recomputes what is damaged and reuses "
                          f"the rest), then export again.")
    level, = check_levels((int(level),), path, "The export")
    params = search_params(Artifact(meta["type"], path, meta["fingerprint"]))
    ds = load_dataset(params.dataset)
    model = networks.build_network(params.model, ds.input_shape, ds.num_classes, params.seed, params.pruning.prunable())
    ticket = load_ticket(path, level)
    wrapping.set_masks(model, ticket["masks"])
    wrapping.set_state(model, ticket["trained"])
    facts = ticket["meta"]
    source = {"artifact": f"artifacts/MaskSearch/{path.name}", "fingerprint": meta["fingerprint"], "level": level,
              "label": meta.get("label"), "model": meta["parameters"]["model"], "created": meta.get("created"),
              "wall_time_s": meta.get("wall_time_s"), "provenance": meta.get("provenance"),
              **{k: facts.get(k) for k in ("variant", "seed", "sparsity", "val_accuracy", "test_accuracy", "train_steps")}}
    return export(model, out, fmt, masks=ticket["masks"], dataset=meta["parameters"]["dataset"], source=source,
                  probabilities_out=False, overwrite=overwrite, **dataset_facts(ds))
