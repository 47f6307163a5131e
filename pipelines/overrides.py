"""Hyperparameters a study sets itself. Each study declares which fields of the shared hparams
(TrainingHparams, PruningHparams) its own settings control, e.g. the stability grid sets
TrainingHparams.batch_size from `stability.batch_sizes`. A binding of such a field would be
replaced without a word (the run identical to the default, the binding recorded as used), so it is
a ConfigError naming the study's setting; and the operative config shows such a field as set by
the study instead of the default the study never used."""
from typing import Dict

import gin

from lth_tf.errors import ConfigError

_declared: Dict[str, str] = {}  # field -> the study setting that controls it, for the operative config


def refuse_bound(study: str, controls: Dict[str, str]):
    """A ConfigError when one of `controls`' fields ('TrainingHparams.batch_size' -> the setting
    'stability.batch_sizes') is bound in exactly that scope ('pretrain/TrainingHparams.budget' is
    the pre-training's; an unscoped field is the main training's)."""
    _declared.clear()
    _declared.update(controls)
    for field, setting in controls.items():
        try:
            value = gin.query_parameter(field)
        except ValueError:  # not bound
            continue
        raise ConfigError(f"{field} = {value!r} is bound, but the {study} study sets {field} itself, from "
                          f"{setting}: the binding would be ignored. Remove it and set {setting} instead. "
                          f"Nothing was run.")


def operative(text: str) -> str:
    """gin's operative config with each field the study controls shown as set by its setting."""
    lines = []
    for line in text.splitlines():
        field = line.split(" = ")[0].strip()
        lines.append(f"# {field}: set by the study from {_declared[field]}" if field in _declared else line)
    return "\n".join(lines) + "\n"
