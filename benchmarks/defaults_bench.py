"""What the Train tab's default settings give: accuracy and time of a run started as a new user would.

    DLAPP_DATA_DIR=../shared/data python benchmarks/defaults_bench.py

For each task, trains its `default_run` (dlapp/tasks/*.py: preset, examples per class, epochs, batch)
through `python -m dlapp train` into a scratch model cache, and beside it, in the same run, the
Train tab's defaults before issue #14 (preset fast, 100 per class, 1 epoch). Wall time is the whole
command (start-up, data loading, training, test evaluation). The last validation accuracy is shown
beside the test accuracy, since the curve a user watches should not promise more than the test gives.
Targets (issue #14): CIFAR-10 >= 50% and IMDB >= 80%, each in <= 60 s wall on a 2-core CPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dlapp.tasks import TASKS  # noqa: E402

TARGETS = {"cifar10": 0.50, "imdb": 0.80}
DATASET = {"image": "cifar10", "text": "imdb"}


def run(dataset: str, args: list[str], model_dir: Path, name: str) -> dict:
    cmd = [sys.executable, "-m", "dlapp", "train", "--dataset", dataset, *args, "--name", name, "--force", "--quiet"]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, env={**__import__("os").environ,
                                                                          "DLAPP_MODEL_DIR": str(model_dir)})
    wall = time.perf_counter() - t0
    card = json.loads((model_dir / f"{name}.json").read_text())
    return {"test": card["metrics"]["test_accuracy"], "val": card["metrics"].get("final_val_accuracy"),
            "wall": wall, "args": " ".join(args)}


def main() -> None:
    model_dir = Path(tempfile.mkdtemp(prefix="dlapp-defaults-"))
    print(f"{'data':<8} {'settings':<66} {'val acc':>8} {'test acc':>9} {'wall':>7}  target")
    for task_name, task in TASKS.items():
        d, dataset = task.default_run, DATASET[task_name]
        new = ["--preset", d.preset, "--subset", str(d.subset), "--epochs", str(d.epochs)]
        new += ["--batch-size", str(d.batch_size)] if d.batch_size else []
        old = ["--preset", "fast", "--subset", "100", "--epochs", "1"]
        for label, args in (("old default (reference)", old), ("default now", new)):
            r = run(dataset, args, model_dir, f"{dataset}-{label.split()[0]}")
            goal = TARGETS[dataset]
            verdict = f">= {goal:.0%} in <= 60 s: " + ("met" if r["test"] >= goal and r["wall"] <= 60 else "MISSED")
            val = f"{r['val']:.1%}" if r["val"] is not None else "-"
            print(f"{dataset:<8} {label + ': ' + r['args']:<66} {val:>8} {r['test']:>9.1%} {r['wall']:>6.0f}s  "
                  f"{verdict if label == 'default now' else ''}", flush=True)


if __name__ == "__main__":
    main()
