"""`train()`: data -> model -> cache, in named steps.

It reports progress as TrainingEvents (per batch and per epoch) to a callback,
stops cooperatively within one batch when `cancel` is set, saves a checkpoint
every epoch (so `resume=True` continues an interrupted run), and writes to the
model cache only after a successful run and test evaluation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__, budget
from .. import settings as settings_mod
from ..card import Calibration, DatasetInfo, Metrics, ModelCard, Provenance
from ..data import Dataset, load_dataset
from ..errors import TrainingCancelled, UsageError
from ..explain.examples import keep_with_model
from ..store import ModelStore, get_store
from .calibrate import calibrate
from .config import Plan, TrainConfig, plan
from .evaluate import evaluate_model
from .events import EventCallback, TrainingEvent, TrainResult
from .pipeline import make_pipeline, split_validation, targets

CACHE_FORMAT = 3  # bump when the same config would now train a different model (3: calibrated)


@dataclass
class _Fitted:
    model: object
    history: list[dict]
    steps: int
    device: str
    train_examples: int
    validation_examples: int
    seconds: float
    x_val: np.ndarray
    y_val: np.ndarray


def train(config: TrainConfig, *, on_event: EventCallback | None = None, cancel: threading.Event | None = None,
          force: bool = False, resume: bool = False, store: ModelStore | None = None,
          verbose: int = 0, keep_checkpoint: bool = True, time_limit_s: float | None = None) -> TrainResult:
    """Train (or fetch from the cache) the model that `config` describes.

    Args:
        on_event: called with a TrainingEvent per batch, per epoch and at the end.
        cancel: set it to stop within one batch, or before the next step after fitting (calibration,
            evaluation, saving); honoured until the model is committed, so nothing is saved to the cache.
        force: train even if an identical run is cached.
        resume: continue from this configuration's last epoch checkpoint.
        verbose: Keras progress-bar verbosity (the CLI uses 1).
        time_limit_s: seconds of fitting, after which it stops within one batch and the model is kept as it
            is then (calibrated, evaluated, saved), with a TIME_CAP event; None: no cap.
        keep_checkpoint: on a stop or a failure, keep the run's last epoch checkpoint for `resume`
            (the CLI); the web app, which cannot resume, passes False so nothing is left behind.

    Raises:
        UsageError, DatasetNotFoundError, InvalidDatasetError: bad input.
        TrainingCancelled: `cancel` was set; the cache is untouched.
        ModelSaveError: the final save failed; any previous model is intact.
    """
    emit = on_event or (lambda e: None)
    cancel = cancel or threading.Event()
    store = store or get_store()
    t_start = time.perf_counter()

    the_plan = plan(config)
    data = load_data(the_plan, emit)
    key = cache_key(the_plan, data)
    if not force and (cached := store.find_by_key(key)):
        emit(TrainingEvent("done", message=f"An identical model is cached: {cached.id}"))
        return TrainResult(cached.id, cached, cached=True)
    run_dir = budget.runs_dir(store.root) / key[:16]
    try:
        with budget.hold(run_dir):  # the budget never removes the checkpoint of a run in progress
            fitted = fit(the_plan, data, run_dir, emit=emit, cancel=cancel, resume=resume, verbose=verbose,
                         time_limit_s=time_limit_s)
            at_end = dict(epoch=the_plan.epochs, epochs=the_plan.epochs, step=fitted.steps, steps=fitted.steps)
            stop_if_asked(cancel, emit)
            emit(TrainingEvent("evaluating", **at_end,
                               message=f"Calibrating, then evaluating on {len(data.y_test):,} test examples…"))
            final, calibration = calibrated_export(the_plan, fitted)
            stop_if_asked(cancel, emit)
            metrics = evaluate_model(final, the_plan.task.name, data.x_test, data.y_test, data.class_names,
                                     none_threshold=calibration.none_threshold)
            stop_if_asked(cancel, emit)
            model_id = config.name or f"{_slug(data.name)}-{the_plan.preset.name}-{key[:8]}"
            emit(TrainingEvent("evaluating", **at_end, message=f"Saving {model_id}…"))
            try:  # the store checks `cancel` once more, just before its commit point (the card)
                card = store.save(final, make_card(the_plan, data, fitted, metrics, key, calibration), model_id,
                                  cancel=cancel)
                keep_with_model(store.root, card, data.x_test, data.y_test)  # cells show examples without the data
            except TrainingCancelled:
                emit(_cancelled())
                raise
    except BaseException:
        if not keep_checkpoint:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    shutil.rmtree(run_dir, ignore_errors=True)
    emit(TrainingEvent("done", the_plan.epochs, the_plan.epochs, fitted.steps, fitted.steps,
                       {"test_accuracy": metrics.test_accuracy}, elapsed_s=time.perf_counter() - t_start,
                       message=f"Saved {model_id}: test accuracy {metrics.test_accuracy:.1%}"))
    misclassified = [{**m, "x": data.x_test[m["index"]]} for m in metrics.misclassified]
    return TrainResult(model_id, card, cached=False, misclassified=misclassified)


# ---------------------------------------------------------------- steps

def load_data(the_plan: Plan, emit: EventCallback) -> Dataset:
    """The data set, checked against this deployment's cap and the task. Raises UsageError."""
    config, settings = the_plan.config, settings_mod.load()
    emit(TrainingEvent("start", message=f"Loading {Path(config.dataset).name}…"))
    data = load_dataset(config.dataset, subset=config.subset, image_size=the_plan.image_size, seed=config.seed)
    if settings.max_train_examples and len(data.y_train) > settings.max_train_examples:
        raise UsageError(f"This deployment trains on at most {settings.max_train_examples:,} examples; "
                         f"{data.label} has {len(data.y_train):,}. Pick a smaller subset.")
    the_plan.task.check_data(data)
    return data


