"""Train tab: pick data and settings, watch live curves, stop at any time.

The training itself runs in the engine's TrainingManager (one per process), so
every visitor sees the same run; a gr.Timer polls its snapshot.
"""

from __future__ import annotations

import hmac
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from .. import settings as settings_mod
from ..archives import inspect_zip
from ..datasets import IMAGE_DATASETS, TEXT_DATASETS, load_text_table
from ..errors import TrainingDisabledError, UsageError
from ..jobs import TrainingJob, get_manager
from ..presets import IMAGE_PRESETS, TEXT_PRESETS, get_preset
from ..store import get_store
from ..training import TrainConfig, resolve
from . import plots
from .common import file_path, user_errors

UPLOAD = "upload (.zip of class folders / .csv of reviews)"
PRESET_DEFAULT = "preset default"


@dataclass
class TrainTab:
    task: gr.Radio
    dataset: gr.Dropdown
    upload: gr.File
    subset: gr.Number
    preset: gr.Dropdown
    cell: gr.Dropdown
    epochs: gr.Number
    batch_size: gr.Number
    learning_rate: gr.Number
    validation_split: gr.Slider
    password: gr.Textbox
    start: gr.Button
    stop: gr.Button
    status: gr.Markdown
    progress: gr.HTML
    loss_plot: gr.Image
    acc_plot: gr.Image
    results: gr.Group
    summary: gr.Markdown
    per_class: gr.Dataframe
    confusion: gr.Image
    wrong_images: gr.Gallery
    wrong_texts: gr.Dataframe
    make_default: gr.Button
    timer: gr.Timer
    seen: gr.State


def _datasets(task: str) -> list[str]:
    return [*(IMAGE_DATASETS if task == "image" else TEXT_DATASETS), UPLOAD]


def _presets(task: str) -> list[str]:
    return ["seed", *(IMAGE_PRESETS if task == "image" else TEXT_PRESETS)]


def layout() -> TrainTab:
    s = settings_mod.load()
    if not s.training_enabled:
        gr.Markdown("**Training is switched off on this deployment.** "
                    "Set `DLAPP_TRAINING=on` to enable it (see the README). You can still watch a run if one is active.")
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            task = gr.Radio(["image", "text"], value="image", label="Task", elem_id="train-task")
            dataset = gr.Dropdown(_datasets("image"), value="cifar10", label="Data", elem_id="train-data")
            upload = gr.File(label="Your data", file_types=[".zip", ".csv", ".jsonl"], visible=False)
            subset = gr.Number(100, precision=0, minimum=0, label="Examples per class (0 = all)", elem_id="train-subset",
                               info="Small subsets train in seconds")
            preset = gr.Dropdown(_presets("image"), value="fast", label="Preset", elem_id="train-preset",
                                 info="seed = the tutorial model; fast ≈ 3 CPU minutes on the full data; best = highest accuracy")
            cell = gr.Dropdown([PRESET_DEFAULT, "lstm", "gru", "simplernn"], value=PRESET_DEFAULT,
                               label="Recurrent cell", visible=False)
            with gr.Row():
                epochs = gr.Number(1, precision=0, minimum=1, maximum=s.max_epochs, label="Epochs", elem_id="train-epochs")
                batch_size = gr.Number(IMAGE_PRESETS["fast"].batch_size, precision=0, minimum=1, maximum=4096,
                                       label="Batch size", elem_id="train-batch")
            with gr.Row():
                learning_rate = gr.Number(IMAGE_PRESETS["fast"].learning_rate, minimum=0, maximum=1,
                                          label="Learning rate")
                validation_split = gr.Slider(0, 0.5, value=IMAGE_PRESETS["fast"].validation_split, step=0.01,
                                             label="Validation split", elem_id="train-validation",
                                             info="0 = validate on the test split")
            password = gr.Textbox(label="Training password", type="password",
                                  visible=s.training_password is not None)
            with gr.Row():
                start = gr.Button("Start training", variant="primary", interactive=s.training_enabled,
                                  elem_id="train-start")
                stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
        with gr.Column(scale=2):
            status = gr.Markdown("No training has run yet.", elem_id="train-status")
            progress = gr.HTML(plots.progress_html(0, "", "idle"), elem_id="train-progress")
            with gr.Row():
                loss_plot = gr.Image(plots.curve_png([], "loss"), show_label=False, interactive=False,
                                     buttons=[], elem_id="loss-plot")
                acc_plot = gr.Image(plots.curve_png([], "accuracy"), show_label=False, interactive=False,
                                    buttons=[], elem_id="acc-plot")
            with gr.Group(visible=False) as results:
                summary = gr.Markdown(elem_id="train-summary")
                make_default = gr.Button("Make this model the default", size="sm", elem_id="train-make-default")
                with gr.Row():
                    per_class = gr.Dataframe(headers=["class", "test accuracy"], interactive=False, max_height=330)
                    confusion = gr.Image(label="Confusion matrix", interactive=False, height=330)
                wrong_images = gr.Gallery(label="Misclassified test examples", columns=6, height=200, visible=False)
                wrong_texts = gr.Dataframe(headers=["review", "true", "predicted", "confidence"],
                                           label="Misclassified test examples", visible=False, wrap=True)
    timer = gr.Timer(1.0)
    seen = gr.State({})
    return TrainTab(task, dataset, upload, subset, preset, cell, epochs, batch_size, learning_rate,
                    validation_split, password, start, stop, status, progress, loss_plot, acc_plot, results,
                    summary, per_class, confusion, wrong_images, wrong_texts, make_default, timer, seen)


