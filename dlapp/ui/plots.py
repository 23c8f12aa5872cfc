"""Small renderers for training: loss/accuracy curves and the confusion matrix as PNGs, the progress bar."""

from __future__ import annotations

import html

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SERIES_COLOURS = {"train": (249, 115, 22), "validation": (37, 99, 235)}  # orange, blue


def curve_png(points: list[dict], metric: str, *, size=(520, 260)) -> Image.Image:
    """A line chart of `metric` ("loss" or "accuracy") per epoch, train and validation.

    Drawn on the server with Pillow: one fixed picture that renders the same in every
    browser and in screenshots (Gradio's Vega line plots drew no lines for us under live updates).
    """
    width, height = size
    left, right, top, bottom = 52, 14, 28, 34
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = _font(11)
    draw.text((left, 12), metric.capitalize(), fill="#111827", font=_font(13), anchor="lm")
    series = {name: sorted((p["epoch"], p[metric]) for p in points
                           if p["series"] == name and p.get(metric) is not None) for name in SERIES_COLOURS}
    values = [v for pts in series.values() for _, v in pts]
    if not values:
        draw.text((width / 2, height / 2), "curves appear here while a training runs", fill="#6b7280", font=font,
                  anchor="mm")
        return img
    x_max = max(1.0, max(x for pts in series.values() for x, _ in pts))
    y_min, y_max = min(values), max(values)
    pad = (y_max - y_min) * 0.08 or 0.05
    y_min, y_max = y_min - pad, y_max + pad

    def xy(x: float, y: float) -> tuple[float, float]:
        return (left + (width - left - right) * x / x_max,
                top + (height - top - bottom) * (1 - (y - y_min) / (y_max - y_min)))

    for k in range(5):  # horizontal grid with value labels
        y = y_min + (y_max - y_min) * k / 4
        _, py = xy(0, y)
        draw.line([(left, py), (width - right, py)], fill="#e5e7eb")
        draw.text((left - 6, py), f"{y:.2f}", fill="#374151", font=font, anchor="rm")
    step = max(1, round(x_max / 6))
    for e in range(0, int(x_max) + 1, step):  # epoch ticks
        px, _ = xy(e, y_min)
        draw.line([(px, height - bottom), (px, height - bottom + 4)], fill="#9ca3af")
        draw.text((px, height - bottom + 12), str(e), fill="#374151", font=font, anchor="mm")
    draw.text(((width + left) / 2, height - 8), "epoch", fill="#374151", font=font, anchor="mm")
    for n, (name, pts) in enumerate(series.items()):
        colour = SERIES_COLOURS[name]
        coords = [xy(x, y) for x, y in pts]
        if len(coords) > 1:
            draw.line(coords, fill=colour, width=2)
        for cx, cy in (coords if name == "validation" else coords[-1:]):  # validation is per epoch: mark each
            draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=colour)
        lx = left + 90 + n * 70  # legend beside the title
        draw.line([(lx, 12), (lx + 14, 12)], fill=colour, width=3)
        draw.text((lx + 18, 12), name, fill="#374151", font=font, anchor="lm")
    return img


def progress_html(fraction: float, text: str, state: str, points: int = 0) -> str:
    colour = {"running": "#f97316", "done": "#16a34a", "failed": "#dc2626",
              "cancelled": "#6b7280"}.get(state, "#9ca3af")
    pct = max(0.0, min(1.0, fraction)) * 100
    return (f'<div class="dlapp-progress" data-state="{html.escape(state)}" data-progress="{pct:.1f}" '
            f'data-points="{points}">'
            f'<div style="background:#e5e7eb;border-radius:6px;height:14px;overflow:hidden">'
            f'<div style="width:{pct:.1f}%;background:{colour};height:100%;transition:width .4s"></div></div>'
            f'<div style="font-size:0.9em;margin-top:4px">{html.escape(text)}</div></div>')


def _font(size: int):
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default()


CONFUSION_CELL = 44  # px per cell of confusion_png; explained.cell_at maps clicks back to cells
CONFUSION_MARGIN = 120  # room for the longest class name (14 characters) and the legend in the corner