def cache_key(the_plan: Plan, data: Dataset) -> str:
    """Identical config on identical data -> identical key -> the cached model is reused."""
    spec = {"task": the_plan.task.name, "data": data.fingerprint(), "preset": dataclasses.asdict(the_plan.preset),
            "validation_split": the_plan.validation_split, "seed": the_plan.config.seed, "format": CACHE_FORMAT}
    if starts_from := the_plan.task.starts_from(the_plan.preset):  # only then: older models keep their keys
        spec["starts_from"] = starts_from
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def calibrated_export(the_plan: Plan, fitted: _Fitted) -> tuple[object, Calibration]:
    """The stand-alone model to save, with its temperature (and "none of these" threshold)
    fitted on the validation split, which training never learned from."""
    final = the_plan.task.export(fitted.model, the_plan.preset)
    return calibrate(final, the_plan.task, fitted.x_val, fitted.y_val, held_out=the_plan.validation_split > 0)


def fit(the_plan: Plan, data: Dataset, run_dir: Path, *, emit: EventCallback, cancel: threading.Event,
        resume: bool, verbose: int, time_limit_s: float | None = None) -> _Fitted:
    """Build (or resume) the model on the best device and fit it, checkpointing every epoch.

    Raises:
        TrainingCancelled: `cancel` was set.
    """
    from ..backend import keras
    from ..devices import pick_strategy, use_mixed_precision
    from .callbacks import Checkpoint, Progress

    t0 = time.perf_counter()
    keras.utils.set_random_seed(the_plan.config.seed)
    x_tr, y_tr, x_val, y_val = split_validation(data, the_plan.validation_split, the_plan.config.seed,
                                                in_blocks=the_plan.task.validation_in_blocks)
    strategy, device = pick_strategy()
    run_dir.mkdir(parents=True, exist_ok=True)
    mixed = use_mixed_precision()
    if mixed:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with strategy.scope():
            model, history, initial_epoch = build_or_resume(the_plan, data, x_tr, y_tr, run_dir, resume)
        preset, task = the_plan.preset, the_plan.task
        steps = int(np.ceil(len(y_tr) / preset.batch_size))
        n_out, n_cls = int(model.output_shape[-1]), len(data.class_names)

        def pipeline(x, y, training):
            return make_pipeline(task.training_inputs(model, x, validation=not training, preset=preset),
                                 targets(y, num_outputs=n_out, num_classes=n_cls,
                                         label_smoothing=preset.label_smoothing),
                                 batch_size=preset.batch_size if training else max(preset.batch_size, 256),
                                 training=training, seed=the_plan.config.seed,
                                 augmentations=task.augmentations(preset))

        emit(TrainingEvent("start", initial_epoch, preset.epochs, 0, steps,
                           message=f"Training {preset.name} on {data.label} ({len(y_tr):,} examples) on {device}"))
        # Keras 3 under MirroredStrategy fails on a validation batch that does not split evenly
        # over the replicas (an AddN shape error), so the curves skip up to replicas - 1 examples.
        keep = len(y_val) - len(y_val) % strategy.num_replicas_in_sync
        if initial_epoch < preset.epochs:
            val = pipeline(x_val[:keep], y_val[:keep], False) if keep else None
            model.fit(pipeline(x_tr, y_tr, True), validation_data=val,
                      epochs=preset.epochs, initial_epoch=initial_epoch, verbose=verbose, shuffle=False,
                      # Checkpoint first, so an "epoch" event means that epoch is already saved.
                      callbacks=[Checkpoint(run_dir, history, steps, cancel),
                                 Progress(emit, cancel, epochs=preset.epochs, steps=steps,
                                          batch_size=preset.batch_size, time_limit_s=time_limit_s)])
    finally:
        if mixed:
            keras.mixed_precision.set_global_policy("float32")
    stop_if_asked(cancel, emit)
    return _Fitted(model, history, steps, device, len(y_tr), len(y_val), time.perf_counter() - t0, x_val, y_val)


