"""Exporting a ticket for deployment (public API: lth_tf.export_ticket; the formats are
lth_tf.exporting's)."""
from pathlib import Path
from typing import Optional, Sequence

from lth_tf import keras_utils as ku
from lth_tf.api_model import TrainedNetwork
from lth_tf.errors import ConfigError
from lth_tf.io import save_npz
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping


def export_ticket(network, directory, fmt: str = "saved_model", *, mean=None, std=None, input_dtype="float32",
                  class_names: Sequence[str] = (), from_logits: Optional[bool] = None, overwrite: bool = False) -> Path:
    """Writes the deployable ticket into `directory` (lth_tf.exporting): `saved_model/`,
    `ticket.keras` or `ticket.tflite` (fmt), `ticket.json` (signature, normalization, class
    names, sparsity, provenance) and `mask.npz`. The model takes raw inputs named `inputs` and
    answers `{"logits", "probabilities"}` (`{"probabilities"}` for a network ending in a softmax);
    its layers are plain Keras layers, pruned weights exactly zero.
    network: a wrapped model (a ticket) or a TrainedNetwork. mean, std: the per-channel
    normalization your input pipeline applies (so the export takes raw inputs); None: none.
    input_dtype: the raw inputs' dtype (e.g. "uint8" images). class_names: label -> name.
    from_logits: whether the network outputs logits (None: from its loss / last activation).
    overwrite: replace an export already in `directory` (without it: a ConfigError).
    Returns the directory."""
    from lth_tf import exporting
    model = network.model if isinstance(network, TrainedNetwork) else network
    ku.check_model(model, "network")
    if not wrapping.wrappers(model):
        raise ConfigError("export_ticket takes a masked model (a ticket, lth_tf.wrap(model)); export a plain model "
                          "with lth_tf.exporting.export(model, directory) or model.save(...).")
    directory = Path(directory)
    masks = wrapping.get_masks(model)
    exporting.export(model, directory, fmt, mean=mean, std=std, input_dtype=input_dtype, class_names=class_names,
                     masks=masks, probabilities_out=None if from_logits is None else not from_logits,
                     source={"api": "lth_tf.export_ticket", "sparsity": M.sparsity(masks)}, overwrite=overwrite)
    save_npz(directory / "mask.npz", masks)
    return directory
