"""`transfer` as a user meets it: a few pictures per class in class folders, trained and evaluated through
the CLI (`python -m dlapp train --dataset FOLDER --preset transfer`, then `evaluate --dataset FOLDER`).

Claim checked: on the shipped `cifar10-best` backbone, 5 classes × 20 pictures reach at least the 83.9%
measured on the previous backbone with the CLI. The pictures are CIFAR-10 training images written as PNG
folders (a draw per seed); the test folders hold every CIFAR-10 test image of those classes.

    DLAPP_DATA_DIR=$DATA python benchmarks/transfer_cli_bench.py [--classes dog frog horse ship truck] [--seeds 3]
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

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def write_folders(root: Path, x: np.ndarray, y: np.ndarray, classes: list[str], per_class: int | None,
                  seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        idx = np.flatnonzero(y == CIFAR10.index(name))
        if per_class is not None:
            idx = rng.choice(idx, per_class, replace=False)
        for i in idx:
            Image.fromarray(x[i]).save(folder / f"{i}.png")
    return root


def cli(*args: str, env: dict) -> str:
    out = subprocess.run([sys.executable, "-m", "dlapp", *args], env=env, cwd=REPO, check=True,
                         capture_output=True, text=True)
    return out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", nargs="+", default=["dog", "frog", "horse", "ship", "truck"], choices=CIFAR10)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    data_dir = Path(os.environ["DLAPP_DATA_DIR"])
    with np.load(data_dir / "cifar10.npz") as z:
        x_tr, y_tr, x_te, y_te = z["x_train"], z["y_train"].reshape(-1), z["x_test"], z["y_test"].reshape(-1)
    results = []
    with tempfile.TemporaryDirectory(prefix="dlapp-transfer-cli-") as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "DLAPP_MODEL_DIR": str(tmp / "models")}
        test = write_folders(tmp / "test", x_te, y_te, args.classes, None, 0)
        for seed in range(args.seeds):
            train = write_folders(tmp / f"train-{seed}", x_tr, y_tr, args.classes, args.per_class, seed)
            t0 = time.perf_counter()
            cli("train", "--dataset", str(train), "--preset", "transfer", "--name", f"t{seed}", "--quiet", env=env)
            wall = time.perf_counter() - t0
            report = json.loads(cli("evaluate", f"t{seed}", "--dataset", str(test), "--json", env=env))
            results.append(report["test_accuracy"])
            print(f"seed {seed}: {report['test_accuracy']:.2%} on {report['test_examples']:,} test pictures "
                  f"({len(args.classes)} classes × {args.per_class} pictures; train command {wall:.0f} s)", flush=True)
    print(f"transfer through the CLI on {', '.join(args.classes)}: {np.mean(results):.2%} ± {np.std(results):.2%} "
          f"over {len(results)} draws (reference: 83.9% on the previous backbone)")


if __name__ == "__main__":
    main()