# ---------------------------------------------------------------- handlers

def on_task(task: str):
    return (gr.update(choices=_datasets(task), value=_datasets(task)[0]), gr.update(choices=_presets(task), value="fast"),
            gr.update(visible=task == "text"), *on_preset(task, "fast"))


def on_preset(task: str, preset: str):
    p = get_preset(task, preset)  # resolves "seed" to the tutorial model
    return gr.update(value=p.batch_size), gr.update(value=p.learning_rate), gr.update(value=p.validation_split)


def _check_gate(password: str | None) -> None:
    s = settings_mod.load()
    if not s.training_enabled:
        raise TrainingDisabledError("Training is switched off on this deployment (DLAPP_TRAINING=off).")
    if s.training_password is not None and not hmac.compare_digest((password or "").encode(), s.training_password.encode()):
        raise TrainingDisabledError("Wrong training password.")


def _stage_upload(upload) -> str:
    """Copy the upload out of Gradio's cache under its own name, so its suffix picks the loader."""
    path = file_path(upload)
    if path is None:
        raise UsageError("Upload a .zip of class folders (images) or a .csv/.jsonl of reviews (text) first.")
    if path.suffix.lower() not in (".zip", ".csv", ".jsonl"):
        raise UsageError(f"{path.name}: upload a .zip, .csv or .jsonl file.")
    dest = Path(tempfile.mkdtemp(prefix="dlapp-upload-")) / path.name
    shutil.copyfile(path, dest)
    # Cheap checks now, so a hostile or malformed upload is refused at once, not in the background.
    if dest.suffix.lower() == ".zip":
        inspect_zip(dest)
    else:
        load_text_table(dest)
    return str(dest)


@user_errors
def start_training(task: str, dataset: str, upload: Any, subset: float | None, preset: str, cell: str | None,
                   epochs: float | None, batch_size: float | None, learning_rate: float | None,
                   validation_split: float | None, password: str | None = None) -> str:
    """Start a training in the background; returns a status line. Poll training_progress to follow it."""
    _check_gate(password)
    if task not in ("image", "text"):
        raise UsageError("Task must be 'image' or 'text'.")
    source = _stage_upload(upload) if dataset == UPLOAD else dataset
    config = TrainConfig(
        dataset=source, preset=preset or "fast", subset=int(subset) if subset else None,
        epochs=int(epochs) if epochs is not None else None,
        batch_size=int(batch_size) if batch_size is not None else None,
        learning_rate=float(learning_rate) if learning_rate is not None else None,
        validation_split=float(validation_split) if validation_split is not None else None,
        cell=None if cell in (None, "", PRESET_DEFAULT) else cell,
    )
    actual_task, _ = resolve(config)  # settings errors surface now, not in the thread
    if actual_task != task:
        raise UsageError(f"{Path(dataset).name} is {actual_task} data; switch the task to {actual_task}.")
    job = get_manager().start(config)
    return f"Training #{job.id} started."


@user_errors
def stop_training() -> str:
    """Ask the running training to stop within one batch."""
    return "Stopping…" if get_manager().stop() else "No training is running."


def snapshot(job: TrainingJob | None = None) -> dict:
    """The current (or last) training, as plain JSON for API clients."""
    job = job or get_manager().current
    if job is None:
        return {"state": "idle", "message": "No training has run yet."}
    e = job.latest
    out = {"id": job.id, "state": job.state, "message": job.message, "dataset": job.config.dataset,
           "preset": job.config.preset, "progress": round(e.progress, 4) if e else 0.0,
           "epoch": e.epoch if e else 0, "epochs": e.epochs if e else 0,
           "examples_per_sec": round(e.examples_per_sec, 1) if e else 0.0,
           "eta_s": round(e.eta_s, 1) if e and e.eta_s is not None else None,
           "points": len(job.points), "error": job.error}
    if job.result is not None:
        out.update(model_id=job.result.model_id, test_accuracy=job.result.card["metrics"]["test_accuracy"])
    return out


def training_status() -> dict:
    """The current (or last) training: state, progress, epoch, examples/s, ETA, model id and test accuracy."""
    return snapshot()


def training_progress() -> Iterator[dict]:
    """Stream snapshots of the current training until it ends (about one a second)."""
    last = None
    deadline = time.monotonic() + 6 * 3600
    while time.monotonic() < deadline:
        snap = snapshot()
        if snap != last:
            yield snap
            last = snap
        if snap["state"] != "running":
            return
        time.sleep(1.0)


def _status_text(job: TrainingJob) -> str:
    head = {"running": "Training", "done": "Finished", "failed": "Failed", "cancelled": "Stopped"}[job.state]
    lines = [f"**{head}** · run #{job.id} · `{Path(job.config.dataset).name}` · preset `{job.config.preset}`",
             job.message]
    return "  \n".join(lines)


