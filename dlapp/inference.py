"""Predictions through a compiled path: images -> top-k labels, reviews -> sentiment.

Calling a Keras model eagerly costs milliseconds for a CNN and seconds for an
LSTM; each Predictor wraps its model in one tf.function with a fixed input
signature, traced once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import settings as settings_mod
from .errors import InvalidTextError, UsageError
from .images import ImageSource, load_for_model
from .store import ModelStore, get_store

MAX_BATCH = 64  # one request may carry this many images or reviews


def _compiled(model, spec):
    import tensorflow as tf

    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec], reduce_retracing=True)
    return lambda x: np.asarray(fn(x), dtype=np.float64)


def check_text(text: Any, *, max_chars: int) -> str:
    """Raises InvalidTextError for non-text, empty, whitespace-only or oversized reviews."""
    if not isinstance(text, str):
        raise InvalidTextError("A review must be text.")
    if not text.strip():
        raise InvalidTextError("The review is empty. Type or paste a few sentences.")
    if len(text) > max_chars:
        raise InvalidTextError(f"The review is {len(text):,} characters long; the limit is {max_chars:,}.")
    if "\x00" in text:
        raise InvalidTextError("The review contains binary data (NUL bytes); paste plain text.")
    return text


@dataclass
class ImageClassifier:
    """A cached image model, ready to classify anything Pillow can open."""

    model_id: str
    card: dict
    model: Any

    def __post_init__(self):
        import tensorflow as tf

        shape = tuple(self.card["input"]["shape"])
        self.size, self.channels = (shape[0], shape[1]), shape[2]
        self.class_names = list(self.card["class_names"])
        self._predict = _compiled(self.model, tf.TensorSpec((None, *shape), tf.uint8))
        self._predict(np.zeros((1, *shape), np.uint8))  # trace now, once, not in concurrent first requests
        self._max_pixels = settings_mod.load().max_image_pixels

    def preprocess(self, image: ImageSource) -> np.ndarray:
        """The uint8 (H, W, C) array the model sees: upright, first frame, fitted without distortion."""
        return load_for_model(image, self.size, self.channels, max_pixels=self._max_pixels)

    def _probabilities(self, batch: np.ndarray) -> np.ndarray:
        out = self._predict(batch)
        return np.concatenate([1 - out, out], axis=1) if out.shape[1] == 1 else out

    def classify(self, image: ImageSource, *, k: int = 5) -> list[tuple[str, float]]:
        """Top-k (label, probability) pairs, most likely first."""
        return self.classify_batch([image], k=k)[0]

    def classify_batch(self, images: Sequence[ImageSource], *, k: int = 5) -> list[list[tuple[str, float]]]:
        if not 1 <= len(images) <= MAX_BATCH:
            raise UsageError(f"Send between 1 and {MAX_BATCH} images at a time.")
        probs = self._probabilities(np.stack([self.preprocess(im) for im in images]))
        k = max(1, min(k, len(self.class_names)))
        return [[(self.class_names[i], float(p[i])) for i in np.argsort(-p)[:k]] for p in probs]


@dataclass
class SentimentAnalyzer:
    """A cached text model: raw review in, (label, probability) out."""

    model_id: str
    card: dict
    model: Any

    def __post_init__(self):
        import tensorflow as tf

        self.class_names = list(self.card["class_names"])
        self._predict = _compiled(self.model, tf.TensorSpec((None,), tf.string))
        self._predict(np.array(["warm up"], dtype=object))  # trace now, once
        self._max_chars = settings_mod.load().max_text_chars

    def sentiment(self, text: str) -> tuple[str, float]:
        """(label, probability of that label)."""
        return self.sentiment_batch([text])[0]

    def positive_probability(self, texts: Sequence[str]) -> np.ndarray:
        if not 1 <= len(texts) <= 10_000:
            raise UsageError("Send between 1 and 10,000 reviews at a time.")
        clean = [check_text(t, max_chars=self._max_chars) for t in texts]
        out = []
        for start in range(0, len(clean), MAX_BATCH):  # bounded memory for big CSVs
            out.append(self._predict(np.array(clean[start:start + MAX_BATCH], dtype=object))[:, 0])
        return np.concatenate(out)

    def sentiment_batch(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        p = self.positive_probability(texts)
        return [(self.class_names[1], float(q)) if q >= 0.5 else (self.class_names[0], float(1 - q)) for q in p]


_PREDICTORS: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


def get_predictor(task: str, model_id: str | None = None, *, store: ModelStore | None = None):
    """The predictor for `model_id` (default: the task's default model), built once.

    Raises:
        ModelNotFoundError, ModelLoadError: no usable model.
        UsageError: the model is for the other task.
    """
    store = store or get_store()
    model_id = model_id or store.default_id(task)
    card = store.card(model_id)
    if card["task"] != task:
        raise UsageError(f"{model_id} is a {card['task']} model; pick a {task} model.")
    key = (str(store.root), model_id, card["sha256"])
    with _LOCK:
        if key not in _PREDICTORS:
            cls = ImageClassifier if task == "image" else SentimentAnalyzer
            _PREDICTORS[key] = cls(model_id, card, store.load(model_id))
        return _PREDICTORS[key]


def classify(image: ImageSource, *, model_id: str | None = None, k: int = 5) -> list[tuple[str, float]]:
    """Top-k (label, probability) for one image with a cached image model."""
    return get_predictor("image", model_id).classify(image, k=k)


def classify_batch(images: Sequence[ImageSource], *, model_id: str | None = None, k: int = 5):
    return get_predictor("image", model_id).classify_batch(images, k=k)


def sentiment(text: str, *, model_id: str | None = None) -> tuple[str, float]:
    """(label, probability) for one review with a cached text model."""
    return get_predictor("text", model_id).sentiment(text)


def sentiment_batch(texts: Sequence[str], *, model_id: str | None = None) -> list[tuple[str, float]]:
    return get_predictor("text", model_id).sentiment_batch(texts)
