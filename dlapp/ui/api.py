"""The web API's typed endpoints, in one place. The tabs' buttons call these same functions.

Values are values, never display labels: a data set is `"cifar10"`, `"imdb"` or
`"upload"`; `None` means "the preset's default". Every action that changes what
others get goes through `access.authorize` (see access.py).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from gradio import FileData

from .. import budget, limits
from .. import settings as settings_mod
from ..access import authorize, password_ok
from ..data import BUILTINS, dataset_tasks, upload_format, upload_suffixes
from ..data.checks import DataProblem, check_image_zip
from ..errors import UsageError
from ..jobs import get_manager
from ..store import BESIDE, SessionStore, get_store
from ..training import TrainConfig, plan
from .common import NOT_RECEIVED, received_path, session_of, user_errors, visitor_store

UPLOAD = "upload"  # the `dataset` value that means "the file in `upload`"
STAGING_PREFIX = budget.UPLOAD_PREFIX  # staged training uploads: one folder each, counted in the storage budget


@dataclass(frozen=True)
class AppFile:
    """A file this app wrote itself (the Train tab's collection .zip), handed to `start_training` in-process.
    No API call can make one (clients send JSON), so it is the one upload not checked as a visitor's."""

    path: Path


def received_file(upload: Any) -> tuple[Path, str]:
    """The file Gradio received from the visitor for this request (see common.received_path), and
    the name the visitor gave it. /start_training's `upload` is a FileData dict or a string that
    Gradio passes on as it came, unless it carries FileData's `meta` key.

    Raises:
        UsageError: no upload, or one Gradio did not receive (always NOT_RECEIVED, whatever the path).
    """
    if not upload:
        raise UsageError(f"Upload your data first: {', '.join(upload_suffixes())}.")
    try:
        path = received_path(upload.get("path") if isinstance(upload, dict) else upload)
    except gr.Error:
        raise UsageError(NOT_RECEIVED) from None
    given = upload.get("orig_name") if isinstance(upload, dict) else None
    name = Path(str(given)).name if given and "\0" not in str(given) else ""
    return path, name if name not in ("", ".", "..") else path.name


def stage_upload(source: Path, name: str, *, max_bytes: int | None = None) -> Path:
    """Copy an upload into a `dlapp-upload-*` folder of its own, under `name` (its suffix picks the
    loader): Gradio may clean its cache while a training reads the file. The one place where
    uploads for training are written to disk; `discard_upload` removes what it made.

    Opens `source` without following a link, and copies at most `max_bytes` (None: no cap).

    Raises:
        UsageError: `source` is not a plain file, or is larger than `max_bytes`.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # no link, no FIFO wait
    try:
        fd = os.open(source, flags)
    except OSError:
        raise UsageError(NOT_RECEIVED) from None
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(NOT_RECEIVED)
        sweep_staged_uploads()
        size = os.fstat(fd).st_size
        if max_bytes is None or size <= max_bytes:  # too large: refused below, with its own message
            budget.make_room(size, what="this upload")  # StorageFullError: the visitor is told the storage is full
        folder = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-"))  # the pid: see sweep_staged_uploads
        dest = folder / name
        try:
            with open(dest, "wb") as out:
                copied = 0
                while chunk := src.read(1 << 20):
                    copied += len(chunk)
                    if max_bytes is not None and copied > max_bytes:
                        raise UsageError(f"The upload is larger than {max_bytes / 2**20:,.0f} MB, the limit.")
                    out.write(chunk)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    return dest


def discard_upload(staged: Path) -> None:
    """Remove a file `stage_upload` made, with its folder (whatever the training's outcome)."""
    folder = Path(staged).parent
    if folder.name.startswith(STAGING_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)


def sweep_staged_uploads() -> None:
    """Remove the staged uploads of app processes that are gone (killed mid-run, crashed): each folder
    names the pid that made it, and several apps (tests, a restart) may share one temp dir."""
    for folder in Path(tempfile.gettempdir()).glob(f"{STAGING_PREFIX}*-*"):
        pid = folder.name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def checked_upload(upload: Any) -> Path:
    """Stage the visitor's upload (or the app's own AppFile) and run the cheap checks now, so a hostile
    or malformed file is refused at once; a refused one leaves nothing behind.

    Raises:
        UsageError, InvalidDatasetError.
    """
    if isinstance(upload, AppFile):
        staged = stage_upload(upload.path, upload.path.name)
    else:
        source, name = received_file(upload)
        upload_format(Path(name))  # an unknown suffix is refused before anything is copied
        staged = stage_upload(source, name, max_bytes=settings_mod.load().max_upload_mb * 2**20)
    try:
        upload_format(staged).check(staged)
        blocking = [p.message for p in data_problems(staged) if p.blocking]
        if blocking:
            raise UsageError(" ".join(blocking))
    except BaseException:
        discard_upload(staged)
        raise
    return staged


def data_problems_apply(path: Path) -> bool:
    """Whether the data check reads this upload: image .zips (other formats are checked as they load)."""
    return path.suffix.lower() == ".zip" and upload_format(path).task == "image"


def data_problems(path: Path) -> list[DataProblem]:
    """What the data check finds in an uploaded image .zip."""
    if not data_problems_apply(path):
        return []
    with tempfile.TemporaryDirectory(prefix="dlapp-check-") as tmp:
        return check_image_zip(path, Path(tmp) / "x")


def problems_md(problems: list[DataProblem]) -> str:
    """The data check in words, for the Train tab: what will go wrong and what to do about it."""
    if not problems:
        return "**Data check:** ready to train."
    return "**Data check:**\n" + "\n".join(f"- **{'Must fix' if p.blocking else 'Worth fixing'}:** {p.message}"
                                            for p in problems)


@user_errors
def start_training(task: str | None = None, dataset: str | None = None, upload: FileData | None = None,
                   subset: int | None = None, preset: str | None = None, cell: str | None = None,
                   epochs: int | None = None, batch_size: int | None = None, learning_rate: float | None = None,
                   validation_split: float | None = None, password: str = "",
                   request: gr.Request = None) -> dict:  # type: ignore[assignment]
    """Start a training in the background and return its first snapshot; follow it with /training_progress.

    task: "image", "text" or "generate" (None: the data's; cifar10 also serves generate, a class-conditional GAN
    judged by cifar10-best). dataset: a built-in name (cifar10, mnist, fashion_mnist,
    imdb) or "upload" (None: the task's first built-in, or "upload" when a file is given).
    upload: a .zip of class folders, or a .csv/.jsonl of text,label rows.
    preset None picks what the Train tab picks: `transfer` for your own images, else the task's
    default run (its preset, examples per class, epochs and batch size, where those are None too).
    With a preset named, None (or 0 for subset) keeps the preset's value.
    """
    settings = settings_mod.load()
    authorize("train", password, settings)
    owner = session_of(request)
    if settings.private_training and owner is None:
        raise UsageError("A private training needs a session: call it from the web page or a gradio_client Client.")
    if dataset is None:
        dataset = UPLOAD if upload else next(n for n, d in BUILTINS.items() if (task or "image") in d.tasks)
    if dataset == UPLOAD:
        staged = checked_upload(upload)
    elif dataset in BUILTINS:
        staged = None
    else:
        raise UsageError(f"Unknown dataset {dataset!r}; use one of {', '.join([*BUILTINS, UPLOAD])}.")
    source = str(staged) if staged else dataset
    try:
        served = dataset_tasks(source)  # its own task first (cifar10 also serves generate)
        actual = task or served[0]
        if actual not in served:
            raise UsageError(f"{Path(source).name} is {served[0]} data, not {task} data; choose task {served[0]!r}.")
        if not preset:
            preset, subset, epochs, batch_size = _train_tab_defaults(actual, dataset, subset, epochs, batch_size)
        config = TrainConfig(dataset=source, task=actual if actual != served[0] else None,  # None: as before
                             preset=preset, subset=int(subset) if subset else None,
                             epochs=_int(epochs), batch_size=_int(batch_size), learning_rate=_float(learning_rate),
                             validation_split=_float(validation_split), cell=cell or None)
        plan(config)  # settings errors surface now, not in the background thread
        # Private: the model goes to the visitor's own store; public: a visitor may wait for their turn,
        # and the run has its time cap (said on the Train tab before it starts).
        job = get_manager().start(config, owner=owner, on_end=(lambda: discard_upload(staged)) if staged else None,
                                  store=visitor_store(request) if settings.private_training else None,
                                  time_cap_s=settings.train_time_s, wait=settings.public)
    except BaseException:
        if staged:
            discard_upload(staged)  # refused: the staged copy goes at once
        raise
    return job.snapshot()


def _train_tab_defaults(task: str, dataset: str, subset, epochs, batch_size) -> tuple:
    """(preset, subset, epochs, batch size) as the Train tab starts them (train_tab.on_dataset): `transfer`
    with the preset's own values for a visitor's images, else the task's measured default run."""
    from ..tasks import TASKS

    if task == "image" and dataset == UPLOAD:
        return "transfer", subset, epochs, batch_size
    run = TASKS[task].default_run
    return (run.preset, run.subset if subset is None else subset, run.epochs if epochs is None else epochs,
            run.batch_size if batch_size is None else batch_size)


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


@user_errors
def stop_training(password: str = "", request: gr.Request = None) -> str:  # type: ignore[assignment]
    """Ask the running training to stop within one batch (its starter, or anyone with the password), or take
    the caller's run out of the queue. With DLAPP_TRAINING=private, another visitor's run is not even named."""
    manager, settings, me = get_manager(), settings_mod.load(), session_of(request)
    if me is not None and manager.leave(me):
        return "You left the queue."
    job = manager.current
    mine = job is not None and job.owner is not None and job.owner == me
    if job is None or not job.running or (settings.private_training and not mine
                                          and not password_ok(password, settings)):
        return "No training of yours is running." if settings.private_training else "No training is running."
    authorize("stop", password, settings, owner=mine)
    manager.stop()
    return "Stopping…"


def visible_snapshot(session: str | None) -> dict:
    """The run this visitor may see: with DLAPP_TRAINING=private only their own (queued, running or ended),
    plus whether another visitor's run is in progress ("other_running"), never what it is; else the current one.
    A queued run carries its "position" in the queue and "wait_s", about how long until it starts."""
    manager = get_manager()
    job = manager.job_for(session)
    if not settings_mod.load().private_training and (job is None or job.state != "queued"):
        return {**manager.snapshot(), "other_running": False}
    snap = job.snapshot() if job else {"state": "idle", "message": "You have not trained a model yet."}
    return {**snap, "other_running": manager.others_running(session)}


def training_status(request: gr.Request = None) -> dict:  # type: ignore[assignment]
    """Your current (or last) training: state (queued, running, done, cancelled, failed, idle), progress, epoch,
    examples/s, ETA, model id, its headline ({name, value, text}: the task's own figure) and test accuracy (None
    for a task that does not classify); while queued, position and wait_s. On a deployment with private
    training, another visitor's run shows only as "other_running": true."""
    return visible_snapshot(session_of(request))


def training_progress(request: gr.Request = None) -> Iterator[dict]:  # type: ignore[assignment]
    """Stream snapshots of your training (see /training_status) until it ends (about one a second)."""
    session = session_of(request)
    last = None
    deadline = time.monotonic() + limits.PROGRESS_STREAM_S
    while time.monotonic() < deadline:
        snap = visible_snapshot(session)
        if snap != last:
            yield snap
            last = snap
        if snap["state"] not in ("running", "queued"):
            return
        time.sleep(1.0)


def list_models(request: gr.Request = None) -> list[dict]:  # type: ignore[assignment]
    """Every model you can use: shipped, the shared ones, and (DLAPP_TRAINING=private) those you trained in
    this session: id, task, data set, subset, preset, classes, headline ({name, value, text}: the task's own
    figure), test accuracy (None for a task that does not classify), size, creation time, default, whether it is
    shipped (read-only), and whether it is yours alone ("private")."""
    store = visitor_store(request)
    own = {c.id for c in store.own()} if isinstance(store, SessionStore) else set()
    defaults = set(store.defaults().values())
    return [{"id": c.id, "task": c.task, "dataset": c.dataset.name, "subset_per_class": c.dataset.subset_per_class,
             "preset": c.preset, "class_names": list(c.class_names), "headline": c.headline.as_json(),
             "test_accuracy": c.test_accuracy,
             "size_bytes": c.size_bytes, "created": c.provenance.created, "default": c.id in defaults,
             "shipped": c.shipped, "private": c.id in own}
            for c in store.list()]


@user_errors
def set_default_model(model_id: str, password: str = "") -> str:
    """Make a cached model its task's default (needs the password on a public deployment)."""
    authorize("set_default", password, settings_mod.load())
    store = get_store()
    card = store.card(model_id)
    store.set_default(card.task, model_id)
    return f"{model_id} is now the default {card.task} model."


@user_errors
def delete_model(model_id: str, password: str = "", request: gr.Request = None) -> str:  # type: ignore[assignment]
    """Delete a model for good: one you trained in this session, or (with the password on a public deployment)
    a shared one; shipped models are read-only. Says which model now answers for its task when it was the default."""
    store = visitor_store(request)
    if isinstance(store, SessionStore) and store.owns(model_id):
        return store.delete(model_id)
    authorize("delete", password, settings_mod.load())
    return get_store().delete(model_id)


@user_errors
def promote_model(model_id: str, password: str = "", request: gr.Request = None) -> str:  # type: ignore[assignment]
    """Copy a model you trained in this session into the shared models, for every visitor (needs the password)."""
    authorize("promote", password, settings_mod.load())
    store = visitor_store(request)
    if not isinstance(store, SessionStore) or not store.owns(model_id):
        store.card(model_id)  # another session's or a missing id: the same "No model" as ever
        raise UsageError(f"{model_id} is already a shared model.")
    card, shared = store.card(model_id), get_store()
    shared.import_file(store.model_path(model_id), card, model_id)
    for suffix in BESIDE:  # the test examples its confusion-matrix cells show
        if (beside := store.root / f"{model_id}{suffix}").is_file():
            shutil.copyfile(beside, shared.root / beside.name)
    return f"{model_id} is now a shared model: every visitor can use it."


@user_errors
def download_model(model_id: str, request: gr.Request = None) -> FileData:  # type: ignore[assignment]
    """The .keras file of a model you can use (yours, shared or shipped): it loads with keras.saving.load_model
    after `import dlapp.layers`."""
    path = visitor_store(request).model_path(model_id)
    return FileData(path=str(path), orig_name=path.name)


@user_errors
def explain_sentiment(text: str, model_id: str | None = None) -> dict:
    """Why a review got its label: Integrated Gradients per word, in reading order.

    Returns {"label", "probability", "tokens": [[token, score], ...] as the model reads them (score
    > 0 pushed towards the label), "words": [{"word" as written, "read_as": its tokens, "score": their
    sum, or None where the model read none of it}, ...], "read" (tokens the model reads), "total"
    (tokens in the review), "unread": the tokens after the cut, which did not count, "known": read
    tokens in the model's vocabulary, "note", "attention"}. A review in which the model knows no word gets
    label and probability None (no verdict), and the note says why. "attention" is None except for
    attention models: then where the pooling head pooled, per token, its rollout through the blocks, each
    token's drop-word effect and how far the two agree, with a caution (explain/attention.py).
    """
    from ..explain.attention import attention_dict
    from ..explain.text import explain_review
    from ..inference import get_predictor
    from ..tasks.text import NO_KNOWN_WORD

    predictor = get_predictor("text", model_id or None, store=visitor_store())
    ex = explain_review(predictor.model, text, class_names=tuple(predictor.class_names))
    verdict = ex.known > 0
    return {"label": ex.label if verdict else None, "probability": ex.probability if verdict else None,
            "tokens": [[w, round(float(sc), 5)] for w, sc in ex.tokens],
            "words": [{"word": w.text, "read_as": list(w.tokens),
                       "score": None if w.score is None else round(w.score, 5)} for w in ex.words],
            "read": ex.read, "total": ex.total, "unread": list(ex.unread), "known": ex.known,
            "note": "" if verdict else NO_KNOWN_WORD,
            "attention": attention_dict(predictor.model, text) if verdict else None}


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    return True


def _export_folder(session: str | None) -> Path:
    """One folder per app process (and per visitor, with private training) for the archives it offers: an
    archive replaces the last one of its model and format, so exports hold one file per (model, format)."""
    import hashlib
    import os

    who = hashlib.sha256(session.encode("utf-8", "surrogatepass")).hexdigest()[:16] if session else "shared"
    root = Path(tempfile.gettempdir()) / f"dlapp-exports-{os.getpid()}"
    if not root.exists():  # Gradio serves its own copies (its cache): these go when the app exits
        import atexit

        atexit.register(shutil.rmtree, root, ignore_errors=True)
    for old in root.parent.glob("dlapp-exports-*"):  # left by an app that was killed (no atexit then)
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    folder = root / who
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


@user_errors
def export_model(model_id: str, format: str = "litert",  # noqa: A002  (the API's argument name)
                 request: gr.Request = None) -> dict:  # type: ignore[assignment]
    """Export a model for another runtime, checked before it is offered.

    format: keras, savedmodel, litert (the default, as on the Models tab), litert-int8 (image models)
    or onnx. The export is re-loaded in a fresh process without dlapp or Keras and compared with the
    Keras model on held-out examples.
    Returns {"archive": the .zip (model, classify.py, README with the figures), "model_id", "format",
    "summary", "figures": [[check, result], ...], "changes": [what differs from the Keras model], "agreement",
    "max_prob_diff", "keras_accuracy", "export_accuracy", "examples", "source", "model_bytes"}.
    An export that fails its check is not offered: the error says why.
    """
    from ..export import export_model as export

    store = visitor_store(request)
    private = settings_mod.load().private_training
    r = export(model_id, format, _export_folder(session_of(request) if private else None), store=store)
    # As a dict with its meta, so that Gradio moves the file into its cache and serves it from there.
    return {"archive": FileData(path=str(r.path), orig_name=r.path.name).model_dump(), "model_id": r.model_id,
            "format": r.format, "summary": r.summary(), "figures": [list(f) for f in r.figures],
            "changes": list(r.changes), "agreement": r.agreement, "max_prob_diff": r.max_prob_diff,
            "keras_accuracy": r.keras_accuracy, "export_accuracy": r.export_accuracy, "examples": r.examples,
            "source": r.source, "model_bytes": r.model_bytes}


@user_errors
def generate_pictures(class_name: str, model_id: str | None = None, seed: int = 0, n: int = 16,
                      request: gr.Request = None) -> dict:  # type: ignore[assignment]
    """Draw `n` pictures of one class with a generator model (a class-conditional GAN such as cifar10-gan), from
    seeds seed, seed + 1, … (the same seed draws the same picture), and say what the default image model sees
    in each. Nothing is stored: like a prediction, it needs no password.

    class_name: a class the generator draws ("horse"), or its index. model_id: a generate model (None: the
    default one). seed: 0 to 2,147,483,647. n: 1 to 64.
    Returns {"model_id", "size": [h, w] (the generator's own, 32×32 for CIFAR-10), "classifier", "classifier_note",
    "pictures": [{"png_base64", "seed", "requested", "seen": {"label" ("none of these" included), "probability",
    "top": [[label, p], ...]} or None}, ...]}.
    """
    from .. import generating

    return generating.generate(model_id, class_name, seed=seed, n=n, store=visitor_store(request)).as_dict()


@user_errors
def interpolate_pictures(seed_a: int, seed_b: int, class_a: str, class_b: str | None = None,
                         model_id: str | None = None, steps: int = 8,
                         request: gr.Request = None) -> dict:  # type: ignore[assignment]
    """Walk from (seed_a, class_a) to (seed_b, class_b) in `steps` pictures (2 to 16): between two seeds of one
    class, between two classes for one seed (seed_b = seed_a), or both; and what the default image model sees in
    each. class_b None: class_a. Returns what /generate returns."""
    from .. import generating

    return generating.interpolate(model_id, seed_a=seed_a, seed_b=seed_b, class_a=class_a, class_b=class_b,
                                  steps=steps, store=visitor_store(request)).as_dict()


def register() -> None:
    """Declare the endpoints that have no button of their own (inside a Blocks context)."""
    sweep_staged_uploads()  # what a killed run of this app left behind
    gr.api(start_training, api_name="start_training", concurrency_limit=4)
    gr.api(stop_training, api_name="stop_training", concurrency_limit=None)
    gr.api(training_status, api_name="training_status", concurrency_limit=None, queue=False)
    gr.api(training_progress, api_name="training_progress", concurrency_limit=None)
    gr.api(list_models, api_name="list_models", concurrency_limit=None)
    gr.api(set_default_model, api_name="set_default_model")
    gr.api(delete_model, api_name="delete_model")
    gr.api(promote_model, api_name="promote_model")
    gr.api(explain_sentiment, api_name="explain_sentiment", concurrency_limit=limits.PREDICT_CONCURRENCY)
    # One export at a time: a conversion and its check take seconds to a minute of both cores.
    gr.api(export_model, api_name="export_model", concurrency_limit=1, concurrency_id="export")
    # A generator call is a prediction: up to 64 pictures and their classification, a fraction of a second each.
    gr.api(generate_pictures, api_name="generate", concurrency_limit=2, concurrency_id="generate")
    gr.api(interpolate_pictures, api_name="interpolate", concurrency_limit=2, concurrency_id="generate")