def _progress_text(job: TrainingJob) -> str:
    e = job.latest
    if e is None or not e.epochs:
        return job.message
    eta = f" · ETA {e.eta_s:,.0f} s" if e.eta_s is not None and job.running else ""
    return f"epoch {e.epoch}/{e.epochs} · batch {e.step}/{e.steps} · {job.speed:,.0f} examples/s{eta}"


def refresh(seen: dict):
    """Timer tick: update only what changed since this visitor's last tick."""
    job = get_manager().current
    nothing = (gr.skip(),) * 12
    if job is None:
        return (seen, *nothing)
    key = {"id": job.id, "points": len(job.points), "state": job.state, "msg": job.message,
           "step": (job.latest.epoch, job.latest.step) if job.latest else None}
    if key == seen.get("key"):
        return (seen, *nothing)
    points = list(job.points)  # a snapshot: the training thread keeps appending
    drawn = (job.id, len(points))
    if drawn == seen.get("drawn"):  # no new point since this visitor's last picture: don't redraw
        loss = acc = gr.skip()
    else:
        loss, acc = plots.curve_png(points, "loss"), plots.curve_png(points, "accuracy")
        seen = {**seen, "drawn": drawn}
    running = job.running
    outputs = [gr.update(value=_status_text(job)),
               plots.progress_html(job.latest.progress if job.latest else 0, _progress_text(job), job.state,
                                  len(job.points)),
               loss, acc, gr.update(interactive=not running and settings_mod.load().training_enabled),
               gr.update(interactive=running)]
    finished_now = job.state == "done" and seen.get("shown") != job.id
    if finished_now and job.result is not None:
        outputs += _result_outputs(job)
        seen = {**seen, "shown": job.id}
    elif job.state != "done":
        outputs += [gr.update(visible=False)] + [gr.skip()] * 5
    else:
        outputs += [gr.skip()] * 6
    return ({**seen, "key": key}, *outputs)


def _result_outputs(job: TrainingJob) -> list:
    r = job.result
    card, m = r.card, r.card["metrics"]
    cached = " (identical model reused from the cache)" if r.cached else ""
    summary = (f"### Test accuracy {m['test_accuracy']:.1%}{cached}\n"
               f"Model `{r.model_id}` · {m['test_examples']:,} test examples · trained in "
               f"{card['training_time_s']:.0f} s on {card['device']}. It is now in the model pickers.")
    per_class = [[name, f"{acc:.1%}" if acc is not None else "n/a"] for name, acc in m["per_class_accuracy"].items()]
    image = plots.confusion_png(m["confusion_matrix"], card["class_names"])
    if card["task"] == "image":
        gallery = [(w["x"][..., 0] if w["x"].shape[-1] == 1 else w["x"],
                    f"true {w['true']} → {w['predicted']} ({w['confidence']:.0%})") for w in r.misclassified]
        wrong_i, wrong_t = gr.update(value=gallery, visible=True), gr.update(visible=False)
    else:
        rows = [[str(w["x"])[:300], w["true"], w["predicted"], f"{w['confidence']:.0%}"] for w in r.misclassified]
        wrong_i, wrong_t = gr.update(visible=False), gr.update(value=rows, visible=True)
    return [gr.update(visible=True), summary, per_class, image, wrong_i, wrong_t]


@user_errors
def make_default() -> str:
    job = get_manager().current
    if job is None or job.result is None:
        raise UsageError("No finished training to promote.")
    card = job.result.card
    get_store().set_default(card["task"], job.result.model_id)
    return f"`{job.result.model_id}` is now the default {card['task']} model."


def wire(tab: TrainTab) -> None:
    tab.task.change(on_task, tab.task, [tab.dataset, tab.preset, tab.cell, tab.batch_size, tab.learning_rate,
                                        tab.validation_split], api_visibility="private")
    tab.preset.change(on_preset, [tab.task, tab.preset], [tab.batch_size, tab.learning_rate, tab.validation_split],
                      api_visibility="private")
    tab.dataset.change(lambda d: gr.update(visible=d == UPLOAD), tab.dataset, tab.upload, api_visibility="private")
    tab.start.click(start_training, [tab.task, tab.dataset, tab.upload, tab.subset, tab.preset, tab.cell, tab.epochs,
                                     tab.batch_size, tab.learning_rate, tab.validation_split, tab.password],
                    tab.status, api_name="start_training", concurrency_limit=4)
    tab.stop.click(stop_training, None, tab.status, api_name="stop_training", concurrency_limit=None)
    tab.make_default.click(make_default, None, tab.summary, api_visibility="private")
    tab.timer.tick(refresh, tab.seen,
                   [tab.seen, tab.status, tab.progress, tab.loss_plot, tab.acc_plot, tab.start, tab.stop, tab.results,
                    tab.summary, tab.per_class, tab.confusion, tab.wrong_images, tab.wrong_texts],
                   show_progress="hidden", api_visibility="private", concurrency_limit=None, queue=False)
