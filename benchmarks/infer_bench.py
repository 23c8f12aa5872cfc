"""Model-side inference latency of the fast models: compiled path vs. eager call.

    python benchmarks/infer_bench.py [--runs 200] [--image-model ID] [--text-model ID]

Prints p50/p95 per single image and per single review for dlapp's compiled
path (tf.function, traced once) side by side with the eager Keras call on the
same model in the same run (the reference the machine notes warn about).
Targets (issue #2): p50 <= 5 ms per image and <= 20 ms per review on a 2-core CPU.

Then, for each text model, the XLA path the predictor takes (vectorizer as a graph, the rest
fused by XLA) beside the plain graph of the whole model, per call of 1 and 8 reviews: wall
time and the CPU time of all threads (what other requests lose on a shared CPU).
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dlapp  # noqa: E402,F401
from dlapp.backend import compiled as plain_graph  # noqa: E402
from dlapp.backend import tf  # noqa: E402
from dlapp.inference import get_predictor  # noqa: E402
from dlapp.samples import EXAMPLE_REVIEWS  # noqa: E402


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up / trace
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--eager-runs", type=int, default=20, help="eager LSTM calls are slow; fewer runs")
    parser.add_argument("--image-model", default="cifar10-fast", help="the targets are for the fast presets")
    parser.add_argument("--text-model", default="imdb-fast")
    args = parser.parse_args()

    image = get_predictor("image", args.image_model)
    batch = np.random.default_rng(0).integers(0, 255, (1, *image.size, image.channels), dtype=np.uint8)
    text = get_predictor("text", args.text_model)
    review = np.array([EXAMPLE_REVIEWS[0]], dtype=object)

    rows = [
        (f"image  {image.model_id}", timed(lambda: image._predict(batch), args.runs),
         timed(lambda: image.model(batch, training=False), args.runs), 5.0),
        (f"review {text.model_id}", timed(lambda: text._predict(review), args.runs),
         timed(lambda: text.model(review, training=False), args.eager_runs), 20.0),
    ]
    print(f"{'model':<34} {'compiled p50':>12} {'p95':>8} {'eager p50':>10} {'speed-up':>9} {'target':>8}")
    for name, compiled, eager, target in rows:
        p50, e50 = pct(compiled, 50), pct(eager, 50)
        ok = "met" if p50 <= target else "MISSED"
        print(f"{name:<34} {p50:10.2f}ms {pct(compiled, 95):6.2f}ms {e50:8.2f}ms {e50 / p50:8.1f}x "
              f"{target:5.0f}ms {ok}")
    print()
    xla_table(args.runs)


def cpu_timed(fn, runs: int) -> tuple[float, float]:
    """(p50 wall ms, mean CPU ms of every thread in the process) per call, after a warm-up
    call (the first one traces, and XLA compiles)."""
    fn()
    start = time.process_time()
    wall = timed(fn, runs)
    return pct(wall, 50), (time.process_time() - start) * 1000 / (runs + 1)


def xla_table(runs: int) -> None:
    from dlapp.inference import get_store

    print(f"{'text model':<16} {'reviews':>7} {'plain graph p50':>15} {'CPU':>8} {'XLA p50':>9} {'CPU':>8} "
          f"{'CPU saved':>9}")
    for card in get_store().list(task="text"):
        predictor = get_predictor("text", card.id)
        plain = plain_graph(predictor.model, tf.TensorSpec((None,), tf.string))
        for n in (1, 8):
            reviews = np.array((EXAMPLE_REVIEWS * n)[:n], dtype=object)
            p_wall, p_cpu = cpu_timed(partial(plain, reviews), runs)
            x_wall, x_cpu = cpu_timed(partial(predictor._predict, reviews), runs)
            print(f"{card.id:<16} {n:7d} {p_wall:13.2f}ms {p_cpu:6.2f}ms {x_wall:7.2f}ms {x_cpu:6.2f}ms "
                  f"{1 - x_cpu / p_cpu:8.0%}")


if __name__ == "__main__":
    main()
