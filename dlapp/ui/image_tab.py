"""Image classification tab: upload/webcam/clipboard -> top-5 or "none of these", why (Grad-CAM),
inside the model (feature maps, filters, layers), plus batch mode."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from .. import settings as settings_mod
from ..errors import DlappError, UsageError
from ..inference import get_predictor
from ..limits import LIVE_TIME_LIMIT_S, MAX_BATCH, PREDICT_CONCURRENCY
from ..tasks.image import NONE_OF_THESE
from .common import (
    CheckedImage,
    DecisionLabel,
    SafeImage,
    cleared,
    default_model,
    file_path,
    layer_rows,
    model_picker,
    preview_file,
    user_errors,
    visitor_store,
)


@dataclass
class ImageTab:
    image: gr.Image
    model: gr.Dropdown
    button: gr.Button
    info: gr.Markdown
    label: gr.Label
    note_box: gr.Column
    note: gr.Markdown
    teach: gr.Button  # to the Train tab's collection builder (wired by train_tab.wire_teach)
    seen: gr.Image
    explain_class: gr.Radio
    explain_api: gr.Button
    explain_name: gr.Textbox
    cam: gr.Image
    heat: gr.JSON
    stages: gr.Gallery
    filters: gr.Image
    layers: gr.Dataframe
    files: gr.File
    batch_button: gr.Button
    table: gr.Dataframe
    live: gr.Image
    live_label: gr.Label
    live_note: gr.Markdown


def layout(example_paths: list[Path]) -> ImageTab:
    with gr.Row():
        with gr.Column(scale=1):
            image = SafeImage(label="Photo", type="filepath", sources=["upload", "webcam", "clipboard"],
                              height=320, elem_id="image-input")
            model = model_picker("image")
            info = gr.Markdown(model_info(default_model("image")), elem_id="image-model-info")
            button = gr.Button("Classify", variant="primary", elem_id="classify-button")
        with gr.Column(scale=1):
            label = DecisionLabel(num_top_classes=5, label=top_heading(default_model("image")), elem_id="image-label")
            # Under the answer, only when it is "none of these" or unsure: what the model knows, and the way to
            # teach it yours.
            with gr.Column(visible=False, variant="panel", elem_id="image-note-box") as note_box:
                note = gr.Markdown(elem_id="image-note")
                teach = gr.Button("Teach it your own classes", variant="primary", size="sm", elem_id="image-teach")
            with gr.Row():  # captions above the pictures: a block label would cover a small picture's top
                with gr.Column(min_width=150):
                    gr.Markdown("**What the model sees**", elem_classes=["dlapp-caption"])
                    seen = gr.Image(show_label=False, interactive=False, height=180, type="filepath",
                                    buttons=[], elem_id="image-seen")
                with gr.Column(min_width=150):
                    gr.Markdown("**Where the evidence is** (LayerCAM)", elem_classes=["dlapp-caption"])
                    cam = gr.Image(show_label=False, interactive=False, height=180, type="filepath", buttons=[],
                                   elem_id="image-cam")
            explain_class = gr.Radio([], label="Show the evidence for", elem_id="explain-class",
                                     info="Bright = the part of the picture that most raised this class's score")
            explain_api = gr.Button(visible=False)  # carries the /explain_image endpoint: any class name in
            explain_name = gr.Textbox(visible=False)  # (the radio only accepts the current top 5)
    gr.Examples([[str(p)] for p in example_paths], inputs=[image], examples_per_page=20,
                label="Examples (CIFAR-10 test images; click one)")
    with gr.Accordion("Live webcam: classify continuously", open=False, elem_id="image-live"):
        with gr.Row():
            live = CheckedImage(label="Webcam (press record to start)", sources=["webcam"], streaming=True,
                            type="numpy", height=280, elem_id="image-live-input")
            with gr.Column():
                live_label = DecisionLabel(num_top_classes=3, label="Live answer", elem_id="image-live-label")
                live_note = gr.Markdown("Frames are classified as fast as this machine allows with the model "
                                        "picked above; a frame that arrives while one is being classified is "
                                        "skipped, so the answer never lags behind.", elem_id="image-live-note")
    with gr.Accordion("Inside the model", open=False, elem_id="image-inside"):
        gr.Markdown("What each stage of the CNN computes for this picture: its 8 strongest channels (maps), "
                    "brightest where a channel responds most. Early stages react to edges and colours, later "
                    "ones to larger patterns.")
        stages = gr.Gallery(label="Feature maps per stage", columns=4, height="auto", object_fit="contain",
                            allow_preview=False, elem_id="image-stages")  # app.CSS: no inner scroll box
        filters = gr.Image(label="First convolution's filters", interactive=False, height=200, type="filepath",
                           buttons=[], elem_id="image-filters")
        layers = gr.Dataframe(headers=["layer", "type", "output shape", "parameters"], interactive=False,
                              wrap=True, label="Layers", elem_id="image-layers")
        with gr.Accordion("Raw heat map (numbers)", open=False):
            heat = gr.JSON(label="LayerCAM heat map (a Grad-CAM variant), rows top to bottom, 0..1")
    with gr.Accordion("Several images at once", open=False):
        files = gr.File(file_count="multiple", file_types=["image"], label=f"Images (up to {MAX_BATCH})")
        batch_button = gr.Button("Classify all")
        table = gr.Dataframe(headers=["file", "top label", "confidence", "top 3, or what went wrong"],
                             interactive=False, wrap=True, column_widths=["24%", "18%", "14%", "44%"])
    return ImageTab(image, model, button, info, label, note_box, note, teach, seen, explain_class, explain_api,
                    explain_name, cam, heat, stages, filters, layers, files, batch_button, table, live, live_label,
                    live_note)


def top_heading(model_id: str | None) -> str:
    """The answer's heading: "Top 5 of 10 classes", or "All 3 classes" where five would be more than there are."""
    if not model_id:
        return "Top classes"
    n = len(visitor_store().card(model_id).class_names)
    return f"Top 5 of {n} classes" if n > 5 else f"All {n} classes"


