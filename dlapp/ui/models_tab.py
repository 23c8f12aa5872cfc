"""Models tab: every cached model with its card; make one the default, delete it, push it to the Hub."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from .. import settings as settings_mod
from ..access import authorize
from ..errors import UsageError
from ..store import SessionStore, get_store
from ..training.calibrate import MIN_FIT
from . import api, explained, exporting, plots
from .common import user_errors, visitor_store

# The default mark first: long ids must not push it out of view.
HEADERS = ["default", "id", "task", "data", "preset", "test accuracy", "size (MiB)", "created", "from"]


@dataclass
class ModelsTab:
    table: gr.Dataframe
    refresh: gr.Button
    selected: gr.Dropdown
    summary: gr.Markdown
    confusion: gr.Plot
    reliability: gr.Plot
    picker: tuple
    cell_title: gr.Markdown
    cell_images: gr.Gallery
    cell_reviews: gr.HTML
    card: gr.JSON
    password: gr.Textbox
    make_default: gr.Button
    delete: gr.Button
    confirm: gr.Checkbox
    status: gr.Markdown
    repo_id: gr.Textbox
    token: gr.Textbox
    push: gr.Button
    threshold: gr.Number
    prune: gr.Button
    download: gr.Button
    file: gr.File
    promote: gr.Button
    export: exporting.ExportBox


def rows() -> list[list]:
    store = visitor_store()
    defaults = set(store.defaults().values())
    own = {c.id for c in store.own()} if isinstance(store, SessionStore) else None
    return [["★" if c.id in defaults else "", c.id, c.task, c.dataset.label, c.preset,
             f"{c.test_accuracy:.2%}" if c.test_accuracy is not None else f"{c.headline.name} {c.headline}",
             round(c.size_bytes / 2**20, 1), c.provenance.created[:16].replace("T", " "), _origin(c, own)]
            for c in store.list()]


def _origin(card, own: set[str] | None) -> str:
    """Where a model comes from; with private training, the visitor's own are marked as theirs alone."""
    if card.shipped:
        return "shipped"
    if own is None:
        return "yours"
    return "yours (only you see it)" if card.id in own else "shared"


_DOWNLOADS = Path(tempfile.gettempdir()) / "dlapp-downloads"


@user_errors
def download(model_id: str | None) -> str:
    """A copy of the model's .keras file that Gradio may serve (it serves no file from the model folders):
    one per model file, named by its content, so repeated clicks cost nothing."""
    if not model_id:
        raise UsageError("Pick a model first.")
    store = visitor_store()
    card, source = store.card(model_id), store.model_path(model_id)
    dest = _DOWNLOADS / card.sha256[:32] / f"{model_id}.keras"
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    return str(dest)


def first_shown(ids: list[str]) -> str | None:
    """The model the tab opens on: the image default (what the Image tab answers with), else the first."""
    default = visitor_store().defaults().get("image")
    return default if default in ids else (ids[0] if ids else None)


def can_change(s: settings_mod.Settings) -> bool:
    """Whether this deployment offers the actions that change models: a public one only with its password."""
    return not s.public or s.admin_password is not None


