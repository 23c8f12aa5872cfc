"""Import weight: the engine and the CLI load without Gradio, and the package import without TensorFlow.

Each check runs in a fresh interpreter, since this test session has long since imported both.
"""

import importlib.util
import subprocess
import sys

from dlapp.testing import REPO

ENGINE = ["dlapp", "dlapp.cli", "dlapp.store", "dlapp.card", "dlapp.training", "dlapp.inference", "dlapp.hub",
          "dlapp.testing"]


def modules_after_import(modules: list[str], heavy: str) -> str:
    """Import `modules` in a fresh interpreter; return the ones that pulled in `heavy` ('' if none did)."""
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            f"    if {heavy!r} in sys.modules:\n"
            "        print(name); break\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip()


def test_the_engine_and_cli_never_import_gradio():
    present = [name for name in ENGINE if importlib.util.find_spec(name) is not None]  # dlapp.card may not exist yet
    assert "dlapp.cli" in present
    culprit = modules_after_import(present, "gradio")
    assert not culprit, f"importing {culprit} pulled in gradio"


def test_the_package_cli_and_store_import_without_tensorflow():
    culprit = modules_after_import(["dlapp", "dlapp.cli", "dlapp.store"], "tensorflow")
    assert not culprit, f"importing {culprit} pulled in tensorflow"
