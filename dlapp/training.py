"""One training function for the CLI and the UI: data -> model -> cache.

`train()` reports progress as TrainingEvents (per batch and per epoch) to a
callback, stops cooperatively within one batch when `cancel` is set, saves a
checkpoint every epoch (so `resume=True` continues an interrupted run), and
only writes to the model cache after a successful run and test evaluation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__
from . import settings as settings_mod
from .datasets import Dataset, dataset_task, load_dataset
from .errors import TrainingCancelled, UsageError
from .presets import ImagePreset, Preset, TextPreset, get_preset, with_overrides
from .store import ModelStore, get_store, write_json_atomic


# ---------------------------------------------------------------- config and events

@dataclass(frozen=True)
class TrainConfig:
    """What to train. None means "the preset's value"."""

    dataset: str
    preset: str = "fast"
    subset: int | None = None  # first N examples per class, for quick runs
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    validation_split: float | None = None  # 0 = validate on the test split, as the seed tutorials do
    cell: str | None = None  # text only: lstm | gru | simplernn
    image_size: int | None = None  # custom image folders only (square side, px)
    seed: int = 0
    name: str | None = None  # model id; default derived from data, preset and cache key
    command: str | None = None  # the CLI line that ran this, recorded in the card

    def validate(self, settings: settings_mod.Settings) -> None:
        """Raises UsageError for any out-of-range setting."""
        def bad(msg: str):
            raise UsageError(msg)

        if self.epochs is not None and not 1 <= self.epochs <= settings.max_epochs:
            bad(f"epochs must be between 1 and {settings.max_epochs}, got {self.epochs}.")
        if self.batch_size is not None and not 1 <= self.batch_size <= 4096:
            bad(f"batch size must be between 1 and 4096, got {self.batch_size}.")
        if self.learning_rate is not None and not 0 < self.learning_rate <= 1:
            bad(f"learning rate must be in (0, 1], got {self.learning_rate}.")
        if self.validation_split is not None and not 0 <= self.validation_split <= 0.5:
            bad(f"validation split must be between 0 and 0.5, got {self.validation_split}.")
        if self.subset is not None and not 1 <= self.subset <= 1_000_000:
            bad(f"subset must be a positive number of examples per class, got {self.subset}.")
        if self.image_size is not None and not 8 <= self.image_size <= 512:
            bad(f"image size must be between 8 and 512 px, got {self.image_size}.")


@dataclass
class TrainingEvent:
    """A progress report. kind: start | batch | epoch | evaluating | done | cancelled | failed."""

    kind: str
    epoch: int = 0  # 1-based epoch in progress or just finished
    epochs: int = 0
    step: int = 0  # batches done in this epoch
    steps: int = 0  # batches per epoch
    metrics: dict[str, float] = field(default_factory=dict)
    examples_per_sec: float = 0.0
    eta_s: float | None = None
    elapsed_s: float = 0.0
    message: str = ""

    @property
    def progress(self) -> float:
        """Fraction of all batches done, 0..1."""
        if not self.epochs or not self.steps:
            return 1.0 if self.kind == "done" else 0.0
        return min(1.0, ((self.epoch - 1) * self.steps + self.step) / (self.epochs * self.steps))


@dataclass
class TrainResult:
    model_id: str
    card: dict[str, Any]
    cached: bool  # True when an identical earlier run was returned instead of training
    misclassified: list[dict] = field(default_factory=list)  # with "x": the raw example, for the UI


EventCallback = Callable[[TrainingEvent], None]


# ---------------------------------------------------------------- input pipelines

def make_pipeline(x: np.ndarray | dict[str, np.ndarray], y: np.ndarray, *, batch_size: int, training: bool,
                  augment: bool, seed: int, jpeg_share: float = 0.0):
    """tf.data: shuffle, augment on the fly, batch, prefetch."""
    import tensorflow as tf

    from .augment import flip_and_translate, random_jpeg

    def tensor(a):
        return tf.constant(a.tolist()) if a.dtype == object else a

    features = {k: tensor(v) for k, v in x.items()} if isinstance(x, dict) else tensor(x)
    ds = tf.data.Dataset.from_tensor_slices((features, y))
    if training:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if training and augment:
        pad = max(1, features.shape[1] // 8)  # 4 px at 32×32
        ds = ds.map(lambda images, labels: flip_and_translate(images, labels, pad),
                    num_parallel_calls=tf.data.AUTOTUNE)
        if jpeg_share:
            ds = ds.map(lambda images, labels: random_jpeg(images, labels, jpeg_share),
                        num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------- callbacks

def _keras_callbacks():
    import keras

    class Progress(keras.callbacks.Callback):
        """Turns Keras's hooks into TrainingEvents, and honours `cancel` within one batch."""

        def __init__(self, emit, cancel, epochs, steps, batch_size, start_epoch):
            super().__init__()
            self.emit, self.cancel = emit, cancel
            self.epochs, self.steps, self.batch_size = epochs, steps, batch_size
            self.start_epoch = start_epoch
            self.t0 = time.perf_counter()
            self.done_steps = 0  # across epochs of this run, for throughput and ETA

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            self.done_steps += 1
            elapsed = time.perf_counter() - self.t0
            per_step = elapsed / self.done_steps
            remaining = (self.epochs - self.epoch) * self.steps + (self.steps - batch - 1)
            self.emit(TrainingEvent("batch", self.epoch, self.epochs, batch + 1, self.steps,
                                    {k: float(v) for k, v in (logs or {}).items()},
                                    self.batch_size / per_step if per_step else 0.0, remaining * per_step, elapsed))
            if self.cancel.is_set():
                self.model.stop_training = True

        def on_test_batch_end(self, batch, logs=None):
            if self.cancel.is_set():
                self.model.stop_evaluating = True  # skip the rest of validation too

        def on_epoch_end(self, epoch, logs=None):
            elapsed = time.perf_counter() - self.t0
            per_step = elapsed / max(1, self.done_steps)
            self.emit(TrainingEvent("epoch", epoch + 1, self.epochs, self.steps, self.steps,
                                    {k: float(v) for k, v in (logs or {}).items()},
                                    self.batch_size / per_step, (self.epochs - epoch - 1) * self.steps * per_step,
                                    elapsed))

    class Checkpoint(keras.callbacks.Callback):
        """Atomically save model + optimizer state and the history after every complete epoch."""

        def __init__(self, run_dir: Path, history: list, steps: int):
            super().__init__()
            self.run_dir, self.history, self.steps = run_dir, history, steps

        def on_epoch_begin(self, epoch, logs=None):
            self.batches = 0

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1

        def on_epoch_end(self, epoch, logs=None):
            if self.batches < self.steps:
                return  # stopped mid-epoch: keep the last complete one
            self.history.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
            tmp = self.run_dir / ".tmp-checkpoint.keras"
            self.model.save(tmp)
            tmp.replace(self.run_dir / "checkpoint.keras")
            write_json_atomic(self.run_dir / "state.json", {"epoch": epoch + 1, "history": self.history})

    return Progress, Checkpoint


