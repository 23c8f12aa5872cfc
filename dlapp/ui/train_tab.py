"""Train tab: pick data and settings, watch live curves, stop at any time.

The training itself runs in the engine's TrainingManager (one per process), so
every visitor sees the same run; a gr.Timer polls its snapshot. The Start and
Stop buttons call the same functions as the /start_training and /stop_training
endpoints (ui/api.py).
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from .. import limits
from .. import settings as settings_mod
from ..data import BUILTINS, upload_suffixes
from ..errors import ModelNotFoundError, UsageError
from ..inference import get_predictor
from ..jobs import TrainingJob, get_manager
from ..tasks import TASKS, get_task
from ..tasks.generate import GRID_COLUMNS
from . import api, collect, explained, exporting, models_tab, plots
from .common import file_path, session_of, user_errors, visitor_store


@dataclass
class TrainTab:
    task: gr.Radio
    dataset: gr.Dropdown
    upload: gr.File
    subset: gr.Number
    preset: gr.Dropdown
    preset_help: gr.Markdown
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
    loss_plot: gr.Plot
    acc_plot: gr.Plot
    results: gr.Column
    summary: gr.Markdown
    default_note: gr.Markdown
    per_class: gr.Dataframe
    confusion: gr.Plot
    picker: tuple
    wrong_images: gr.Gallery
    wrong_texts: gr.HTML
    cell_title: gr.Markdown
    make_default: gr.Button
    timer: gr.Timer
    seen: gr.State
    builder: collect.Builder
    upload_check: gr.Markdown
    pressed: gr.State  # when this visitor last pressed Start (0: not waiting); written by Start, never by ticks
    export: exporting.ExportBox  # the finished run's model, exported as on the Models tab
    preview_box: gr.Column  # what a generator draws now (jobs.TrainingJob.preview), while a GAN trains
    preview: gr.Image
    preview_note: gr.Markdown
    confusion_box: gr.Column  # classifiers only: a generator's results have no confusion matrix


PREVIEW_SCALE = 2  # a GAN's 32-px pictures, enlarged with nearest neighbour for the page
COLLECTION = "collection"  # the Train tab's dataset value for the visitor's own collected classes
STARTING = "starting"  # the drawn state between a press of Start and its run


def dataset_choices(task: str) -> list[tuple[str, str]]:
    """(label, value) pairs: the display label lives only here; the value is what the API takes."""
    own = ", ".join(upload_suffixes(task))  # type: ignore[arg-type]
    collected = [("your own classes: collect them from the webcam or files", COLLECTION)] if task == "image" else []
    uploads = [(f"your own data ({own})", api.UPLOAD)] if own else []  # a GAN learns only from built-in data here
    return [(n, n) for n, d in BUILTINS.items() if task in d.tasks] + collected + uploads


def preset_choices(task: str) -> list[tuple[str, str]]:
    seed = [("seed (the tutorial model)", "seed")] if task != "generate" else []  # no tutorial GAN to follow
    return [*seed, *((name, name) for name in TASKS[task].presets)]


def _can_start() -> bool:
    s = settings_mod.load()
    return s.training_enabled or s.admin_password is not None


def _can_make_default() -> bool:
    """A private run's model is its visitor's alone; only a shared one can become the default here."""
    return _can_start() and not settings_mod.load().private_training


def closed_md(s: settings_mod.Settings) -> str:
    """What a visitor of a deployment without open training can do, in plain words."""
    if s.admin_password:
        return ("**Training on this deployment needs the admin password** (it takes the machine for minutes). "
                "Anyone can watch a run here, and use every model on the other tabs.")
    return ("**Training is not open to visitors here**: a run takes this machine for minutes. You can watch a "
            "run that its owner starts, and use every model on the Image, Sentiment and Models tabs. To train "
            "your own, run dlapp on your computer (its README shows how), or duplicate this Space.")


def private_md(s: settings_mod.Settings) -> str:
    """What a visitor of a deployment with private training gets, said before they press Start."""
    caps = [f"{s.max_epochs} epochs"] if s.max_epochs else []
    caps += [f"{s.max_train_examples:,} training examples"] if s.max_train_examples else []
    caps += [f"{s.train_time_s} s of training (then the model is kept as it is then)"] if s.train_time_s else []
    return ("**Train a model of your own.** It is yours alone: only this browser tab sees it and can use it, on "
            f"every tab, and nothing anyone else sees changes. It is deleted when you close the tab, or after "
            f"{limits.SESSION_MAX_IDLE_S // 60} minutes unused; you keep {s.session_models} at once (a new one "
            "replaces your oldest). One run trains at a time: if another visitor's is going, you wait in the "
            "queue and see your place. " + (f"Each run is capped at {', '.join(caps)}, so that everyone gets a "
                                            "turn." if caps else ""))


def layout() -> TrainTab:
    s = settings_mod.load()
    if not s.training_enabled:
        gr.Markdown(closed_md(s), elem_id="train-closed")
    elif s.private_training:
        gr.Markdown(private_md(s), elem_id="train-private")
    start_with = TASKS["image"].default_run
    preset0 = get_task("image").preset(start_with.preset)
    with gr.Row():
        # Visitors who cannot start a run see no form they cannot use, only the run in progress.
        with gr.Column(scale=1, min_width=300, visible=_can_start(), elem_id="train-form"):
            task = gr.Radio([(n, n) for n in TASKS], value="image", label="Task", elem_id="train-task")
            dataset = gr.Dropdown(dataset_choices("image"), value="cifar10", label="Data", elem_id="train-data")
            upload = gr.File(label="Your data", file_types=upload_suffixes(), visible=False, elem_id="train-upload")
            upload_check = gr.Markdown(elem_id="train-upload-check")
            preset = gr.Dropdown(preset_choices("image"), value=start_with.preset, label="Preset",
                                 elem_id="train-preset")
            preset_help = gr.Markdown(preset0.summary, elem_id="train-preset-help")
            with gr.Row():
                subset = gr.Number(start_with.subset, precision=0, minimum=0, label="Examples per class (0 = all)",
                                   elem_id="train-subset")
                epochs = gr.Number(start_with.epochs, precision=0, minimum=1, maximum=s.max_epochs, label="Epochs",
                                   elem_id="train-epochs")
            with gr.Accordion("Expert settings", open=False, elem_id="train-expert"):
                with gr.Row():
                    batch_size = gr.Number(start_with.batch_size or preset0.batch_size, precision=0, minimum=1,
                                           maximum=4096,
                                           label="Batch size", elem_id="train-batch")
                    learning_rate = gr.Number(preset0.learning_rate, minimum=0, label="Learning rate")
                validation_split = gr.Slider(0, 0.5, value=preset0.validation_split, step=0.01,
                                             label="Validation split", elem_id="train-validation",
                                             info="Share of the training data held out for the curves; "
                                                  "0 = validate on the test split")
                cell_setting = TASKS["text"].settings["cell"]  # the text task's own setting: its choices and words
                cell = gr.Dropdown([("preset default", ""), *zip(cell_setting.choice_labels, cell_setting.choices,
                                                                 strict=True)],
                                   value="", label=cell_setting.label, visible=False)
            password = gr.Textbox(label="Admin password", type="password", visible=s.admin_password is not None)
            with gr.Row():
                start = gr.Button("Start training", variant="primary", elem_id="train-start",
                                  interactive=_can_start())
                stop = gr.Button("Stop", variant="stop", elem_id="train-stop", interactive=False)
        with gr.Column(scale=2):
            status = gr.Markdown("No training has run yet.", elem_id="train-status")
            progress = gr.HTML(plots.progress_html(0, "", "idle"), elem_id="train-progress")
            with gr.Row():
                loss_plot = gr.Plot(plots.curve_figure([], "loss"), show_label=False, elem_id="loss-plot",
                                    min_width=280)
                acc_plot = gr.Plot(plots.curve_figure([], "accuracy"), show_label=False, elem_id="acc-plot",
                                   min_width=280)
            with gr.Column(visible=False, elem_id="train-preview-box") as preview_box:
                # PNG, enlarged server-side with nearest: a browser's smoothing or WebP's would blur 32-px pictures.
                preview = gr.Image(label="What the generator draws now", type="numpy", format="png",
                                   interactive=False, buttons=["download"], elem_id="train-preview")
                preview_note = gr.Markdown(elem_id="train-preview-note", elem_classes="dlapp-caption")
            results, summary, make_default, default_note, export, per_class, confusion, picker, cell_title, \
                wrong_images, wrong_texts, confusion_box = _results()
    builder = collect.layout()  # shown when the data is "your own classes", below the settings it follows from
    timer = gr.Timer(1.0)
    seen, pressed = gr.State({}), gr.State(0.0)
    return TrainTab(task, dataset, upload, subset, preset, preset_help, cell, epochs, batch_size, learning_rate,
                    validation_split, password, start, stop, status, progress, loss_plot, acc_plot, results,
                    summary, default_note, per_class, confusion, picker, wrong_images, wrong_texts, cell_title,
                    make_default, timer, seen, builder, upload_check, pressed, export, preview_box, preview,
                    preview_note, confusion_box)


def _results():
    """What a finished run shows: accuracy, per class, the clickable confusion matrix, explained mistakes."""
    with gr.Column(visible=False, variant="panel", elem_id="train-results") as results:
        summary = gr.Markdown(elem_id="train-summary")
        make_default = gr.Button("Make this model the default", variant="primary", size="md",
                                 elem_id="train-make-default", visible=_can_make_default())
        default_note = gr.Markdown(elem_id="train-default-note")
        export = exporting.layout("train", None, title="Export this model: phone, browser, server, another language",
                                  open=True)
        with gr.Row():
            per_class = gr.Dataframe(headers=["class", "test accuracy"], interactive=False, max_height=560,
                                     min_width=200, scale=1, buttons=[])
            with gr.Column(scale=2, min_width=300) as confusion_box:
                gr.Markdown("**Confusion matrix** (test split; rows are true classes, columns "
                            "predictions). Click a cell to see its test examples, explained.")
                confusion = gr.Plot(show_label=False, elem_id="confusion", elem_classes=[plots.CELLS_CLASS])
                picker = explained.cell_picker("confusion")
        cell_title = gr.Markdown(elem_id="train-cell-title")  # empty until there are examples to show
        wrong_images = gr.Gallery(show_label=False, columns=4, height="auto", visible=False,
                                  elem_id="wrong-images")
        wrong_texts = gr.HTML(visible=False, elem_id="wrong-texts")
    return (results, summary, make_default, default_note, export, per_class, confusion, picker, cell_title,
            wrong_images, wrong_texts, confusion_box)


# ---------------------------------------------------------------- handlers

def on_task(tab: TrainTab, task: str) -> dict:
    start_with = TASKS[task].default_run
    return {tab.dataset: gr.update(choices=dataset_choices(task), value=dataset_choices(task)[0][1]),
            tab.preset: gr.update(choices=preset_choices(task), value=start_with.preset),
            tab.subset: start_with.subset, tab.epochs: start_with.epochs,
            tab.cell: gr.update(visible="cell" in TASKS[task].settings, value=""),
            **on_preset(tab, task, start_with.preset),
            **({tab.batch_size: start_with.batch_size} if start_with.batch_size else {})}


def on_preset(tab: TrainTab, task: str, preset: str) -> dict:
    p = get_task(task).preset(preset)  # resolves "seed" to the tutorial model
    return {tab.batch_size: p.batch_size, tab.learning_rate: p.learning_rate,
            tab.validation_split: p.validation_split, tab.preset_help: p.summary}


def on_dataset(tab: TrainTab, task: str, dataset: str, collection) -> dict:
    """Show the uploader or the builder; a user's own images preselect `transfer`, the preset that
    works on a few dozen pictures per class."""
    own = task == "image" and dataset in (COLLECTION, api.UPLOAD)
    start_with = TASKS[task].default_run
    preset = "transfer" if own else start_with.preset
    p = get_task(task).preset(preset)
    out = {tab.upload: gr.update(visible=dataset == api.UPLOAD),
           tab.builder.group: gr.update(visible=dataset == COLLECTION), tab.preset: preset,
           tab.subset: 0 if own else start_with.subset, tab.epochs: p.epochs if own else start_with.epochs,
           **on_preset(tab, task, preset)}
    if dataset == COLLECTION:
        out[tab.preset_help] = preset_help(preset, collection)
    return out


def open_builder(tab: TrainTab, collection) -> dict:
    """The Train tab set for the visitor's own image classes, its collection builder open: where the Image tab's
    "Teach it your own classes" lands."""
    out = on_dataset(tab, "image", COLLECTION, collection)
    return {**out, tab.task: "image", tab.dataset: gr.update(choices=dataset_choices("image"), value=COLLECTION),
            tab.preset: gr.update(choices=preset_choices("image"), value=out[tab.preset]),
            tab.cell: gr.update(visible=False, value="")}  # the choices too: the task may have been text's


# After the switch, the builder (below the settings, far down on a phone) scrolls into view with the cursor in its
# class name, once the page has drawn it: the update that shows it lands a moment after the click's response.
TO_BUILDER_JS = """
() => {
  let tries = 0;
  const go = () => {
    const box = document.getElementById('collect');
    if (box && box.offsetParent !== null) {
      box.scrollIntoView({block: 'start'});
      document.querySelector('#collect-name textarea, #collect-name input')?.focus({preventScroll: true});
    } else if (tries++ < 50) {
      setTimeout(go, 100);
    }
  };
  go();
}
"""


def wire_teach(tab: TrainTab, button: gr.Button, tabs: gr.Tabs) -> None:
    """`button` (on another tab) selects the Train tab (its id, "train") with the collection builder open."""
    outputs = [tabs, tab.task, tab.dataset, tab.cell, tab.upload, tab.builder.group, tab.preset, tab.subset,
               tab.epochs, tab.batch_size, tab.learning_rate, tab.validation_split, tab.preset_help]
    button.click(lambda c: {tabs: gr.Tabs(selected="train"), **open_builder(tab, c)}, tab.builder.state, outputs,
                 api_visibility="private", queue=False
                 ).then(None, js=TO_BUILDER_JS, api_visibility="private", queue=False)


def preset_help(preset: str, collection) -> str:
    """The preset's summary; for `transfer` on a collection, what to expect from it."""
    from ..tasks.image import transfer_advice

    summary = get_task("image").preset(preset).summary
    if preset != "transfer" or collection is None:
        return summary
    return f"{summary}  \n**{transfer_advice(collection.counts())}**"


