"""Train the seed, fast and best presets side by side: same data, same machine, same CLI.

    DLAPP_DATA_DIR=../shared/data python benchmarks/train_bench.py --dataset cifar10 [--presets seed fast best]

Each preset is trained with `python -m dlapp train --dataset D --preset P --name D-P --force`,
by default into a scratch model cache (the shipped models are untouched); with
`--model-dir models` the runs become the shipped models and their cards. The table gives
test accuracy on the full test split, the training time the card records (data loading
and fitting), the wall time of the whole command (start-up and test evaluation too) and
training examples per second. The first preset is the reference in the same run.

`--card ID` adds a row read from an existing card in the model cache, marked as such,
for a run too long to repeat here (e.g. the 80-minute CIFAR-10 `best`).
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
sys.path.insert(0, str(REPO))

from dlapp.card import ModelCard  # noqa: E402  (light: neither TensorFlow nor Gradio)


def read_card(path: Path) -> ModelCard:
    """A card file as the store reads it (schema 2, or an older schema-1 card)."""
    return ModelCard.from_json(json.loads(path.read_text()))


def row(card: ModelCard, wall: float | None, command: str, source: str) -> dict:
    epochs = len(card.history) or card.hyperparameters["epochs"]
    train_s = card.provenance.training_time_s
    return {"preset": card.preset, "accuracy": card.test_accuracy, "wall_s": wall,
            "train_s": train_s, "epochs": epochs, "command": command, "source": source,
            "examples_per_s": card.dataset.train_examples * epochs / train_s if train_s else 0.0}


def run(dataset: str, preset: str, model_dir: Path, extra: list[str]) -> dict:
    name = f"{dataset}-{preset}"
    args = ["train", "--dataset", dataset, "--preset", preset, "--name", name, "--force", "--quiet", *extra]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dlapp", *args], cwd=REPO,
                   env={**os.environ, "DLAPP_MODEL_DIR": str(model_dir)}, check=True)
    wall = time.perf_counter() - t0
    card = read_card(model_dir / f"{name}.json")
    return row(card, wall, " ".join(["python -m dlapp", *args]), "this run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--presets", nargs="+", default=["seed", "fast", "best"])
    parser.add_argument("--subset", type=int, help="examples per class, for a quick trial of the bench itself")
    parser.add_argument("--model-dir", type=Path, help="train into this model cache (default: a scratch one)")
    parser.add_argument("--card", action="append", default=[], metavar="ID",
                        help="also list this cached model's card (not re-trained; marked 'card')")
    args = parser.parse_args()
    extra = ["--subset", str(args.subset)] if args.subset else []
    with tempfile.TemporaryDirectory(prefix="dlapp-train-bench-") as tmp:
        model_dir = args.model_dir or Path(tmp)
        rows = [run(args.dataset, p, model_dir, extra) for p in args.presets]
    if args.card:  # imported only here: the parent process stays light while the trainings run
        from dlapp import settings
        cache = settings.load().model_dir
    for model_id in args.card:  # the user cache first, then the shipped models
        path = cache / f"{model_id}.json"
        card = read_card(path if path.is_file() else settings.SHIPPED_MODEL_DIR / f"{model_id}.json")
        rows.append(row(card, None, card.provenance.command or "", f"card {model_id}"))
    ref = rows[0]
    print(f"{'preset':<14} {'epochs':>6} {'test acc':>9} {'vs ' + ref['preset']:>16} {'train':>8} {'wall':>8} "
          f"{'examples/s':>11}  source")
    for r in rows:
        wall = f"{r['wall_s']:7.0f}s" if r["wall_s"] is not None else f"{'-':>8}"
        print(f"{r['preset']:<14} {r['epochs']:6d} {r['accuracy']:8.2%} {r['accuracy'] - ref['accuracy']:+15.2%} "
              f"{r['train_s']:7.0f}s {wall} {r['examples_per_s']:11.0f}  {r['source']}")
    print()
    for r in rows:
        print(f"{r['preset']}: {r['command']}")


if __name__ == "__main__":
    main()
