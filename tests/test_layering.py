"""The house's layering, read from the source (no imports run): `lth_tf` imports neither
`components` nor `pipelines`, and no module (nor lth_tf subpackage) imports another that imports
it back, directly or around a longer circle, function-local imports included. A failure names
the files."""
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("lth_tf", "components", "pipelines", "configs")


def _modules():
    """{dotted name: path} of every module of the project's packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            out[".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")] = path
    return out


def _imports(path: Path, name: str, modules) -> set:
    """The project modules `path` imports anywhere in its body: `from a.b import c` is a.b.c when
    that is a module, else a.b; relative imports resolved against the module's package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph():
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def circles(edges):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_library_never_imports_the_components_or_the_pipelines():
    upward = sorted(f"{m} imports {t}" for m, targets in graph().items() if m.startswith("lth_tf")
                    for t in targets if t.split(".")[0] in ("components", "pipelines"))
    assert not upward, "lth_tf must not import components or pipelines:\n" + "\n".join(upward)


def test_no_module_imports_another_that_imports_it_back():
    found = circles(graph())
    assert not found, "import circles (move the shared code to where its concept lives):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_no_library_package_imports_another_that_imports_it_back():
    """Between lth_tf's subpackages too (sparsity, training, data, ...; top-level modules count as
    their own): a package loop makes any of its modules' imports order-dependent."""
    def package(module):
        return ".".join(module.split(".")[:2])
    edges = {}
    for module, targets in graph().items():
        if module.startswith("lth_tf"):
            edges.setdefault(package(module), set()).update(
                package(t) for t in targets if t.startswith("lth_tf") and package(t) != package(module))
    found = circles(edges)
    assert not found, "package circles in lth_tf:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_checks_see_a_circle_and_an_upward_import():
    """The detector itself, on a hand-made graph."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    edges = graph()
    assert "lth_tf.sparsity.masks" in edges["lth_tf.sparsity.criteria"]
    assert "components.artifacts.tickets" in edges["components.mask_search"]
