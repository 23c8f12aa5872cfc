"""Test-time views, spent where they count: one view, every view, and every view only where the
first is unsure (ViewsWhenUnsure), on the same trained network in the same run.

    DLAPP_DATA_DIR=../shared/data python benchmarks/tta_gate_bench.py [MODEL_ID] [--gates 0.3,0.5,0.7]

For each way of exporting the shipped model's network (its temperature kept): accuracy on the
CIFAR-10 test split as stored and re-encoded as JPEG quality 75, the share of images that get
every view, and the cost of one image at a time (wall p50 and CPU of all threads per image), the
way the app serves an upload. Every view is the reference.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.jpeg_bench import jpeg  # noqa: E402
from dlapp.backend import compiled, tf  # noqa: E402
from dlapp.data import load_dataset  # noqa: E402
from dlapp.layers import top_probability, trained_network  # noqa: E402
from dlapp.nets.image import export  # noqa: E402
from dlapp.store import get_store  # noqa: E402


def variants(model, gates: list[float]) -> dict[str, object]:
    """The model's network exported with one view, every view, and each gate; its temperature kept."""
    temperature = model.get_layer("temperature").temperature
    out = {"every view (reference)": export(model, flip=True), "one view": export(model)}
    out |= {f"gate {g:g}": export(model, flip=True, gate=g) for g in gates}
    for m in out.values():
        m.get_layer("temperature").temperature = temperature
    return out


def accuracy(predict, x: np.ndarray, y: np.ndarray) -> float:
    probs = np.concatenate([predict(x[i:i + 500]) for i in range(0, len(x), 500)])
    return float((probs.argmax(axis=1) == y).mean())


def one_at_a_time(predict, images: np.ndarray) -> tuple[float, float]:
    """(wall p50 ms, CPU ms of all threads) per image, one image per call."""
    for im in images[:20]:
        predict(im[None])  # warm-up
    walls, cpu0 = [], time.process_time()
    for im in images:
        t = time.perf_counter()
        predict(im[None])
        walls.append((time.perf_counter() - t) * 1000)
    return float(np.median(walls)), (time.process_time() - cpu0) * 1000 / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="cifar10-best")
    parser.add_argument("--gates", default="0.3,0.5,0.7")
    parser.add_argument("--timed", type=int, default=500, help="test images timed one at a time")
    args = parser.parse_args()
    store = get_store()
    model, data = store.load(args.model), load_dataset("cifar10")
    if store.card(args.model).class_names != data.class_names:
        parser.error(f"{args.model} is not a CIFAR-10 image model")
    x, y, lossy = data.x_test, data.y_test.ravel(), jpeg(data.x_test, 75)
    first = compiled(trained_network(model) or model, tf.TensorSpec((None, *x.shape[1:]), tf.uint8))
    top = {name: np.concatenate([np.asarray(top_probability(first(a[i:i + 500]))) for i in range(0, len(a), 500)])
           for name, a in (("clean", x), ("jpeg", lossy))}
    timed = x[np.random.default_rng(0).permutation(len(x))[: args.timed]]
    print(f"{args.model}: the CIFAR-10 test split ({len(y):,} images); {len(timed)} of them timed one at a time")
    print(f"{'export':<24} {'accuracy':>9} {'JPEG q75':>9} {'every view on':>14} {'p50/image':>10} {'CPU/image':>10}")
    for name, m in variants(model, [float(g) for g in args.gates.split(",")]).items():
        predict = compiled(m, tf.TensorSpec((None, *x.shape[1:]), tf.uint8))
        gate = float(name.split()[1]) if name.startswith("gate") else (1.0 if name.startswith("every") else 0.0)
        share = f"{(top['clean'] < gate).mean():.1%} / {(top['jpeg'] < gate).mean():.1%}"
        wall, cpu = one_at_a_time(predict, timed)
        print(f"{name:<24} {accuracy(predict, x, y):9.2%} {accuracy(predict, lossy, y):9.2%} {share:>14} "
              f"{wall:8.2f}ms {cpu:8.2f}ms")
    print("every view on: the share of images (as stored / JPEG) that get every view")


if __name__ == "__main__":
    main()
