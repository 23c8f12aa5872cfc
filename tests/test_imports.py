"""Import weight: the engine and the CLI load without Gradio, and the package import without TensorFlow.

Each check runs in a fresh interpreter, since this test session has long since imported both.
"""

import pkgutil
import subprocess
import sys

import dlapp
from dlapp.testing import REPO

# Every module of the package but the web UI: the engine, the CLI and the test helpers.
ENGINE = ["dlapp", *sorted(m.name for m in pkgutil.walk_packages(dlapp.__path__, "dlapp.")
                           if not m.name.startswith(("dlapp.ui", "dlapp.__main__")))]
LIGHT = ["dlapp", "dlapp.cli", "dlapp.store", "dlapp.card", "dlapp.tasks", "dlapp.data", "dlapp.access",
         "dlapp.settings", "dlapp.limits"]  # what `--help` and `models list` need: no TensorFlow


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
    assert {"dlapp.cli", "dlapp.training.loop", "dlapp.backend", "dlapp.tasks.text"} <= set(ENGINE)
    culprit = modules_after_import(ENGINE, "gradio")
    assert not culprit, f"importing {culprit} pulled in gradio"


def test_the_package_cli_and_store_import_without_tensorflow():
    culprit = modules_after_import(LIGHT, "tensorflow")
    assert not culprit, f"importing {culprit} pulled in tensorflow"


def test_a_command_that_loads_tensorflow_and_a_model_prints_nothing_on_stderr(shipped_dir):
    env = {"DLAPP_MODEL_DIR": str(shipped_dir), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "dlapp", "predict", "--text", "A fine film."], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.startswith("positive"), out
    assert out.stderr == "", out.stderr
    debug = subprocess.run([sys.executable, "-m", "dlapp", "predict", "--text", "A fine film."], cwd=REPO,
                           env={**env, "DLAPP_DEBUG": "1"}, capture_output=True, text=True, timeout=300)
    assert debug.returncode == 0 and debug.stderr  # the switch shows TensorFlow's own start-up lines
