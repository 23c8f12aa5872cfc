"""The model card: what a cached model is, how it was made and how well it does.

It is the contract between training, the store, inference, the Hub, the CLI and
the UI. On disk it is `<id>.json` beside `<id>.keras`. Schema 2 nests provenance
and keeps the data set's base name and subset apart; schema-1 cards (the
untyped dicts written before, e.g. the shipped models' cards) still load.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

TaskName = Literal["image", "text", "generate"]
TASK_NAMES: tuple[str, ...] = get_args(TaskName)
SCHEMA_VERSION = 2


class CardError(ValueError):
    """A card's JSON is not a dlapp card (missing fields, wrong types)."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str  # base name: "cifar10", "imdb", or an upload's stem
    subset_per_class: int | None = None  # examples per class drawn from it, None = all
    source: str = ""  # file name it was read from
    fingerprint: str = ""  # sha256 over the arrays (see Dataset.fingerprint)
    train_examples: int = 0
    validation_examples: int = 0
    test_examples: int = 0

    @property
    def label(self) -> str:
        """For people: "cifar10" or "cifar10 (100/class)"."""
        return f"{self.name} ({self.subset_per_class}/class)" if self.subset_per_class else self.name


@dataclass(frozen=True)
class InputSpec:
    kind: TaskName
    dtype: Literal["uint8", "string", "float32"]
    shape: tuple[int, ...]  # per example: (H, W, C) for images, () for a string, (latent,) for a generator's noise

    @property
    def picture_size(self) -> tuple[int, int] | None:
        """(H, W) for a model that reads pictures, the size image folders are read at for it; else None. Decided by
        what the model takes (its kind), never by the rank of its input: a generator takes no picture."""
        return (self.shape[0], self.shape[1]) if self.kind == "image" else None


@dataclass(frozen=True)
class Headline:
    """The one figure a task judges its models by, as lists and summaries show it."""
    name: str  # "test accuracy", "Fréchet distance"
    value: float
    percent: bool = True  # a share, shown as 93.6%; else a plain number
    higher_is_better: bool = True

    def __str__(self) -> str:
        return f"{self.value:.1%}" if self.percent else f"{self.value:,.1f}"

    def as_json(self) -> dict[str, Any]:
        """{name, value, text}: what API clients get (text as lists show it, e.g. "93.6%")."""
        return {"name": self.name, "value": self.value, "text": str(self)}

    @property
    def rank(self) -> float:
        """Larger is better, whichever way the figure goes: for sorting models by it."""
        return self.value if self.higher_is_better else -self.value


@dataclass(frozen=True)
class Metrics:
    test_accuracy: float | None = None  # classifiers
    test_examples: int = 0
    per_class_accuracy: dict[str, float | None] = field(default_factory=dict)
    confusion_matrix: list[list[int]] = field(default_factory=list)  # rows: true class, columns: predicted
    misclassified: list[dict[str, Any]] = field(default_factory=list)  # index, true, predicted, confidence
    final_train_accuracy: float | None = None
    final_val_accuracy: float | None = None
    # Calibration on the test split (training/calibrate.py): expected calibration error over 15
    # confidence bins, and the reliability diagram as [mean confidence, accuracy, count] per bin.
    ece: float | None = None
    reliability: list[list[float]] = field(default_factory=list)
    # Share of the (in-distribution) test split that "none of these" lets through.
    accepted: float | None = None
    # Up to a few test-split indices per confusion-matrix cell, keyed "true,predicted" (class indices).
    cell_examples: dict[str, list[int]] = field(default_factory=dict)
    # Tasks that do not classify name their own headline figure and keep their own report (plain JSON).
    headline: Headline | None = None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def main(self) -> Headline:
        """The headline: the task's own, else the test accuracy."""
        return self.headline or Headline("test accuracy", float(self.test_accuracy or 0.0))

    def figures(self) -> list[tuple[str, str]]:
        """(name, value as text) for the task's own report beside the headline: its numbers, and its per-class
        tables one row per class ("per class accuracy: cat"), in the report's order. Empty for classifiers, whose
        figures have fields of their own."""
        def text(value: Any) -> str:
            return "n/a" if value is None else f"{value:,.4g}" if isinstance(value, float) else str(value)

        rows = []
        for key, value in self.report.items():
            name = key.replace("_", " ")
            if isinstance(value, dict):
                rows += [(f"{name}: {k}", text(v)) for k, v in value.items()]
            else:
                rows.append((name, text(value)))
        return rows


