"""Predictors for cached models, built once per model and shared by the UI, the API and the CLI.

Each task module defines its predictor (tasks/image.ImageClassifier,
tasks/text.SentimentAnalyzer); this module picks the model and caches the predictor.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from .errors import DlappError, UsageError
from .store import ModelStore, get_store
from .tasks import TASKS, get_task

log = logging.getLogger(__name__)
_PREDICTORS: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


def warm_up(tasks: tuple[str, ...] = tuple(TASKS)) -> None:
    """Load each task's default model and compile its predictor, so that the first visitors
    wait for neither. A task without a usable default model is skipped (its tab says why)."""
    for task in tasks:
        try:
            get_predictor(task).warm_up()
        except DlappError as exc:
            log.warning("No %s model warmed up: %s", task, exc)


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
    key = (str(store.root), model_id, card.sha256)
    with _LOCK:
        if key not in _PREDICTORS:
            _PREDICTORS[key] = get_task(task).predictor(model_id, card, store.load(model_id))
        return _PREDICTORS[key]
