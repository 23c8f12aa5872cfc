"""What to train (TrainConfig) and what that resolves to (Plan), checked before any data loads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import limits
from .. import settings as settings_mod
from ..data import dataset_task, dataset_tasks
from ..errors import UsageError
from ..tasks import TASKS, BasePreset, Task, get_task, with_overrides

ALIASES = ("cell", "image_size", "backbone")  # task settings that were TrainConfig fields: still taken as keywords


@dataclass(frozen=True)
class TrainConfig:
    """What to train. None means "the preset's value". What only one task takes (a cell, a GAN's latent size)
    goes in `options`, checked against that task's `settings`; `cell`, `image_size` and `backbone` are also taken
    (and read) as fields, as they were before tasks declared their settings."""

    dataset: str  # a built-in name (data.BUILTINS) or a path to a class folder or an upload file
    task: str | None = None  # what to learn from it (tasks.TASKS); None: the data set's own (image, text)
    preset: str = "fast"
    subset: int | None = None  # N examples per class drawn at random, for quick runs
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    validation_split: float | None = None  # 0 = validate on the test split, as the seed tutorials do
    options: Mapping[str, Any] = field(default_factory=dict)  # the task's own settings (tasks.base.Setting)
    cell: str | None = None  # = options["cell"]: text only: lstm | gru | simplernn
    image_size: int | None = None  # = options["image_size"]: image folders only (square side, px)
    backbone: str | None = None  # = options["backbone"]: image transfer only: the image model whose trunk is reused
    seed: int = 0
    name: str | None = None  # model id; default derived from data, preset and cache key
    command: str | None = None  # the CLI line that ran this, recorded in the card

    def __post_init__(self) -> None:
        """One truth for the aliases: a keyword goes into `options`, an option shows as the field. None is unset."""
        options = {k: v for k, v in dict(self.options).items() if v is not None}
        for name in ALIASES:
            given = getattr(self, name)
            if given is not None and options.setdefault(name, given) != given:
                raise UsageError(f"{name.replace('_', ' ')} is given twice, as {given!r} and {options[name]!r}.")
            object.__setattr__(self, name, options.get(name))
        object.__setattr__(self, "options", options)  # a plain dict: the config still copies, pickles and asdicts

    def __hash__(self) -> int:  # `options` is a mapping; hash what identifies a run
        return hash((self.dataset, self.task, self.preset, tuple(sorted(self.options.items(), key=str)), self.seed,
                     self.subset, self.epochs, self.name))

    def validate(self, settings: settings_mod.Settings) -> None:
        """Raises UsageError for any out-of-range setting."""
        checks = [
            ("epochs", self.epochs, (1, settings.max_epochs)),
            ("batch size", self.batch_size, limits.BATCH_SIZE_RANGE),
            ("validation split", self.validation_split, limits.VALIDATION_SPLIT_RANGE),
            ("subset", self.subset, limits.SUBSET_RANGE),
        ]
        for label, value, (low, high) in checks:
            if value is not None and not low <= value <= high:
                raise UsageError(f"{label} must be between {low:,} and {high:,}, got {value:,}.")
        if self.learning_rate is not None and not 0 < self.learning_rate <= limits.AIRBENCH_LEARNING_RATE_RANGE[1]:
            low, high = limits.AIRBENCH_LEARNING_RATE_RANGE
            raise UsageError(f"learning rate must be in ({low:g}, {high:g}], got {self.learning_rate:g}.")


def check_learning_rate(preset: BasePreset) -> None:
    """The learning rate against its optimizer's range. `validate` has already held every rate to the widest
    one, airbench's (per 1,024 examples); Adam's and AdamW's, per step, is narrower."""
    low, high = limits.LEARNING_RATE_RANGE
    if preset.optimizer != "airbench" and not low < preset.learning_rate <= high:
        raise UsageError(f"learning rate for the {preset.name} preset must be in ({low:g}, {high:g}], "
                         f"got {preset.learning_rate:g}.")


@dataclass(frozen=True)
class Plan:
    """A config resolved against its task: the preset with overrides, the split, the image size."""

    config: TrainConfig
    task: Task
    preset: BasePreset
    validation_split: float
    image_size: tuple[int, int] | None  # for image folders

    @property
    def epochs(self) -> int:
        return self.preset.epochs


def plan(config: TrainConfig, settings: settings_mod.Settings | None = None) -> Plan:
    """Resolve `config` without loading data.

    Raises:
        UsageError: unknown data, preset or setting, or a setting out of range or for the other task.
    """
    config.validate(settings or settings_mod.load())
    task = get_task(config.task or dataset_task(config.dataset))
    if task.name not in (served := dataset_tasks(config.dataset)):
        also = f" (it serves {' and '.join(served)})" if len(served) > 1 else ""
        raise UsageError(f"{config.dataset} is {served[0]} data, not {task.name} data{also}.")
    preset = task.preset(config.preset, dataset=config.dataset.strip().lower())
    overrides = dict(epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate)
    options = task_options(task, config.options)
    overrides |= {name: value for name, value in options.items() if task.settings[name].preset_field}
    preset = with_overrides(preset, **overrides)
    check_learning_rate(preset)
    split = config.validation_split if config.validation_split is not None else preset.validation_split
    return Plan(config, task, preset, split, task.image_size(preset, options.get("image_size")))


def task_options(task: Task, options: Mapping[str, Any]) -> dict[str, Any]:
    """`options` checked against the task's own settings and converted to their types.

    Raises:
        UsageError: a setting of another task, an unknown one, or a value of the wrong type or out of range.
    """
    out = {}
    for name, value in options.items():
        if name not in task.settings:
            if any(name in other.settings for other in TASKS.values()):
                raise UsageError(f"{name.replace('_', ' ')} does not apply to {task.name} models.")
            takes = ", ".join(task.settings) or "no settings of their own"
            raise UsageError(f"Unknown setting {name!r}; {task.name} models take {takes}.")
        out[name] = task.settings[name].check(name, value)
    return out