def layout() -> ModelsTab:
    s = settings_mod.load()
    table = gr.Dataframe(rows(), headers=HEADERS, interactive=False, label="Cached models", elem_id="models-table")
    refresh = gr.Button("Refresh", size="sm")
    ids = [r[1] for r in rows()]
    changes = can_change(s)  # a public deployment without a password shows no action that can only fail
    with gr.Row():
        with gr.Column(scale=1):
            selected = gr.Dropdown(ids, value=first_shown(ids), label="Model", elem_id="models-selected")
            if not changes:
                gr.Markdown("Look at any model here, and use it on the Image and Sentiment tabs. Changing or "
                            "deleting models is for this deployment's owner.", elem_id="models-visitor")
            password = gr.Textbox(label="Admin password", type="password", elem_id="models-password",
                                  visible=s.admin_password is not None,
                                  info="Needed on this deployment to change or delete models")
            with gr.Row():
                download_button = gr.Button("Download .keras", size="sm", elem_id="models-download")
                promote = gr.Button("Add to the shared models", size="sm", elem_id="models-promote",
                                    visible=s.private_training and s.admin_password is not None)
            file = gr.File(label="Model file", visible=False, elem_id="models-file")
            make_default = gr.Button("Make default for its task", elem_id="models-make-default", visible=changes)
            confirm = gr.Checkbox(label="Yes, delete this model for good", value=False, elem_id="models-confirm",
                                  visible=changes)
            delete = gr.Button("Delete", variant="stop", elem_id="models-delete", visible=changes)
            status = gr.Markdown(elem_id="models-status")
            with gr.Accordion("Tidy up: delete weak models", open=False, visible=changes):
                threshold = gr.Number(50, minimum=0, maximum=100, label="Delete models below this test accuracy (%)",
                                      info="Defaults are kept. Tick the confirmation box above first.",
                                      elem_id="models-threshold")
                prune = gr.Button("Delete weak models", variant="stop", elem_id="models-prune")
            export = exporting.layout("models", _task_of(first_shown(ids)))
            with gr.Accordion("Push to the Hugging Face Hub", open=False, visible=changes):
                repo_id = gr.Textbox(label="Repo id", placeholder="your-name/dlapp-cifar10")
                token = gr.Textbox(label="Write token (or set HF_TOKEN)", type="password",
                                   info="Used for this upload only; never stored or logged.")
                push = gr.Button("Push model")
        with gr.Column(scale=2):
            first = first_shown(ids)
            summary = gr.Markdown(summary_md(first), elem_id="models-summary")
            gr.Markdown("**Confusion matrix** (test split). Click a cell to see its test examples, explained.")
            confusion = gr.Plot(confusion_of(first), show_label=False, elem_id="models-confusion",
                                elem_classes=[plots.CELLS_CLASS])
            picker = explained.cell_picker("models-confusion")
            cell_title = gr.Markdown(elem_id="models-cell-title")
            cell_images = gr.Gallery(columns=4, height="auto", visible=False, show_label=False,
                                     elem_id="models-cell-images")
            cell_reviews = gr.HTML(visible=False, elem_id="models-cell-reviews")
            reliability = gr.Plot(reliability_of(first), show_label=False, elem_id="models-reliability")
            with gr.Accordion("The whole card (JSON)", open=False):
                card = gr.JSON(_card(first), label="Model card")
    return ModelsTab(table, refresh, selected, summary, confusion, reliability, picker, cell_title, cell_images,
                     cell_reviews, card, password, make_default, delete, confirm,
                     status, repo_id, token, push, threshold, prune, download_button, file, promote, export)


def _task_of(model_id: str | None) -> str | None:
    return visitor_store().card(model_id).task if model_id else None


def summary_md(model_id: str | None) -> str:
    """The card as a person reads it: what, on which data, how good, how it was made."""
    if not model_id:
        return "No models yet: train one on the Train tab."
    c = visitor_store().card(model_id)
    p, m = c.provenance, c.metrics
    per_class = " · ".join(f"{name} {acc:.0%}" if acc is not None else f"{name} n/a"
                           for name, acc in m.per_class_accuracy.items())
    lines = [f"### `{c.id}`: {c.test_accuracy:.1%} test accuracy",
             f"**{c.task}** model · data **{c.dataset.label}** ({c.dataset.train_examples:,} training, "
             f"{m.test_examples:,} test examples) · preset **{c.preset}** · input "
             f"{'×'.join(map(str, c.input.shape)) or 'text'} {c.input.dtype}",
             f"Per class: {per_class}",
             calibration_md(c),
             f"Trained in {p.training_time_s:,.0f} s on {p.device or 'unknown hardware'}"
             + (f", saved {p.created[:16].replace('T', ' ')}" if p.created else ""),
             f"Reproduce: `{p.command}`" if p.command else "Trained in the web app (no command line recorded).",
             f"From the Hub: `{p.hub.repo_id}` at `{p.hub.commit[:10]}`" if p.hub else ""]
    return "  \n".join(line for line in lines if line)


def calibration_md(c) -> str:
    """How far to trust its percentages, and whether it can say "none of these"."""
    m, cal = c.metrics, c.calibration
    if m.ece is None:
        return (f"Confidences not measured for calibration (made before calibration existed; "
                f"`python -m dlapp models recalibrate {c.id}` measures and fits it).")
    if cal.fitted_on:
        fitted = f"temperature {cal.temperature:g} fitted on {cal.fitted_on:,} held-out examples"
    elif c.hyperparameters.get("validation_split") == 0:
        fitted = "not calibrated: it was validated on the test split, so no held-out data"
    else:
        fitted = (f"not calibrated: {c.dataset.validation_examples} held-out examples are too few to fit a "
                  f"temperature on (it takes {MIN_FIT})")
    none = (f" · says *none of these* below {cal.none_threshold:.0%} confidence (accepts {m.accepted:.1%} of "
            "its own test images)" if cal.none_threshold is not None and m.accepted is not None else "")
    return f"Calibration error {m.ece:.1%} on the test split ({fitted}){none}"


def reliability_of(model_id: str | None):
    if not model_id:
        return None
    c = visitor_store().card(model_id)
    return plots.reliability_figure(c.metrics.reliability, c.metrics.ece) if c.metrics.reliability else None


def confusion_of(model_id: str | None):
    if not model_id:
        return None
    c = visitor_store().card(model_id)
    m = c.metrics
    return plots.confusion_figure(m.confusion_matrix, list(c.class_names)) if m.confusion_matrix else None


