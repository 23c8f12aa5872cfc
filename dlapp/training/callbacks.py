"""Keras callbacks: progress events with cooperative cancel, and a checkpoint per complete epoch."""

from __future__ import annotations

import errno
import threading
import time
from pathlib import Path

from ..backend import keras
from ..errors import ModelSaveError
from ..store import write_json_atomic
from .events import TIME_CAP, EventCallback, TrainingEvent


def _floats(logs) -> dict[str, float]:
    return {k: float(v) for k, v in (logs or {}).items()}


class Progress(keras.callbacks.Callback):
    """Turns Keras's hooks into TrainingEvents, and honours `cancel` within one batch."""

    def __init__(self, emit: EventCallback, cancel: threading.Event, *, epochs: int, steps: int, batch_size: int,
                 time_limit_s: float | None = None):
        super().__init__()
        self.emit, self.cancel = emit, cancel
        self.time_limit_s = time_limit_s  # fitting stops after this (the model is kept as it is then)
        self.epochs, self.steps, self.batch_size = epochs, steps, batch_size
        self.t0 = time.perf_counter()
        self.done_steps = 0  # across epochs of this run, for throughput and ETA
        self.epoch = 0
        self.completed = True  # whether the last epoch ran all its batches

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.batches = epoch + 1, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done_steps += 1
        self.batches = batch + 1
        elapsed = time.perf_counter() - self.t0
        per_step = elapsed / self.done_steps
        remaining = (self.epochs - self.epoch) * self.steps + (self.steps - batch - 1)
        self.emit(TrainingEvent("batch", self.epoch, self.epochs, batch + 1, self.steps, _floats(logs),
                                self.batch_size / per_step if per_step else 0.0, remaining * per_step, elapsed))
        if self.cancel.is_set():
            self.model.stop_training = True
        elif self.time_limit_s and elapsed > self.time_limit_s and not self.model.stop_training:
            self.model.stop_training = True  # not a cancel: the run goes on to calibrate, evaluate and save
            self.emit(TrainingEvent("evaluating", self.epoch, self.epochs, batch + 1, self.steps, elapsed_s=elapsed,
                                    message=f"{TIME_CAP} ({self.time_limit_s:.0f} s of training on this "
                                            f"deployment) in epoch {self.epoch} of {self.epochs}: the model is "
                                            "kept as it is now."))

    def on_test_batch_end(self, batch, logs=None):
        if self.cancel.is_set():
            self.model.stop_evaluating = True  # skip the rest of validation too

    def on_epoch_end(self, epoch, logs=None):
        if self.batches < self.steps or self.cancel.is_set():
            return  # stopped mid-epoch: its validation figures were never measured in full
        elapsed = time.perf_counter() - self.t0
        per_step = elapsed / max(1, self.done_steps)
        self.emit(TrainingEvent("epoch", epoch + 1, self.epochs, self.steps, self.steps, _floats(logs),
                                self.batch_size / per_step, (self.epochs - epoch - 1) * self.steps * per_step,
                                elapsed))


class Checkpoint(keras.callbacks.Callback):
    """Atomically save model + optimizer state and the history after every complete epoch."""

    def __init__(self, run_dir: Path, history: list, steps: int, cancel: threading.Event):
        super().__init__()
        self.run_dir, self.history, self.steps, self.cancel = run_dir, history, steps, cancel

    def on_epoch_begin(self, epoch, logs=None):
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        if self.batches < self.steps or self.cancel.is_set():
            return  # stopped mid-epoch: keep the last complete one
        history = [*self.history, {"epoch": epoch + 1, **_floats(logs)}]
        tmp, tmp_state = self.run_dir / ".tmp-checkpoint.keras", self.run_dir / ".tmp-state.json"
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            # Both files are written whole before either replaces the previous epoch's: a full disk
            # leaves the last complete checkpoint and its state as they were.
            self.model.save(tmp)
            write_json_atomic(tmp_state, {"epoch": epoch + 1, "history": history})
        except OSError as exc:
            tmp.unlink(missing_ok=True)  # a partial file would hold the disk full for good
            tmp_state.unlink(missing_ok=True)
            reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or type(exc).__name__)
            kept = (f"The checkpoint of epoch {epoch} is kept, so resume continues from it" if epoch
                    else "No earlier checkpoint exists")
            raise ModelSaveError(f"Could not save the checkpoint of epoch {epoch + 1}: {reason}. {kept}; "
                                 "free some disk space and train again.") from None
        tmp.replace(self.run_dir / "checkpoint.keras")
        tmp_state.replace(self.run_dir / "state.json")
        self.history[:] = history
