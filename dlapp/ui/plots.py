"""Small renderers for training results: curves as DataFrames, confusion matrix as a PNG."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont


SERIES_COLOURS = {"train": "#f97316", "validation": "#2563eb"}  # fixed, so colours don't swap as series appear


def curves(points: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long-format frames (epoch, value, series) for the loss and accuracy plots."""
    frame = pd.DataFrame(points or [], columns=["epoch", "series", "loss", "accuracy"])
    # Numeric dtypes, or the plot treats each value as a category and draws no line.
    frame = frame.astype({"epoch": "float64", "loss": "float64", "accuracy": "float64"})
    loss = frame[["epoch", "series", "loss"]].dropna().rename(columns={"loss": "value"})
    acc = frame[["epoch", "series", "accuracy"]].dropna().rename(columns={"accuracy": "value"})
    return loss, acc


def progress_html(fraction: float, text: str, state: str, points: int = 0) -> str:
    colour = {"running": "#f97316", "done": "#16a34a", "failed": "#dc2626", "cancelled": "#6b7280"}.get(state, "#9ca3af")
    pct = max(0.0, min(1.0, fraction)) * 100
    return (f'<div class="dlapp-progress" data-state="{html.escape(state)}" data-progress="{pct:.1f}" data-points="{points}">'
            f'<div style="background:#e5e7eb;border-radius:6px;height:14px;overflow:hidden">'
            f'<div style="width:{pct:.1f}%;background:{colour};height:100%;transition:width .4s"></div></div>'
            f'<div style="font-size:0.9em;margin-top:4px">{html.escape(text)}</div></div>')


def _font(size: int):
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default()


def confusion_png(matrix: list[list[int]], class_names: list[str], cell: int = 44) -> Image.Image:
    """A labelled heat map: rows are true classes, columns predicted ones."""
    m = np.asarray(matrix, dtype=np.float64)
    n = len(class_names)
    margin = 110
    img = Image.new("RGB", (margin + n * cell + 10, margin + n * cell + 10), "white")
    draw = ImageDraw.Draw(img)
    font, small = _font(12), _font(11)
    row_sums = m.sum(axis=1, keepdims=True)
    share = np.divide(m, row_sums, out=np.zeros_like(m), where=row_sums > 0)
    for i in range(n):
        for j in range(n):
            v = share[i, j]
            colour = (int(255 - 200 * v), int(255 - 120 * v), 255) if i != j else (int(255 - 200 * v), 255, int(255 - 200 * v))
            x0, y0 = margin + j * cell, margin + i * cell
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=colour, outline="#d1d5db")
            draw.text((x0 + cell / 2, y0 + cell / 2), str(int(m[i, j])), fill="black", font=small, anchor="mm")
    for k, name in enumerate(class_names):
        draw.text((margin - 6, margin + k * cell + cell / 2), name[:14], fill="black", font=font, anchor="rm")
        label = Image.new("RGBA", (margin - 10, 16), (255, 255, 255, 0))
        ImageDraw.Draw(label).text((margin - 12, 8), name[:14], fill="black", font=font, anchor="rm")
        label = label.rotate(90, expand=True)
        img.paste(label, (margin + k * cell + (cell - 16) // 2, 2), label)
    draw.text((4, 4), "true ↓  predicted →", fill="#374151", font=small)
    return img