def _queued_text(job: TrainingJob) -> str:
    wait = (f"; about {max(1, round(job.wait_s / 60))} min until it starts" if job.wait_s is not None else "")
    cap = f" (runs here stop after {job.time_cap_s:.0f} s of training)" if job.time_cap_s else ""
    return (f"**Queued** · you are number {job.position} in line{wait}{cap}.  \n"
            "Another visitor's run is in progress; yours starts when it ends. Press Stop to leave the queue.")


OTHER_RUN = "Another visitor's run is in progress; its data and results are theirs alone."


def _status_text(job: TrainingJob, viewer: str | None, other: bool = False) -> str:
    if job.state == "queued":
        return _queued_text(job)
    head = {"running": "Training", "done": "Finished", "failed": "Failed", "cancelled": "Stopped"}[job.state]
    who = ("started by you" if job.owner and job.owner == viewer
           else "started by another visitor" if job.owner else "started from the API or command line")
    subset = f", {job.config.subset}/class" if job.config.subset else ""
    return (f"**{head}** · run #{job.id}, {who} · {job.task} model on `{Path(job.config.dataset).name}`{subset} · "
            f"preset `{job.config.preset}`  \n{job.message}" + (f"  \n{OTHER_RUN}" if other else ""))


def _progress_text(job: TrainingJob) -> str:
    e = job.latest
    if e is None or not e.epochs:
        return "" if job.state != "running" else job.message  # the status line already says how it ended
    eta = f" · ETA {e.eta_s:,.0f} s" if e.eta_s is not None and job.running else ""
    return f"epoch {e.epoch}/{e.epochs} · batch {e.step}/{e.steps} · {job.speed:,.0f} examples/s{eta}"


