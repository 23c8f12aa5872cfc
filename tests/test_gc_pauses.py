"""The server never stops the world for a full garbage collection of its long-lived heap while it starts.

A full collection holds the GIL while it scans every object the process tracks; with Gradio, TensorFlow and the
default models loaded that is over half a million objects: 0.8 s on an idle 2-core machine, 5.4 s on a loaded one
(measured with gc.callbacks in the server), and meanwhile no visitor's request is answered. In CI a visitor's
queue join timed out that way (gradio_client gives it 5 s) while another visitor's training started. So app.py
loads with the GC off, launch() freezes what it loaded before turning it on, and the warm-up freezes the default
models after collecting only the young generations.
"""

from __future__ import annotations

import subprocess
import sys

from dlapp.testing import REPO

FULL = "gc.get_stats()[2]['collections']"  # full collections so far


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_the_app_loads_with_no_full_collection_and_serves_with_its_heap_frozen():
    out = run("import gc, runpy\n"
              "runpy.run_path('app.py', run_name='app')\n"  # what `python app.py` runs before launch()
              f"print({FULL}, flush=True)\n"
              "from dlapp.ui.app import build_app, settle_heap\n"
              "build_app()\n"
              f"print({FULL})\n"
              "settle_heap()\n"  # what launch() does before it serves
              "print(gc.isenabled(), gc.get_freeze_count())\n")
    assert out.stdout.split()[:1] == ["0"], out.stdout  # the old start-up: about a dozen, each over all loaded so far
    assert out.returncode == 0, out.stderr[-3000:]
    loading, built, enabled, frozen = out.stdout.split()
    assert built == "0" and enabled == "True" and int(frozen) > 100_000


def test_the_warm_up_freezes_without_a_full_collection():
    out = run("import gc\n"
              "from dlapp import inference\n"
              f"before = {FULL}\n"
              "inference.warm_up(())\n"
              f"print({FULL} - before, gc.get_freeze_count())\n")
    assert out.returncode == 0, out.stderr[-3000:]
    full, frozen = out.stdout.split()
    assert full == "0" and int(frozen) > 0


def test_loading_tensorflow_runs_no_full_collection_and_freezes_it():
    """Every process that trains, predicts or exports (the CLI, the server, the workers) loads dlapp.backend."""
    out = run("import gc\n"
              "import dlapp.backend\n"
              f"print({FULL}, gc.isenabled(), gc.get_freeze_count())\n")
    assert out.returncode == 0, out.stderr[-3000:]
    full, enabled, frozen = out.stdout.split()
    assert full == "0" and enabled == "True" and int(frozen) > 100_000  # the old import: 6 full collections