def stage_caption(index: int, shape: tuple[int, ...]) -> str:
    """A feature-map stage as a person reads it, short enough for a phone: "Stage 3 · 16×16 · 256 maps"."""
    h, w, c = shape
    return f"Stage {index} · {h}×{w} · {c} maps"


def model_info(model_id: str | None) -> str:
    """What the model knows: its classes, its input size, whether it can say "none of these"."""
    if not model_id:
        return ""
    card = visitor_store().card(model_id)
    h, w, c = card.input.shape
    if card.calibration.none_threshold is None:
        none = "It always picks one of them (this model has no *none of these* threshold)."
    elif card.hyperparameters.get("outliers"):  # trained with outlier exposure (data/outliers.py)
        none = ("It answers *none of these* when it is unsure of every class, and it learnt what is none of them "
                "from made-up pictures; some real photos (faces above all) still get one of its classes.")
    else:
        none = ("It answers *none of these* when it is unsure of every class; it is no detector of "
                "non-photos, though: noise can fool it.")
    return (f"This model knows **{len(card.class_names)} classes**: {', '.join(card.class_names)}. {none}  \n"
            f"It sees every picture at **{h}×{w} pixels**{' in grey' if c == 1 else ''} (see “What the model sees”).")


@user_errors
def classify_image(image: str | None, model_id: str | None):
    """Top-5 labels for one image, and the image as the model sees it."""
    if not image:
        raise UsageError("Upload a photo, use the webcam, or paste an image first.")
    predictor = get_predictor("image", model_id or None, store=visitor_store())
    seen = predictor.preprocess(Path(image))  # decoded once: classify takes the fitted array as it is
    top = predictor.classify(seen, k=5)
    return DecisionLabel.value_of(predictor.top_label(top), top, predictor.note(top)), preview_file(seen)


