"""Made-up images that belong to no class, for outlier exposure (Hendrycks et al., 2019).

A natural outlier set (80 Million Tiny Images, as the paper used) cannot be downloaded here, and
a model that has only ever seen its own classes answers "cat 75%" to a selfie. So the presets that
know what they don't know are trained on images that are made, not collected:

- a bank drawn once per run (`outlier_bank`): flat and gradient fills, multi-octave "plasma"
  noise with a natural 1/f spectrum, pixel noise, stripes and checkers, shapes on a background
  (screenshots, diagrams), rendered words, pages of text, and iterated-function-system fractals
  (as PixMix uses), a quarter of them without colour;
- and, in every batch (`training/augment.add_outliers`), the batch's own photos made into
  non-objects: patch-shuffled (4×4 or 8×8 tiles), three-way blended, or blended with a bank image.

Each is drawn at 64×64 and reduced with antialiasing, as a photo is when it is fitted to the model.
The rendering is numpy and Pillow only, seeded, so a run's outliers are reproducible.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CANVAS = 64
_WORDS = ("hello", "SALE", "menu", "2024", "open", "ok", "Error", "click here", "dlapp", "TODO", "€9.99",
          "exit", "STOP", "#1", "wifi", "login", "Mon 10:00", "lorem ipsum", "PDF", "yes/no")


def _colour(rng: np.random.Generator, k: int = 1) -> np.ndarray:
    """Colours as photos have them: mostly muted (a grey pulled toward a random hue), some vivid."""
    grey = rng.uniform(0.05, 0.95, (k, 1))
    return np.clip(grey + rng.uniform(0.1, 1.0, (k, 1)) * (rng.uniform(0, 1, (k, 3)) - grey), 0, 1)


def _fill(rng):
    return np.broadcast_to(_colour(rng)[0], (CANVAS, CANVAS, 3)) + rng.normal(0, 0.01, (CANVAS, CANVAS, 3))


def _gradient(rng):
    a, b = _colour(rng, 2)
    yy, xx = np.mgrid[0:1:CANVAS * 1j, 0:1:CANVAS * 1j]
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        t = (np.cos(angle) * xx + np.sin(angle) * yy)
    else:
        cy, cx = rng.uniform(0, 1, 2)
        t = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    t = (t - t.min()) / (np.ptp(t) + 1e-8)
    return a * (1 - t[..., None]) + b * t[..., None]


def _upsample(grid: np.ndarray) -> np.ndarray:
    img = Image.fromarray((np.clip(grid, 0, 1) * 255).astype(np.uint8))
    return np.asarray(img.resize((CANVAS, CANVAS), Image.BICUBIC), np.float64) / 255


def _plasma(rng):
    out, exponent = np.zeros((CANVAS, CANVAS, 3)), rng.uniform(0.5, 1.5)
    for octave in range(1, 7):
        size = 2 ** octave
        out += _upsample(rng.uniform(0, 1, (size, size, 3))) / (2 ** (octave * exponent))
    out = (out - out.min()) / (np.ptp(out) + 1e-8)
    if rng.random() < 0.5:  # one hue ramp, as many textures have
        a, b = _colour(rng, 2)
        grey = out.mean(axis=-1, keepdims=True)
        out = a * (1 - grey) + b * grey
    return out


def _noise(rng):
    if rng.random() < 0.5:
        return rng.uniform(0, 1, (CANVAS, CANVAS, 3))
    return np.clip(_colour(rng)[0] + rng.normal(0, rng.uniform(0.05, 0.3), (CANVAS, CANVAS, 3)), 0, 1)


def _stripes(rng):
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS] / CANVAS
    angle, freq = rng.uniform(0, np.pi), rng.uniform(2, 16)
    t = np.sin(2 * np.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy))
    if rng.random() < 0.4:  # checkers
        t = t * np.sin(2 * np.pi * freq * (-np.sin(angle) * xx + np.cos(angle) * yy))
    t = (t > 0) if rng.random() < 0.5 else (t + 1) / 2
    a, b = _colour(rng, 2)
    return a * (1 - t[..., None]) + b * t[..., None]


def _canvas(rng) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.fromarray((_gradient(rng) * 255).astype(np.uint8) if rng.random() < 0.3 else
                          np.full((CANVAS, CANVAS, 3), (_colour(rng)[0] * 255).astype(np.uint8)))
    return img, ImageDraw.Draw(img)


def _rgb(rng) -> tuple[int, int, int]:
    return tuple(int(v) for v in (_colour(rng)[0] * 255))


def _shapes(rng):
    img, draw = _canvas(rng)
    for _ in range(int(rng.integers(1, 8))):
        x0, y0 = rng.integers(-8, CANVAS, 2)
        x1, y1 = x0 + rng.integers(4, 48), y0 + rng.integers(4, 48)
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.rectangle((int(x0), int(y0), int(x1), int(y1)), fill=_rgb(rng))
        elif kind == 1:
            draw.ellipse((int(x0), int(y0), int(x1), int(y1)), fill=_rgb(rng))
        else:
            draw.line((int(x0), int(y0), int(x1), int(y1)), fill=_rgb(rng), width=int(rng.integers(1, 6)))
    return np.asarray(img, np.float64) / 255


def _text(rng):
    img, draw = _canvas(rng)
    font = ImageFont.load_default(size=float(rng.uniform(9, 26)))
    for _ in range(int(rng.integers(1, 5))):
        words = " ".join(rng.choice(_WORDS, int(rng.integers(1, 3))))
        draw.text((int(rng.integers(-10, 40)), int(rng.integers(-5, 56))), words, fill=_rgb(rng), font=font)
    return np.asarray(img, np.float64) / 255


def _document(rng):
    """A page, a receipt or a screenshot of text: lines of small dark words on a light ground."""
    light = rng.uniform(0.8, 1.0)
    img = Image.fromarray(np.full((CANVAS, CANVAS, 3), int(light * 255), np.uint8))
    draw = ImageDraw.Draw(img)
    size = float(rng.uniform(5, 12))
    font = ImageFont.load_default(size=size)
    ink = tuple(int(v) for v in rng.uniform(0, 0.35) * 255 * np.ones(3))
    y = float(rng.uniform(-4, 6))
    while y < CANVAS:
        line = " ".join(rng.choice(_WORDS, int(rng.integers(2, 7))))
        draw.text((int(rng.integers(-4, 8)), int(y)), line, fill=ink, font=font)
        y += size * rng.uniform(1.1, 1.8)
    return np.asarray(img, np.float64) / 255


def _fractal(rng):
    """An iterated function system drawn by the chaos game: 2-4 random contractive affine maps."""
    n_maps = int(rng.integers(2, 5))
    maps = []
    for _ in range(n_maps):
        a = rng.uniform(-1, 1, (2, 2))
        a *= rng.uniform(0.3, 0.8) / max(np.linalg.norm(a, 2), 1e-6)
        maps.append((a, rng.uniform(-1, 1, 2)))
    points, pick = rng.uniform(-1, 1, (6000, 2)), rng.integers(0, n_maps, (25, 6000))
    for step in range(25):
        new = np.empty_like(points)
        for k, (a, b) in enumerate(maps):
            sel = pick[step] == k
            new[sel] = points[sel] @ a.T + b
        points = new
    points -= points.min(axis=0)
    points /= points.max(axis=0) + 1e-8
    ij = np.clip((points * (CANVAS - 1)).astype(int), 0, CANVAS - 1)
    hist = np.zeros((CANVAS, CANVAS))
    np.add.at(hist, (ij[:, 1], ij[:, 0]), 1.0)
    t = np.clip(np.log1p(hist) / (np.log1p(hist).max() + 1e-8), 0, 1)[..., None]
    back, fore = _colour(rng, 2)
    return back * (1 - t) + fore * t


KINDS = {"fill": _fill, "gradient": _gradient, "plasma": _plasma, "noise": _noise, "stripes": _stripes,
         "shapes": _shapes, "text": _text, "document": _document, "fractal": _fractal}
# Shares of the bank: natural-looking textures and synthetic scenes weigh more than flat fills,
# which are easy to tell from photos and need few examples.
MIX = {"fill": 0.05, "gradient": 0.08, "plasma": 0.2, "noise": 0.07, "stripes": 0.08, "shapes": 0.12,
       "text": 0.12, "document": 0.1, "fractal": 0.18}
GREY = 0.25  # share of the bank drawn without colour: scans, old photos, screenshots of documents


def outlier_bank(n: int, shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """`n` made-up uint8 images of `shape` (H, W, C), in MIX's shares, seeded."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    kinds = rng.choice(list(MIX), size=n, p=list(MIX.values()))
    out = np.empty((n, h, w, c), np.uint8)
    for i, kind in enumerate(kinds):
        rgb = (np.clip(KINDS[kind](rng), 0, 1) * 255).astype(np.uint8)
        img = Image.fromarray(rgb).resize((w, h), Image.LANCZOS)
        if rng.random() < GREY:
            img = img.convert("L").convert("RGB")
        out[i] = np.asarray(img.convert("L"))[..., None] if c == 1 else np.asarray(img)
    return out
