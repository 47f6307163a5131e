"""Deployable tickets: one plain Keras model that takes raw inputs and answers with named outputs.

`deployable(network, ...)` builds, from a ticket (a masked model) or any single-input model:

    inputs (raw, the dataset's dtype) -> normalization ((x - mean) / std per channel, the
    dataset's statistics: the arithmetic of the input pipeline) -> the network (plain Keras
    layers, kernel * mask: pruned weights exactly zero, same layer names) -> logits, probabilities

so every exported ticket has the SavedModel signature `serving_default(inputs) -> {logits,
probabilities}`, whatever Keras named its Input (`input_5`, `input_1`, ...), and gives the
pipeline's answers on raw inputs. A network that already ends in a softmax gets `probabilities`
only.

`export(...)` writes one format (FORMATS) into a directory of its own, one layout for every
format (`paths`): the model (`saved_model/`, `ticket.keras` or `ticket.tflite`) and its own
`ticket.json`: the signature, normalization, class names (where the dataset has them), sparsity,
the dataset, where the ticket came from (artifact, fingerprint, level, metrics) and what produced
the file (lth_tf.provenance.collect(): git commit, library versions, devices; export time and
seconds). An existing export is replaced only with `overwrite=True` (`lth-tf export --force`).
TFLite is converted with `tf.lite.Optimize.EXPERIMENTAL_SPARSITY` ("The flag can be used alone
to optimize float32 models with sparse weights", tf.lite.Optimize docs): float32 weights, sparse
tensors stored compactly; its signature is the SavedModel's (`serving_default`: `inputs` ->
`logits`, `probabilities`). A network TFLite cannot convert (an LSTM's tensor lists) is one
ConfigError naming the converter's first error, its log kept off the terminal.

`export_ticket(network, directory)` is the Python API's export of a ticket (a masked model or
a TrainedNetwork), with its mask.npz. Exporting a ticket of a study's run (`lth-tf export`) is
pipelines/export.py's: the library knows models and files, not a run's artifacts.
"""
import contextlib
import os
import tempfile
import datetime
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth_tf import keras_utils as ku
from lth_tf import provenance
from lth_tf.keras_trainer import TrainedNetwork
from lth_tf.errors import ConfigError, unknown_name
from lth_tf.io import atomic_path, read_json, save_npz, write_json
from lth_tf.sparsity import masks as M
from lth_tf.sparsity import wrapping

INPUT = "inputs"
LOGITS = "logits"
PROBABILITIES = "probabilities"
# format -> the model's file (or directory) name inside the export directory
FORMATS = {"saved_model": "saved_model", "keras": "ticket.keras", "tflite": "ticket.tflite"}
RECORD = "ticket.json"
# The layers `deployable` adds around the network (the only ones whose weights are not the network's).
NORMALIZATION, TO_FLOAT = "normalization", "to_float"


# ----------------------------------------------------------------------------- the model

def _plain_copy(network: keras.Model) -> keras.Model:
    """A plain Keras copy of `network` with its own variables: wrappers removed, kernel * mask."""
    if wrapping.wrappers(network):
        masks = wrapping.get_masks(network)
        kernels = {name: kernel * masks[name] for name, kernel in wrapping.prunable_weights(network).items()}
        import tensorflow_model_optimization as tfmot
        plain = tfmot.sparsity.keras.strip_pruning(network)  # shares the network's layers
    else:
        plain, kernels = network, {}
    copy = keras.models.clone_model(plain)
    copy.set_weights(plain.get_weights())
    for name, kernel in kernels.items():  # exactly zero where pruned, even if set non-zero by hand
        copy.get_layer(name).kernel.assign(kernel)
    return copy


def _on_top_of(network: keras.Model, x):
    """The network's layers applied to the tensor `x` as one flat graph (its layers keep their
    names, so `model.get_layer('fc1')` works on the export)."""
    if isinstance(network, keras.Sequential):
        for layer in network.layers:
            x = layer(x)
        return x
    # Keras' own replay of a functional graph on new inputs (what `network(x)` runs eagerly);
    # on a symbolic `x` it adds each layer's node to the new graph. (clone_model with
    # input_tensors loops forever on a tensor that is not an Input's.)
    return network._run_internal_graph(x, training=False)


