"""Sentiment tab: a review -> positive/negative with confidence, the words that drove it, how the
verdict moves sentence by sentence, plus CSV batch mode."""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from ..data.tables import csv_rows
from ..errors import InvalidDatasetError, UsageError
from ..inference import get_predictor
from ..limits import MAX_CSV_ROWS, PREDICT_CONCURRENCY
from ..samples import EXAMPLE_REVIEWS
from ..tasks.text import NO_KNOWN_WORD, NO_VERDICT
from . import plots
from .common import cleared, default_model, file_path, layer_rows, model_picker, user_errors, visitor_store

if TYPE_CHECKING:
    from ..explain.text import ReviewExplanation

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheet formula triggers (CSV injection)


@dataclass
class TextTab:
    text: gr.Textbox
    model: gr.Dropdown
    button: gr.Button
    info: gr.Markdown
    label: gr.Label
    words: gr.HighlightedText
    note: gr.Markdown
    pooled: gr.HighlightedText
    rollout: gr.HighlightedText
    attention_note: gr.Markdown
    trajectory: gr.Plot
    sentences: gr.Dataframe
    inside: gr.Accordion
    layers: gr.Dataframe
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
            info = gr.Markdown(model_info(default_model("text")), elem_id="text-model-info")
            button = gr.Button("Analyze", variant="primary", elem_id="analyze-button")
        with gr.Column(scale=1):
            label = gr.Label(num_top_classes=2, label="Sentiment", elem_id="sentiment-label")
            words = gr.HighlightedText(label="Which words drove it", show_legend=True,
                                       color_map=WORD_COLOURS, combine_adjacent=False, elem_id="review-words")
            note = gr.Markdown(elem_id="review-note")
            # Attention models only (explain/attention.py): shown beside the attributions, never instead.
            pooled = gr.HighlightedText(label="Where the model pooled (attention weights)", show_legend=True,
                                        color_map=POOL_COLOURS, combine_adjacent=False, visible=False,
                                        elem_id="review-pooled")
            rollout = gr.HighlightedText(label="Carried back through the self-attention blocks (attention rollout)",
                                         show_legend=True, color_map=POOL_COLOURS, combine_adjacent=False,
                                         visible=False, elem_id="review-rollout")
            attention_note = gr.Markdown(visible=False, elem_id="review-attention-note")
    examples = gr.Examples([[r] for r in EXAMPLE_REVIEWS], inputs=[text], label="Examples (click one)")
    with gr.Accordion("How the verdict moves as the review is read", open=False, elem_id="review-trajectory"):
        trajectory = gr.Plot(show_label=False, elem_id="review-trajectory-plot")
        sentences = gr.Dataframe(headers=["after sentence", "P(positive)"], interactive=False, wrap=True,
                                 column_widths=["64%", "36%"], max_height=320, elem_id="review-sentences")
    with gr.Accordion("Inside the model: its layers", open=False, elem_id="text-inside") as inside:
        layers = gr.Dataframe(headers=["layer", "type", "output shape", "parameters"], interactive=False,
                              wrap=True, elem_id="text-layers")
    with gr.Accordion("A CSV of reviews at once", open=False):
        gr.Markdown("Upload a CSV with a `text` column (or reviews in the first column); "
                    f"up to {MAX_CSV_ROWS:,} rows. You get the same CSV back, every row and column, with "
                    "`label`, `confidence` and `note` added.")
        csv_in = gr.File(file_types=[".csv"], label="Reviews CSV", elem_id="csv-input")
        csv_button = gr.Button("Analyze CSV", elem_id="csv-button")
        csv_out = gr.File(label="Predictions CSV", interactive=False)
        preview = gr.Dataframe(headers=["text", "label", "confidence", "note"], interactive=False, max_height=300,
                               wrap=True, column_widths=["58%", "14%", "12%", "16%"], elem_id="csv-preview")
    return TextTab(text, model, button, info, label, words, note, pooled, rollout, attention_note, trajectory,
                   sentences, inside, layers, csv_in, csv_button, csv_out, preview, examples)


# Word highlights: the direction a word pushes the verdict, strong (over half the strongest
# word's push) or mild; words with under a tenth of it stay plain, so the eye finds the drivers.
WORD_COLOURS = {"strongly positive": "#16a34a", "positive": "#bbf7d0", "negative": "#fecaca",
                "strongly negative": "#dc2626", "not read": "#e5e7eb"}
# Attention weights: how much of the pooled vector a word makes up, against an even share (1 / tokens read),
# so a review whose weights are nearly even shows nearly nothing.
POOL_COLOURS = {"over 4× an even share": "#6366f1", "over 1.5× an even share": "#c7d2fe"}
_UNREAD_SHOWN = 150  # words after the cut shown greyed; the rest are counted


