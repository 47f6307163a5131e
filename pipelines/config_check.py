"""The config and its bindings checked before TensorFlow loads, so a mistake is reported in about a
second instead of after TensorFlow's 7-10 s start-up: every binding must name a known configurable
and one of its parameters (the closest names are suggested), and its value must have the
parameter's annotated type (`TrainingHparams.lr = 'fast'` is refused, naming the binding and the
type). Ranges and cross-setting checks stay where they are (the hparams' __post_init__, the
studies' planning): they run later, still before any work.

The configurables are read from the source of lth-tf's packages with `ast`, not imported:
importing them would load TensorFlow. Modules a config imports itself (`import my_module`) are
read the same way when they can be found; in such a config, a binding of a configurable found
nowhere is left to gin (it may be registered by code this reading cannot see)."""
import ast
import functools
import importlib.util
from pathlib import Path
from typing import Dict, NamedTuple, Optional

from gin import config_parser

from lth_tf.errors import ConfigError, did_you_mean

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lth_tf", "components", "pipelines")


class Param(NamedTuple):
    annotation: Optional[ast.AST]  # None: any value
    default: Optional[ast.AST]  # None: no default


class Configurable(NamedTuple):
    params: Dict[str, Param]
    any_param: bool  # **kwargs: every parameter name is accepted


def _configurable_name(decorator, default: str) -> Optional[str]:
    """The gin name a `@gin.configurable` / `@gin.configurable('name')` decorator registers, else None."""
    func = decorator.func if isinstance(decorator, ast.Call) else decorator
    if not (isinstance(func, ast.Attribute) and func.attr == "configurable") and \
            not (isinstance(func, ast.Name) and func.id == "configurable"):
        return None
    if isinstance(decorator, ast.Call) and decorator.args and isinstance(decorator.args[0], ast.Constant):
        return str(decorator.args[0].value)
    return default


def _function_params(node) -> Configurable:
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = {a.arg: Param(a.annotation, d) for a, d in zip(positional, defaults)}
    params.update({a.arg: Param(a.annotation, d) for a, d in zip(args.kwonlyargs, args.kw_defaults)})
    params.pop("self", None)
    return Configurable(params, args.kwarg is not None)


def _class_params(node) -> Configurable:
    """A dataclass's fields (annotated class attributes), or its __init__'s parameters."""
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            return _function_params(item)
    return Configurable({item.target.id: Param(item.annotation, item.value) for item in node.body
                         if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)}, False)


def scan(path: Path) -> Dict[str, Configurable]:
    """The gin configurables a Python source file declares, by name."""
    found = {}
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            for decorator in node.decorator_list:
                name = _configurable_name(decorator, node.name)
                if name:
                    found[name] = _class_params(node) if isinstance(node, ast.ClassDef) else _function_params(node)
    return found


@functools.lru_cache(maxsize=None)
def project_configurables() -> Dict[str, Configurable]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found.update(scan(path))
    return found


# --- types -------------------------------------------------------------------------------------

_SCALARS = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}
_SEQUENCES = ("Sequence", "Tuple", "tuple", "List", "list")


def matches(value, annotation) -> bool:
    """Whether a parsed binding value fits the annotation (unknown annotations accept anything)."""
    if annotation is None or isinstance(value, _Reference):
        return True
    if isinstance(annotation, ast.Constant) and annotation.value is None:
        return value is None
    if isinstance(annotation, ast.Name):
        if annotation.id in _SCALARS:
            return isinstance(value, _SCALARS[annotation.id]) and (annotation.id == "bool" or
                                                                   not isinstance(value, bool))
        if annotation.id in _SEQUENCES:
            return isinstance(value, (list, tuple))
        return True
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name):
        base, args = annotation.value.id, annotation.slice
        elements = list(args.elts) if isinstance(args, ast.Tuple) else [args]
        if base == "Optional":
            return value is None or matches(value, elements[0])
        if base == "Union":
            return any(matches(value, e) for e in elements)
        if base in _SEQUENCES:
            if not isinstance(value, (list, tuple)):
                return False
            if base in ("Tuple", "tuple") and not (len(elements) == 2 and isinstance(elements[1], ast.Constant)
                                                   and elements[1].value is Ellipsis):
                return len(value) == len(elements) and all(matches(v, e) for v, e in zip(value, elements))
            return all(matches(v, elements[0]) for v in value)
    return True


