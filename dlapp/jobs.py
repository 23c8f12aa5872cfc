"""One training at a time per process, run in a background thread and observable
by any number of viewers (the web UI polls `snapshot()`; API clients stream it).
Visitors who ask while one runs may wait in a bounded queue, one place each
(limits.TRAIN_QUEUE_MAX); the next run starts when the current one ends.

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

from . import budget, limits
from .data import dataset_task
from .errors import DlappError, TrainingBusyError, TrainingCancelled, hide_paths
from .limits import POINT_EVERY_S
from .training import TrainConfig, TrainingEvent, TrainResult, plan, train
from .training.events import TIME_CAP

log = logging.getLogger(__name__)
JobState = Literal["queued", "running", "done", "cancelled", "failed"]
_ids = itertools.count(1)


@dataclass
class TrainingJob:
    config: TrainConfig
    owner: str | None = None  # the web session that started it (may stop it without the password)
    force: bool = False
    store: Any = None  # the ModelStore the model goes to (a visitor's SessionStore when private); None: shared
    time_cap_s: float = 0  # seconds of fitting, then the model is kept as it is (0: no cap)
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
    capped: str = ""  # where the time cap stopped the fitting ("epoch 2 of 5"), if it did
    position: int = 0  # 1-based place in the queue while queued
    wait_s: float | None = None  # while queued: about how long until it starts (None: unknown)
    after: list[Callable[[], None]] = field(default_factory=list)  # run once it has ended, whatever the outcome
    preview: Any = None  # the latest picture of what the model does now (a GAN's grid), if the task shows one
    task: str = field(init=False)  # what the run trains: the config's, else its data's
    planned_epochs: int = field(init=False)  # the preset's, or the override: known before the first event

    def __post_init__(self) -> None:
        self.task = self.config.task or dataset_task(self.config.dataset)
        try:
            self.planned_epochs = plan(self.config).epochs
        except DlappError:  # a bad setting fails the run itself, with its message
            self.planned_epochs = self.config.epochs or 0

    def on_event(self, event: TrainingEvent) -> None:
        if event.kind == "preview":  # a picture between progress reports, not progress
            self.preview = event.preview
            return
        self.latest = event
        if event.kind == "batch":
            self.speed = event.examples_per_sec
        if event.message:
            self.message = event.message
            if event.message.startswith(TIME_CAP):
                self.capped = f"epoch {event.epoch} of {event.epochs}"
        x = (event.epoch - 1) + (event.step / event.steps if event.steps else 0)
        now = time.monotonic()
        if event.kind == "batch" and (now - self._last_point >= POINT_EVERY_S or event.step == event.steps):
            self._last_point = now
            self._add(x, "train", event.metrics, "")
        elif event.kind == "epoch":
            self._add(float(event.epoch), "validation", event.metrics, "val_")

    def _add(self, x: float, series: str, metrics: dict, prefix: str) -> None:
        """A point of the curves: loss and accuracy, and every figure the run logged (a GAN logs no loss of its
        own, but d_loss, g_loss and, per epoch, class_accuracy and frechet), in "metrics"."""
        loss, accuracy = metrics.get(prefix + "loss"), metrics.get(prefix + "accuracy")
        if loss is not None or accuracy is not None or any(k.startswith(prefix) for k in metrics):
            self.points.append({"epoch": round(x, 4), "series": series, "loss": loss, "accuracy": accuracy,
                                "metrics": dict(metrics)})

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
               "points": len(self.points), "error": self.error, "model_id": None, "test_accuracy": None,
               "headline": None,  # {name, value, text}: the task's figure; test_accuracy stays for older clients
               "position": self.position if self.state == "queued" else None,
               "wait_s": round(self.wait_s) if self.state == "queued" and self.wait_s is not None else None,
               "time_cap_s": self.time_cap_s or None}
        if self.result is not None:
            card = self.result.card
            out.update(model_id=self.result.model_id, test_accuracy=card.test_accuracy,
                       headline=card.headline.as_json())
        return out


class TrainingManager:
    """Starts, stops and remembers the (single) training of this process, and the visitors waiting for it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.current: TrainingJob | None = None
        self.queue: list[tuple[TrainingJob, Callable[[], None] | None]] = []  # waiting, first come first served
        self.latest: dict[str, TrainingJob] = {}  # owner -> their latest run (queued, running or ended)

    def start(self, config: TrainConfig, *, owner: str | None = None, force: bool = False,
              on_end: Callable[[], None] | None = None, store: Any = None, time_cap_s: float = 0,
              wait: bool = False) -> TrainingJob:
        """Start `config` in the background; `on_end` runs when it ends, whatever the outcome
        (the web app removes the staged upload it trained on). With `wait`, a visitor (`owner`) who asks while
        another run goes on gets a place in the queue instead (state "queued"); it starts when its turn comes.

        Raises:
            TrainingBusyError: another training is running (and `wait` is off), the visitor already has a run
                running or waiting, or the queue is full.
        """
        with self._lock:
            job = TrainingJob(config, owner=owner, force=force, store=store, time_cap_s=time_cap_s)
            if self.current is None or not self.current.running:
                self._launch(job, on_end)
                return job
            if not wait or owner is None:
                raise TrainingBusyError("A training is already running; watch it on the Train tab, "
                                        "or stop it first. Only one runs at a time.")
            if self.current.owner == owner:
                raise TrainingBusyError("Your training is still running: stop it first, or wait for it to end.")
            if any(j.owner == owner for j, _ in self.queue):
                raise TrainingBusyError("You already have a place in the queue (one per visitor): leave it first "
                                        "to start another run.")
            if len(self.queue) >= limits.TRAIN_QUEUE_MAX:
                raise TrainingBusyError(f"The training queue is full ({limits.TRAIN_QUEUE_MAX} visitors are "
                                        "waiting). Try again in a few minutes.")
            job.state, job.message = "queued", "Waiting for the run in progress to end."
            self.queue.append((job, on_end))
            self.latest[owner] = job
            self._renumber()
            return job

    def _launch(self, job: TrainingJob, on_end: Callable[[], None] | None) -> None:
        job.state, job.message, job.started, job.position = "running", "Starting…", time.time(), 0
        self.current = job
        if job.owner is not None:
            self.latest[job.owner] = job
        threading.Thread(target=self._run, args=(job, on_end), name=f"dlapp-train-{job.id}", daemon=True).start()

    def _renumber(self) -> None:
        """Each waiting run's place and an estimate of its wait: what is left of the run in progress, plus a
        time-capped run's cap for each run ahead (None where a run ahead has no cap)."""
        now = self.current
        left: float | None = 0.0
        if now is not None and now.running:
            e = now.latest
            if now.time_cap_s:
                left = max(0.0, now.time_cap_s - (time.time() - now.started))
            elif e is not None and e.eta_s is not None:
                left = e.eta_s
            else:
                left = None
        for i, (job, _) in enumerate(self.queue):
            job.position, job.wait_s = i + 1, left
            left = left + job.time_cap_s if left is not None and job.time_cap_s else None

    def job_for(self, owner: str | None) -> TrainingJob | None:
        """The run a visitor follows: their own latest (queued, running or ended); None if they have none."""
        if owner is None:
            return None
        with self._lock:
            job = self.latest.get(owner)
            if job is not None and job.state == "queued":
                self._renumber()
            return job

    def others_running(self, owner: str | None) -> bool:
        """Whether a run that is not this visitor's is in progress (they see that it is, and nothing else)."""
        job = self.current
        return job is not None and job.running and (owner is None or job.owner != owner)

    def leave(self, owner: str) -> bool:
        """Take a visitor's run out of the queue (its `on_end` runs). False if they had none waiting."""
        with self._lock:
            found = next(((j, f) for j, f in self.queue if j.owner == owner), None)
            if found is None:
                return False
            self.queue.remove(found)
            job, on_end = found
            job.state, job.message, job.finished = "cancelled", "You left the queue; nothing was trained.", time.time()
            self._renumber()
        self._finish(job, on_end)
        return True

    def forget(self, owner: str, then: Callable[[], None] | None = None) -> None:
        """A visitor has gone: leave the queue, stop their run if it is going, forget their runs, and call
        `then` (removing their files) once nothing of theirs runs any more."""
        self.leave(owner)
        with self._lock:
            self.latest.pop(owner, None)
            job = self.current
            if job is not None and job.running and job.owner == owner:
                job.cancel.set()
                if then is not None:
                    job.after.append(then)  # after its thread has stopped writing into their folder
                return
        if then is not None:
            then()

    @staticmethod
    def _finish(job: TrainingJob, on_end: Callable[[], None] | None) -> None:
        for fn in [on_end, *job.after]:
            if fn is None:
                continue
            try:
                fn()
            except Exception:  # one failing clean-up must not keep the others (or the queue) from running
                log.exception("clean-up after training #%d failed", job.id)
        job.after.clear()

    def _run(self, job: TrainingJob, on_end: Callable[[], None] | None = None) -> None:
        try:
            # The web app has no resume, so a stopped or failed run leaves no checkpoint behind; its data
            # (a staged upload) is held so that the storage budget never removes it mid-run.
            with budget.hold(Path(job.config.dataset)):
                job.result = train(job.config, on_event=job.on_event, cancel=job.cancel, force=job.force,
                                   keep_checkpoint=False, store=job.store, time_limit_s=job.time_cap_s or None)
            job.state = "done"
            head = job.result.card.headline  # a classifier's test accuracy, a generator's own figure
            job.message = (f"Reused an identical cached model: {job.result.model_id}" if job.result.cached
                           else f"Saved {job.result.model_id}: {head.name} {head}")
            if job.capped:
                job.message += f" (the {job.time_cap_s:.0f} s time cap stopped its training in {job.capped})"
            if pruned := getattr(job.store, "pruned", None):
                job.message += (f". You keep {job.store.keep} models at once here, so your oldest, "
                                f"{', '.join(pruned)}, was removed")
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
            self._finish(job, on_end)
            with self._lock:  # the next visitor's turn
                if self.queue and (self.current is job or self.current is None or not self.current.running):
                    self._launch(*self.queue.pop(0))
                    self._renumber()

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
