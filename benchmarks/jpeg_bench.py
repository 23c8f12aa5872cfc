"""Robustness: test accuracy on CIFAR-10 as stored vs. re-encoded as JPEG (quality 75).

    DLAPP_DATA_DIR=../shared/data python benchmarks/jpeg_bench.py [MODEL_ID] [--quality 75]

Both figures come from the same model in the same run; the original test split is the
reference. Target (issue #4): the image `best` model loses at most 3 points.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlapp.data import load_dataset  # noqa: E402
from dlapp.store import get_store  # noqa: E402
from dlapp.training import evaluate_model  # noqa: E402


def jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    out = np.empty_like(images)
    for i, arr in enumerate(images):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
        out[i] = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="image model id (default: the image default)")
    parser.add_argument("--quality", type=int, default=75)
    args = parser.parse_args()
    store = get_store()
    model_id = args.model or store.default_id("image")
    card, model = store.card(model_id), store.load(model_id)
    data = load_dataset("cifar10")
    if card.task != "image" or card.class_names != data.class_names:
        parser.error(f"{model_id} is not a CIFAR-10 image model")
    plain = evaluate_model(model, "image", data.x_test, data.y_test, data.class_names).test_accuracy
    lossy = evaluate_model(model, "image", jpeg(data.x_test, args.quality), data.y_test,
                           data.class_names).test_accuracy
    print(f"{model_id} on the CIFAR-10 test split ({len(data.y_test):,} images)")
    print(f"  as stored (reference)   {plain:.2%}")
    print(f"  JPEG quality {args.quality:<3}        {lossy:.2%}   ({(lossy - plain) * 100:+.2f} points; limit -3.00)")


if __name__ == "__main__":
    main()
