"""The task registry: every place that differs by task looks the task up here.

Importing it loads no TensorFlow: task modules import their networks only when
they build, load or run a model.
"""

from __future__ import annotations

from ..card import TaskName
from ..errors import UsageError
from . import generate, image, text
from .base import BasePreset, Task, with_overrides

TASKS: dict[str, Task] = {t.name: t for t in (image.TASK, text.TASK, generate.TASK)}

__all__ = ["TASKS", "BasePreset", "Task", "get_task", "with_overrides"]


def get_task(name: str) -> Task:
    """Raises UsageError for an unknown task name."""
    try:
        return TASKS[name]
    except KeyError:
        raise UsageError(f"Unknown task {name!r}; use one of {', '.join(TASKS)}.") from None


def task_names() -> tuple[TaskName, ...]:
    return tuple(TASKS)  # type: ignore[return-value]
