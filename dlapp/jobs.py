"""One training at a time per process, run in a background thread and observable
by any number of viewers (the web UI polls `snapshot()`; API clients stream it).

This is engine code: no gradio here.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import budget
from .data import dataset_task
from .errors import DlappError, TrainingBusyError, TrainingCancelled, hide_paths
from .limits import POINT_EVERY_S
from .training import TrainConfig, TrainingEvent, TrainResult, plan, train

log = logging.getLogger(__name__)
JobState = Literal["running", "done", "cancelled", "failed"]
_ids = itertools.count(1)


@dataclass
class TrainingJob:
    config: TrainConfig
    owner: str | None = None  # the web session that started it (may stop it without the password)
    force: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    state: JobState = "running"
    started: float = field(default_factory=time.time)
    finished: float | None = None
    latest: TrainingEvent | None = None
    speed: float = 0.0  # examples/s of the last batch, kept after the run ends
    message: str = "Starting…"
    points: list[dict] = field(default_factory=list)  # {"epoch": float, "series": str, "loss"/"accuracy": float}
    result: TrainResult | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    _last_point: float = 0.0
    task: str = field(init=False)  # from the data: what the run trains
    planned_epochs: int = field(init=False)  # the preset's, or the override: known before the first event

    def __post_init__(self) -> None:
        self.task = dataset_task(self.config.dataset)
        try:
            self.planned_epochs = plan(self.config).epochs
        except DlappError:  # a bad setting fails the run itself, with its message
            self.planned_epochs = self.config.epochs or 0

    def on_event(self, event: TrainingEvent) -> None:
        self.latest = event
        if event.kind == "batch":
            self.speed = event.examples_per_sec
        if event.message:
            self.message = event.message
        x = (event.epoch - 1) + (event.step / event.steps if event.steps else 0)
        now = time.monotonic()
        if event.kind == "batch" and (now - self._last_point >= POINT_EVERY_S or event.step == event.steps):
            self._last_point = now
            self._add(x, "train", event.metrics.get("loss"), event.metrics.get("accuracy"))
        elif event.kind == "epoch":
            self._add(float(event.epoch), "validation", event.metrics.get("val_loss"),
                      event.metrics.get("val_accuracy"))

    def _add(self, x: float, series: str, loss, accuracy) -> None:
        if loss is not None or accuracy is not None:
            self.points.append({"epoch": round(x, 4), "series": series, "loss": loss, "accuracy": accuracy})

    @property
    def running(self) -> bool:
        return self.state == "running"

    def snapshot(self) -> dict[str, Any]:
        """The run as plain JSON, for API clients."""
        e = self.latest
        out = {"id": self.id, "state": self.state, "message": self.message, "task": self.task,
               "dataset": Path(self.config.dataset).name, "preset": self.config.preset,
               "subset": self.config.subset, "progress": round(e.progress, 4) if e else 0.0,
               "epoch": e.epoch if e else 0, "epochs": e.epochs if e and e.epochs else self.planned_epochs,
               "examples_per_sec": round(self.speed, 1),
               "eta_s": round(e.eta_s, 1) if e and e.eta_s is not None and self.running else None,
               "points": len(self.points), "error": self.error, "model_id": None, "test_accuracy": None}
        if self.result is not None:
            out.update(model_id=self.result.model_id, test_accuracy=self.result.card.test_accuracy)
        return out


class TrainingManager:
    """Starts, stops and remembers the (single) training of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: TrainingJob | None = None

    def start(self, config: TrainConfig, *, owner: str | None = None, force: bool = False,
              on_end: Callable[[], None] | None = None) -> TrainingJob:
        """Start `config` in the background; `on_end` runs when it ends, whatever the outcome
        (the web app removes the staged upload it trained on).

        Raises:
            TrainingBusyError: another training is running.
        """
        with self._lock:
            if self.current is not None and self.current.running:
                raise TrainingBusyError("A training is already running; watch it on the Train tab, "
                                        "or stop it first. Only one runs at a time.")
            job = TrainingJob(config, owner=owner, force=force)
            self.current = job
        threading.Thread(target=self._run, args=(job, on_end), name=f"dlapp-train-{job.id}", daemon=True).start()
        return job

    def _run(self, job: TrainingJob, on_end: Callable[[], None] | None = None) -> None:
        try:
            # The web app has no resume, so a stopped or failed run leaves no checkpoint behind; its data
            # (a staged upload) is held so that the storage budget never removes it mid-run.
            with budget.hold(Path(job.config.dataset)):
                job.result = train(job.config, on_event=job.on_event, cancel=job.cancel, force=job.force,
                                   keep_checkpoint=False)
            job.state = "done"
            job.message = (f"Reused an identical cached model: {job.result.model_id}" if job.result.cached
                           else f"Saved {job.result.model_id}: test accuracy {job.result.card.test_accuracy:.1%}")
        except TrainingCancelled:
            job.state, job.message = "cancelled", "Stopped. Nothing was saved: the models here are as they were."
        except DlappError as exc:
            job.state, job.error = "failed", hide_paths(str(exc))
            job.message = job.error
            log.info("training #%d failed: %s", job.id, exc)  # the log keeps the paths; viewers don't see them
        except Exception as exc:  # keep the server alive whatever Keras throws
            job.state, job.error = "failed", hide_paths(f"{type(exc).__name__}: {exc}")
            job.message = job.error
            log.exception("training #%d crashed", job.id)
        finally:
            job.finished = time.time()
            if on_end is not None:
                on_end()

    def stop(self) -> bool:
        """Ask the running training to stop within one batch. False if none runs."""
        job = self.current
        if job is None or not job.running:
            return False
        job.cancel.set()
        return True

    def snapshot(self) -> dict[str, Any]:
        job = self.current
        return job.snapshot() if job else {"state": "idle", "message": "No training has run yet."}


_MANAGER = TrainingManager()


def get_manager() -> TrainingManager:
    return _MANAGER
