"""The Train tab's dataset builder: name classes, fill them from the webcam (a continuous burst
while recording), from files or by pasting, look at them, fix them, download them as a .zip
of class folders (the format the Train tab reads) or load such a zip back.

A visitor's collection lives in a folder of its own (dlapp/collection.py), held in a gr.State
whose delete callback removes it when the session ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from .. import limits
from ..collection import Collection
from ..data.checks import check_image_folder
from ..errors import UsageError
from . import api
from .common import CheckedImage, file_path, session_of, user_errors

RECORD_EVERY_S = 0.25  # a burst of about 4 frames a second: enough variety, not hundreds of near-copies
GALLERY_EVERY = 4  # while recording, redraw the thumbnails every 4th frame (counts update on every frame)
# Ask the camera for 320×240: samples are stored at COLLECTION_MAX_SIDE (256 px) at most, and a smaller frame is
# cheaper to encode in the browser, send and decode, which is what held a burst under its rate (2.3 of 4 frames/s).
WEBCAM = gr.WebcamOptions(mirror=True, constraints={"video": {"width": {"ideal": 320}, "height": {"ideal": 240}}})


@dataclass
class Builder:
    group: gr.Column
    state: gr.State
    target: gr.Radio
    new_name: gr.Textbox
    add_class: gr.Button
    rename: gr.Button
    remove_class: gr.Button
    webcam: gr.Image
    files: gr.File
    paste: gr.Image
    counts: gr.Markdown
    gallery: gr.Gallery
    selected: gr.State
    remove_sample: gr.Button
    download: gr.Button
    zip_file: gr.File
    load: gr.UploadButton
    check: gr.Markdown


def layout() -> Builder:
    # A panel, not a gr.Group: a group strips its buttons of their borders, so they read as plain text.
    with gr.Column(visible=False, variant="panel", elem_id="collect") as group:
        gr.Markdown("### Your classes\nName a class, then fill it: hold the webcam on an object and press "
                    "record (frames are added while it records), drop in files, or paste a picture. "
                    "Two classes of 20–50 pictures each are enough to start.")
        with gr.Row():
            target = gr.Radio([], label="Class to fill", elem_id="collect-target", scale=3)
            with gr.Column(scale=2, min_width=220):
                new_name = gr.Textbox(label="Class name", placeholder="e.g. mug", max_length=40,
                                      elem_id="collect-name")
                with gr.Row():
                    add_class = gr.Button("Add class", size="sm", variant="primary", elem_id="collect-add")
                    rename = gr.Button("Rename", size="sm", variant="secondary", elem_id="collect-rename")
                    remove_class = gr.Button("Remove class", size="sm", variant="stop", elem_id="collect-remove")
        with gr.Row():
            webcam = CheckedImage(label="Webcam: press record to add frames", sources=["webcam"], streaming=True,
                                type="numpy", height=240, elem_id="collect-webcam", webcam_options=WEBCAM)
            with gr.Column():
                files = gr.File(label="Add image files", file_count="multiple", file_types=["image"],
                                elem_id="collect-files", height=120)
                paste = CheckedImage(label="…or paste / drop one picture", sources=["clipboard", "upload"],
                                 type="filepath", height=120, elem_id="collect-paste")
        counts = gr.Markdown(elem_id="collect-counts")
        gallery = gr.Gallery(label="Samples of the selected class (click one to select it)", columns=6,
                             height=220, object_fit="cover", allow_preview=False, elem_id="collect-gallery")
        selected = gr.State(None)
        with gr.Row():
            remove_sample = gr.Button("Remove selected sample", size="sm", variant="secondary",
                                      elem_id="collect-remove-sample")
            download = gr.Button("Download as .zip", size="sm", variant="secondary", elem_id="collect-download")
            load = gr.UploadButton("Load a .zip", file_types=[".zip"], size="sm", variant="secondary",
                                   elem_id="collect-load")
        zip_file = gr.File(label="Your collection (.zip of class folders)", visible=False, interactive=False,
                           elem_id="collect-zip")
        check = gr.Markdown(elem_id="collect-check")
    state = gr.State(None, delete_callback=lambda c: c.delete() if c is not None else None)
    return Builder(group, state, target, new_name, add_class, rename, remove_class, webcam, files, paste, counts,
                   gallery, selected, remove_sample, download, zip_file, load, check)


# ---------------------------------------------------------------- views

def counts_md(c: Collection | None) -> str:
    if c is None or not c.classes:
        return "No classes yet: add one."
    counts = c.counts()
    parts = [f"**{name}**: {n}" for name, n in counts.items()]
    total = sum(counts.values())
    return (" · ".join(parts) + f"  \n{total:,} of {limits.COLLECTION_MAX_SAMPLES:,} samples, "
            f"{c.total_bytes() / 2**20:.1f} of {limits.COLLECTION_MAX_BYTES / 2**20:.0f} MiB")  # as limits.py sets it


def check_md(c: Collection | None) -> str:
    """The data check, in words: what will go wrong and what to do about it."""
    if c is None or not c.classes:
        return ""
    return api.problems_md(check_image_folder(c.as_dataset_folder()))


def view(c: Collection | None, target: str | None, *, check: bool = True) -> dict:
    """Everything the builder shows, from the collection (the single source of truth)."""
    classes = c.classes if c is not None else []
    target = target if target in classes else (classes[-1] if classes else None)
    samples = [str(p) for p in c.samples(target)] if c is not None and target else []
    out = {"target": gr.update(choices=classes, value=target), "counts": counts_md(c),
           "gallery": samples, "selected": None}
    if check:
        out["check"] = check_md(c)
    return out


_BY_SESSION: dict[str, Collection] = {}  # session -> its collection, so the session's end removes it at once


def _ensure(c: Collection | None) -> Collection:
    if c is not None and not c.deleted:
        return c
    c = Collection.create()  # the first sample, or the budget removed the last one: a fresh one
    if (session := session_of()) is not None:
        _BY_SESSION[session] = c
    return c


def forget(session: str) -> None:
    """The session has ended (its tab closed): remove its collection now (gr.State's own delete callback runs
    only when Gradio drops the state, an hour later)."""
    c = _BY_SESSION.pop(session, None)
    if c is not None:
        c.delete("This session has ended.")


# ---------------------------------------------------------------- handlers (return dicts keyed by name)

def add_class(c: Collection | None, name: str | None) -> tuple[Collection, dict]:
    c = _ensure(c)
    created = c.add_class((name or "").strip() or None)
    return c, view(c, created)


def rename(c: Collection | None, target: str | None, name: str | None) -> tuple[Collection | None, dict]:
    if c is None or not target:
        raise UsageError("Pick the class to rename first.")
    new = (name or "").strip()
    c.rename_class(target, new)
    return c, view(c, new)


def remove_class(c: Collection | None, target: str | None) -> tuple[Collection | None, dict]:
    if c is None or not target:
        raise UsageError("Pick the class to remove first.")
    c.remove_class(target)
    return c, view(c, None)


def _target_or_new(c: Collection, target: str | None) -> str:
    """The class to add to: the selected one, or a first class made on the spot."""
    return target if target in c.classes else c.add_class(None)


def add_files(c: Collection | None, target: str | None, files) -> tuple[Collection, dict]:
    c = _ensure(c)
    target = _target_or_new(c, target)
    report = c.add_images(target, [file_path(f) for f in files or []])
    out = view(c, target)
    if report.skipped:
        gr.Warning(report.message)
    return c, out


def record(c: Collection | None, target: str | None, frame) -> tuple[Collection, dict]:
    """One webcam frame while recording: add it; redraw the thumbnails now and then."""
    c = _ensure(c)
    known = target in c.classes
    target = _target_or_new(c, target)
    c.add_image(target, frame)
    out = view(c, target, check=False)
    if known:  # the class list is as it was: redrawing the radio on every frame only slows the burst
        del out["target"]
    if c.counts()[target] % GALLERY_EVERY:
        del out["gallery"], out["selected"]
    return c, out


def remove_sample(c: Collection | None, target: str | None, index: int | None) -> tuple[Collection | None, dict]:
    if c is None or target not in (c.classes if c else []) or index is None:
        raise UsageError("Click a sample in the gallery first, then remove it.")
    c.remove_sample(target, index)
    return c, view(c, target)


def download(c: Collection | None):
    if c is None or not any(c.counts().values()):
        raise UsageError("There is nothing to download yet: add some samples first.")
    return gr.update(value=str(c.to_zip(c.root / f"{zip_stem(c.classes)}.zip")), visible=True)


def select_sample(evt: gr.SelectData) -> int:
    return evt.index


def load_zip(c: Collection | None, target: str | None, upload) -> tuple[Collection, dict]:
    c = _ensure(c)
    path = file_path(upload)
    if path is None:
        raise UsageError("Choose a .zip of class folders to load.")
    report = c.load_zip(Path(path))
    if report.skipped:
        gr.Warning(report.message)
    return c, view(c, target)


def training_zip(c: Collection | None) -> str:
    """The collection as the .zip the Train tab's upload path takes: `api.stage_upload` gives it the
    same checks as any upload, the data check included (so it is not run here as well)."""
    if c is None or not c.classes:
        raise UsageError("Collect some classes first: add a class and fill it from the webcam or files.")
    return str(c.to_zip(c.root / f"{zip_stem(c.classes)}.zip"))


def zip_stem(classes: list[str]) -> str:
    """A file name from the class names ("mug-plant"): the new model's id starts with it."""
    stem = re.sub(r"[^a-z0-9]+", "-", "-".join(classes).lower()).strip("-")[:40].strip("-")
    return stem or "my-classes"