def deployable(network: keras.Model, mean=None, std=None, input_dtype="float32",
               probabilities_out: Optional[bool] = None) -> keras.Model:
    """The deployable model (module docstring) of `network` (a ticket or a plain model; not
    modified). mean, std: per-channel statistics the network's inputs were normalized with
    (None: the inputs are used as they come). input_dtype: the raw inputs' dtype (uint8 for
    images; cast to float32 before normalizing, as the input pipeline does).
    probabilities_out: whether `network` outputs probabilities (None: from its last layer's
    activation or its compiled loss, lth_tf.keras_utils.outputs_are_probabilities)."""
    from lth_tf import keras_utils
    keras_utils.check_model(network, "network")
    if len(network.inputs) != 1 or len(network.outputs) != 1:
        raise ConfigError(f"Only single-input, single-output networks can be exported as deployable tickets; this "
                          f"one has {len(network.inputs)} inputs and {len(network.outputs)} outputs.")
    if (mean is None) != (std is None):
        raise ConfigError("Give both mean and std (the input normalization), or neither.")
    if probabilities_out is None:
        probabilities_out = keras_utils.outputs_are_probabilities(network)
    body = _plain_copy(network)
    inputs = keras.Input(tuple(network.inputs[0].shape[1:]), dtype=input_dtype, name=INPUT)
    x = inputs
    if mean is not None:
        std = np.asarray(std, np.float32)
        # Keras computes (x - mean) / sqrt(variance): the pipeline's (x - mean) / std up to rounding.
        x = keras.layers.Normalization(axis=-1, mean=np.asarray(mean, np.float32), variance=std ** 2,
                                       name=NORMALIZATION)(x)
    elif input_dtype != "float32":
        x = keras.layers.Rescaling(1.0, name=TO_FLOAT)(x)
    scores = _on_top_of(body, x)
    taken = {layer.name for layer in body.layers}  # e.g. the network's last layer named 'logits'
    head = {name: name if name not in taken else f"{name}_output" for name in (LOGITS, PROBABILITIES)}
    if probabilities_out:
        outputs = {PROBABILITIES: keras.layers.Activation("linear", name=head[PROBABILITIES])(scores)}
    else:
        outputs = {LOGITS: keras.layers.Activation("linear", name=head[LOGITS])(scores),
                   PROBABILITIES: keras.layers.Softmax(name=head[PROBABILITIES])(scores)}
    return keras.Model(inputs, outputs, name="ticket")


# ----------------------------------------------------------------------------- files

def _write_model(model: keras.Model, path: Path, fmt: str):
    if fmt == "saved_model":
        # The signature is given explicitly, so the per-layer call traces Keras would add (a
        # quarter of LeNet's SavedModel) can be left out: load_model rebuilds the layers from
        # their config, tf.saved_model.load serves the signature.
        spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], model.inputs[0].dtype, name=INPUT)
        serve = tf.function(lambda inputs: model(inputs, training=False)).get_concrete_function(spec)
        with atomic_path(path, is_dir=True) as tmp:
            model.save(str(tmp), save_format="tf", include_optimizer=False, save_traces=False,
                       signatures={"serving_default": serve})
            assets = tmp / "assets"  # Keras writes it empty; loaders do not need it (a disk block per export)
            if assets.is_dir() and not any(assets.iterdir()):
                assets.rmdir()
    elif fmt == "keras":
        with atomic_path(path) as tmp:  # tmp ends in .keras, as Keras wants
            model.save(str(tmp))
    else:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
        try:
            with _stderr_kept():
                flatbuffer = converter.convert()
        except Exception as e:  # ConverterError: pages of MLIR locations; its first error says why
            errors = [line.split("error: ", 1)[1] for line in str(e).splitlines() if "error: " in line]
            raise ConfigError(f"TFLite cannot convert this network ({errors[0] if errors else type(e).__name__}); "
                              f"export it as a SavedModel or .keras file instead (format 'saved_model' or "
                              f"'keras': --format saved_model), which run every TensorFlow operation.") from None
        with atomic_path(path) as tmp:
            tmp.write_bytes(flatbuffer)


@contextlib.contextmanager
def _stderr_kept():
    """The converter's C++ log (written to file descriptor 2, kilobytes of MLIR locations on a
    failure) goes to a temporary file instead of the terminal; its exception says what failed."""
    with tempfile.TemporaryFile() as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _signature(model: keras.Model) -> dict:
    spec = model.inputs[0]
    return {"inputs": {INPUT: {"shape": [None, *spec.shape[1:]], "dtype": spec.dtype.name}},
            "outputs": {name: {"shape": [None, *t.shape[1:]], "dtype": t.dtype.name}
                        for name, t in sorted(model.output.items())}}


def paths(out, fmt: str, overwrite: bool = False):
    """(model path, record path) of an export to the directory `out`: FORMATS[fmt] and its own
    ticket.json inside, whatever the format. A ConfigError when `out` names a model file rather
    than a directory, or holds an export already and not `overwrite`."""
    out = Path(out)
    if out.suffix in (".keras", ".tflite", ".json"):
        raise ConfigError(f"The export goes to a directory of its own (the model, e.g. {FORMATS[fmt]}, and its "
                          f"{RECORD}), but {str(out)!r} names a file; give a directory such as "
                          f"{str(out.with_suffix(''))!r}.")
    model, record = out / FORMATS[fmt], out / RECORD
    existing = [p for p in (model, record) if p.exists()]
    if existing and not overwrite:
        raise ConfigError(f"{existing[0]} exists (an earlier export), and an export replaces nothing unasked: "
                          f"export to another directory, or replace it with --force (lth-tf export) or "
                          f"overwrite=True (lth_tf.export_ticket, lth_tf.exporting.export).")
    return model, record


