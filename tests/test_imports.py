"""Every components module imports alone (an import cycle fails there even when another import
order hides it). One interpreter: TensorFlow and lth_tf are imported once, and before each module
every `components` / `pipelines` module is dropped from sys.modules, so each import starts fresh
(gin's interactive mode lets their configurables register again)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import importlib, sys, traceback
import gin, lth_tf, tensorflow  # noqa: F401  (shared by every import below; not part of any cycle)
gin.enter_interactive_mode()  # each re-import registers its configurables again
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("components", "pipelines")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as e:  # noqa: BLE001  (reported with the module's name)
        failed.append(f"{name}: {type(e).__name__}: {e}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_components_module_imports_alone():
    modules = [".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
               for p in sorted((REPO / "components").rglob("*.py"))]
    assert "components.mask_search" in modules and "components.reports.section" in modules
    run = subprocess.run([sys.executable, "-c", CHECK, *modules], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
