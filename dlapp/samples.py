"""Example inputs for first screens: local test images (never committed) and reviews written for dlapp."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from . import settings as settings_mod
from .tasks import get_task

# Written for dlapp, not taken from any data set.
EXAMPLE_REVIEWS = [
    "This movie was wonderful, I loved every minute of it. The cast is superb and the ending moved me to tears.",
    "A dull, lifeless script and wooden acting. I checked my watch every ten minutes and regretted buying a ticket.",
    "The first half drags, but the final act is clever and the soundtrack is fantastic. Worth a watch.",
    "I wanted to like it, but the plot makes no sense and the jokes fall flat.<br /><br />Skip this one.",
]


def export_example_images(dest: Path, prefer: str | None = None, *, per_class: int = 1, upscale: int = 4) -> list[Path]:
    """Write example PNGs (upscaled so they are visible) into `dest`; [] when no image data is local."""
    picks = get_task("image").examples(data_dir=settings_mod.load().data_dir, per_class=per_class, prefer=prefer)
    if not picks:
        return []
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, (label, arr) in enumerate(picks):
        img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
        img = img.resize((img.width * upscale, img.height * upscale), Image.Resampling.NEAREST)
        path = dest / f"{n:02d}-{label.replace('/', '-')}.png"
        img.save(path)
        paths.append(path)
    return paths
