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
from typing import TYPE_CHECKING

import numpy as np

from .. import __version__, budget
from .. import settings as settings_mod
from ..card import Calibration, DatasetInfo, Metrics, ModelCard, Provenance
from ..data import Dataset, load_dataset
from ..errors import TrainingCancelled, UsageError, WorkerLostError
from ..explain.examples import keep_with_model
from ..store import ModelStore, get_store
from .config import Plan, TrainConfig, plan
from .events import EventCallback, TrainingEvent, TrainResult
from .pipeline import make_pipeline, split_validation

if TYPE_CHECKING:
    from ..devices import Placement

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
    where: Placement


def train(config: TrainConfig, *, on_event: EventCallback | None = None, cancel: threading.Event | None = None,
          force: bool = False, resume: bool = False, store: ModelStore | None = None,
          verbose: int = 0, keep_checkpoint: bool = True, time_limit_s: float | None = None,
          where: Placement | None = None) -> TrainResult:
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
        where: the strategy and this process's place in a cluster (`devices.placement()`, made once per
            process); None picks it from the hardware. In a multi-worker run only the chief (rank 0) writes:
            the others train in step with it, then return without calibrating, evaluating or saving.

    Raises:
        UsageError, DatasetNotFoundError, InvalidDatasetError: bad input.
        TrainingCancelled: `cancel` was set; the cache is untouched.
        WorkerLostError: another worker of a multi-worker run died; the cache is untouched.
        ModelSaveError: the final save failed; any previous model is intact.
    """
    emit = on_event or (lambda e: None)
    cancel = cancel or threading.Event()
    store = store or get_store()
    t_start = time.perf_counter()

    the_plan = plan(config)
    if where is None:
        from ..devices import placement

        where = placement()
    data = load_data(the_plan, emit, store=store)
    key = cache_key(the_plan, data, where.policy, store=store)
    # Workers of a cluster all train: one that returned a cached model would leave the others waiting.
    if not force and not where.multi_worker and (cached := store.find_by_key(key)):
        emit(TrainingEvent("done", message=f"An identical model is cached: {cached.id}"))
        return TrainResult(cached.id, cached, cached=True)
    run_dir = budget.runs_dir(store.root) / key[:16]
    try:
        with budget.hold(run_dir):  # the budget never removes the checkpoint of a run in progress
            fitted = fit(the_plan, data, run_dir, emit=emit, cancel=cancel, resume=resume, verbose=verbose,
                         time_limit_s=time_limit_s, where=where, store=store)
            if not where.is_chief:  # the chief calibrates, evaluates and saves
                emit(TrainingEvent("done", the_plan.epochs, the_plan.epochs, fitted.steps, fitted.steps,
                                   elapsed_s=time.perf_counter() - t_start,
                                   message=f"Worker {where.rank} done; the chief (rank 0) saves the model."))
                return TrainResult("", None, cached=False)
            at_end = dict(epoch=the_plan.epochs, epochs=the_plan.epochs, step=fitted.steps, steps=fitted.steps)
            stop_if_asked(cancel, emit)
            emit(TrainingEvent("evaluating", **at_end,
                               message=f"Finishing the model, then testing it on {len(data.y_test):,} examples…"))
            final, calibration = the_plan.task.finalize(the_plan, fitted, store=store)
            stop_if_asked(cancel, emit)
            metrics = the_plan.task.evaluate(final, data, calibration, preset=the_plan.preset, store=store)
            stop_if_asked(cancel, emit)
            model_id = config.name or f"{_slug(data.name)}-{the_plan.preset.name}-{key[:8]}"
            emit(TrainingEvent("evaluating", **at_end, message=f"Saving {model_id}…"))
            try:  # the store checks `cancel` once more, just before its commit point (the card)
                card = store.save(final, make_card(the_plan, data, fitted, metrics, key, calibration), model_id,
                                  cancel=cancel)
                if card.metrics.cell_examples:  # a classifier's confusion cells show examples without the data
                    keep_with_model(store.root, card, data.x_test, data.y_test)
            except TrainingCancelled:
                emit(_cancelled())
                raise
    except BaseException:
        if not keep_checkpoint:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    shutil.rmtree(run_dir, ignore_errors=True)
    headline = metrics.main
    emit(TrainingEvent("done", the_plan.epochs, the_plan.epochs, fitted.steps, fitted.steps,
                       {_key(headline.name): headline.value}, elapsed_s=time.perf_counter() - t_start,
                       message=f"Saved {model_id}: {headline.name} {headline}"))
    misclassified = [{**m, "x": data.x_test[m["index"]]} for m in metrics.misclassified]
    return TrainResult(model_id, card, cached=False, misclassified=misclassified)


# ---------------------------------------------------------------- steps

def load_data(the_plan: Plan, emit: EventCallback, *, store: ModelStore | None = None) -> Dataset:
    """The data set, checked against this deployment's cap and the task (which may look in `store` for a model
    it builds on). Raises UsageError."""
    config, settings = the_plan.config, settings_mod.load()
    emit(TrainingEvent("start", message=f"Loading {Path(config.dataset).name}…"))
    data = load_dataset(config.dataset, subset=config.subset, image_size=the_plan.image_size, seed=config.seed)
    if settings.max_train_examples and len(data.y_train) > settings.max_train_examples:
        raise UsageError(f"This deployment trains on at most {settings.max_train_examples:,} examples; "
                         f"{data.label} has {len(data.y_train):,}. Pick a smaller subset.")
    the_plan.task.check_data(data, the_plan.preset, store=store)
    return data


def cache_key(the_plan: Plan, data: Dataset, policy: str = "float32", *, store: ModelStore | None = None) -> str:
    """Identical config on identical data -> identical key -> the cached model is reused."""
    spec = {"task": the_plan.task.name, "data": data.fingerprint(), "preset": dataclasses.asdict(the_plan.preset),
            "validation_split": the_plan.validation_split, "seed": the_plan.config.seed, "format": CACHE_FORMAT}
    if policy != "float32":  # a mixed-precision model is another model; float32 ones keep their keys
        spec["precision"] = policy
    # Only when there is one: older models keep their keys.
    if starts_from := the_plan.task.starts_from(the_plan.preset, store=store):
        spec["starts_from"] = starts_from
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def _key(name: str) -> str:
    """A headline's name as a metrics key: "test accuracy" -> "test_accuracy"."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def fit(the_plan: Plan, data: Dataset, run_dir: Path, *, emit: EventCallback, cancel: threading.Event,
        resume: bool, verbose: int, time_limit_s: float | None = None,
        where: Placement | None = None, store: ModelStore | None = None) -> _Fitted:
    """Build (or resume) the model under `where`'s strategy and train it, checkpointing every epoch
    (the chief only).

    Raises:
        TrainingCancelled: `cancel` was set.
        WorkerLostError: another worker of a multi-worker run died or stopped answering.
    """
    from ..backend import keras
    from ..devices import placement
    from .callbacks import Checkpoint, Progress
    from .steps import agree_on, broadcast_from_chief, run_epochs

    t0 = time.perf_counter()
    where = where or placement()
    strategy = where.strategy
    keras.utils.set_random_seed(the_plan.config.seed)
    x_tr, y_tr, x_val, y_val = split_validation(data, the_plan.validation_split, the_plan.config.seed,
                                                in_blocks=the_plan.task.validation_in_blocks)
    if where.is_chief:
        run_dir.mkdir(parents=True, exist_ok=True)
    keras.mixed_precision.set_global_policy(where.policy)
    try:
        # Several workers create their variables in step (each creation is a collective), so they all
        # build afresh; the chief then copies its checkpoint in, and the others get it from the chief.
        with strategy.scope():
            model, history, initial_epoch = build_or_resume(the_plan, data, x_tr, y_tr, run_dir,
                                                            resume and not where.multi_worker, store=store)
        if where.multi_worker:
            _optimizer_variables(model, strategy)  # created now, in step on every worker
            if resume and where.is_chief:
                history, initial_epoch = restore_into(model, run_dir, strategy, the_plan.task)
        preset, task = the_plan.preset, the_plan.task
        replicas = strategy.num_replicas_in_sync
        # A last batch smaller than the replicas would leave one with no examples (batch norm of nothing
        # is NaN): it is dropped, and the epoch's shuffle puts those few examples in another batch.
        drop_last = 0 < len(y_tr) % preset.batch_size < replicas
        steps = len(y_tr) // preset.batch_size if drop_last else int(np.ceil(len(y_tr) / preset.batch_size))
        val_batch = max(preset.batch_size, 256)

        def pipeline(x, y, training):
            return make_pipeline(task.training_inputs(model, x, validation=not training, preset=preset, store=store),
                                 task.targets(y, model=model, preset=preset, num_classes=len(data.class_names)),
                                 batch_size=preset.batch_size if training else val_batch,
                                 training=training, seed=the_plan.config.seed,
                                 augmentations=task.augmentations(preset, examples=len(y_tr)),
                                 drop_remainder=training and drop_last,
                                 shard_by_data=where.multi_worker)

        if where.multi_worker:  # every worker starts where the chief does, from the chief's weights
            initial_epoch = agree_on(strategy, initial_epoch)
            broadcast_from_chief(strategy, [*model.variables, *_optimizer_variables(model, strategy)])
        emit(TrainingEvent("start", initial_epoch, preset.epochs, 0, steps,
                           message=f"Training {preset.name} on {data.label} ({len(y_tr):,} examples) "
                                   f"on {where.device}"))
        if initial_epoch < preset.epochs:
            progress = Progress(emit, cancel, epochs=preset.epochs, steps=steps, batch_size=preset.batch_size,
                                time_limit_s=time_limit_s)
            # Checkpoint first, so an "epoch" event means that epoch is already saved; only the chief writes.
            # The task's own first: what they add to an epoch's logs is saved with it and reported.
            callbacks = [*task.callbacks(model, preset, data, emit, store=store),
                         *([Checkpoint(run_dir, history, steps, cancel)] if where.is_chief else []), progress]
            if where.multi_worker:  # Keras's fit fails under MultiWorkerMirroredStrategy: dlapp's own loop
                val = pipeline(x_val, y_val, False) if len(y_val) else None
                run_epochs(model, strategy, pipeline(x_tr, y_tr, True), val, epochs=preset.epochs,
                           initial_epoch=initial_epoch, steps=steps, val_steps=int(np.ceil(len(y_val) / val_batch)),
                           callbacks=callbacks, verbose=verbose)
            else:
                # One process keeps Keras's fit: the custom loop matched it on CIFAR-10 `fast` (77.4% against
                # 77.2%) but not on IMDB `fast` (87.1% against 88.4%; see docs/benchmarks.md).
                # Keras 3 under MirroredStrategy fails on a validation batch that does not split evenly
                # over the replicas (an AddN shape error), so the curves skip up to replicas - 1 examples.
                keep = len(y_val) - len(y_val) % replicas
                val = pipeline(x_val[:keep], y_val[:keep], False) if keep else None
                model.fit(pipeline(x_tr, y_tr, True), validation_data=val, epochs=preset.epochs,
                          initial_epoch=initial_epoch, verbose=verbose, shuffle=False, callbacks=callbacks)
    except Exception as exc:
        if where.multi_worker and _is_lost_worker(exc):
            raise WorkerLostError(
                f"Another worker of this {where.workers}-worker training died or stopped answering "
                f"({type(exc).__name__}); the run stopped and no model was saved. Start every worker again "
                "with --resume to continue from the chief's last complete epoch.") from None
        raise
    finally:
        keras.mixed_precision.set_global_policy("float32")
    stop_if_asked(cancel, emit)
    if where.policy != "float32":
        model = float32_copy(model)
    return _Fitted(model, history, steps, where.device, len(y_tr), len(y_val), time.perf_counter() - t0, x_val, y_val,
                   where)


