"""How long the command line takes to answer, and whether it prints anything on stderr.

    python benchmarks/cli_bench.py [--runs 5]

Each command runs as a fresh process; the table gives the median and the worst wall time, beside
`python -c pass` (the interpreter's own start-up) from the same run, and the stderr lines seen.
`predict` loads TensorFlow and a model, so it shows what the lazy import saves the others.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], runs: int) -> tuple[float, float, list[str]]:
    times, errors = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - t0)
        errors += [line for line in out.stderr.splitlines() if line.strip()]
    return statistics.median(times), max(times), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    photo = Path(tempfile.mkdtemp()) / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(photo)
    py = sys.executable
    commands = [("python -c pass (reference)", [py, "-c", "pass"], None),
                ("python -m dlapp --help", [py, "-m", "dlapp", "--help"], 1.0),
                ("python -m dlapp models list", [py, "-m", "dlapp", "models", "list"], 1.5),
                ("python -m dlapp predict photo.png", [py, "-m", "dlapp", "predict", str(photo)], None)]
    print(f"{'command':<36} {'median':>8} {'max':>8} {'target':>8}  stderr lines")
    for name, cmd, target in commands:
        median, worst, errors = timed(cmd, args.runs)
        verdict = "" if target is None else f"{target:.1f}s {'met' if median <= target else 'MISSED'}"
        print(f"{name:<36} {median:7.2f}s {worst:7.2f}s {verdict:>8}  {len(errors)}")
        for line in errors[:3]:
            print("   stderr:", line[:120])


if __name__ == "__main__":
    main()
