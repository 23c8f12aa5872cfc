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
from ..limits import MAX_CSV_ROWS, PREDICT_CONCURRENCY
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
    examples: gr.Examples


def layout() -> TextTab:
    with gr.Row():
        with gr.Column(scale=1):
            text = gr.Textbox(label="Movie review", lines=6, placeholder="Type or paste a review…",
                              elem_id="review-input")
            model = model_picker("text")
            button = gr.Button("Analyze", variant="primary", elem_id="analyze-button")
        with gr.Column(scale=1):
            label = gr.Label(num_top_classes=2, label="Sentiment", elem_id="sentiment-label")
    examples = gr.Examples([[r] for r in EXAMPLE_REVIEWS], inputs=[text], label="Examples (click one)")
    with gr.Accordion("A CSV of reviews at once", open=False):
        gr.Markdown("Upload a CSV with a `text` column (or reviews in the first column); "
                    f"up to {MAX_CSV_ROWS:,} rows. You get the same CSV back, every row and column, with "
                    "`label`, `confidence` and `note` added.")
        csv_in = gr.File(file_types=[".csv"], label="Reviews CSV", elem_id="csv-input")
        csv_button = gr.Button("Analyze CSV", elem_id="csv-button")
        csv_out = gr.File(label="Predictions CSV", interactive=False)
        preview = gr.Dataframe(headers=["text", "label", "confidence", "note"], interactive=False, max_height=300,
                               wrap=True, column_widths=["58%", "14%", "12%", "16%"], elem_id="csv-preview")
    return TextTab(text, model, button, label, csv_in, csv_button, csv_out, preview, examples)


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


def read_table(path: Path) -> tuple[list[str] | None, list[list[str]], int]:
    """(header or None, rows, index of the review column): a `text` column, else the first one.

    Raises:
        InvalidDatasetError: empty, too long, or without a single non-empty review.
    """
    raw = path.read_bytes().decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(raw)))
    if not rows:
        raise InvalidDatasetError("The CSV is empty.")
    names = [h.strip().lower() for h in rows[0]]
    header, body, col = (rows[0], rows[1:], names.index("text")) if "text" in names else (None, rows, 0)
    if len(body) > MAX_CSV_ROWS:
        raise InvalidDatasetError(f"The CSV has {len(body):,} rows; the limit is {MAX_CSV_ROWS:,}.")
    if not any(col < len(r) and r[col].strip() for r in body):
        raise InvalidDatasetError("The CSV has no non-empty reviews.")
    return header, body, col


@user_errors
def analyze_csv(upload, model_id: str | None):
    """The same CSV back, every row and column kept, with `label`, `confidence` and `note` added."""
    path = file_path(upload)
    if path is None:
        raise UsageError("Choose a CSV file first.")
    header, body, col = read_table(path)
    texts = [r[col] if col < len(r) else "" for r in body]
    todo = [i for i, t in enumerate(texts) if t.strip()]
    results = dict(zip(todo, get_predictor("text", model_id or None).sentiment_batch([texts[i] for i in todo]),
                       strict=True))
    width = max([len(header or [])] + [len(r) for r in body])
    out_rows, preview = [], []
    for i, row in enumerate(body):
        label, p = results.get(i, ("", None))
        extra = [label, f"{p:.4f}" if p is not None else "", "" if p is not None else "empty review: not analysed"]
        out_rows.append([safe_cell(c) for c in row + [""] * (width - len(row))] + extra)
        preview.append([texts[i][:200], label, f"{p:.0%}" if p is not None else "", extra[2]])
    out = Path(tempfile.mkdtemp(prefix="dlapp-csv-")) / f"{path.stem}-predictions.csv"
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if header is not None:
            names = {h.strip().lower() for h in header}
            added = [n if n not in names else f"predicted_{n}" for n in ("label", "confidence", "note")]
            writer.writerow([safe_cell(c) for c in header + [""] * (width - len(header))] + added)
        writer.writerows(out_rows)
    return str(out), preview[:50]


def wire(tab: TextTab) -> None:
    tab.button.click(analyze_sentiment, [tab.text, tab.model], tab.label, api_name="analyze_sentiment",
                     concurrency_limit=PREDICT_CONCURRENCY)  # merged into batches by the predictor
    tab.text.submit(analyze_sentiment, [tab.text, tab.model], tab.label, api_visibility="private")
    tab.examples.load_input_event.then(analyze_sentiment, [tab.text, tab.model], tab.label, api_visibility="private")
    tab.csv_button.click(analyze_csv, [tab.csv_in, tab.model], [tab.csv_out, tab.preview], api_name="analyze_csv")