def _described(value) -> str:
    kind = {str: "the string", int: "the integer", float: "the number", bool: "the boolean",
            list: "the list", tuple: "the tuple"}.get(type(value), "the value")
    return f"{kind} {value!r}"


# --- parsing -------------------------------------------------------------------------------------

class _Reference:
    """A @configurable reference or %macro: its type is known only when gin evaluates it."""


class _Delegate(config_parser.ParserDelegate):
    def configurable_reference(self, scoped_configurable_name, evaluate):
        return _Reference()

    def macro(self, macro_name):
        return _Reference()


def _statements(text: str, where: str):
    try:
        return list(config_parser.ConfigParser(text, _Delegate()))
    except Exception as e:  # noqa: BLE001  (gin's parser raises SyntaxError, ValueError, tokenize errors)
        raise ConfigError(f"Bad gin {where}: {' '.join(str(e).split())}. Bindings look like \"TrainingHparams.lr = 0.05\" (strings "
                          f"quoted: \"DatasetHparams.name = 'mnist1d'\"). Nothing was run.") from None


def _file_statements(path: Path, seen=()):
    """The statements of a gin file and of the files it includes (resolved as given, then next to it)."""
    statements = []
    for statement in _statements(Path(path).read_text(encoding="utf-8"), f"config {path}"):
        if isinstance(statement, config_parser.IncludeStatement):
            included = next((p for p in (Path(statement.filename), Path(path).parent / statement.filename)
                             if p.is_file()), None)
            if included is not None and included.resolve() not in seen:
                statements += _file_statements(included, (*seen, Path(path).resolve()))
        else:
            statements.append(statement)
    return statements


def _module_configurables(module: str) -> Optional[Dict[str, Configurable]]:
    """The configurables a module the config imports declares (None when its source cannot be found)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return scan(Path(spec.origin))


def check(config_path, bindings) -> None:
    """A ConfigError for the first binding (config file, then command line) that names an unknown
    configurable or parameter, or whose value has the wrong type. Reads no module but gin's parser."""
    statements = [(s, f"in {config_path}") for s in _file_statements(Path(config_path))]
    for binding in bindings:
        statements += [(s, f"given by --gin_bindings {binding!r}") for s in _statements(binding, f"binding {binding!r}")]
    known = dict(project_configurables())
    complete = True  # False: the config imports a module of its own, which may register names unseen here
    for statement, _ in statements:
        if isinstance(statement, config_parser.ImportStatement) and statement.module.split(".")[0] not in PACKAGES:
            complete = False  # (gin.external_configurable, a registration under a computed name: left to gin)
            known.update(_module_configurables(statement.module) or {})
    for statement, where in statements:
        if isinstance(statement, config_parser.BindingStatement) and statement.arg_name:
            _check_binding(statement, where, known, complete)


def _check_binding(statement, where: str, known: Dict[str, Configurable], complete: bool):
    name = statement.selector.split(".")[-1]
    text = f"{statement.selector}.{statement.arg_name}"
    if name not in known:
        if complete:
            raise ConfigError(f"Unknown configurable {name!r} in the binding {text} {where}."
                              f"{did_you_mean(name, known)} The configurables are: {', '.join(sorted(known))}. "
                              f"Nothing was run.")
        return
    configurable = known[name]
    param = configurable.params.get(statement.arg_name)
    if param is None:
        if not configurable.any_param:
            raise ConfigError(f"{name} has no parameter {statement.arg_name!r} (the binding {text} {where})."
                              f"{did_you_mean(statement.arg_name, configurable.params)} Its parameters are: "
                              f"{', '.join(configurable.params)}. Nothing was run.")
        return
    if not matches(statement.value, param.annotation):
        default = f" (its default: {text} = {ast.unparse(param.default)})" if param.default is not None else ""
        raise ConfigError(f"The binding {text} = {statement.value!r} {where} has the wrong type: {text} takes "
                          f"a value of type {ast.unparse(param.annotation)}{default}, not {_described(statement.value)}. "
                          f"Nothing was run.")