def _cancelled() -> TrainingEvent:
    return TrainingEvent("cancelled", message="Training stopped. Nothing was saved.")


def stop_if_asked(cancel: threading.Event, emit: EventCallback) -> None:
    """Raise TrainingCancelled (after a "cancelled" event) if Stop was pressed.

    Raises:
        TrainingCancelled: `cancel` is set.
    """
    if cancel.is_set():
        emit(_cancelled())
        raise TrainingCancelled("Training was stopped before it finished; no model was saved. "
                                "Run again with resume to continue from the last full epoch.")


def build_or_resume(the_plan: Plan, data: Dataset, x_tr, y_tr, run_dir: Path, resume: bool):
    """(model, history, first epoch): from this run's last checkpoint, or built and compiled afresh."""
    from ..backend import keras

    ckpt, state_path = run_dir / "checkpoint.keras", run_dir / "state.json"
    if resume and ckpt.is_file() and state_path.is_file():
        state = json.loads(state_path.read_text())
        model = keras.saving.load_model(ckpt, safe_mode=True)
        return model, list(state["history"]), int(state["epoch"])
    preset = the_plan.preset
    model = the_plan.task.build(preset, x_tr, y_tr, num_classes=len(data.class_names),
                                input_shape=data.input_shape)
    compile_model(model, preset, steps_per_epoch=int(np.ceil(len(y_tr) / preset.batch_size)))
    return model, [], 0


def compile_model(model, preset, *, steps_per_epoch: int) -> None:
    """The preset's optimizer (Adam, or AdamW with a one-cycle schedule) and the matching loss."""
    from ..backend import keras

    total = max(1, steps_per_epoch * preset.epochs)
    if preset.optimizer == "adamw":
        warmup = max(1, int(0.15 * total))  # short warm-up, then cosine to ~0: a one-cycle shape
        schedule = keras.optimizers.schedules.CosineDecay(
            preset.learning_rate / 10, decay_steps=max(1, total - warmup), alpha=0.01,
            warmup_target=preset.learning_rate, warmup_steps=warmup)
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=preset.weight_decay)
    else:
        optimizer = keras.optimizers.Adam(preset.learning_rate)
    if int(model.output_shape[-1]) == 1:
        loss = keras.losses.BinaryCrossentropy()
    elif preset.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=preset.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])


def make_card(the_plan: Plan, data: Dataset, fitted: _Fitted, metrics: Metrics, key: str,
              calibration: Calibration) -> ModelCard:
    config, history = the_plan.config, fitted.history
    if history:
        metrics = dataclasses.replace(metrics, final_train_accuracy=history[-1].get("accuracy"),
                                      final_val_accuracy=history[-1].get("val_accuracy"))
    return ModelCard(
        task=the_plan.task.name, preset=the_plan.preset.name, class_names=tuple(data.class_names),
        dataset=DatasetInfo(name=data.name, subset_per_class=data.subset_per_class,
                            source=Path(data.source).name if data.source else "", fingerprint=data.fingerprint(),
                            train_examples=fitted.train_examples, validation_examples=fitted.validation_examples,
                            test_examples=int(len(data.y_test))),
        input=the_plan.task.input_spec(data), metrics=metrics,
        provenance=Provenance(command=config.command, seed=config.seed, device=fitted.device,
                              training_time_s=round(fitted.seconds, 1), versions=_versions(), cache_key=key),
        hyperparameters=hyperparameters(the_plan, in_blocks=the_plan.task.validation_in_blocks),
        history=tuple(history), calibration=calibration,
    )


def hyperparameters(the_plan: Plan, *, in_blocks: bool) -> dict:
    """The card's record of how the model was trained: the preset with overrides, and the split."""
    return {**dataclasses.asdict(the_plan.preset), "validation_split": the_plan.validation_split,
            "validation_in_blocks": in_blocks, "seed": the_plan.config.seed}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "data"


def _versions() -> dict[str, str]:
    from ..backend import keras, tf

    return {"dlapp": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "python": platform.python_version()}