def _card(model_id: str | None) -> dict | None:
    if not model_id:
        return None
    card = visitor_store().card(model_id).to_json()
    card.pop("history", None)
    card["metrics"].pop("misclassified", None)
    return card


def refresh(tab: ModelsTab, current: str | None) -> dict:
    """The table and the choices after the cache changed. The selection (and any opened cell) is
    left alone while the selected model still exists: the timer's `current` may be a moment old,
    and writing it back would undo a visitor's newer pick."""
    table = rows()
    ids = [r[1] for r in table]
    if current in ids:
        return {tab.table: table, tab.selected: gr.update(choices=ids)}
    value = first_shown(ids)
    return {tab.table: table, tab.selected: gr.update(choices=ids, value=value), **_shown(tab, value)}


def _shown(tab: ModelsTab, model_id: str | None) -> dict:
    """Everything about the selected model; a clicked cell's examples are closed."""
    return {tab.card: _card(model_id), tab.summary: summary_md(model_id), tab.confusion: confusion_of(model_id),
            tab.reliability: reliability_of(model_id), tab.cell_title: "",
            tab.cell_images: gr.update(value=None, visible=False), tab.cell_reviews: gr.update(value="", visible=False)}


def wire(tab: ModelsTab) -> None:
    @user_errors
    def make_default(model_id: str | None, password: str):
        if not model_id:
            raise UsageError("Pick a model first.")
        return {tab.status: api.set_default_model(model_id, password), **refresh(tab, model_id)}

    @user_errors
    def delete(model_id: str | None, confirmed: bool, password: str):
        if not model_id:
            raise UsageError("Pick a model first.")
        if not confirmed:
            raise UsageError("Tick the confirmation box to delete a model.")
        return {tab.status: api.delete_model(model_id, password), **refresh(tab, None), tab.confirm: False}

    @user_errors
    def push(model_id: str | None, repo_id: str, token: str, password: str):
        from .. import hub

        if not model_id or not (repo_id or "").strip():
            raise UsageError("Pick a model and type a repo id like your-name/my-model.")
        authorize("push", password, settings_mod.load())
        url = hub.push(model_id, repo_id.strip(), token=(token or "").strip() or None)
        return {tab.status: f"Pushed `{model_id}` to {url}", tab.token: ""}  # clear the token field

    @user_errors
    def prune(threshold: float | None, confirmed: bool, password: str):
        if not confirmed:
            raise UsageError("Tick the confirmation box to delete models.")
        store = get_store()
        keep = set(store.defaults().values())
        weak = [c.id for c in store.list() if c.id not in keep and not c.shipped  # shipped ones are read-only
                and c.test_accuracy * 100 < (threshold or 0)]
        for model_id in weak:
            api.delete_model(model_id, password)
        note = f"Deleted {len(weak)} model(s): {', '.join(weak)}." if weak else "No model is below that accuracy."
        return {tab.status: note, **refresh(tab, None), tab.confirm: False}

    shown = [tab.card, tab.summary, tab.confusion, tab.reliability, tab.cell_title, tab.cell_images, tab.cell_reviews]
    outputs = [tab.status, tab.table, tab.selected, *shown]
    tab.push.click(push, [tab.selected, tab.repo_id, tab.token, tab.password], [tab.status, tab.token],
                   api_visibility="private")
    tab.refresh.click(lambda m: refresh(tab, m), tab.selected, outputs[1:], api_visibility="private")
    tab.selected.change(user_errors(lambda m: _shown(tab, m)), tab.selected, shown, api_visibility="private")
    tab.selected.change(user_errors(lambda m: exporting.reset(tab.export, _task_of(m))), tab.selected,
                        [tab.export.format, tab.export.result, tab.export.download], api_visibility="private")
    exporting.wire(tab.export, lambda m: m, [tab.selected])
    explained.on_cell(tab.picker, "models-confusion", user_errors(lambda cell, m: explained.open_cell(m, cell)),
                      [tab.selected], [tab.cell_title, tab.cell_images, tab.cell_reviews])
    tab.prune.click(prune, [tab.threshold, tab.confirm, tab.password], [*outputs, tab.confirm],
                    api_visibility="private")
    tab.make_default.click(make_default, [tab.selected, tab.password], outputs, api_visibility="private")
    tab.download.click(lambda m: gr.update(value=download(m), visible=True), tab.selected, tab.file,
                       api_visibility="private")

    @user_errors
    def promote(model_id: str | None, password: str):
        if not model_id:
            raise UsageError("Pick a model first.")
        return {tab.status: api.promote_model(model_id, password), **refresh(tab, model_id)}

    tab.promote.click(promote, [tab.selected, tab.password], outputs, api_visibility="private")
    tab.delete.click(delete, [tab.selected, tab.confirm, tab.password], [*outputs, tab.confirm],
                     api_visibility="private")