def _progress(job: TrainingJob, seen: dict) -> tuple[str, dict]:
    """The progress bar, and what this visitor saw of it. The events that end a stopped or failed run
    carry no epochs; the bar then stays where the run stopped instead of emptying."""
    e = job.latest
    if e is not None and e.epochs:
        seen = {**seen, "bar": (job.id, e.progress, f"epoch {e.epoch}/{e.epochs} · batch {e.step}/{e.steps}")}
        return plots.progress_html(e.progress, _progress_text(job), job.state, len(job.points)), seen
    bar_job, fraction, where = seen.get("bar", (None, 0.0, ""))
    if bar_job != job.id or job.running:
        fraction, where = 0.0, ""
    text = _progress_text(job) or (f"stopped at {where}" if job.state == "cancelled" and where else "")
    return plots.progress_html(fraction, text, job.state, len(job.points)), seen


def viewer_job(viewer: str | None) -> TrainingJob | None:
    """The run this visitor sees: their own with DLAPP_TRAINING=private (never another's), else the current."""
    manager = get_manager()
    own = manager.job_for(viewer)
    if settings_mod.load().private_training or (own is not None and own.state == "queued"):
        return own  # a visitor waiting in the queue (any public deployment) follows their place in it
    return manager.current


def refresh(tab: TrainTab, seen: dict, viewer: str | None = None, pressed: float = 0.0) -> dict:
    """Timer tick: update only what changed since this visitor's last tick. Between a press of Start
    (`pressed`) and its run, the bar says "Starting…", never the last run's "Finished"."""
    job = viewer_job(viewer)
    other = settings_mod.load().private_training and get_manager().others_running(viewer)
    if job is None:
        if seen.get("other") == other:
            return {tab.seen: seen}  # nothing to update (Gradio needs at least one key)
        return {tab.status: OTHER_RUN + " Press Start to queue for your turn." if other else
                "No training has run yet.", tab.seen: {**seen, "other": other}}
    if job.started < pressed and time.time() - pressed < limits.START_WAIT_S:
        if seen.get("key") == STARTING:
            return {tab.seen: seen}
        return {tab.progress: plots.progress_html(0, "Starting…", "running"), tab.seen: {**seen, "key": STARTING}}
    key = {"id": job.id, "points": len(job.points), "state": job.state, "msg": job.message,
           "step": (job.latest.epoch, job.latest.step) if job.latest else None, "other": other,
           "preview": _preview_key(job),
           "place": (job.position, job.wait_s and round(job.wait_s / 60))}
    if key == seen.get("key"):
        return {tab.seen: seen}
    bar, seen = _progress(job, seen)
    waiting = job.state == "queued"
    out: dict = {tab.status: _status_text(job, viewer, other), tab.progress: bar,
                 tab.start: gr.update(interactive=not job.running and not waiting and _can_start()),
                 tab.stop: gr.update(interactive=job.running or waiting)}
    points = list(job.points)  # a snapshot: the training thread keeps appending
    if (job.id, len(points)) != seen.get("drawn"):  # a new point since this visitor's last picture
        out[tab.loss_plot], out[tab.acc_plot] = curves(job, points)
        seen = {**seen, "drawn": (job.id, len(points))}
    out, seen = _preview(tab, job, out, seen)
    if job.state == "done" and job.result is not None and seen.get("shown") != job.id:
        out.update(_result_outputs(tab, job))
        seen = {**seen, "shown": job.id}
    elif job.state != "done":
        out[tab.results] = gr.update(visible=False)
    out[tab.seen] = {**seen, "key": key}
    return out


