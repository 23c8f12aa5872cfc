"""Pieces shared by the tabs: safe image input, error translation, model choices."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import stat
import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
from gradio import utils as gradio_utils
from gradio.components.label import LabelConfidence, LabelData
from gradio.data_classes import ImageData
from PIL import Image

from .. import settings as settings_mod
from ..errors import DlappError, hide_paths
from ..store import ModelStore, get_session_store, get_store

log = logging.getLogger(__name__)


def session_of(request: gr.Request | None = None) -> str | None:
    """The visitor's Gradio session (a browser tab, or one gradio_client Client): `request`'s, else the
    request of the event being handled (Gradio keeps it in a context variable for the handler's thread)."""
    if request is None:
        from gradio.context import LocalContext

        request = LocalContext.request.get(None)
    return getattr(request, "session_hash", None) or None


def visitor_store(request: gr.Request | None = None) -> ModelStore:
    """The models this visitor sees and uses: with DLAPP_TRAINING=private, their session's own over the shared
    ones (store.SessionStore); otherwise, and outside any visitor's event, the shared store."""
    session = session_of(request) if settings_mod.load().private_training else None
    if not session:
        return get_store()
    store = get_session_store(session)
    store.touch()  # an open tab's timers keep its models; a closed one's go at once (app.end_session)
    return store


# One answer for every file refused as not received: it says nothing of the server's files.
NOT_RECEIVED = ("The upload did not arrive with this request. Send the file itself (with gradio_client: "
                "handle_file(path)), not a path or a name on the server.")


def received_path(raw: object) -> Path:
    """`raw` as a path, if it names a file Gradio received: inside Gradio's upload folder (where it writes
    what it receives; GRADIO_TEMP_DIR) once every link and `..` is resolved, and a plain file, not a link.

    Gradio checks a component's files itself only when the client's FileData carries its `meta` key (and
    gr.Image's ImageData never needs it), so a bare {"path": "/etc/passwd"} reaches the app unchecked.
    Everything refused gets the same NOT_RECEIVED, so a client learns nothing about the server's files,
    not even whether one exists.

    Raises:
        gr.Error: not a file Gradio received (a DlappError in the engine's terms: see api.received_file).
    """
    if not isinstance(raw, str | Path) or not str(raw) or "\0" in str(raw):
        raise gr.Error(NOT_RECEIVED, print_exception=False)
    folder = Path(os.path.realpath(gradio_utils.get_upload_folder()))
    path = Path(os.path.realpath(raw))
    try:
        plain = not os.path.islink(raw) and stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        plain = False
    if not plain or path == folder or not path.is_relative_to(folder):
        raise gr.Error(NOT_RECEIVED, print_exception=False)
    return path


class CheckedImage(gr.Image):
    """gr.Image that takes only a file Gradio received (see received_path): stock gr.Image opens
    whatever path a client's payload names."""

    @classmethod
    def get_block_name(cls) -> str:
        return "image"  # reuse gr.Image's front end

    def preprocess(self, payload: ImageData | None):
        if payload is not None and payload.path:
            payload.path = str(received_path(payload.path))
        return super().preprocess(payload)


class SafeImage(CheckedImage):
    """gr.Image that hands the raw upload path to dlapp's own decoder.

    Gradio's stock preprocessing opens uploads with Pillow before our code runs,
    so a corrupt file or a decompression bomb would fail with a generic error.
    Our decoder checks size caps first and explains what is wrong.
    """

    def preprocess(self, payload: ImageData | None):
        if payload is None:
            return None
        if payload.path:
            return str(received_path(payload.path))
        return super().preprocess(payload)  # data: URLs from webcam/clipboard


class DecisionData(LabelData):
    note: str = ""  # the answer in plain words where it is not to be taken at face value (tasks.image.answer_note)


class DecisionLabel(gr.Label):
    """gr.Label whose top label may differ from its best-scoring class: an image model that
    declines answers "none of these" while the ranked classes stay visible (and readable by
    API clients as `confidences`). The answer carries its `note` for API clients ("" when the
    model is sure); the page shows it beside the label (gr.Label's front end ignores the key)."""

    data_model = DecisionData

    @classmethod
    def get_block_name(cls) -> str:
        return "label"  # reuse gr.Label's front end

    @staticmethod
    def value_of(answer: str, ranked: list[tuple[str, float]], note: str = "") -> DecisionData:
        return DecisionData(label=answer, confidences=[LabelConfidence(label=n, confidence=p) for n, p in ranked],
                            note=note)

    def postprocess(self, value):
        return value if isinstance(value, LabelData) else super().postprocess(value)


def user_errors(fn):
    """Turn engine errors into gr.Error (a readable message in the UI and API).

    Anything unexpected is logged with its traceback and shown as one line, so
    the server keeps serving and no internals leak to the visitor: no traceback, and no
    server path (errors.hide_paths).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except DlappError as exc:
            raise gr.Error(hide_paths(str(exc)), print_exception=False) from None
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error("Something went wrong on our side; the app is still running. Please try again.",
                           print_exception=False) from None

    return wrapper


def cleared(n: int):
    """An event handler that empties `n` outputs: run on .failure(), so that after an error no
    answer to the previous input stays on screen as if it were the answer to this one."""
    return lambda: (None,) * n if n > 1 else None


def model_choices(task: str) -> list[tuple[str, str]]:
    """Dropdown choices: (label with data set and headline figure, model id)."""
    return [(f"{c.id}  ·  {c.dataset.label}  ·  {SHORT.get(c.headline.name, c.headline.name)} {c.headline}", c.id)
            for c in visitor_store().list(task)]


SHORT = {"test accuracy": "test acc"}  # a headline's name where a dropdown has little room


def model_picker(task: str) -> gr.Dropdown:
    """The model dropdown of the Image and Sentiment tabs (elem_id: <task>-model)."""
    return gr.Dropdown(model_choices(task), value=default_model(task), label="Model",
                       allow_custom_value=True,  # API clients may name any cached model
                       info=f"Every cached {task} model, with its data set and test accuracy", elem_id=f"{task}-model")


def default_model(task: str) -> str | None:
    try:
        return visitor_store().default_id(task)
    except DlappError:
        return None


def picker_update(task: str, current: str | None = None):
    choices = model_choices(task)
    value = current if current in {c[1] for c in choices} else default_model(task)
    return gr.update(choices=choices, value=value)


def file_path(value) -> Path | None:
    """A gr.File value (str path or object with .name) as a Path."""
    if value is None:
        return None
    return Path(value if isinstance(value, str) else getattr(value, "name", value))


_PREVIEWS = Path(tempfile.gettempdir()) / "dlapp-previews"


def preview_file(arr: np.ndarray) -> str:
    """Save an image array as a PNG named by its content, written atomically.

    Gradio's own array-to-cache path rewrites the same file in place, so two
    visitors sending the same photo could be served a half-written preview.
    """
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    zoom = max(1, 160 // max(img.size))  # blocky enlargement: shows the input resolution, just bigger
    img = img.resize((img.width * zoom, img.height * zoom), Image.Resampling.NEAREST)
    _PREVIEWS.mkdir(exist_ok=True)
    key = hashlib.sha256(arr.tobytes() + f"{arr.shape}x{zoom}".encode()).hexdigest()[:32]
    path = _PREVIEWS / f"{key}.png"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=_PREVIEWS, suffix=".png")
        with os.fdopen(fd, "wb") as f:
            img.save(f, format="PNG")
        os.replace(tmp, path)
    return str(path)


def layer_rows(task: str, model_id: str | None) -> list[list[str]]:
    """A model's architecture as table rows: layer (nested ones marked ↳), type, output shape, parameters."""
    from ..explain.image import layer_table
    from ..inference import get_predictor

    return [["↳ " * r.depth + r.name, r.kind, r.output_shape, f"{r.params:,}"]
            for r in layer_table(get_predictor(task, model_id or None, store=visitor_store()).model)]