def confusion_png(matrix: list[list[int]], class_names: list[str]) -> Image.Image:
    """A labelled heat map: rows are true classes, columns predicted ones."""
    m = np.asarray(matrix, dtype=np.float64)
    n = len(class_names)
    margin, cell = CONFUSION_MARGIN, CONFUSION_CELL
    img = Image.new("RGB", (margin + n * cell + 10, margin + n * cell + 10), "white")
    draw = ImageDraw.Draw(img)
    font, small = _font(12), _font(11)
    row_sums = m.sum(axis=1, keepdims=True)
    share = np.divide(m, row_sums, out=np.zeros_like(m), where=row_sums > 0)
    for i in range(n):
        for j in range(n):
            v = share[i, j]
            fade = int(255 - 200 * v)
            colour = (fade, int(255 - 120 * v), 255) if i != j else (fade, 255, fade)
            x0, y0 = margin + j * cell, margin + i * cell
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=colour, outline="#d1d5db")
            draw.text((x0 + cell / 2, y0 + cell / 2), str(int(m[i, j])), fill="black", font=small, anchor="mm")
    for k, name in enumerate(class_names):
        draw.text((margin - 6, margin + k * cell + cell / 2), name[:14], fill="black", font=font, anchor="rm")
        label = Image.new("RGBA", (margin - 10, 16), (255, 255, 255, 0))
        ImageDraw.Draw(label).text((margin - 12, 8), name[:14], fill="black", font=font, anchor="rm")
        label = label.rotate(90, expand=True)
        img.paste(label, (margin + k * cell + (cell - 16) // 2, 2), label)
    draw.text((4, margin - 40), "rows: true class ↓", fill="#374151", font=small)
    draw.text((4, margin - 24), "columns: predicted →", fill="#374151", font=small)
    return img


def trajectory_png(values: list[float], positive: str, *, size=(520, 220)) -> Image.Image:
    """P(positive) after each sentence of a review, with the 50% line the verdict flips at."""
    width, height = size
    left, right, top, bottom = 46, 14, 24, 34
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = _font(11)
    draw.text((left, 10), f"P({positive}) after each sentence", fill="#111827", font=_font(13), anchor="lm")
    n = max(1, len(values) - 1)

    def xy(i: float, p: float) -> tuple[float, float]:
        return left + (width - left - right) * i / n, top + (height - top - bottom) * (1 - p)

    for p in (0.0, 0.5, 1.0):
        _, py = xy(0, p)
        draw.line([(left, py), (width - right, py)], fill="#9ca3af" if p == 0.5 else "#e5e7eb")
        draw.text((left - 6, py), f"{p:.0%}", fill="#374151", font=font, anchor="rm")
    step = max(1, round(n / 8))
    for i in range(0, len(values), step):
        px, _ = xy(i, 0)
        draw.text((px, height - bottom + 12), str(i + 1), fill="#374151", font=font, anchor="mm")
    draw.text(((width + left) / 2, height - 8), "sentence", fill="#374151", font=font, anchor="mm")
    coords = [xy(i, p) for i, p in enumerate(values)] if len(values) > 1 else [xy(0, values[0]), xy(1, values[0])] \
        if values else []
    if len(coords) > 1:
        draw.line(coords, fill=(37, 99, 235), width=2)
    for (cx, cy), p in zip(coords, values, strict=False):
        colour = (22, 163, 74) if p >= 0.5 else (220, 38, 38)
        draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=colour)
    return img


def reliability_png(bins: list[list[float]], ece: float | None, *, size=(360, 300)) -> Image.Image:
    """Reliability diagram: per confidence bin, how often the model was right (bars) against
    how sure it was (the diagonal); a calibrated model's bars touch the diagonal."""
    width, height = size
    left, right, top, bottom = 46, 14, 30, 40
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = _font(11)
    title = "Reliability (test split)" + (f": calibration error {ece:.1%}" if ece is not None else "")
    draw.text((left, 12), title, fill="#111827", font=_font(13), anchor="lm")

    def xy(conf: float, acc: float) -> tuple[float, float]:
        return left + (width - left - right) * conf, top + (height - top - bottom) * (1 - acc)

    for k in range(6):
        v = k / 5
        _, py = xy(0, v)
        draw.line([(left, py), (width - right, py)], fill="#e5e7eb")
        draw.text((left - 6, py), f"{v:.0%}", fill="#374151", font=font, anchor="rm")
        px, _ = xy(v, 0)
        draw.text((px, height - bottom + 10), f"{v:.0%}", fill="#374151", font=font, anchor="mm")
    draw.text(((width + left) / 2, height - 10), "confidence", fill="#374151", font=font, anchor="mm")
    draw.text((left + 4, top + 8), "accuracy", fill="#374151", font=font, anchor="lm")
    total = sum(b[2] for b in bins) or 1
    for conf, acc, count in bins:
        x0, y0 = xy(conf - 1 / 32, acc)
        x1, y1 = xy(conf + 1 / 32, 0)
        shade = int(200 - 150 * min(1.0, 8 * count / total))  # darker bars hold more examples
        draw.rectangle([x0, y0, x1, y1], fill=(shade, shade + 30 if shade < 225 else 255, 255), outline="#2563eb")
    draw.line([xy(0, 0), xy(1, 1)], fill="#dc2626", width=2)
    return img
