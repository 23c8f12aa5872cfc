"""Training: one `train()` for the CLI, the web app and the benchmarks."""

from .config import Plan, TrainConfig, plan
from .evaluate import Evaluation, evaluate_cached, evaluate_model
from .events import EventKind, TrainingEvent, TrainResult
from .loop import cache_key, train

__all__ = ["Evaluation", "EventKind", "Plan", "TrainConfig", "TrainResult", "TrainingEvent", "cache_key",
           "evaluate_cached", "evaluate_model", "plan", "train"]
