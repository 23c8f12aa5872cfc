"""Example inputs for demos, taken at start-up from local test splits (never committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from . import settings as settings_mod
from .datasets import CIFAR10_CLASSES, FASHION_CLASSES, MNIST_CLASSES

_NAMES = {"cifar10": CIFAR10_CLASSES, "mnist": MNIST_CLASSES, "fashion_mnist": FASHION_CLASSES}

# Written for dlapp, not taken from any data set.
EXAMPLE_REVIEWS = [
    "This movie was wonderful, I loved every minute of it. The cast is superb and the ending moved me to tears.",
    "A dull, lifeless script and wooden acting. I checked my watch every ten minutes and regretted buying a ticket.",
    "The first half drags, but the final act is clever and the soundtrack is fantastic. Worth a watch.",
    "I wanted to like it, but the plot makes no sense and the jokes fall flat.<br /><br />Skip this one.",
]


def local_test_images(prefer: str | None = None, *, per_class: int = 1, data_dir: Path | None = None):
    """(dataset name, [(label, uint8 image)]) from the first local data set, or (None, [])."""
    data_dir = data_dir if data_dir is not None else settings_mod.load().data_dir
    if data_dir is None:
        return None, []
    order = [prefer] if prefer in _NAMES else []
    order += [n for n in _NAMES if n not in order]
    for name in order:
        path = data_dir / f"{name}.npz"
        if not path.is_file():
            continue
        with np.load(path, allow_pickle=False) as z:  # only the test arrays are decompressed
            x, y = z["x_test"], z["y_test"].reshape(-1)
        classes = _NAMES[name]
        picks = []
        for c in range(len(classes)):
            for i in np.flatnonzero(y == c)[:per_class]:
                picks.append((classes[c], x[i] if x.ndim == 4 else x[i][..., None]))
        return name, picks
    return None, []


def export_example_images(dest: Path, prefer: str | None = None, *, per_class: int = 1, upscale: int = 4) -> list[Path]:
    """Write example PNGs (upscaled so they are visible) into `dest`; [] when no data is local."""
    name, picks = local_test_images(prefer, per_class=per_class)
    if not picks:
        return []
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, (label, arr) in enumerate(picks):
        img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
        img = img.resize((img.width * upscale, img.height * upscale), Image.Resampling.NEAREST)
        path = dest / f"{name}-{n:02d}-{label.replace('/', '-')}.png"
        img.save(path)
        paths.append(path)
    return paths
