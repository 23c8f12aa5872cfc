"""What every task provides, and the preset fields every task shares.

A task (image classification, sentiment) is one module in this package with one
object, `TASK`, that satisfies `Task`. Training, inference, the store, the Hub
and the CLI reach task-specific code only through it.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..card import Calibration, InputSpec, Metrics, TaskName
from ..errors import UsageError

if TYPE_CHECKING:
    from ..data import Dataset
    from ..store import ModelStore

# adamw: with warm-up and cosine decay (a one-cycle shape); airbench: airbench94's Nesterov SGD, schedule
# and lookahead (training/optim.py), its learning rate and weight decay given in airbench's per-1024 units;
# adagrad: per-weight step sizes, the classic for sparse linear models (nbsvm's weight per n-gram).
Optimizer = Literal["adam", "adamw", "airbench", "adagrad"]


@dataclass(frozen=True, kw_only=True)
class BasePreset:
    """The training recipe fields every task has. Literal-typed fields are checked on creation."""

    name: str
    description: str  # one line: what the network is
    summary: str = ""  # plain words for the Train tab: what it is for, and how long it takes here
    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: Optimizer = "adam"
    weight_decay: float = 0.0  # AdamW's decoupled decay; Keras multiplies it by the learning rate
    label_smoothing: float = 0.0
    validation_split: float = 0.1  # share of train held out (curves, calibration); 0: the test split

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            allowed = typing.get_args(hints[f.name]) if typing.get_origin(hints[f.name]) is Literal else ()
            if allowed and getattr(self, f.name) not in allowed:
                raise UsageError(f"Unknown {f.name.replace('_', ' ')} {getattr(self, f.name)!r}; "
                                 f"choose from {', '.join(map(str, allowed))}.")


@dataclass(frozen=True, kw_only=True)
class Setting:
    """A setting only one task takes (a recurrent cell, a GAN's latent size), beside the shared ones: the CLI's
    `--flag` and the Train tab's control are made from it, and `training.plan` checks a value against it."""

    type: type  # int or str: what the CLI parses and a value must be
    help: str  # one line, for --help and the Train tab
    label: str  # the Train tab's label
    choices: tuple[Any, ...] = ()  # the allowed values (empty: any value of `type` in `range`)
    choice_labels: tuple[str, ...] = ()  # the Train tab's words for `choices`, in their order
    range: tuple[int, int] | None = None  # inclusive, for numbers (limits.py gives each its reason)
    preset_field: bool = True  # overrides the preset's field of this name; False: the task reads it itself

    def check(self, name: str, value: Any) -> Any:
        """`value` of setting `name` as this setting's type. Raises UsageError for a value of the wrong type or out
        of range."""
        words = name.replace("_", " ")
        try:
            if isinstance(value, bool) or (self.type is int and isinstance(value, float) and not value.is_integer()):
                raise ValueError
            value = self.type(value)
        except (TypeError, ValueError):
            kind = "a whole number" if self.type is int else f"a {self.type.__name__}"
            raise UsageError(f"{words} takes {kind}, not {value!r}.") from None
        if self.choices and value not in self.choices:
            raise UsageError(f"Unknown {words} {value!r}; choose from {', '.join(map(str, self.choices))}.")
        if self.range is not None and not self.range[0] <= value <= self.range[1]:
            low, high = self.range
            raise UsageError(f"{words} must be between {low:,} and {high:,}, got {value:,}.")
        return value


@dataclass(frozen=True)
class DefaultRun:
    """What the Train tab starts with for a task: measured to give a useful model in about a minute
    on a 2-core CPU (benchmarks/defaults_bench.py)."""

    preset: str
    subset: int  # examples per class
    epochs: int
    batch_size: int | None = None  # None: the preset's; small data needs more, smaller steps


def lookup_preset(task: str, presets: Mapping[str, BasePreset], name: str, *, dataset: str,
                  seed: str) -> Any:
    """`presets[name]`; `seed` means the data set's tutorial model (data.BUILTINS), else `seed`.

    Raises:
        UsageError: no such preset.
    """
    from ..data import BUILTINS

    if name == "seed":
        entry = BUILTINS.get(dataset)
        name = entry.seed_preset if entry and entry.seed_preset else seed
    if name not in presets:
        raise UsageError(f"Unknown {task} preset {name!r}. Choose from: {', '.join(['seed', *presets])}.")
    return presets[name]


def with_overrides(preset: BasePreset, **overrides: Any) -> BasePreset:
    """A copy of `preset` with the given fields replaced; None means keep. Unknown keys fail."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(changes) - {f.name for f in fields(preset)}
    if unknown:
        raise UsageError(f"Preset {preset.name!r} has no setting(s) {', '.join(sorted(unknown))}.")
    return replace(preset, **changes)


class Predictor(Protocol):
    model_id: str
    class_names: list[str]

    def warm_up(self) -> None:
        """Compile now what the first concurrent requests would otherwise wait for."""


class Task(Protocol):
    """The small set of names each task module provides."""

    name: TaskName
    presets: Mapping[str, BasePreset]
    settings: Mapping[str, Setting]  # what only this task takes (TrainConfig.options): the CLI's flags, the Train tab's
    default_run: DefaultRun  # the Train tab's starting settings
    validation_in_blocks: bool  # hold out contiguous runs of examples (neighbours share a source), not a random draw
    open_set: bool  # fit a "none of these" threshold after training
    hub_pipeline: str  # the Hub's pipeline_tag
    noun: str  # "CNN image classifier": for model cards, when the preset does not say more (noun_for)

    def preset(self, name: str, *, dataset: str = "") -> BasePreset:
        """Look up a preset; `seed` picks the tutorial model for the data. Raises UsageError."""

    def image_size(self, preset: Any, side: int | None) -> tuple[int, int] | None:
        """The size to read image folders at (None for tasks without images)."""

    def noun_for(self, card: Any) -> str:
        """What the model of `card` is, in a few words ("self-attention sentiment classifier"): for model cards."""

    def check_data(self, data: Dataset, preset: Any = None, *, store: ModelStore | None = None) -> None:
        """Raises UsageError when this task cannot train on `data` (with `preset`, when given). `store`, here and
        below: where models it builds on are found (a transfer backbone, a judge); None: the shared store."""

    def input_spec(self, data: Dataset, preset: Any) -> InputSpec: ...

    def starts_from(self, preset: Any, *, store: ModelStore | None = None) -> str:
        """The sha256 of the model a preset builds on (a transfer backbone), "" for none: part of the
        cache key, so a retrained backbone never hands back a model built on the old one."""

    def build(self, preset: Any, x_train: Any, y_train: Any, *, num_classes: int, input_shape: tuple[int, ...],
              store: ModelStore | None = None) -> Any:
        """The trainable keras.Model (inside the distribution strategy's scope)."""

    def load_support(self) -> None:
        """Register the serializable classes this task's saved models and checkpoints name, before Keras reads one
        (dlapp's shared layers are registered by `backend`)."""

    def compile(self, model: Any, preset: Any, *, steps_per_epoch: int) -> None:
        """What is learned and how: the loss (or the model's own train_step) and the optimizer."""

    def targets(self, y: Any, *, model: Any, preset: Any, num_classes: int) -> Any:
        """What `fit` feeds beside the inputs for integer labels `y`."""

    def callbacks(self, model: Any, preset: Any, data: Dataset, emit: Any, *,
                  store: ModelStore | None = None) -> list[Any]:
        """Keras callbacks of the task's own (run before the checkpoint, so what they log is saved)."""

    def finalize(self, the_plan: Any, fitted: Any, *, store: ModelStore | None = None) -> tuple[Any, Calibration]:
        """The stand-alone model to save, and its calibration (fitted on the validation split)."""

    def evaluate(self, model: Any, data: Dataset, calibration: Calibration, *, preset: Any = None,
                 store: ModelStore | None = None) -> Metrics:
        """What the task measures on the test split; Metrics.main is its headline."""

    def training_inputs(self, model: Any, x: Any, *, validation: bool, preset: Any,
                        store: ModelStore | None = None) -> Any:
        """What `fit` feeds the trainable model for raw inputs `x`."""

    def augmentations(self, preset: Any, *, examples: int) -> list[Any]:
        """Batched tf.data map functions (images, labels) -> (images, labels) for training."""

    def export(self, model: Any, preset: Any, *, store: ModelStore | None = None) -> Any:
        """The stand-alone model to save: raw inputs in, probabilities out, no optimizer state."""

    def evaluate_inputs(self, x: Any) -> Any:
        """Test inputs as the saved model takes them."""

    def as_uploaded(self, x: Any) -> Any | None:
        """Held-out inputs as a visitor would send them (open-set tasks fit "none of these" on these
        too), or None when that is the same."""

    def predictor(self, model_id: str, card: Any, model: Any) -> Predictor: ...

    def examples(self, *, data_dir: Any, per_class: int) -> Sequence[Any]:
        """Example inputs for a first screen: (label, uint8 image) pairs, or review strings."""


class Classifier:
    """What classification tasks (image, text) share: cross-entropy against the labels, accuracy, a
    temperature and "none of these" threshold fitted after training, and the test accuracy as headline."""

    def load_support(self) -> None:
        """Nothing: a classifier's layers are dlapp's shared ones (layers.py), registered by `backend`."""

    def compile(self, model: Any, preset: Any, *, steps_per_epoch: int) -> None:
        from ..training.loop import compile_model

        compile_model(model, preset, steps_per_epoch=steps_per_epoch)

    def targets(self, y: Any, *, model: Any, preset: Any, num_classes: int) -> Any:
        from ..training.pipeline import targets

        return targets(y, num_outputs=int(model.output_shape[-1]), num_classes=num_classes,
                       one_hot=bool(preset.label_smoothing or getattr(preset, "outliers", 0.0)))

    def callbacks(self, model: Any, preset: Any, data: Dataset, emit: Any, *,
                  store: ModelStore | None = None) -> list[Any]:
        return []

    def finalize(self, the_plan: Any, fitted: Any, *, store: ModelStore | None = None) -> tuple[Any, Calibration]:
        from ..training.calibrate import calibrate

        final = self.export(fitted.model, the_plan.preset, store=store)  # type: ignore[attr-defined]
        return calibrate(final, self, fitted.x_val, fitted.y_val, held_out=the_plan.validation_split > 0)

    def evaluate(self, model: Any, data: Dataset, calibration: Calibration, *, preset: Any = None,
                 store: ModelStore | None = None) -> Metrics:
        from ..training.evaluate import metrics_from, probabilities

        return metrics_from(data.y_test, probabilities(model, self.evaluate_inputs(data.x_test)),  # type: ignore[attr-defined]
                            tuple(data.class_names), none_threshold=calibration.none_threshold)