# ---------------------------------------------------------------- helpers

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "data"


def cache_key(task: str, data: Dataset, preset: Preset, validation_split: float, seed: int) -> str:
    """Identical config on identical data -> identical key -> the cached model is reused."""
    spec = {"task": task, "data": data.fingerprint(), "preset": dataclasses.asdict(preset),
            "validation_split": validation_split, "seed": seed, "format": 1}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def _versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {"dlapp": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def _split_validation(data: Dataset, fraction: float, seed: int):
    """Hold out `fraction` of train (stratified by shuffling); 0 -> use the test split."""
    if fraction == 0:
        return data.x_train, data.y_train, data.x_test, data.y_test
    order = np.random.default_rng(seed).permutation(len(data.y_train))
    n_val = max(1, int(round(fraction * len(order))))
    val, tr = np.sort(order[:n_val]), np.sort(order[n_val:])  # file order kept (see models.nb_folds)
    return data.x_train[tr], data.y_train[tr], data.x_train[val], data.y_train[val]


def _compile(model, preset: Preset, steps_per_epoch: int, epochs: int, num_outputs: int):
    import keras

    total = max(1, steps_per_epoch * epochs)
    if preset.optimizer == "adamw":
        warmup = max(1, int(0.15 * total))  # short warm-up, then cosine to ~0: a one-cycle shape
        schedule = keras.optimizers.schedules.CosineDecay(
            preset.learning_rate / 10, decay_steps=max(1, total - warmup), alpha=0.01,
            warmup_target=preset.learning_rate, warmup_steps=warmup)
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=preset.weight_decay)
    else:
        optimizer = keras.optimizers.Adam(preset.learning_rate)
    if num_outputs == 1:
        loss = keras.losses.BinaryCrossentropy()
    elif getattr(preset, "label_smoothing", 0):
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=preset.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])


