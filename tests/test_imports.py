"""Every components module imports alone, in a fresh interpreter (an import cycle fails there
even when another import order hides it)."""
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_components_module_imports_alone():
    modules = [".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
               for p in sorted((REPO / "components").rglob("*.py"))]

    def imports(module):
        run = subprocess.run([sys.executable, "-c", f"import lth_tf, {module}"], cwd=REPO, capture_output=True,
                             text=True)
        return module, run.returncode, run.stderr.strip().splitlines()[-1:] if run.returncode else []

    with ThreadPoolExecutor(4) as pool:
        failed = [r for r in pool.map(imports, modules) if r[1]]
    assert not failed, failed