def model_info(model_id: str | None) -> str:
    """What the model reads: how many words, in which language, and what it tells apart."""
    if not model_id:
        return ""
    card = visitor_store().card(model_id)
    n = card.hyperparameters.get("sequence_length")
    reads = f"the first **{n:,} words** of a review" if n else "a review"
    return (f"This model reads {reads} (lower-cased, without punctuation or accented letters) and tells "
            f"**{' from '.join(card.class_names)}**. It learned from English movie reviews "
            f"({card.dataset.label}); other languages and topics get guesses.")


def word_highlights(ex: ReviewExplanation, positive: str) -> list:
    """(word, category) pairs for gr.HighlightedText: every word as written, in reading order."""
    sign = 1.0 if ex.label == positive else -1.0  # scores push towards the predicted label
    top = max((abs(w.score) for w in ex.words if w.score is not None), default=0.0) or 1.0
    out: list[tuple[str, str | None]] = []
    unread = [w.text for w in ex.words if w.past_cut]
    for w in ex.words:
        if w.past_cut:
            continue
        if w.score is None:  # nothing in it the model can read: an unknown alphabet, an emoji
            out.append((w.text + " ", "not read"))
            continue
        towards_positive = sign * w.score / top
        strength = abs(towards_positive)
        kind = None if strength < 0.1 else ("positive" if towards_positive > 0 else "negative")
        out.append((w.text + " ", f"strongly {kind}" if kind and strength > 0.5 else kind))
    out += [(w + " ", "not read") for w in unread[:_UNREAD_SHOWN]]
    if len(unread) > _UNREAD_SHOWN:
        out.append((f"… {len(unread) - _UNREAD_SHOWN:,} more words", "not read"))
    return out


def pool_highlights(words: list, read: int) -> list:
    """(word, category) pairs for gr.HighlightedText from explain/attention.py's per-word weights, each
    against an even share of its `read` tokens (a word the model reads as two tokens gets two shares)."""
    strong, mild = POOL_COLOURS
    out: list[tuple[str, str | None]] = []
    for w in words:
        if w.past_cut:
            break
        even = max(len(w.tokens), 1) / max(read, 1)
        share = (w.score or 0.0) / even
        out.append((w.text + " ", strong if share > 4 else mild if share > 1.5 else None))
    return out


def _agreement(rho: float | None) -> str:
    return "not measurable (too few words)" if rho is None else f"**{rho:+.2f}**"


def attention_view(model, text: str) -> tuple:
    """The three attention outputs: shown for attention models, hidden (and emptied) for the others."""
    from ..explain.attention import explain_attention, is_attention_model

    if not is_attention_model(model):
        return (gr.HighlightedText(value=None, visible=False), gr.HighlightedText(value=None, visible=False),
                gr.Markdown(value="", visible=False))
    view = explain_attention(model, text)
    note = (f"How far these weights agree with what removing each word does to the answer: {_agreement(view.agreement)}"
            + (f" (rollout: {_agreement(view.agreement_rollout)})" if view.rollout is not None else "")
            + " — a rank correlation: 1 = the same order, 0 = unrelated.\n\n"
            + f"*{view.caution}*")
    rolled = view.rollout_words is not None
    read = len(view.tokens)
    return (gr.HighlightedText(value=pool_highlights(view.words, read), visible=True),
            gr.HighlightedText(value=pool_highlights(view.rollout_words, read) if rolled else None, visible=rolled),
            gr.Markdown(value=note, visible=True))


@user_errors
def explain_sentiment(text: str, model_id: str | None):
    """The words that drove the verdict, where reading stopped, and the verdict sentence by sentence."""
    from ..explain.text import explain_review, reading_trajectory

    predictor = get_predictor("text", model_id or None, store=visitor_store())
    ex = explain_review(predictor.model, text, class_names=tuple(predictor.class_names))
    if not ex.known:  # its answer would be the padding's: nothing to explain, no trajectory
        hidden = (gr.HighlightedText(value=None, visible=False),) * 2 + (gr.Markdown(value="", visible=False),)
        return word_highlights(ex, predictor.class_names[1]), NO_KNOWN_WORD, *hidden, None, []
    # Counted in words as written ("était" is one word, though the model reads it as the token "tait").
    total, read = len(ex.words), sum(not w.past_cut for w in ex.words)
    unreadable = sum(w.score is None and not w.past_cut for w in ex.words)  # Chinese, emoji: no a-z in them
    letters = "it knows only the letters a to z, without accents"
    if read < total:
        note = (f"The model read the first **{read:,}** of this review's {total:,} words; the grey ones after "
                "that did not count." + (f" It cannot read {unreadable:,} grey ones before that: {letters}."
                                         if unreadable else ""))
    elif unreadable:
        note = (f"The model read {read - unreadable:,} of this review's {total:,} words; it cannot read the grey "
                f"ones: {letters}.")
    else:
        note = f"The model read all {total:,} words."
    steps = reading_trajectory(predictor.model, text)
    rows = [[sentence[:160] + ("…" if len(sentence) > 160 else ""), f"{p:.0%}"] for sentence, p in steps]
    return (word_highlights(ex, predictor.class_names[1]), note, *attention_view(predictor.model, text),
            plots.trajectory_figure([p for _, p in steps], predictor.class_names[1]), rows)


