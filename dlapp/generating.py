"""Drawing with a cached generator, and what the project's own classifier sees in each picture.

The one place the Generate tab, the /generate and /interpolate endpoints and `python -m dlapp generate`
share: checked inputs (whole numbers in range, a class the generator knows), the pictures (uint8, at the
generator's own size: 32×32 for CIFAR-10), the default image model's answer per picture, and PNG files.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import limits
from .errors import DlappError, UsageError
from .store import ModelStore

# The generator's pictures are tiny; an enlargement is only for people. Nearest keeps each pixel a visible square
# (what the generator really drew); bicubic is smoother and easier on the eye, and invents nothing but blur.
UPSCALE_METHODS = ("nearest", "bicubic")
UPSCALE_RANGE = (1, 16)  # 32 px × 16 = 512 px: more only makes bigger files
_BLEND = threading.Lock()  # a blend between two classes builds its model on first use: once, not per thread


@dataclass(frozen=True)
class Seen:
    """What the classifier answers for one picture: its answer ("none of these" when even its best class is
    below its threshold), the probability of its best class, and its few best classes."""

    label: str
    probability: float
    top: tuple[tuple[str, float], ...]

    def __str__(self) -> str:
        best = self.top[0][0] if self.top else ""
        if self.label == best:
            return f"{self.label} {self.probability:.0%}"
        return f"{self.label} (closest: {best} {self.probability:.0%})"


@dataclass(frozen=True)
class Drawn:
    """Pictures from a generator, with what each one was asked for and what the classifier sees in it."""

    model_id: str
    pictures: np.ndarray  # uint8 (N, H, W, C), at the generator's own size
    requested: tuple[str, ...]  # per picture: the class asked for ("horse", or "cat → dog 40%" along a blend)
    seeds: tuple[str, ...]  # per picture: its seed ("17", or "3 → 9 at 25%" along an interpolation)
    seen: tuple[Seen, ...] | None  # None: no image classifier to ask
    classifier: str | None  # the image model that answered
    classifier_note: str = ""  # why there is no answer, or that the classifier knows other classes

    @property
    def side(self) -> tuple[int, int]:
        return int(self.pictures.shape[1]), int(self.pictures.shape[2])

    def captions(self) -> list[str]:
        """One line per picture: seed, request, and what the classifier sees."""
        seen = self.seen or [None] * len(self.pictures)
        return [f"seed {s} · {r}" + (f" · sees {v}" if v is not None else "")
                for s, r, v in zip(self.seeds, self.requested, seen, strict=True)]

    def agreement(self) -> str:
        """One sentence: how many pictures the classifier files under the class asked for."""
        if self.seen is None:
            return self.classifier_note
        hits = sum(v.label == r for v, r in zip(self.seen, self.requested, strict=True))
        declined = sum(v.label == _none_of_these() for v in self.seen)
        out = (f"{self.classifier} sees the requested class in {hits} of {len(self.seen)} pictures"
               + (f"; \"none of these\" in {declined}" if declined else "") + ".")
        return f"{out} {self.classifier_note}".strip()

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON for the API: each picture as a base64 PNG, with what the classifier sees in it."""
        import base64

        seen = self.seen or [None] * len(self.pictures)
        return {"model_id": self.model_id, "size": list(self.side), "classifier": self.classifier,
                "classifier_note": self.classifier_note,
                "pictures": [{"png_base64": base64.b64encode(png_bytes(p)).decode("ascii"), "seed": s,
                              "requested": r, "seen": None if v is None else
                              {"label": v.label, "probability": round(v.probability, 4),
                               "top": [[n, round(q, 4)] for n, q in v.top]}}
                             for p, s, r, v in zip(self.pictures, self.seeds, self.requested, seen, strict=True)]}


def _none_of_these() -> str:
    from .tasks.image import NONE_OF_THESE

    return NONE_OF_THESE