def _targets(y: np.ndarray, num_outputs: int, num_classes: int, preset: Preset) -> np.ndarray:
    if num_outputs == 1:
        return y.astype("float32").reshape(-1, 1)
    if getattr(preset, "label_smoothing", 0):
        return np.eye(num_classes, dtype="float32")[y]
    return y.astype("int64")


# ---------------------------------------------------------------- the one function

def resolve(config: TrainConfig) -> tuple[str, Preset]:
    """(task, preset with overrides) for a config, without loading data.

    Raises:
        UsageError: unknown preset, or a setting out of range.
    """
    config.validate(settings_mod.load())
    task = dataset_task(config.dataset)
    preset = get_preset(task, config.preset, dataset=config.dataset)
    overrides = dict(epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate)
    if task == "text":
        overrides["cell"] = config.cell
    elif config.cell:
        raise UsageError("cell applies to text models only.")
    return task, with_overrides(preset, **overrides)


def train(
    config: TrainConfig,
    *,
    on_event: EventCallback | None = None,
    cancel: threading.Event | None = None,
    force: bool = False,
    resume: bool = False,
    store: ModelStore | None = None,
    verbose: int = 0,
) -> TrainResult:
    """Train (or fetch from the cache) the model that `config` describes.

    Args:
        on_event: called with a TrainingEvent per batch, per epoch and at the end.
        cancel: set it to stop within one batch; nothing is saved to the cache.
        force: train even if an identical run is cached.
        resume: continue from this configuration's last epoch checkpoint.
        verbose: Keras progress-bar verbosity (the CLI uses 1).

    Raises:
        UsageError, DatasetNotFoundError, InvalidDatasetError: bad input.
        TrainingCancelled: `cancel` was set; the cache is untouched.
        ModelSaveError: the final save failed; any previous model is intact.
    """
    import keras

    from .devices import pick_strategy, use_mixed_precision
    from .evaluation import evaluate_model
    from .models import (NB_FOLDS, build_image_model, build_text_model, inference_model, make_vectorizer,
                         nb_folds, with_tta)

    settings = settings_mod.load()
    emit = on_event or (lambda e: None)
    cancel = cancel or threading.Event()
    store = store or get_store()
    t_start = time.perf_counter()

    task, preset = resolve(config)
    image_size = None
    if task == "image":
        side = config.image_size
        image_size = (side, side) if side else getattr(preset, "input_size", None)
    emit(TrainingEvent("start", message=f"Loading {config.dataset}…"))
    data = load_dataset(config.dataset, subset=config.subset, image_size=image_size)
    if settings.max_train_examples and len(data.y_train) > settings.max_train_examples:
        raise UsageError(f"This deployment trains on at most {settings.max_train_examples:,} examples; "
                         f"{data.name} has {len(data.y_train):,}. Pick a smaller subset.")
    if task == "text" and len(data.class_names) != 2:
        raise UsageError("Sentiment models need exactly two classes.")
    val_split = config.validation_split if config.validation_split is not None else preset.validation_split
    key = cache_key(task, data, preset, val_split, config.seed)
    if not force and (cached := store.find_by_key(key)):
        emit(TrainingEvent("done", message=f"An identical model is cached: {cached['id']}"))
        return TrainResult(cached["id"], cached, cached=True)

    keras.utils.set_random_seed(config.seed)
    x_tr, y_tr, x_val, y_val = _split_validation(data, val_split, config.seed)
    num_classes = len(data.class_names)
    strategy, device = pick_strategy()
    run_dir = store.root / ".runs" / key[:16]
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path, ckpt_path = run_dir / "state.json", run_dir / "checkpoint.keras"
    folds = nb_folds(len(y_tr))  # text models with NB features: fixed by file order, so resume agrees
    history: list[dict] = []
    initial_epoch = 0
    mixed = use_mixed_precision()
    if mixed:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with strategy.scope():
            if resume and ckpt_path.is_file() and state_path.is_file():
                from . import layers  # noqa: F401

                model = keras.saving.load_model(ckpt_path, safe_mode=True)
                state = json.loads(state_path.read_text())
                initial_epoch, history = int(state["epoch"]), list(state["history"])
            elif task == "image":
                model = build_image_model(preset, data.input_shape, num_classes, sample=x_tr[:10_000])
            else:
                vectorizer = make_vectorizer(preset, x_tr)
                model = build_text_model(preset, vectorizer, x_tr, y_tr, folds)
            num_outputs = int(model.output_shape[-1])
            steps = int(np.ceil(len(y_tr) / preset.batch_size))
            if not model.compiled:
                _compile(model, preset, steps, preset.epochs, num_outputs)
        if isinstance(model.input, dict):  # cross-fitted NB features: each review's fold; validation uses all
            x_tr = {"text": x_tr, "fold": folds.astype("int32")}
            x_val = {"text": x_val, "fold": np.full(len(y_val), NB_FOLDS, dtype="int32")}
        train_ds = make_pipeline(x_tr, _targets(y_tr, num_outputs, num_classes, preset),
                                 batch_size=preset.batch_size, training=True,
                                 augment=bool(getattr(preset, "augment", False)), seed=config.seed,
                                 jpeg_share=getattr(preset, "jpeg_augment", 0.0))
        val_ds = make_pipeline(x_val, _targets(y_val, num_outputs, num_classes, preset),
                               batch_size=max(preset.batch_size, 256), training=False, augment=False, seed=0)
        Progress, Checkpoint = _keras_callbacks()
        emit(TrainingEvent("start", initial_epoch, preset.epochs, 0, steps,
                           message=f"Training {preset.name} on {data.name} ({len(y_tr):,} examples) on {device}"))
        if initial_epoch < preset.epochs:
            model.fit(train_ds, validation_data=val_ds, epochs=preset.epochs, initial_epoch=initial_epoch,
                      verbose=verbose,
                      # Checkpoint first, so an "epoch" event means that epoch is already saved.
                      callbacks=[Checkpoint(run_dir, history, steps),
                                 Progress(emit, cancel, preset.epochs, steps, preset.batch_size, initial_epoch)])
        if cancel.is_set():
            emit(TrainingEvent("cancelled", message="Training stopped; the previous model is still in use."))
            raise TrainingCancelled("Training was stopped before it finished; no model was saved. "
                                    "Run again with resume to continue from the last full epoch.")
        train_time = time.perf_counter() - t_start
        # A fresh, uncompiled wrapper over the trained layers: the saved file carries no
        # optimizer state (a third of the size for Adam) and stands alone for inference.
        final = with_tta(model, translate=preset.tta_translate) if isinstance(preset, ImagePreset) and preset.tta_flip \
            else inference_model(model)
        emit(TrainingEvent("evaluating", preset.epochs, preset.epochs, steps, steps,
                           message=f"Evaluating on {len(data.y_test):,} test examples…"))
        metrics = evaluate_model(final, data.x_test, data.y_test, data.class_names)
    finally:
        if mixed:
            keras.mixed_precision.set_global_policy("float32")
    misclassified = [{**m, "x": data.x_test[m["index"]]} for m in metrics["misclassified"]]
    if history:
        metrics["final_train_accuracy"] = history[-1].get("accuracy")
        metrics["final_val_accuracy"] = history[-1].get("val_accuracy")
    model_id = config.name or f"{_slug(data.name)}-{preset.name}-{key[:8]}"
    card = {
        "task": task,
        "dataset": {"name": data.name, "source": Path(data.source).name if data.source else "",
                    "subset_per_class": config.subset, "fingerprint": data.fingerprint(),
                    "train_examples": int(len(y_tr)), "validation_examples": int(len(y_val)),
                    "test_examples": int(len(data.y_test))},
        "preset": preset.name,
        "hyperparameters": {**dataclasses.asdict(preset), "validation_split": val_split, "seed": config.seed},
        "class_names": list(data.class_names),
        "input": ({"kind": "image", "dtype": "uint8", "shape": list(data.input_shape)} if task == "image"
                  else {"kind": "text", "dtype": "string", "shape": []}),
        "metrics": metrics,
        "history": history,
        "training_time_s": round(train_time, 1),
        "device": device,
        "versions": _versions(),
        "seed": config.seed,
        "command": config.command,
        "cache_key": key,
    }
    card = store.save(final, card, model_id)
    shutil.rmtree(run_dir, ignore_errors=True)
    emit(TrainingEvent("done", preset.epochs, preset.epochs, steps, steps,
                       {"test_accuracy": metrics["test_accuracy"]}, elapsed_s=time.perf_counter() - t_start,
                       message=f"Saved {model_id}: test accuracy {metrics['test_accuracy']:.1%}"))
    return TrainResult(model_id, card, cached=False, misclassified=misclassified)