def restore_into(model, run_dir: Path, strategy, task=None) -> tuple[list, int]:
    """(history, first epoch) of this run's last checkpoint, its weights and optimizer state copied into
    `model`; ([], 0) without one. The checkpoint loads outside the strategy, so no collective runs."""
    from ..backend import keras
    from . import optim  # noqa: F401  (registers the optimizer and metric a checkpoint names)

    ckpt, state_path = run_dir / "checkpoint.keras", run_dir / "state.json"
    if not (ckpt.is_file() and state_path.is_file()):
        return [], 0
    if task is not None:
        task.load_support()
    state = json.loads(state_path.read_text())
    saved = keras.saving.load_model(ckpt, safe_mode=True)
    model.set_weights(saved.get_weights())
    saved.optimizer.build(saved.trainable_variables)
    for mine, theirs in zip(_optimizer_variables(model, strategy), saved.optimizer.variables, strict=True):
        mine.assign(theirs.value)
    return list(state["history"]), int(state["epoch"])


def _optimizer_variables(model, strategy) -> list:
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)
    return list(model.optimizer.variables)


def _is_lost_worker(exc: BaseException) -> bool:
    """TensorFlow's words for a peer that is gone: a collective that timed out, a dead or unhealthy task."""
    from ..backend import tf

    return isinstance(exc, (tf.errors.DeadlineExceededError, tf.errors.UnavailableError, tf.errors.AbortedError,
                            tf.errors.CancelledError, tf.errors.InternalError))


