"""Sentiment tab: a review -> positive/negative with confidence, plus CSV batch mode."""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..errors import InvalidDatasetError, UsageError
from ..inference import get_predictor
from ..limits import MAX_CSV_ROWS
from ..samples import EXAMPLE_REVIEWS
from .common import file_path, model_picker, user_errors

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheet formula triggers (CSV injection)


@dataclass
class TextTab:
    text: gr.Textbox
    model: gr.Dropdown
    button: gr.Button
    label: gr.Label
    csv_in: gr.File
    csv_button: gr.Button
    csv_out: gr.File
    preview: gr.Dataframe


def layout() -> TextTab:
    with gr.Row():
        with gr.Column(scale=1):
            text = gr.Textbox(label="Movie review", lines=6, placeholder="Type or paste a review…",
                              elem_id="review-input")
            model = model_picker("text")
            button = gr.Button("Analyze", variant="primary", elem_id="analyze-button")
        with gr.Column(scale=1):
            label = gr.Label(num_top_classes=2, label="Sentiment", elem_id="sentiment-label")
    gr.Examples([[r] for r in EXAMPLE_REVIEWS], inputs=[text], label="Examples")
    with gr.Accordion("A CSV of reviews at once", open=False):
        gr.Markdown("Upload a CSV with a `text` column (or reviews in the first column); "
                    f"up to {MAX_CSV_ROWS:,} rows. You get the same CSV back with `label` and `confidence`.")
        csv_in = gr.File(file_types=[".csv"], label="Reviews CSV", elem_id="csv-input")
        csv_button = gr.Button("Analyze CSV", elem_id="csv-button")
        csv_out = gr.File(label="Predictions CSV", interactive=False)
        preview = gr.Dataframe(headers=["text", "label", "confidence"], interactive=False, max_height=300,
                               elem_id="csv-preview")
    return TextTab(text, model, button, label, csv_in, csv_button, csv_out, preview)


@user_errors
def analyze_sentiment(text: str, model_id: str | None) -> dict[str, float]:
    """Both labels with their probabilities (the winner first)."""
    predictor = get_predictor("text", model_id or None)
    p = float(predictor.positive_probability([text or ""])[0])
    negative, positive = predictor.class_names
    return {positive: p, negative: 1 - p}


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas: a leading quote makes the cell plain text."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def read_reviews(path: Path) -> list[str]:
    raw = path.read_bytes().decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(raw)))
    if not rows:
        raise InvalidDatasetError("The CSV is empty.")
    header = [h.strip().lower() for h in rows[0]]
    if "text" in header:
        col, body = header.index("text"), rows[1:]
    else:
        col, body = 0, rows
    texts = [r[col] if col < len(r) else "" for r in body]
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise InvalidDatasetError("The CSV has no non-empty reviews.")
    if len(texts) > MAX_CSV_ROWS:
        raise InvalidDatasetError(f"The CSV has {len(texts):,} reviews; the limit is {MAX_CSV_ROWS:,}.")
    return texts


@user_errors
def analyze_csv(upload, model_id: str | None):
    path = file_path(upload)
    if path is None:
        raise UsageError("Choose a CSV file first.")
    texts = read_reviews(path)
    results = get_predictor("text", model_id or None).sentiment_batch(texts)
    rows = [[safe_cell(t), label, f"{p:.4f}"] for t, (label, p) in zip(texts, results, strict=True)]
    out = Path(tempfile.mkdtemp(prefix="dlapp-csv-")) / f"{path.stem}-predictions.csv"
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "confidence"])
        writer.writerows(rows)
    return str(out), [[r[0][:200], r[1], r[2]] for r in rows[:50]]


def wire(tab: TextTab) -> None:
    tab.button.click(analyze_sentiment, [tab.text, tab.model], tab.label, api_name="analyze_sentiment")
    tab.text.submit(analyze_sentiment, [tab.text, tab.model], tab.label, api_visibility="private")
    tab.csv_button.click(analyze_csv, [tab.csv_in, tab.model], [tab.csv_out, tab.preview], api_name="analyze_csv")