def curves(job: TrainingJob, points: list[dict]) -> tuple:
    """The two charts of a run: loss and accuracy; for a GAN, its two losses and its judge's figures."""
    if job.task != "generate":
        return plots.curve_figure(points, "loss"), plots.curve_figure(points, "accuracy")
    preset = get_task("generate").preset(job.config.preset)
    entry = BUILTINS.get(Path(job.config.dataset).name)
    return (plots.gan_loss_figure(points),
            plots.gan_quality_figure(points, getattr(preset, "judge", ""),
                                     1 / len(entry.class_names) if entry else None))


def _preview_key(job: TrainingJob) -> tuple | None:
    picture = job.preview  # one read: the training thread replaces it
    return None if picture is None else (job.id, zlib.crc32(np.ascontiguousarray(picture).tobytes()))


def preview_note(job: TrainingJob) -> str:
    entry = BUILTINS.get(Path(job.config.dataset).name)
    rows = f" Rows, top to bottom: {', '.join(entry.class_names)}." if entry else ""
    return (f"The same noise every time, so you watch the generator learn: one row per class, {GRID_COLUMNS} "
            f"fixed seeds per row; redrawn a few times per epoch.{rows} Each picture is 32×32 pixels, shown "
            f"{PREVIEW_SCALE}× larger (nearest neighbour: each square is one pixel).")