@dataclass(frozen=True)
class Calibration:
    """Fitted on the validation split after training (training/calibrate.py)."""
    temperature: float = 1.0  # inside the saved model as its last layer
    fitted_on: int = 0  # held-out examples it was fitted on; 0 = not calibrated
    none_threshold: float | None = None  # image models: top probability below this -> "none of these"


@dataclass(frozen=True)
class HubOrigin:
    repo_id: str
    revision: str
    commit: str


@dataclass(frozen=True)
class Provenance:
    command: str | None = None  # the CLI line that reproduces it; None when trained in the web app
    seed: int = 0
    device: str = ""
    training_time_s: float = 0.0
    workers: int = 1  # processes that trained it together (MultiWorkerMirroredStrategy); `device` is each one's
    precision: str = "float32"  # the Keras dtype policy it trained under; the saved model computes in float32
    versions: dict[str, str] = field(default_factory=dict)
    cache_key: str = ""
    created: str = ""  # ISO time the store saved it
    hub: HubOrigin | None = None  # where it was pulled from


@dataclass(frozen=True)
class ModelCard:
    task: TaskName
    preset: str
    class_names: tuple[str, ...]
    dataset: DatasetInfo
    input: InputSpec
    metrics: Metrics
    provenance: Provenance = field(default_factory=Provenance)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    history: tuple[dict[str, float], ...] = ()  # one entry per completed epoch
    calibration: Calibration = field(default_factory=Calibration)
    sha256: str = ""  # of the .keras file, set by the store
    schema_version: int = SCHEMA_VERSION
    # Filled in by the store when it reads a card; never written.
    id: str = ""
    size_bytes: int = 0
    shipped: bool = False  # from the read-only shipped models, not the user's cache

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types, without the store's runtime fields."""
        out = asdict(self)
        del out["id"], out["size_bytes"], out["shipped"]
        return out

    @classmethod
    def from_json(cls, data: Any) -> ModelCard:
        """Parse schema 2, or upgrade a schema-1 card.

        Raises:
            CardError: not a dlapp card.
        """
        if not isinstance(data, dict):
            raise CardError("a card is a JSON object")
        try:
            if data.get("schema_version", 1) < 2:
                data = _upgrade_v1(data)
            task = data["task"]
            if task not in TASK_NAMES:
                raise CardError(f"unknown task {task!r}")
            inp = data["input"]
            prov = dict(data.get("provenance") or {})
            if prov.get("hub"):
                prov["hub"] = HubOrigin(**prov["hub"])
            return cls(
                task=task, preset=str(data["preset"]), class_names=tuple(str(c) for c in data["class_names"]),
                dataset=DatasetInfo(**data["dataset"]),
                input=InputSpec(kind=inp["kind"], dtype=inp["dtype"], shape=tuple(int(d) for d in inp["shape"])),
                metrics=_metrics(data["metrics"]), provenance=Provenance(**prov),
                hyperparameters=dict(data.get("hyperparameters") or {}),
                history=tuple(data.get("history") or ()), sha256=str(data.get("sha256") or ""),
                calibration=Calibration(**(data.get("calibration") or {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CardError(f"not a dlapp card ({type(exc).__name__}: {exc})") from None

    def with_runtime(self, model_id: str, size_bytes: int, *, shipped: bool = False) -> ModelCard:
        return replace(self, id=model_id, size_bytes=size_bytes, shipped=shipped)

    @property
    def test_accuracy(self) -> float | None:
        return self.metrics.test_accuracy

    @property
    def headline(self) -> Headline:
        return self.metrics.main


def _metrics(data: dict[str, Any]) -> Metrics:
    data = dict(data)
    if data.get("headline") is not None:
        data["headline"] = Headline(**data["headline"])
    return Metrics(**data)


_SUBSET_SUFFIX = re.compile(r"^(?P<name>.*)\[(?P<n>\d+)/class\]$")  # schema 1 wrote "cifar10[100/class]"
_PROVENANCE_V1 = ("command", "seed", "device", "training_time_s", "versions", "cache_key", "created", "hub")


def _upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 kept provenance at the top level and the subset inside the data set's name."""
    data = dict(data)
    dataset = dict(data["dataset"])
    if match := _SUBSET_SUFFIX.match(dataset["name"]):
        dataset["name"] = match["name"]
        dataset["subset_per_class"] = dataset.get("subset_per_class") or int(match["n"])
    data["dataset"] = dataset
    data["provenance"] = {k: data.pop(k) for k in _PROVENANCE_V1 if k in data}
    data["hyperparameters"] = {k: v for k, v in (data.get("hyperparameters") or {}).items()
                               if k != "validation"}  # a field an early preset format had
    return data
