"""Ablation of the airbench94 port: each piece of the recipe off in turn, on short runs of one budget.

    DLAPP_DATA_DIR=../shared/data python benchmarks/ablation_bench.py [--epochs 3] [--subset 0] [--seed 0]
        [--only NAME,NAME]

Every variant trains the `fast` preset (airbench94's recipe on a 32/64/128 net, dlapp/tasks/image.py) through
dlapp's own `train()` into a scratch cache, with one piece changed, and prints its test accuracy (the full
test split, the model as saved: calibrated, with its mirror view) and its fitting time beside the full
recipe's, from the same run. One seed per variant: differences under about half a point are noise
(airbench's own runs spread by ~0.15 points at 94%; these short runs spread more).

The pieces that are not preset fields are switched here, in the benchmark only, by swapping the module
attribute the engine reads when it builds or compiles a model.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlapp.nets import image as nets_image  # noqa: E402
from dlapp.store import ModelStore  # noqa: E402
from dlapp.tasks import image as image_task  # noqa: E402
from dlapp.training import TrainConfig, optim, train  # noqa: E402


@contextlib.contextmanager
def swapped(module, name: str, value) -> Iterator[None]:
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def optimizer_with(**fixed) -> type:
    class Variant(optim.AirbenchSGD):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, **fixed})
    return Variant


def preset_with(**changes):
    return swapped(image_task, "PRESETS", {**image_task.PRESETS,
                                           "fast": dataclasses.replace(image_task.PRESETS["fast"], **changes)})


def no_dirac(layer, rng, *, dirac: bool) -> None:
    nets_image_init(layer, rng, dirac=False)


nets_image_init = nets_image._torch_like_init

VARIANTS: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
    "full recipe": contextlib.nullcontext,
    "no lookahead": lambda: swapped(optim, "AirbenchSGD", optimizer_with(lookahead=False)),
    "no dirac init": lambda: swapped(nets_image, "_torch_like_init", no_dirac),
    "BatchNorm as before (momentum 0.9, learnt scale)": lambda: swapped(nets_image, "AIRBENCH_BN", {"momentum": 0.9}),
    "whitening bias never learnt": lambda: swapped(optim, "AirbenchSGD", optimizer_with(whiten_bias_steps=0)),
    "no 64× lr on BN biases": lambda: swapped(optim, "AirbenchSGD", optimizer_with(bias_scaler=1.0)),
    "no outlier exposure": lambda: preset_with(outliers=0.0),
    "no label smoothing": lambda: preset_with(label_smoothing=0.0),
    "batch 256 (same per-1024 lr)": lambda: preset_with(batch_size=256),
    "dlapp's old recipe: AdamW one-cycle": lambda: preset_with(optimizer="adamw", learning_rate=4e-3,
                                                              weight_decay=0.05, label_smoothing=0.1,
                                                              batch_size=256),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the fast preset's")
    parser.add_argument("--subset", type=int, default=None, help="images per class (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    args = parser.parse_args()
    if not os.environ.get("DLAPP_DATA_DIR"):
        sys.exit("Set DLAPP_DATA_DIR to the folder holding cifar10.npz (e.g. DLAPP_DATA_DIR=../shared/data).")
    chosen = [v for v in VARIANTS if not args.only or v in args.only.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="dlapp-ablation-") as tmp:
        store = ModelStore(Path(tmp))
        for i, name in enumerate(chosen):
            with VARIANTS[name]():
                result = train(TrainConfig(dataset="cifar10", preset="fast", epochs=args.epochs, subset=args.subset,
                                           seed=args.seed, name=f"ablation-{i}"), store=store, force=True)
            card = result.card
            rows.append((name, card.metrics.test_accuracy, card.provenance.training_time_s))
            print(f"{name}: {card.metrics.test_accuracy:.2%} in {card.provenance.training_time_s:.0f} s", flush=True)
    base = dict((n, a) for n, a, _ in rows).get("full recipe")
    print(f"\nfast preset, {args.epochs or image_task.PRESETS['fast'].epochs} epochs, "
          f"{'all' if not args.subset else args.subset} images per class, seed {args.seed}")
    print("| variant | test accuracy | vs full recipe | fitting time |\n|---|---|---|---|")
    for name, acc, seconds in rows:
        delta = f"{(acc - base) * 100:+.2f} pt" if base is not None and name != "full recipe" else "—"
        print(f"| {name} | {acc:.2%} | {delta} | {seconds:.0f} s |")


if __name__ == "__main__":
    main()