def _preview(tab: TrainTab, job: TrainingJob, out: dict, seen: dict) -> tuple[dict, dict]:
    """Show the run's latest preview (a GAN's fixed-noise grid) when it changed; hide the box for runs without."""
    picture, key = job.preview, _preview_key(job)
    if key == seen.get("preview"):
        return out, seen
    if picture is None:
        out[tab.preview_box] = gr.update(visible=False)
    else:
        from ..generating import upscale

        out.update({tab.preview_box: gr.update(visible=True), tab.preview: upscale(picture, PREVIEW_SCALE),
                    tab.preview_note: preview_note(job)})
    return out, {**seen, "preview": key}


def _generator_outputs(tab: TrainTab, job: TrainingJob) -> dict:
    """A generator's results: its headline and its judge's report (no accuracy, confusion or export)."""
    r = job.result
    card, m = r.card, r.card.metrics
    q, head = m.report, card.headline
    cached = " (identical model reused from the cache)" if r.cached else ""
    chance = f" (chance: {1 / len(card.class_names):.0%})" if card.class_names else ""
    figures = ""
    if q.get("frechet_distance") is not None:
        share = q.get("frechet_share_of_ceiling")
        figures = (f"Fréchet distance **{q['frechet_distance']:,.1f}** on {q.get('judge')}'s features, "
                   f"{q.get('samples', 0):,} generated against as many test pictures"
                   + (f" ({share:.0%} of the ceiling)" if share is not None else "")
                   + f": floor {q.get('frechet_floor', 0):,.1f} (real training pictures), ceiling "
                   f"{q.get('frechet_ceiling', 0):,.1f} (noise). Lower is better.  \n")
    summary = (f"### {head.name.capitalize()} {head}{chance}{cached}\n"
               f"The share of its pictures that {q.get('judge', 'the judge')} files under the class asked for.  \n"
               f"{figures}Model `{r.model_id}` · trained in {card.provenance.training_time_s:.0f} s on "
               f"{card.provenance.device}. It is now in the Generate tab's model picker.")
    rows = [[name, f"{acc:.0%}" if acc is not None else "n/a"]
            for name, acc in (q.get("per_class_accuracy") or {}).items()]
    return {tab.results: gr.update(visible=True), tab.summary: summary,
            tab.make_default: gr.update(visible=_can_make_default()), tab.default_note: "",
            tab.export.box: gr.update(visible=False),
            tab.per_class: {"headers": ["class asked for", "recognised"], "data": rows},
            tab.confusion_box: gr.update(visible=False), tab.cell_title: "",
            tab.wrong_images: gr.update(value=None, visible=False), tab.wrong_texts: gr.update(value="", visible=False)}


