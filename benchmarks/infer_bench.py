"""Model-side inference latency of the fast models: compiled path vs. eager call.

    python benchmarks/infer_bench.py [--runs 200] [--image-model ID] [--text-model ID]

Prints p50/p95 per single image and per single review for dlapp's compiled
path (tf.function, traced once) side by side with the eager Keras call on the
same model in the same run (the reference the machine notes warn about).
Targets (issue #2): p50 <= 5 ms per image and <= 20 ms per review on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dlapp  # noqa: E402,F401
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


if __name__ == "__main__":
    main()
