"""Train the seed, fast and best presets side by side: same data, same machine, same CLI.

    DLAPP_DATA_DIR=../shared/data python benchmarks/train_bench.py --dataset cifar10 [--presets seed fast best]

Each preset is trained with `python -m dlapp train ... --force` into a scratch
model cache (the shipped models are untouched), then the table gives test
accuracy on the full test split, wall time of the whole command, and training
examples per second. The seed preset is the reference in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(dataset: str, preset: str, model_dir: Path, extra: list[str]) -> dict:
    name = f"bench-{dataset}-{preset}"
    cmd = [sys.executable, "-m", "dlapp", "train", "--dataset", dataset, "--preset", preset, "--name", name,
           "--force", "--quiet", *extra]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env={**os.environ, "DLAPP_MODEL_DIR": str(model_dir)}, check=True)
    wall = time.perf_counter() - t0
    card = json.loads((model_dir / f"{name}.json").read_text())
    epochs = len(card["history"]) or card["hyperparameters"]["epochs"]
    return {"preset": card["preset"], "accuracy": card["metrics"]["test_accuracy"], "wall_s": wall,
            "train_s": card["training_time_s"], "examples_per_s": card["dataset"]["train_examples"] * epochs /
            card["training_time_s"], "epochs": epochs, "command": " ".join(["python -m dlapp", *cmd[3:]])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--presets", nargs="+", default=["seed", "fast", "best"])
    parser.add_argument("--subset", type=int, help="examples per class, for a quick trial of the bench itself")
    args = parser.parse_args()
    extra = ["--subset", str(args.subset)] if args.subset else []
    with tempfile.TemporaryDirectory(prefix="dlapp-train-bench-") as tmp:
        rows = [run(args.dataset, p, Path(tmp), extra) for p in args.presets]
    ref = rows[0]
    print(f"{'preset':<14} {'epochs':>6} {'test acc':>9} {'vs ' + ref['preset']:>16} {'wall':>8} {'examples/s':>11}")
    for r in rows:
        print(f"{r['preset']:<14} {r['epochs']:6d} {r['accuracy']:8.2%} {r['accuracy'] - ref['accuracy']:+15.2%} "
              f"{r['wall_s']:7.0f}s {r['examples_per_s']:11.0f}")


if __name__ == "__main__":
    main()
