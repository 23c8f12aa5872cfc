"""The Task protocol, checked: every registered task has every member of tasks.base.Task, each method with the
protocol's parameters (same names, same kinds, in the same order; an implementation may add parameters only with
defaults), its presets frozen and typed, its settings usable by the CLI and plan(). And the check itself catches a
task with a method removed, renamed, or with a parameter renamed."""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

import pytest

from dlapp.card import TASK_NAMES
from dlapp.tasks import TASKS, base
from dlapp.tasks.base import BasePreset, DefaultRun, Task

ATTRIBUTE_TYPES = {"name": str, "presets": Mapping, "settings": Mapping, "default_run": DefaultRun,
                   "validation_in_blocks": bool, "open_set": bool, "hub_pipeline": str, "noun": str}


def protocol_methods() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(Task).items()
            if inspect.isfunction(fn) and not name.startswith("_")}


def protocol_attributes() -> list[str]:
    return [name for name in Task.__annotations__ if name not in protocol_methods()]


def contract_problems(task: Any) -> list[str]:
    """What `task` lacks or gets wrong against the Task protocol (empty: it satisfies it)."""
    problems = []
    for name in protocol_attributes():
        if not hasattr(task, name):
            problems.append(f"no attribute {name}")
        elif name in ATTRIBUTE_TYPES and not isinstance(getattr(task, name), ATTRIBUTE_TYPES[name]):
            problems.append(f"{name} is a {type(getattr(task, name)).__name__}")
    for name, wanted in protocol_methods().items():
        method = getattr(task, name, None)
        if not callable(method):
            problems.append(f"no method {name}")
            continue
        wanted_params = list(wanted.parameters.values())[1:]  # without self
        have = inspect.signature(method).parameters  # bound: no self
        for p in wanted_params:
            if p.name not in have and not any(q.kind is q.VAR_KEYWORD for q in have.values()):
                problems.append(f"{name}() has no parameter {p.name}")
            elif p.name in have and have[p.name].kind != p.kind:
                problems.append(f"{name}({p.name}) is {have[p.name].kind.description}, not {p.kind.description}")
        positional = [q.name for q in have.values() if q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)]
        wanted_positional = [p.name for p in wanted_params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if positional[:len(wanted_positional)] != wanted_positional:
            problems.append(f"{name}() takes {positional} positionally, not {wanted_positional}")
        for q in have.values():
            if (q.name not in wanted.parameters and q.default is q.empty
                    and q.kind not in (q.VAR_POSITIONAL, q.VAR_KEYWORD)):
                problems.append(f"{name}() requires {q.name}, which the protocol does not pass")
    return problems


def value_fits(value: Any, hint: Any) -> bool:
    """`value` against a preset field's type hint: the plain types, Literal, unions and tuples presets use."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin is Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(value_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(value_fits(v, args[0]) for v in value)
        return len(args) == len(value) and all(value_fits(v, a) for v, a in zip(value, args, strict=True))
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


@pytest.mark.parametrize("task_name", list(TASKS))
def test_each_registered_task_satisfies_the_task_protocol(task_name):
    task = TASKS[task_name]
    assert contract_problems(task) == []
    assert task.name == task_name and task.name in TASK_NAMES  # a card can name it
    assert task.default_run.preset in task.presets


@pytest.mark.parametrize("task_name", list(TASKS))
def test_each_preset_is_a_frozen_typed_dataclass(task_name):
    for preset in TASKS[task_name].presets.values():
        cls = type(preset)
        assert issubclass(cls, BasePreset) and dataclasses.is_dataclass(cls)
        assert cls.__dataclass_params__.frozen, f"{cls.__name__} is not frozen"
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(preset):
            assert f.name in hints, f"{cls.__name__}.{f.name} has no type"
            assert value_fits(getattr(preset, f.name), hints[f.name]), \
                f"{cls.__name__}({preset.name}).{f.name} = {getattr(preset, f.name)!r} is not a {hints[f.name]}"
        with pytest.raises(dataclasses.FrozenInstanceError):
            preset.epochs = 1  # type: ignore[misc]


@pytest.mark.parametrize("task_name", list(TASKS))
def test_each_task_setting_can_become_a_flag_and_a_preset_override(task_name):
    task = TASKS[task_name]
    for name, setting in task.settings.items():
        assert isinstance(setting, base.Setting) and setting.type in (int, str) and setting.help and setting.label
        assert name.isidentifier() and name not in {f.name for f in dataclasses.fields(BasePreset)}
        assert len(setting.choice_labels) in (0, len(setting.choices))
        if setting.preset_field:  # plan() overrides the preset's field of that name
            assert all(name in {f.name for f in dataclasses.fields(p)} for p in task.presets.values()), name


class _Broken:
    """A copy of the image task, made wrong in one way at a time."""

    def __init__(self, **changes):
        self._task, self._changes = TASKS["image"], changes

    def __getattr__(self, name):
        if name in self._changes:
            if self._changes[name] is None:
                raise AttributeError(name)
            return self._changes[name]
        return getattr(self._task, name)


@pytest.mark.parametrize("changes,problem", [
    ({"evaluate": None}, "no method evaluate"),  # removed (or renamed: the old name is gone)
    ({"headline": None, "finalize": None}, "no method finalize"),
    ({"targets": lambda y, *, model, preset, classes: y}, "targets() has no parameter num_classes"),  # renamed
    ({"compile": lambda model, preset, steps_per_epoch: None}, "compile(steps_per_epoch) is positional or keyword"),
    ({"export": lambda model, preset, extra, *, store=None: model}, "export() requires extra"),
    ({"settings": ("cell",)}, "settings is a tuple"),
    ({"noun": None}, "no attribute noun"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_the_contract_check_catches_a_broken_task(changes, problem):
    assert any(problem in p for p in contract_problems(_Broken(**changes))), contract_problems(_Broken(**changes))
