"""Which ingredients the `attention` text preset needs: each changed in turn, on short runs of one budget.

    DLAPP_DATA_DIR=$DATA python benchmarks/attention_ablation_bench.py [--subset 5000] [--epochs 2] [--seed 0]
        [--only NAME,NAME]

Every variant trains the `attention` preset (dlapp/tasks/text.py: a small Transformer encoder with an
attention-pooling head) through dlapp's own `train()` into a scratch cache, with one preset field
changed, and prints its accuracy on the film-disjoint validation split (the preset's own 10%, held
out in contiguous runs of reviews) and its fitting time beside the preset's own, from the same run.
The test split plays no part in the choice: `train()` still evaluates the saved model, here on a
strided 500-review slice only, which is not printed. One seed per variant: differences under about
half a point are noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ablation_bench import swapped  # noqa: E402
from dlapp.store import ModelStore  # noqa: E402
from dlapp.tasks import text as text_task  # noqa: E402
from dlapp.training import TrainConfig, loop, train  # noqa: E402

VARIANTS: dict[str, dict] = {
    "preset: NB evidence + 1 block + attention pooling": {},
    "without NB evidence": {"nb_features": False},
    "2 blocks": {"blocks": 2},
    "mean pooling (uniform weights)": {"pooling": "mean"},
    "0 blocks (pooling over embeddings + NB)": {"blocks": 0},
    "256 tokens": {"sequence_length": 256},
}


def preset_with(**changes):
    return swapped(text_task, "PRESETS", {**text_task.PRESETS,
                                          "attention": dataclasses.replace(text_task.PRESETS["attention"], **changes)})


def small_test_slice():
    """train() evaluates on the test split; a strided 500-review slice keeps that cheap (never printed)."""
    evaluate = loop.evaluate_model
    return swapped(loop, "evaluate_model",
                   lambda model, task, x, y, names, **kw: evaluate(model, task, x[::50], y[::50], names, **kw))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=5000, help="reviews per class (0: all 12,500)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    args = parser.parse_args()
    if not os.environ.get("DLAPP_DATA_DIR"):
        sys.exit("Set DLAPP_DATA_DIR to the folder holding the IMDB data.")
    chosen = [v for v in VARIANTS if not args.only or v in args.only.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="dlapp-attention-ablation-") as tmp, small_test_slice():
        store = ModelStore(Path(tmp))
        for i, name in enumerate(chosen):
            with preset_with(**VARIANTS[name]):
                card = train(TrainConfig(dataset="imdb", preset="attention", epochs=args.epochs,
                                         subset=args.subset or None, seed=args.seed, name=f"ablation-{i}"),
                             store=store, force=True).card
            val = card.metrics.final_val_accuracy
            rows.append((name, val, card.provenance.training_time_s))
            print(f"{name}: validation {val:.2%} in {card.provenance.training_time_s:.0f} s", flush=True)
    base = rows[0][1] if chosen and chosen[0] == next(iter(VARIANTS)) else None
    print(f"\nattention preset, {args.epochs} epochs, {args.subset or 'all'} reviews per class, seed {args.seed}")
    print("| variant | validation accuracy | vs preset | fitting time |\n|---|---|---|---|")
    for name, acc, seconds in rows:
        delta = f"{(acc - base) * 100:+.2f} pt" if base is not None and name != rows[0][0] else "—"
        print(f"| {name} | {acc:.2%} | {delta} | {seconds:.0f} s |")


if __name__ == "__main__":
    main()