def whole(name: str, value: Any, low: int, high: int) -> int:
    """`value` as an int in [low, high]; a float that is a whole number (JSON's 3.0) counts.

    Raises:
        UsageError: not a whole number (text, a fraction, a bool, None), or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
            or not np.isfinite(value) or float(value) != int(value):
        raise UsageError(f"{name} must be a whole number from {low:,} to {high:,}, not {value!r}.")
    if not low <= int(value) <= high:
        raise UsageError(f"{name} must be from {low:,} to {high:,}, not {int(value):,}.")
    return int(value)


def _class(generator: Any, value: Any) -> int:
    """A class name (any case) or index the generator knows. Raises UsageError."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, str) and not isinstance(value, bool) and isinstance(value, int | float | np.integer):
        value = whole("Class", value, 0, len(generator.class_names) - 1)
    elif not isinstance(value, str):
        raise UsageError(f"Name a class: {', '.join(generator.class_names)}; not {value!r}.")
    return generator.class_index(value)


def generator_for(model_id: str | None, *, store: ModelStore | None = None) -> Any:
    """The cached generator (tasks.generate.Generator); None: the default generate model.

    Raises:
        ModelNotFoundError: no such model, or no generate model at all.
        UsageError: the model is not a generator.
    """
    from .inference import get_predictor

    if model_id is not None and not isinstance(model_id, str):
        raise UsageError(f"A model id is a name such as cifar10-gan, not {model_id!r}.")
    return get_predictor("generate", (model_id or "").strip() or None, store=store)


def generate(model_id: str | None, class_name: str | int, *, seed: int = 0, n: int = 16,
             store: ModelStore | None = None, classifier: str | None = None, judge: bool = True) -> Drawn:
    """`n` pictures of one class from seeds seed, seed + 1, …, and what the classifier sees in each.

    Raises:
        UsageError: a class the generator does not draw, a seed or n out of range (limits.MAX_SEED,
            limits.MAX_GENERATE). ModelNotFoundError: no such generator.
    """
    seed = whole("Seed", seed, 0, limits.MAX_SEED)
    n = whole("Number of pictures", n, 1, limits.MAX_GENERATE)
    g = generator_for(model_id, store=store)
    c = _class(g, class_name)
    seed = min(seed, limits.MAX_SEED - n + 1)  # the last seed stays a seed
    pictures = g.generate(c, seed=seed, n=n)
    seeds = tuple(str(s) for s in range(seed, seed + n))
    return _judged(g, pictures, (g.class_names[c],) * n, seeds, store, classifier, judge)


def interpolate(model_id: str | None, *, seed_a: int, seed_b: int, class_a: str | int,
                class_b: str | int | None = None, steps: int = 8, store: ModelStore | None = None,
                classifier: str | None = None, judge: bool = True) -> Drawn:
    """`steps` pictures walking from (seed_a, class_a) to (seed_b, class_b): between two seeds of one class,
    or between two classes for one seed (or both at once), and what the classifier sees in each.

    Raises:
        UsageError: a class the generator does not draw, a seed or steps out of range (limits.MAX_SEED,
            limits.MAX_INTERPOLATION_STEPS). ModelNotFoundError: no such generator.
    """
    seed_a = whole("Seed A", seed_a, 0, limits.MAX_SEED)
    seed_b = whole("Seed B", seed_b, 0, limits.MAX_SEED)
    steps = whole("Steps", steps, 2, limits.MAX_INTERPOLATION_STEPS)
    g = generator_for(model_id, store=store)
    a = _class(g, class_a)
    b = a if class_b is None or class_b == "" else _class(g, class_b)
    if a != b:
        with _BLEND:
            pictures = g.interpolate(seed_a=seed_a, seed_b=seed_b, class_a=a, class_b=b, steps=steps)
    else:
        pictures = g.interpolate(seed_a=seed_a, seed_b=seed_b, class_a=a, class_b=b, steps=steps)
    ts = np.linspace(0, 1, steps)
    name_a, name_b = g.class_names[a], g.class_names[b]
    requested = tuple(name_a if t == 0 or a == b else name_b if t == 1 else f"{name_a} → {name_b} {t:.0%}"
                      for t in ts)
    seeds = tuple(str(seed_a) if t == 0 or seed_a == seed_b else str(seed_b) if t == 1
                  else f"{seed_a} → {seed_b} {t:.0%}" for t in ts)
    return _judged(g, pictures, requested, seeds, store, classifier, judge)


