"""Image classification tab: upload/webcam/clipboard -> top-5, plus batch mode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..errors import DlappError, UsageError
from ..inference import get_predictor
from ..limits import MAX_BATCH, PREDICT_CONCURRENCY
from .common import SafeImage, file_path, model_picker, preview_file, user_errors


@dataclass
class ImageTab:
    image: gr.Image
    model: gr.Dropdown
    button: gr.Button
    label: gr.Label
    seen: gr.Image
    files: gr.File
    batch_button: gr.Button
    table: gr.Dataframe


def layout(example_paths: list[Path]) -> ImageTab:
    with gr.Row():
        with gr.Column(scale=1):
            image = SafeImage(label="Photo", type="filepath", sources=["upload", "webcam", "clipboard"],
                              height=320, elem_id="image-input")
            model = model_picker("image")
            button = gr.Button("Classify", variant="primary", elem_id="classify-button")
        with gr.Column(scale=1):
            label = gr.Label(num_top_classes=5, label="Top 5", elem_id="image-label")
            seen = gr.Image(label="What the model sees (its input resolution)", interactive=False, height=160,
                            type="filepath", elem_id="image-seen")
    gr.Examples([[str(p)] for p in example_paths], inputs=[image], examples_per_page=20,
                label="Examples (CIFAR-10 test images; click one)")
    with gr.Accordion("Several images at once", open=False):
        files = gr.File(file_count="multiple", file_types=["image"], label=f"Images (up to {MAX_BATCH})")
        batch_button = gr.Button("Classify all")
        table = gr.Dataframe(headers=["file", "top label", "confidence", "top 3, or what went wrong"],
                             interactive=False, wrap=True, column_widths=["24%", "18%", "14%", "44%"])
    return ImageTab(image, model, button, label, seen, files, batch_button, table)


@user_errors
def classify_image(image: str | None, model_id: str | None):
    """Top-5 labels for one image, and the image as the model sees it."""
    if not image:
        raise UsageError("Upload a photo, use the webcam, or paste an image first.")
    predictor = get_predictor("image", model_id or None)
    seen = predictor.preprocess(Path(image))  # decoded once: classify takes the fitted array as it is
    top = predictor.classify(seen, k=5)
    return {label: p for label, p in top}, preview_file(seen)


@user_errors
def classify_many(files, model_id: str | None):
    if not files:
        raise UsageError("Choose one or more image files first.")
    if len(files) > MAX_BATCH:
        raise UsageError(f"Up to {MAX_BATCH} images at a time, please ({len(files)} given).")
    predictor = get_predictor("image", model_id or None)
    rows = []
    for f in files:
        path = file_path(f)
        try:
            top = predictor.classify(path, k=3)
            rows.append([path.name, top[0][0], f"{top[0][1]:.1%}", ", ".join(f"{name} {p:.0%}" for name, p in top)])
        except DlappError as exc:  # one bad file gets its own row; the rest still run
            rows.append([path.name, "error", "", str(exc)])
    return rows


def wire(tab: ImageTab) -> None:
    # Up to PREDICT_CONCURRENCY calls at once: the predictor's Batcher merges them into one model call.
    tab.button.click(classify_image, [tab.image, tab.model], [tab.label, tab.seen], api_name="classify_image",
                     concurrency_limit=PREDICT_CONCURRENCY)

    def auto(image, model):
        return classify_image(image, model) if image else (gr.skip(), gr.skip())

    # Classify as soon as a photo arrives (upload, webcam, paste or an example) or the model changes.
    for trigger in (tab.image.change, tab.model.change):
        trigger(auto, [tab.image, tab.model], [tab.label, tab.seen], api_visibility="private")
    tab.batch_button.click(classify_many, [tab.files, tab.model], tab.table, api_name="classify_images")