TRAINING_OFF = ("Training is off on this deployment, so it cannot learn your classes here; dlapp on your own "
                "computer can (see its README).")


@user_errors
def note_view(label: dict[str, float] | str | None, model_id: str | None) -> dict:
    """The note under the answer shown (`label`, as gr.Label hands it to a handler): the model's own sentence
    (ImageClassifier.note), with the way to teach it your classes where this deployment trains, else that it does
    not. Hidden for a confident answer or none."""
    ranked = sorted(label.items(), key=lambda kv: -kv[1]) if isinstance(label, dict) else []
    if not ranked:
        return {"box": gr.update(visible=False), "note": "", "teach": gr.update(visible=False)}
    note = get_predictor("image", model_id or None, store=visitor_store()).note(ranked)
    trains = settings_mod.load().training_enabled
    return {"box": gr.update(visible=bool(note)), "note": literal(note) + ("" if trains else f"  \n{TRAINING_OFF}"),
            "teach": gr.update(visible=trains)}


def literal(text: str) -> str:
    """`text` as gr.Markdown shows it, character for character: a user's class names (folder names) are no markup."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~&-])", r"\\\1", text)


@user_errors
def classify_frame(frame: np.ndarray | None, model_id: str | None):
    """One webcam frame -> the live answer and how long it took (the stream sends the next frame
    only once this one is answered, so there is never a backlog)."""
    if frame is None:
        return gr.skip(), gr.skip()
    t0 = time.perf_counter()
    predictor = get_predictor("image", model_id or None, store=visitor_store())
    top = predictor.classify(frame, k=3)
    ms = (time.perf_counter() - t0) * 1000
    note = predictor.note(top)
    said = f"Model `{predictor.model_id}` · {ms:.0f} ms per frame on this machine."
    return DecisionLabel.value_of(predictor.top_label(top), top, note), said + (f"  \n{literal(note)}" if note else "")


@user_errors
def explain_image(image: str | None, model_id: str | None = None, class_name: str | None = None):
    """Grad-CAM for one class (None: the top one): the overlay picture and the raw heat map.
    (The None defaults make both optional for API clients: gradio reads them off this signature.)"""
    from ..explain.image import grad_cam, overlay

    if not image:
        raise UsageError("Upload a photo, use the webcam, or paste an image first.")
    predictor = get_predictor("image", model_id or None, store=visitor_store())
    seen = predictor.preprocess(Path(image))
    if class_name in (None, "", NONE_OF_THESE):
        index = int(predictor.probabilities(seen[None])[0].argmax())
    elif class_name in predictor.class_names:
        index = predictor.class_names.index(class_name)
    else:
        raise UsageError(f"{class_name!r} is not one of this model's classes: {', '.join(predictor.class_names)}.")
    heat = grad_cam(predictor.model, seen, index)
    return preview_file(overlay(seen, heat)), np.round(heat, 3).tolist()


@user_errors
def inside_model(image: str | None, model_id: str | None):
    """Feature maps of each stage for this picture, the first filters and the layer table."""
    from ..explain.image import feature_maps, first_layer_filters

    predictor = get_predictor("image", model_id or None, store=visitor_store())
    rows = layer_rows("image", model_id)
    if not image:
        return None, preview_file(first_layer_filters(predictor.model)), rows
    stages = feature_maps(predictor.model, predictor.preprocess(Path(image)))
    gallery = [(preview_file(st.grid), stage_caption(k, st.shape)) for k, st in enumerate(stages, 1)]
    return gallery, preview_file(first_layer_filters(predictor.model)), rows


@user_errors
def classify_many(files, model_id: str | None):
    if not files:
        raise UsageError("Choose one or more image files first.")
    if len(files) > MAX_BATCH:
        raise UsageError(f"Up to {MAX_BATCH} images at a time, please ({len(files)} given).")
    predictor = get_predictor("image", model_id or None, store=visitor_store())
    rows = []
    for f in files:
        path = file_path(f)
        try:
            top = predictor.classify(path, k=3)
            rows.append([path.name, predictor.top_label(top), f"{top[0][1]:.1%}",
                         ", ".join(f"{name} {p:.0%}" for name, p in top)])
        except DlappError as exc:  # one bad file gets its own row; the rest still run
            rows.append([path.name, "error", "", str(exc)])
    return rows


def wire(tab: ImageTab) -> None:
    private = {"api_visibility": "private"}

    def choices(label: dict[str, float] | None):
        """The explainable classes: the ranked ones under the answer, the top one first."""
        names = sorted(label or {}, key=lambda name: -label[name]) if isinstance(label, dict) else []
        return gr.update(choices=names, value=names[0] if names else None)

    def explain_current(image, model, class_name):
        return explain_image(image, model, class_name) if image and class_name else (None, None)

    def clear_answer():
        """After an error: no answer to the previous picture stays on screen as if it were this one's."""
        return None, None, None, None, None, gr.update(choices=[], value=None), gr.update(visible=False)

    answer = [tab.label, tab.seen, tab.cam, tab.heat, tab.stages, tab.explain_class, tab.note_box]

    def noted(label, model):
        out = note_view(label, model)
        return {tab.note_box: out["box"], tab.note: out["note"], tab.teach: out["teach"]}

    note_out = [tab.note_box, tab.note, tab.teach]

    def inside_current(image, model):
        return inside_model(image, model) if model else (None, None, None)

    # Up to PREDICT_CONCURRENCY calls at once: the predictor's Batcher merges them into one model call.
    # Explanations follow as their own events, so /classify_image costs no more than before.
    classified = tab.button.click(classify_image, [tab.image, tab.model], [tab.label, tab.seen],
                                  api_name="classify_image", concurrency_limit=PREDICT_CONCURRENCY)
    classified.success(choices, tab.label, tab.explain_class, **private)
    classified.success(noted, [tab.label, tab.model], note_out, **private)
    classified.failure(clear_answer, None, answer, **private)
    tab.explain_api.click(explain_image, [tab.image, tab.model, tab.explain_name], [tab.cam, tab.heat],
                          api_name="explain_image", concurrency_limit=PREDICT_CONCURRENCY)
    tab.explain_class.change(explain_current, [tab.image, tab.model, tab.explain_class], [tab.cam, tab.heat],
                             **private).failure(cleared(2), None, [tab.cam, tab.heat], **private)

    def auto(image, model):
        if not image:
            return {tab.cam: None, tab.heat: None, tab.stages: None}
        label, seen = classify_image(image, model)
        return {tab.label: label, tab.seen: seen}

    # Classify as soon as a photo arrives (upload, webcam, paste or an example) or the model changes.
    shown = gr.on([tab.image.change, tab.model.change], auto, [tab.image, tab.model],
                  [tab.label, tab.seen, tab.cam, tab.heat, tab.stages], **private)
    shown.success(choices, tab.label, tab.explain_class, **private
                  ).then(inside_current, [tab.image, tab.model], [tab.stages, tab.filters, tab.layers], **private)
    shown.success(noted, [tab.label, tab.model], note_out, **private)
    shown.failure(clear_answer, None, answer, **private)
    tab.model.change(model_info, tab.model, tab.info, **private)
    tab.model.change(lambda m: gr.update(label=top_heading(m)), tab.model, tab.label, **private)
    tab.batch_button.click(classify_many, [tab.files, tab.model], tab.table, api_name="classify_images"
                           ).failure(cleared(1), None, tab.table, **private)
    # The browser takes a frame every stream_every seconds, but only when the last one was answered.
    tab.live.stream(classify_frame, [tab.live, tab.model], [tab.live_label, tab.live_note], stream_every=0.2,
                    time_limit=LIVE_TIME_LIMIT_S, concurrency_limit=PREDICT_CONCURRENCY, show_progress="hidden",
                    **private)
