"""The export box, one for the Models tab and one in a finished training's results: a format, one click,
then a verified download with the check's figures beside it, or the reason the export is not offered.

Both boxes are built and wired here, so they behave alike; they differ only in how they learn which model
to export (the Models tab's picker, or the visitor's own finished run). The export itself is
api.export_model: the visitor's own store (private training), one export at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from ..errors import UsageError
from . import api
from .common import user_errors

LABELS = {"litert": "LiteRT (phone, float)", "litert-int8": "LiteRT int8 (phone, 4× smaller)",
          "onnx": "ONNX (browser, C#, Java, C++...)", "savedmodel": "TensorFlow SavedModel (server)",
          "keras": "Keras (.keras, Python)"}
ORDER = ("litert", "litert-int8", "onnx", "savedmodel", "keras")  # the dropdown's order: phone first
TITLE = "Export: phone, browser, server, another language"
BUSY = "Exporting and checking (seconds; int8 checks the whole test split: a minute or two)…"


@dataclass
class ExportBox:
    box: gr.Accordion
    format: gr.Dropdown
    button: gr.Button
    result: gr.Markdown
    download: gr.DownloadButton


def format_choices(task: str | None) -> list[tuple[str, str]]:
    """(label, format) pairs for a model of `task` (image when no model is picked)."""
    from ..export import formats_for

    return [(LABELS[f], f) for f in ORDER if f in formats_for(task or "image")]


def layout(prefix: str, task: str | None, *, title: str = TITLE, open: bool = False,  # noqa: A002  (gradio's name)
           visible: bool = True) -> ExportBox:
    """The box, with elem_ids `<prefix>-export-box`, `-export-format`, `-export`, `-export-result`,
    `-export-download`."""
    with gr.Accordion(title, open=open, visible=visible, elem_id=f"{prefix}-export-box") as box:
        fmt = gr.Dropdown(format_choices(task), value="litert", label="Format", elem_id=f"{prefix}-export-format",
                          info="Each export is re-loaded in a fresh process and checked against the Keras model "
                               "before it is offered.")
        button = gr.Button("Export and check", elem_id=f"{prefix}-export")
        result = gr.Markdown(elem_id=f"{prefix}-export-result")
        download = gr.DownloadButton("Download", visible=False, elem_id=f"{prefix}-export-download")
    return ExportBox(box, fmt, button, result, download)


def reset(box: ExportBox, task: str | None, **box_update) -> dict:
    """The box for another model (or a new run's): its task's formats, no figures, no download."""
    choices = format_choices(task)
    if not choices:  # a task dlapp does not export (a generator): no box at all
        box_update = {**box_update, "visible": False}
    elif box_update.get("visible") is None and task is not None:
        box_update = {**box_update, "visible": True}  # back for an exportable model after one that was not
    return {box.format: gr.update(choices=choices, value=choices[0][1] if choices else None), box.result: "",
            box.download: gr.update(visible=False), **({box.box: gr.update(**box_update)} if box_update else {})}


def result_md(result: dict) -> str:
    """The check's figures beside the download."""
    rows = "\n".join(f"| {k} | {v} |" for k, v in result["figures"])
    changes = "".join(f"\n- {c}" for c in result["changes"]) or "\n- nothing: the same graph"
    size = result["model_bytes"] / 1e6
    return (f"**{result['model_id']} as {result['format']}**: checked, {size:.2f} MB model.\n\n"
            f"| check | result |\n|---|---|\n{rows}\n\nWhat differs from the Keras model:{changes}")


def refused_md(model_id: str, fmt: str, reason: str) -> str:
    return f"**{model_id} as {fmt}: not offered.** {reason}"


def wire(box: ExportBox, model_of: Callable[..., str | None], inputs: list) -> None:
    """Export and check on a click. `model_of(*values of inputs)` names the model (None: none to export).
    A refused export (its check failed, a runtime is missing, a format that does not apply) says why in the
    box, where its figures would be, and offers no download."""

    @user_errors
    def export(*values):
        *picked, fmt = values
        model_id = model_of(*picked)
        if not model_id or not fmt:
            raise UsageError("Pick a model and a format first.")
        try:
            result = api.export_model(model_id, fmt)
        except gr.Error as exc:  # the reason, without paths or internals (user_errors), where the figures go
            reason = str(exc.message)
            gr.Warning(reason)
            return {box.result: refused_md(model_id, fmt, reason), box.download: gr.update(visible=False)}
        return {box.result: result_md(result),
                box.download: gr.update(value=result["archive"]["path"], visible=True,
                                        label=f"Download {result['archive']['orig_name']}")}

    box.button.click(lambda: {box.result: BUSY, box.download: gr.update(visible=False)},
                     None, [box.result, box.download], api_visibility="private", queue=False).then(
        export, [*inputs, box.format], [box.result, box.download],
        api_visibility="private", concurrency_limit=1, concurrency_id="export")