def export(network: keras.Model, out, fmt: str = "saved_model", *, mean=None, std=None, input_dtype="float32",
           class_names: Sequence[str] = (), masks=None, dataset=None, source: Optional[dict] = None,
           probabilities_out: Optional[bool] = None, overwrite: bool = False) -> Path:
    """Writes the deployable model of `network` as `fmt` and its ticket.json into the directory
    `out` (`paths`; an existing export there is replaced only with `overwrite`); returns the
    model's path. mean, std, input_dtype, probabilities_out: as `deployable`.
    class_names: label -> name (recorded). masks: the ticket's masks (default: the network's own;
    none for a plain model), for the recorded sparsity. dataset: its name or description.
    source: what the ticket is (artifact, fingerprint, level, metrics, ...), recorded as given."""
    if fmt not in FORMATS:
        raise unknown_name("export format", fmt, FORMATS)
    started = time.time()
    path, record = paths(out, fmt, overwrite)
    masks = wrapping.get_masks(network) if masks is None and wrapping.wrappers(network) else masks
    model = deployable(network, mean, std, input_dtype, probabilities_out)
    class_names = [str(c) for c in class_names]
    width = model.output[PROBABILITIES].shape[-1]
    if class_names and len(class_names) != width:
        raise ConfigError(f"{len(class_names)} class names for a network with {width} outputs: give one name per "
                          f"output unit, in label order.")
    _write_model(model, path, fmt)
    write_json(record, {
        "format": fmt, "model": path.name, "signature": _signature(model),
        "normalization": None if mean is None else {"mean": np.asarray(mean).tolist(), "std": np.asarray(std).tolist()},
        "class_names": class_names or None, "dataset": dataset,
        "sparsity": None if masks is None else M.sparsity(masks),
        "zero_weights": _zero_weights(model, masks), "source": source or {},
        "provenance": provenance.collect(),
        "exported_at": datetime.datetime.now().isoformat(timespec="seconds"),
        "export_wall_time_s": round(time.time() - started, 3)})
    return path


def _zero_weights(model: keras.Model, masks) -> Optional[dict]:
    """{layer: zeros in the exported kernel}: what the masks pruned, for a reader to check."""
    if not masks:
        return None
    return {name: int((model.get_layer(name).kernel.numpy() == 0).sum()) for name in sorted(masks)}


def saved_weights(saved_model) -> dict:
    """The network's weights in a SavedModel `export` wrote: {variable name: array}, the names
    and values `wrapping.get_state` gives for the exported network (kernels are kernel * mask,
    which is what a ticket's state holds: pruned weights are exactly zero). Read from the
    checkpoint alone (no model is built); the normalization `deployable` adds is left out.
    A damaged checkpoint (truncated, changed: TensorFlow checks each tensor's crc32c) raises
    UnreadableFile naming the file."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import trackable_object_graph_pb2
    from lth_tf.io import UnreadableFile
    prefix = Path(saved_model) / "variables" / "variables"
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        graph = trackable_object_graph_pb2.TrackableObjectGraph.FromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
        keys = {a.full_name: a.checkpoint_key for node in graph.nodes for a in node.attributes
                if a.name == "VARIABLE_VALUE" and a.full_name.split("/")[0] not in (NORMALIZATION, TO_FLOAT)}
        return {name: np.asarray(reader.get_tensor(key)) for name, key in sorted(keys.items())}
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError, DecodeError) as e:  # IndexError: truncated
        raise UnreadableFile(prefix.parent, e) from e


def dataset_facts(ds) -> dict:
    """export()'s keyword arguments for a network trained on the lth_tf Dataset `ds`."""
    return {"mean": ds.mean, "std": ds.std, "input_dtype": np.dtype(ds.train.dtype).name,
            "class_names": tuple(ds.class_names)}


def read_record(model_path) -> dict:
    """The ticket.json of an exported model (its path as `export` returned it)."""
    return read_json(Path(model_path).parent / RECORD)


# ----------------------------------------------------------------------------- the Python API

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
    model = network.model if isinstance(network, TrainedNetwork) else network
    ku.check_model(model, "network")
    if not wrapping.wrappers(model):
        raise ConfigError("export_ticket takes a masked model (a ticket, lth_tf.wrap(model)); export a plain model "
                          "with lth_tf.exporting.export(model, directory) or model.save(...).")
    directory = Path(directory)
    masks = wrapping.get_masks(model)
    export(model, directory, fmt, mean=mean, std=std, input_dtype=input_dtype, class_names=class_names,
                     masks=masks, probabilities_out=None if from_logits is None else not from_logits,
                     source={"api": "lth_tf.export_ticket", "sparsity": M.sparsity(masks)}, overwrite=overwrite)
    save_npz(directory / "mask.npz", masks)
    return directory
