"""Test examples with their explanations, shared by the Train tab (after a training) and the
Models tab (a clicked confusion-matrix cell): images with Grad-CAM, reviews with word highlights."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from ..errors import UsageError
from ..explain.examples import cell_examples
from ..store import SessionStore
from .common import preview_file, visitor_store
from .plots import cell_js, parse_cell
from .text_tab import WORD_COLOURS, word_highlights

_REVIEWS_SHOWN = 6  # reviews are long: a few, explained, beat many unexplained
_WORDS_SHOWN = 120  # of each, so that six fit on a phone's screenful or two


def image_items(model, class_names: list[str], examples: list[tuple[Any, str, str]]) -> list[tuple[str, str]]:
    """(overlay picture, caption) per (image, true, predicted): the evidence for the prediction."""
    from ..explain.image import grad_cam, overlay

    items = []
    for x, true, predicted in examples:
        heat = grad_cam(model, x, class_names.index(predicted))
        items.append((preview_file(overlay(x, heat, size=160)), f"{true} → {predicted}"))
    return items


def reviews_html(model, class_names: list[str], examples: list[tuple[str, str, str]]) -> str:
    """Each review (true → predicted) with its words coloured by how they pushed the verdict."""
    from ..explain.text import explain_review

    blocks = []
    for text, true, predicted in examples[:_REVIEWS_SHOWN]:
        ex = explain_review(model, text, class_names=tuple(class_names))
        words = word_highlights(ex, class_names[1])
        more = f" … ({len(words) - _WORDS_SHOWN:,} more)" if len(words) > _WORDS_SHOWN else ""
        spans = "".join(_span(word, kind) for word, kind in words[:_WORDS_SHOWN]) + more
        blocks.append(f'<div class="dlapp-review"><b>{html.escape(true)} → {html.escape(predicted)}</b> '
                      f"({ex.probability:.0%})<br>{spans}</div>")
    legend = " ".join(_span(name, name) for name in WORD_COLOURS)
    return f'<div class="dlapp-reviews"><p>{legend}</p>{"".join(blocks)}</div>'


def _span(word: str, kind: str | None) -> str:
    if kind is None:
        return html.escape(word)
    colour = WORD_COLOURS[kind]
    text_colour = "white" if kind.startswith("strongly") else "#111827"
    return (f'<span style="background:{colour};color:{text_colour};border-radius:3px;padding:0 2px">'
            f"{html.escape(word)}</span>")


def cell_picker(plot_id: str) -> tuple[gr.Textbox, gr.Button]:
    """The hidden textbox and button through which a click on the heat map `plot_id` (a gr.Plot with
    elem_classes=[plots.CELLS_CLASS]) reaches Python; wire with `on_cell`."""
    cell = gr.Textbox(visible="hidden", elem_id=f"{plot_id}-cell")
    button = gr.Button(visible="hidden", elem_id=f"{plot_id}-open")
    return cell, button


def on_cell(picker: tuple[gr.Textbox, gr.Button], plot_id: str, fn, inputs: list, outputs: list) -> None:
    """Call fn(cell, *inputs) when a cell of `plot_id` is clicked (cell is "row,col", set by plots.CLICK_JS)."""
    cell, button = picker
    button.click(fn, [cell, *inputs], outputs, js=cell_js(plot_id), api_visibility="private")


def open_cell(model_id: str | None, clicked: str | None) -> tuple[str, Any, Any]:
    """(title, gallery update, reviews update) for the clicked cell ("row,col") of `model_id`'s matrix."""
    from ..inference import get_predictor

    if not model_id:
        return "", gr.update(visible=False), gr.update(visible=False)
    card = visitor_store().card(model_id)
    if card.task not in ("image", "text"):  # the classifiers: a generator has no confusion matrix, nor examples
        raise UsageError(f"{model_id} is a {card.task} model: it has no confusion matrix to open.")
    cell = parse_cell(clicked, len(card.class_names))
    if cell is None:
        return "Click a cell of the matrix to see its test examples.", gr.skip(), gr.skip()
    true, predicted = cell
    store = visitor_store()
    own = store.root if isinstance(store, SessionStore) and store.owns(card.id) else None  # kept beside it
    examples = cell_examples(card, true, predicted, root=own)[:_REVIEWS_SHOWN if card.task == "text" else None]
    count = card.metrics.confusion_matrix[true][predicted]
    title = (f"**{card.class_names[true]} → {card.class_names[predicted]}**: {count:,} test examples"
             + (f"; the first {len(examples)}, each with " if examples else "")
             + ("where the evidence for the prediction is" if card.task == "image" and examples else "")
             + ("the words that drove the prediction" if card.task == "text" and examples else ""))
    model = get_predictor(card.task, model_id, store=visitor_store()).model
    triples = [(e.x, e.true, e.predicted) for e in examples]
    if card.task == "image":
        return title, gr.update(value=image_items(model, list(card.class_names), triples), visible=True), \
            gr.update(visible=False)
    return title, gr.update(visible=False), gr.update(value=reviews_html(model, list(card.class_names), triples),
                                                      visible=bool(triples))  # text, the only other task here
