"""What a training reports while it runs, and what it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..card import ModelCard

TIME_CAP = "Time cap reached"  # the message of the event sent when a run's time cap stops its fitting

# preview: a picture of what the model does now (a GAN's fixed-noise grid), between batches
EventKind = Literal["start", "batch", "epoch", "preview", "evaluating", "done", "cancelled", "failed"]


@dataclass
class TrainingEvent:
    """A progress report, per batch, per epoch and at the ends."""

    kind: EventKind
    epoch: int = 0  # 1-based epoch in progress or just finished
    epochs: int = 0
    step: int = 0  # batches done in this epoch
    steps: int = 0  # batches per epoch
    metrics: dict[str, float] = field(default_factory=dict)
    examples_per_sec: float = 0.0
    eta_s: float | None = None
    elapsed_s: float = 0.0
    message: str = ""
    preview: Any = None  # "preview" events: a uint8 (H, W, C) picture

    @property
    def progress(self) -> float:
        """Fraction of all batches done, 0..1."""
        if not self.epochs or not self.steps:
            return 1.0 if self.kind == "done" else 0.0
        if self.kind == "start":  # before the first batch, `epoch` counts the epochs already done (resumed)
            done = self.epoch * self.steps
        else:  # `epoch` is the one in progress (1-based), `step` its batches done
            done = max(0, self.epoch - 1) * self.steps + self.step
        return max(0.0, min(1.0, done / (self.epochs * self.steps)))


@dataclass
class TrainResult:
    model_id: str
    card: ModelCard
    cached: bool  # True when an identical earlier run was returned instead of training
    misclassified: list[dict[str, Any]] = field(default_factory=list)  # with "x": the raw example, for the UI


EventCallback = Callable[[TrainingEvent], None]
