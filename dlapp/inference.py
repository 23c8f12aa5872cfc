"""Predictors for cached models, built once per model and shared by the UI, the API and the CLI.

Each task module defines its predictor (tasks/image.ImageClassifier,
tasks/text.SentimentAnalyzer); this module picks the model and caches the predictor.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from typing import Any

from .errors import DlappError, UsageError
from .store import ModelStore, get_store
from .tasks import TASKS, get_task

log = logging.getLogger(__name__)
_PREDICTORS: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()
WARM = "Warm-up done"  # the log line that says the default models answer at full speed (benchmarks wait for it)


def warm_up(tasks: tuple[str, ...] = tuple(TASKS)) -> None:
    """For a long-lived server: load each task's default model and compile its predictor, so
    that the first visitors wait for neither, then freeze the heap (below). A task without a
    usable default model is skipped (its tab says why)."""
    t0 = time.perf_counter()
    for task in tasks:
        try:
            get_predictor(task).warm_up()
        except DlappError as exc:
            log.warning("No %s model warmed up: %s", task, exc)
    # TensorFlow, Keras and the loaded models are half a million long-lived objects that Python's
    # cyclic GC rescanned in every full collection. Frozen, they are never scanned again: the GC's
    # CPU in a 70 s load test (32 clients) fell from 4.2 s to 3.0 s (a bare Gradio app: 1.1 s).
    # Only the young generations are collected first: a full collection here held the GIL over all of
    # them while the first visitors were being served (0.8 s on an idle 2-core machine, 5.4 s on a loaded
    # one, a visitor's request waiting as long); the older generation's garbage, frozen with the rest, was
    # 73 to 12,000 objects when measured (gc.callbacks in the server; tests/test_gc_pauses.py).
    gc.collect(1)
    gc.freeze()
    log.info("%s in %.1f s (%s)", WARM, time.perf_counter() - t0, ", ".join(tasks))


def get_predictor(task: str, model_id: str | None = None, *, store: ModelStore | None = None) -> Any:
    """The predictor for `model_id` (default: the task's default model), built once per model file.

    Raises:
        ModelNotFoundError, ModelLoadError: no usable model.
        UsageError: the model is for another task.
    """
    store = store or get_store()
    model_id = model_id or store.default_id(task)
    card = store.card(model_id)
    if card.task != task:
        raise UsageError(f"{model_id} is for the {card.task} task; pick a model for the {task} task.")
    key = (str(store.model_path(model_id).parent), model_id, card.sha256)  # a shared model: one predictor for all
    with _LOCK:
        if key not in _PREDICTORS:
            # A model retrained under the same id replaces its old predictor, whose model would
            # otherwise stay in memory for good (requests still running keep their own reference).
            for old in [k for k in _PREDICTORS if k[:2] == key[:2]]:
                del _PREDICTORS[old]
            _PREDICTORS[key] = get_task(task).predictor(model_id, card, store.load(model_id))
        return _PREDICTORS[key]


def forget(folder) -> None:
    """Drop the predictors of the models in `folder` (a visitor's session that ended), freeing their memory."""
    with _LOCK:
        for key in [k for k in _PREDICTORS if k[0] == str(folder)]:
            del _PREDICTORS[key]