def float32_copy(model):
    """The trained model with every layer back in float32 (weights are float32 under a mixed policy
    already), so the saved serving model computes as every other model does."""
    import tempfile
    import zipfile

    from ..backend import keras

    with tempfile.TemporaryDirectory(prefix="dlapp-f32-") as tmp:
        src, dst = Path(tmp) / "mixed.keras", Path(tmp) / "float32.keras"
        model.save(src)
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename == "config.json":
                    data = re.sub(rb'"mixed_(b?float16)"', b'"float32"', data)
                zout.writestr(item, data)
        return keras.saving.load_model(dst, safe_mode=True, compile=False)


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


def build_or_resume(the_plan: Plan, data: Dataset, x_tr, y_tr, run_dir: Path, resume: bool, *,
                    store: ModelStore | None = None):
    """(model, history, first epoch): from this run's last checkpoint, or built and compiled afresh."""
    from ..backend import keras
    from . import optim  # noqa: F401  (registers the optimizer and metric a checkpoint names)

    ckpt, state_path = run_dir / "checkpoint.keras", run_dir / "state.json"
    if resume and ckpt.is_file() and state_path.is_file():
        the_plan.task.load_support()
        state = json.loads(state_path.read_text())
        model = keras.saving.load_model(ckpt, safe_mode=True)
        return model, list(state["history"]), int(state["epoch"])
    preset = the_plan.preset
    model = the_plan.task.build(preset, x_tr, y_tr, num_classes=len(data.class_names),
                                input_shape=data.input_shape, store=store)
    the_plan.task.compile(model, preset, steps_per_epoch=int(np.ceil(len(y_tr) / preset.batch_size)))
    return model, [], 0


