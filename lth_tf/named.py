"""Registered names, or your own function named 'module:function' in a config, for models and
datasets (`ModelHparams.name = "my_models:build"`): no registry code needed, the module is imported
by name (from the current directory when run by `lth-tf run`, or from anything installed)."""
import importlib

from lth_tf.errors import ConfigError, unknown_name


def lookup(kind: str, name: str, registry):
    """registry[name], or the callable 'module:function' names; a ConfigError naming the fix."""
    if name in registry:
        return registry[name]
    if ":" not in name:
        error = unknown_name(kind, name, registry)
        raise ConfigError(f"{error} Or name your own as 'module:function', e.g. 'my_{kind}s:build'.")
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"The {kind} {name!r} names module {module_name!r}, which cannot be imported ({e}). "
                          f"Run from the directory that holds {module_name}.py (lth-tf puts it on the import "
                          f"path), or install the module.") from None
    found = getattr(module, attr, None)
    if not callable(found):
        raise ConfigError(f"The {kind} {name!r}: module {module_name!r} has no function {attr!r}"
                          f" (its names: {', '.join(n for n in dir(module) if not n.startswith('_'))}).")
    return found