def _result_outputs(tab: TrainTab, job: TrainingJob) -> dict:
    r = job.result
    if r.card.task == "generate":
        return _generator_outputs(tab, job)
    card, m = r.card, r.card.metrics
    cached = " (identical model reused from the cache)" if r.cached else ""
    summary = (f"### {m.main.name.capitalize()} {m.main}{cached}\n"
               f"Model `{r.model_id}` · {m.test_examples:,} test examples · trained in "
               f"{card.provenance.training_time_s:.0f} s on {card.provenance.device}. ")
    per_class = [[name, f"{acc:.1%}" if acc is not None else "n/a"] for name, acc in m.per_class_accuracy.items()]
    try:
        model = get_predictor(card.task, r.model_id, store=visitor_store()).model
        summary += "It is now in the model pickers."
    except ModelNotFoundError:  # deleted since: the figures stand, the examples cannot be explained
        model, summary = None, summary + "It has since been deleted."
    examples = [(w["x"], w["true"], w["predicted"]) for w in r.misclassified] if model is not None else []
    # Each task's own results, named: a generator's pictures are neither images to explain nor reviews.
    names, is_image, is_text = list(card.class_names), card.task == "image", card.task == "text"
    title = ("**Misclassified test examples** (true → predicted), each with what drove the prediction"
             if examples else "**Misclassified test examples** are not shown: the model is gone."
             if model is None and r.misclassified else "")  # no heading over nothing
    report = " · ".join(f"{name} {value}" for name, value in m.figures())
    calibration = models_tab.calibration_md(card) if card.task in models_tab.CALIBRATED else report
    return {tab.results: gr.update(visible=True), tab.summary: summary + "  \n" + calibration,
            tab.make_default: gr.update(visible=model is not None and _can_make_default()), tab.default_note: "",
            **exporting.reset(tab.export, card.task, visible=model is not None),
            tab.per_class: {"headers": ["class", "test accuracy"], "data": per_class},
            tab.confusion_box: gr.update(visible=True),
            tab.confusion: plots.confusion_figure(m.confusion_matrix, names) if m.confusion_matrix else None,
            tab.cell_title: title,
            tab.wrong_images: gr.update(value=explained.image_items(model, names, examples) if is_image else None,
                                        visible=is_image and bool(examples)),
            tab.wrong_texts: gr.update(value=explained.reviews_html(model, names, examples) if is_text else "",
                                       visible=is_text and bool(examples))}