def wire(b: Builder) -> None:
    names = ["target", "counts", "gallery", "selected", "check"]
    outputs = [b.state, b.target, b.counts, b.gallery, b.selected, b.check]
    by_name = dict(zip(names, outputs[1:], strict=True))
    private = {"api_visibility": "private"}

    def keyed(fn):
        """Run a handler returning (collection, {name: value}) and map names to components."""
        @user_errors
        def run(*args):
            c, out = fn(*args)
            return {b.state: c, **{by_name[k]: v for k, v in out.items()}}
        return run

    b.add_class.click(keyed(add_class), [b.state, b.new_name], outputs, **private)
    b.new_name.submit(keyed(add_class), [b.state, b.new_name], outputs, **private)
    b.rename.click(keyed(rename), [b.state, b.target, b.new_name], outputs, **private)
    b.remove_class.click(keyed(remove_class), [b.state, b.target], outputs, **private)
    def show_class(c, target):  # the gallery follows the class picked (the radio is not re-set)
        out = view(c, target, check=False)
        return {b.counts: out["counts"], b.gallery: out["gallery"], b.selected: None}

    b.target.change(show_class, [b.state, b.target], [b.counts, b.gallery, b.selected], **private)
    b.files.upload(keyed(add_files), [b.state, b.target, b.files], outputs, **private).then(
        lambda: None, None, b.files, **private)
    b.paste.upload(keyed(lambda c, t, f: add_files(c, t, [f])), [b.state, b.target, b.paste], outputs,
                   **private).then(lambda: None, None, b.paste, **private)
    b.webcam.stream(keyed(record), [b.state, b.target, b.webcam], outputs[:-1], stream_every=RECORD_EVERY_S,
                    time_limit=limits.LIVE_TIME_LIMIT_S, concurrency_limit=4, show_progress="hidden", **private)
    b.gallery.select(select_sample, None, b.selected, **private)
    b.remove_sample.click(keyed(remove_sample), [b.state, b.target, b.selected], outputs, **private)
    b.download.click(user_errors(download), b.state, b.zip_file, **private)
    b.load.upload(keyed(load_zip), [b.state, b.target, b.load], outputs, **private)
