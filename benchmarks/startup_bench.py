"""Time from `python app.py` to a ready server, beside a bare Gradio app in the same run.

    python benchmarks/startup_bench.py [--runs 3]

Target (issue #3): ready within 20 s on the 2-core CPU. "Ready" means the
server answers /gradio_api/info, the first request the browser makes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlapp.testing import REPO, free_port  # noqa: E402

BARE = "import gradio as gr\nwith gr.Blocks() as d:\n    gr.Markdown('hi')\nd.launch()\n"


def time_to_ready(argv: list[str], env: dict) -> float:
    port = free_port()
    env = {**os.environ, **env, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/gradio_api/info", timeout=1):
                    return time.perf_counter() - t0
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("not ready in 120 s")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(BARE)
    dlapp_times, bare_times = [], []
    for _ in range(args.runs):  # interleaved, so machine noise hits both alike
        bare_times.append(time_to_ready([sys.executable, f.name], {}))
        dlapp_times.append(time_to_ready([sys.executable, "app.py"], {}))
    print(f"{'app':<28} {'min':>7} {'median':>7} {'max':>7}")
    for name, xs in (("bare Gradio Blocks (ref)", bare_times), ("dlapp (python app.py)", dlapp_times)):
        print(f"{name:<28} {min(xs):6.1f}s {statistics.median(xs):6.1f}s {max(xs):6.1f}s")
    print(f"target: ready within 20 s -> {'met' if statistics.median(dlapp_times) <= 20 else 'MISSED'}")


if __name__ == "__main__":
    main()