def _judged(g: Any, pictures: np.ndarray, requested: tuple[str, ...], seeds: tuple[str, ...],
            store: ModelStore | None, classifier: str | None, judge: bool) -> Drawn:
    """The pictures with the image classifier's answer for each (the default image model unless named)."""
    from .inference import get_predictor

    drawn = Drawn(g.model_id, np.asarray(pictures, np.uint8), requested, seeds, None, None)
    if not judge:
        return drawn
    try:
        clf = get_predictor("image", classifier, store=store)
    except DlappError as exc:
        return replace(drawn, classifier_note=f"No image classifier to ask what it sees: {exc}")
    answers = clf.classify_batch(list(drawn.pictures), k=3)
    seen = tuple(Seen(clf.top_label(top), float(top[0][1]), tuple((n, float(p)) for n, p in top))
                 for top in answers)
    note = "" if list(clf.class_names) == list(g.class_names) else \
        (f"{clf.model_id} knows other classes ({', '.join(clf.class_names[:10])}"
         f"{', …' if len(clf.class_names) > 10 else ''}) than this generator draws.")
    return Drawn(g.model_id, drawn.pictures, requested, seeds, seen, clf.model_id, note)


# ---------------------------------------------------------------- pictures for people and files

def upscale(picture: np.ndarray, factor: int, method: str = "nearest") -> np.ndarray:
    """A uint8 picture `factor` times larger (nearest: each pixel a square; bicubic: smoothed)."""
    from PIL import Image

    factor = whole("Enlargement", factor, *UPSCALE_RANGE)
    if method not in UPSCALE_METHODS:
        raise UsageError(f"Enlarge with {' or '.join(UPSCALE_METHODS)}, not {method!r}.")
    if factor == 1:
        return picture
    h, w = picture.shape[:2]
    image = Image.fromarray(picture.squeeze(-1) if picture.shape[-1] == 1 else picture)
    resample = Image.Resampling.NEAREST if method == "nearest" else Image.Resampling.BICUBIC
    out = np.asarray(image.resize((w * factor, h * factor), resample))
    return out[..., None] if out.ndim == 2 else out


def grid(pictures: np.ndarray, columns: int = 8, gap: int = 1) -> np.ndarray:
    """The pictures as one uint8 image, `columns` per row, `gap` px of white between them."""
    n, h, w, c = pictures.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, c), 255, np.uint8)
    for i, picture in enumerate(pictures):
        r, k = divmod(i, columns)
        out[r * (h + gap):r * (h + gap) + h, k * (w + gap):k * (w + gap) + w] = picture
    return out


def png_bytes(picture: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(picture.squeeze(-1) if picture.shape[-1] == 1 else picture).save(buf, format="PNG")
    return buf.getvalue()


def save_pngs(drawn: Drawn, out: Path, *, stem: str, scale: int = 1, method: str = "nearest",
              columns: int = 8) -> tuple[list[Path], Path]:
    """Each picture as `<stem>-<i>.png` and all of them as `<stem>-grid.png` in folder `out` (made if missing).

    Raises:
        UsageError: `out` exists and is not a folder.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file; --out names a folder to write the pictures into.")
    out.mkdir(parents=True, exist_ok=True)
    width = len(str(len(drawn.pictures)))
    files = []
    for i, picture in enumerate(drawn.pictures):
        path = out / f"{stem}-{i + 1:0{width}d}.png"
        path.write_bytes(png_bytes(upscale(picture, scale, method)))
        files.append(path)
    grid_path = out / f"{stem}-grid.png"
    grid_path.write_bytes(png_bytes(upscale(grid(drawn.pictures, columns), scale, method)))
    return files, grid_path