@user_errors
def analyze_sentiment(text: str, model_id: str | None) -> dict[str, float] | str:
    """Both labels with their probabilities (the winner first); NO_VERDICT (no confidences) for a
    review in which the model knows no word."""
    predictor = get_predictor("text", model_id or None, store=visitor_store())
    if not predictor.known_words([text or ""])[0]:
        return NO_VERDICT
    p = float(predictor.positive_probability([text or ""])[0])
    negative, positive = predictor.class_names
    return {positive: p, negative: 1 - p}


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas: a leading quote makes the cell plain text."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def read_table(path: Path) -> tuple[list[str] | None, list[list[str]], int]:
    """(header or None, rows, index of the review column): a `text` column, else the first one.

    Read as a stream (data/tables.py: bounded bytes, lines and cells; any line endings), and
    no further than one row past the limit.

    Raises:
        InvalidDatasetError: not a readable CSV, empty, too long, or without a single non-empty review.
    """
    rows: list[list[str]] = []
    for row in csv_rows(path):
        rows.append(row)
        if len(rows) > MAX_CSV_ROWS + 1:  # the header and MAX_CSV_ROWS reviews, and one more to know it is over
            break
    if not rows:
        raise InvalidDatasetError("The CSV is empty.")
    names = [h.strip().lower() for h in rows[0]]
    header, body, col = (rows[0], rows[1:], names.index("text")) if "text" in names else (None, rows, 0)
    if len(body) > MAX_CSV_ROWS:
        raise InvalidDatasetError(f"The CSV has more than {MAX_CSV_ROWS:,} rows; the limit is {MAX_CSV_ROWS:,}. "
                                  "Split it into smaller files.")
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
    predictor = get_predictor("text", model_id or None, store=visitor_store())
    results = dict(zip(todo, predictor.sentiment_batch([texts[i] for i in todo]), strict=True)) if todo else {}
    unknown = ({i for i, n in zip(todo, predictor.known_words([texts[i] for i in todo]), strict=True) if n == 0}
               if todo else set())
    width = max([len(header or [])] + [len(r) for r in body])
    out_rows, preview = [], []
    for i, row in enumerate(body):
        label, p = results.get(i, ("", None))
        note = "" if p is not None else "empty review: not analysed"
        if i in unknown:  # as on the tab and the API: no verdict where the model knows no word
            label, p, note = NO_VERDICT, None, "the model knows none of its words"
        extra = [label, f"{p:.4f}" if p is not None else "", note]
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
    private = {"api_visibility": "private"}
    explained = [tab.words, tab.note, tab.pooled, tab.rollout, tab.attention_note, tab.trajectory, tab.sentences]
    # The verdict first (merged into batches by the predictor), then, as its own event, why.
    # After an error, the last review's verdict and explanation go: they are no answer to this one.
    for event in (tab.button.click(analyze_sentiment, [tab.text, tab.model], tab.label, api_name="analyze_sentiment",
                                   concurrency_limit=PREDICT_CONCURRENCY),
                  tab.text.submit(analyze_sentiment, [tab.text, tab.model], tab.label, **private),
                  tab.examples.load_input_event.then(analyze_sentiment, [tab.text, tab.model], tab.label, **private)):
        event.success(explain_sentiment, [tab.text, tab.model], explained, **private
                      ).failure(cleared(len(explained)), None, explained, **private)
        event.failure(cleared(1 + len(explained)), None, [tab.label, *explained], **private)
    tab.model.change(model_info, tab.model, tab.info, **private)
    # The layer table loads the model: only when someone opens it, and again when the model changes.
    tab.inside.expand(user_errors(lambda m: layer_rows("text", m)), tab.model, tab.layers, **private)
    tab.model.change(user_errors(lambda m: layer_rows("text", m)), tab.model, tab.layers, **private)
    tab.csv_button.click(analyze_csv, [tab.csv_in, tab.model], [tab.csv_out, tab.preview], api_name="analyze_csv"
                         ).failure(cleared(2), None, [tab.csv_out, tab.preview], **private)