@user_errors
def open_cell(cell: str):
    job = viewer_job(session_of())
    if job is None or job.result is None:
        raise UsageError("No finished training yet.")
    return explained.open_cell(job.result.model_id, cell)


def finished_model() -> str:
    """The model of this visitor's finished run (with private training, only ever their own)."""
    job = viewer_job(session_of())
    if job is None or job.result is None:
        raise UsageError("No finished training to export.")
    return job.result.model_id


@user_errors
def make_default(password: str | None) -> str:
    job = viewer_job(session_of())
    if job is None or job.result is None:
        raise UsageError("No finished training to promote.")
    return api.set_default_model(job.result.model_id, password or "")


def wire(tab: TrainTab) -> None:
    settings_out = [tab.batch_size, tab.learning_rate, tab.validation_split]
    settings_out.append(tab.preset_help)
    # On the visitor's change only: open_builder sets the task and the data together, and a change event here would
    # then reset the data to the task's first data set.
    tab.task.input(lambda t: on_task(tab, t), tab.task,
                   [tab.dataset, tab.preset, tab.subset, tab.epochs, tab.cell, *settings_out],
                   api_visibility="private")
    tab.preset.change(lambda t, p: on_preset(tab, t, p), [tab.task, tab.preset], settings_out,
                      api_visibility="private")
    tab.dataset.change(lambda t, d, c: on_dataset(tab, t, d, c), [tab.task, tab.dataset, tab.builder.state],
                       [tab.upload, tab.builder.group, tab.preset, tab.subset, tab.epochs, *settings_out],
                       api_visibility="private")
    collect.wire(tab.builder)

    @user_errors
    def check_upload(upload):
        path = file_path(upload)
        return api.problems_md(api.data_problems(path)) if path and api.data_problems_apply(path) else ""

    tab.upload.change(check_upload, tab.upload, tab.upload_check, api_visibility="private")
    tab.builder.counts.change(lambda d, p, c: preset_help(p, c) if d == COLLECTION else gr.skip(),
                              [tab.dataset, tab.preset, tab.builder.state], tab.preset_help, api_visibility="private",
                              show_progress="hidden")

    @user_errors
    def start(task, dataset, upload, subset, preset, cell, epochs, batch, lr, split, password, collection,
              request: gr.Request):
        if dataset == COLLECTION:  # the collection goes the way of an uploaded .zip, checks and all
            dataset, upload = api.UPLOAD, api.AppFile(Path(collect.training_zip(collection)))
        snap = api.start_training(task, dataset, upload, subset, preset, cell, epochs, batch, lr, split, password,
                                  request=request)
        if snap["state"] == "queued":
            return f"Queued: you are number {snap['position']} in line."
        return f"Training #{snap['id']} started."

    # The bar restarts at once (checking the data can take seconds), not after the last run's "epoch 4/4";
    # forgetting what this visitor saw makes the next tick draw whichever run is current, even a refused one's.
    # Until this visitor's run exists, ticks keep "Starting…" rather than redraw the last run's "Finished".
    def press() -> tuple:
        return (plots.progress_html(0, "Starting…", "running"), {"key": STARTING}, time.time(),
                plots.curve_figure([], "loss"), plots.curve_figure([], "accuracy"), gr.update(visible=False))

    starting = tab.start.click(press, None, [tab.progress, tab.seen, tab.pressed, tab.loss_plot, tab.acc_plot,
                                             tab.preview_box], api_visibility="private", queue=False)
    starting.then(start, [tab.task, tab.dataset, tab.upload, tab.subset, tab.preset, tab.cell, tab.epochs,
                            tab.batch_size, tab.learning_rate, tab.validation_split, tab.password, tab.builder.state],
                  tab.status, api_visibility="private", concurrency_limit=4
                  ).failure(lambda: (0.0, {}), None, [tab.pressed, tab.seen], api_visibility="private",
                            queue=False)  # refused: the ticks draw the current run again
    @user_errors
    def stop(password: str, seen: dict, request: gr.Request):
        # "Stopping…" may land after the tick that drew "Stopped"; forgetting the drawn status redraws it.
        return api.stop_training(password, request=request), {**seen, "key": None}

    tab.stop.click(stop, [tab.password, tab.seen], [tab.status, tab.seen], api_visibility="private",
                   concurrency_limit=None)
    tab.make_default.click(make_default, tab.password, tab.default_note, api_visibility="private")
    exporting.wire(tab.export, finished_model, [])
    explained.on_cell(tab.picker, "confusion", open_cell, [], [tab.cell_title, tab.wrong_images, tab.wrong_texts])
    def tick(seen: dict, pressed: float, request: gr.Request) -> dict:
        return refresh(tab, seen, api.session_of(request), pressed)

    tab.timer.tick(tick, [tab.seen, tab.pressed],
                   [tab.seen, tab.status, tab.progress, tab.loss_plot, tab.acc_plot, tab.start, tab.stop, tab.results,
                    tab.summary, tab.make_default, tab.default_note, tab.per_class, tab.confusion, tab.wrong_images,
                    tab.wrong_texts, tab.cell_title, tab.export.box, tab.export.format, tab.export.result,
                    tab.export.download, tab.preview_box, tab.preview, tab.preview_note, tab.confusion_box],
                   show_progress="hidden", api_visibility="private", concurrency_limit=None, queue=False)