def _outliers(preset) -> float:
    return getattr(preset, "outliers", 0.0)  # image presets only: outlier exposure


def compile_model(model, preset, *, steps_per_epoch: int) -> None:
    """The preset's optimizer (Adam, AdamW with a one-cycle schedule, or airbench94's) and the matching loss."""
    from ..backend import keras
    from .optim import AirbenchSGD, KnownClassAccuracy, WarmupWarmdown, keras_units

    total = max(1, steps_per_epoch * preset.epochs)
    if preset.optimizer == "airbench":
        lr, wd = keras_units(preset.learning_rate, preset.weight_decay, preset.batch_size)
        # airbench trains the whitening bias for 3 of its 9.9 epochs (airbench94.py line 47): the same share here.
        optimizer = AirbenchSGD(WarmupWarmdown(lr, total), total_steps=total, weight_decay=wd,
                                whiten_bias_steps=round(total * 3 / 9.9))
    elif preset.optimizer == "adamw":
        warmup = max(1, int(0.15 * total))  # short warm-up, then cosine to ~0: a one-cycle shape
        schedule = keras.optimizers.schedules.CosineDecay(
            preset.learning_rate / 10, decay_steps=max(1, total - warmup), alpha=0.01,
            warmup_target=preset.learning_rate, warmup_steps=warmup)
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=preset.weight_decay)
    elif preset.optimizer == "adagrad":
        optimizer = keras.optimizers.Adagrad(preset.learning_rate)
    else:
        optimizer = keras.optimizers.Adam(preset.learning_rate)
    if int(model.output_shape[-1]) == 1:
        loss = keras.losses.BinaryCrossentropy()
    elif preset.label_smoothing or _outliers(preset):
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=preset.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    # Outlier-exposure rows have uniform targets: the curves' accuracy counts known-class rows only.
    model.compile(optimizer=optimizer, loss=loss, metrics=[KnownClassAccuracy() if _outliers(preset) else "accuracy"])


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
        input=the_plan.task.input_spec(data, the_plan.preset), metrics=metrics,
        provenance=Provenance(command=config.command, seed=config.seed, device=fitted.device,
                              training_time_s=round(fitted.seconds, 1), versions=_versions(), cache_key=key,
                              workers=fitted.where.workers, precision=fitted.where.policy),
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
