"""Models tab: every cached model with its card; delete or make default."""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr

from ..errors import UsageError
from ..store import get_store
from .common import user_errors

HEADERS = ["id", "task", "data", "preset", "test accuracy", "size (MB)", "created", "default"]


@dataclass
class ModelsTab:
    table: gr.Dataframe
    refresh: gr.Button
    selected: gr.Dropdown
    card: gr.JSON
    make_default: gr.Button
    delete: gr.Button
    confirm: gr.Checkbox
    status: gr.Markdown
    repo_id: gr.Textbox
    token: gr.Textbox
    push: gr.Button


def rows() -> list[list]:
    store = get_store()
    defaults = {store.defaults().get(t) for t in ("image", "text")}
    out = []
    for c in store.list():
        acc = c.get("metrics", {}).get("test_accuracy")
        out.append([c["id"], c["task"], c["dataset"]["name"], c["preset"],
                    f"{acc:.2%}" if isinstance(acc, (int, float)) else "n/a",
                    round(c["size_bytes"] / 2**20, 1), c.get("created", "")[:16].replace("T", " "),
                    "★" if c["id"] in defaults else ""])
    return out


def layout() -> ModelsTab:
    ids = [r[0] for r in rows()]
    table = gr.Dataframe(rows(), headers=HEADERS, interactive=False, label="Cached models", elem_id="models-table")
    refresh = gr.Button("Refresh", size="sm")
    with gr.Row():
        with gr.Column(scale=1):
            selected = gr.Dropdown(ids, value=ids[0] if ids else None, label="Model")
            make_default = gr.Button("Make default for its task")
            confirm = gr.Checkbox(label="Yes, delete this model for good", value=False)
            delete = gr.Button("Delete", variant="stop")
            status = gr.Markdown()
            with gr.Accordion("Push to the Hugging Face Hub", open=False):
                repo_id = gr.Textbox(label="Repo id", placeholder="your-name/dlapp-cifar10")
                token = gr.Textbox(label="Write token (or set HF_TOKEN)", type="password",
                                   info="Used for this upload only; never stored or logged.")
                push = gr.Button("Push model")
        with gr.Column(scale=2):
            card = gr.JSON(label="Model card")
    return ModelsTab(table, refresh, selected, card, make_default, delete, confirm, status, repo_id, token, push)


def list_models() -> list[dict]:
    """Every cached model: id, task, data set, preset, classes, test accuracy, size, creation time, default."""
    store = get_store()
    defaults = {store.defaults().get(t) for t in ("image", "text")}
    return [{"id": c["id"], "task": c["task"], "dataset": c["dataset"]["name"], "preset": c["preset"],
             "class_names": c["class_names"], "test_accuracy": c.get("metrics", {}).get("test_accuracy"),
             "size_bytes": c["size_bytes"], "created": c.get("created"), "default": c["id"] in defaults}
            for c in store.list()]


def _card(model_id: str | None):
    if not model_id:
        return None
    card = get_store().card(model_id)
    card = {k: v for k, v in card.items() if k not in ("history",)}
    card["metrics"] = {k: v for k, v in card.get("metrics", {}).items() if k != "misclassified"}
    return json.loads(json.dumps(card))


def refresh(current: str | None):
    table = rows()
    ids = [r[0] for r in table]
    value = current if current in ids else (ids[0] if ids else None)
    return table, gr.update(choices=ids, value=value), _card(value)


@user_errors
def _make_default(model_id: str | None):
    if not model_id:
        raise UsageError("Pick a model first.")
    card = get_store().card(model_id)
    get_store().set_default(card["task"], model_id)
    return (f"`{model_id}` is now the default {card['task']} model.", *refresh(model_id))


@user_errors
def _delete(model_id: str | None, confirmed: bool):
    if not model_id:
        raise UsageError("Pick a model first.")
    if not confirmed:
        raise UsageError("Tick the confirmation box to delete a model.")
    get_store().delete(model_id)
    return (f"Deleted `{model_id}`.", *refresh(None), False)


@user_errors
def _push(model_id: str | None, repo_id: str, token: str):
    from .. import hub

    if not model_id or not (repo_id or "").strip():
        raise UsageError("Pick a model and type a repo id like your-name/my-model.")
    url = hub.push(model_id, repo_id.strip(), token=(token or "").strip() or None)
    return f"Pushed `{model_id}` to {url}", ""  # clear the token field


def wire(tab: ModelsTab) -> None:
    tab.push.click(_push, [tab.selected, tab.repo_id, tab.token], [tab.status, tab.token], api_visibility="private")
    tab.refresh.click(refresh, tab.selected, [tab.table, tab.selected, tab.card], api_visibility="private")
    tab.selected.change(user_errors(_card), tab.selected, tab.card, api_visibility="private")
    tab.make_default.click(_make_default, tab.selected, [tab.status, tab.table, tab.selected, tab.card],
                           api_visibility="private")
    tab.delete.click(_delete, [tab.selected, tab.confirm], [tab.status, tab.table, tab.selected, tab.card, tab.confirm],
                     api_visibility="private")
