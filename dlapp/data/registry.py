"""The two tables every list of data sets, class names and file suffixes reads from.

A new built-in data set is one row in BUILTINS; a new upload format is one row in
UPLOAD_FORMATS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..archives import inspect_zip
from ..card import TaskName
from ..errors import UsageError
from . import builtin, custom
from .dataset import Dataset

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle boot")
SENTIMENT_CLASSES = ("negative", "positive")


@dataclass(frozen=True)
class BuiltinDataset:
    name: str
    task: TaskName
    class_names: tuple[str, ...]
    file_name: str  # what DLAPP_DATA_DIR holds for it
    fetch: Callable[[BuiltinDataset, Path | None], Dataset]  # local file, else Keras's cache, else download
    seed_preset: str | None = None  # the tutorial model `--preset seed` means for it (None: the task's)
    about: str = ""  # one line for people
    also: tuple[TaskName, ...] = ()  # other tasks it serves besides `task` (CIFAR-10: generate, for a GAN)

    @property
    def tasks(self) -> tuple[TaskName, ...]:
        return (self.task, *self.also)


BUILTINS: dict[str, BuiltinDataset] = {d.name: d for d in [
    BuiltinDataset("cifar10", "image", CIFAR10_CLASSES, "cifar10.npz", builtin.keras_images,
                   about="60,000 colour photos, 32×32, of 10 everyday classes", also=("generate",)),
    BuiltinDataset("mnist", "image", MNIST_CLASSES, "mnist.npz", builtin.keras_images, seed_preset="seed-mnist",
                   about="70,000 handwritten digits, 28×28 grey"),
    BuiltinDataset("fashion_mnist", "image", FASHION_CLASSES, "fashion_mnist.npz", builtin.keras_images,
                   seed_preset="seed-mnist", about="70,000 clothing pictures, 28×28 grey"),
    BuiltinDataset("imdb", "text", SENTIMENT_CLASSES, "imdb.jsonl.gz", builtin.imdb,
                   about="50,000 movie reviews, positive or negative"),
]}


@dataclass(frozen=True)
class UploadFormat:
    suffix: str  # matched at the end of the file name, longest first ("reviews.csv.gz" is .csv.gz)
    task: TaskName
    description: str
    load: Callable[..., Dataset]  # (path, *, image_size, max_pixels) -> Dataset
    check: Callable[[Path], object]  # cheap checks before a training starts: hostile zips, bad columns


def _text(path: Path, **_: object) -> Dataset:
    return custom.load_text_table(path)


UPLOAD_FORMATS: tuple[UploadFormat, ...] = (
    UploadFormat(".zip", "image", "a .zip with one folder of images per class", custom.load_image_zip,
                 inspect_zip),
    UploadFormat(".csv", "text", "a .csv with text and label columns", _text, _text),
    UploadFormat(".csv.gz", "text", "a gzipped .csv with text and label columns", _text, _text),
    UploadFormat(".jsonl", "text", "a .jsonl with text and label fields", _text, _text),
    UploadFormat(".jsonl.gz", "text", "a gzipped .jsonl with text and label fields", _text, _text),
)


def normalize_name(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def upload_suffixes(task: TaskName | None = None) -> list[str]:
    return [f.suffix for f in UPLOAD_FORMATS if task is None or f.task == task]


def upload_format(path: Path) -> UploadFormat:
    """The format a file's name says it is.

    Raises:
        UsageError: no known suffix.
    """
    name = path.name.lower()
    for fmt in sorted(UPLOAD_FORMATS, key=lambda f: -len(f.suffix)):
        if name.endswith(fmt.suffix):
            return fmt
    raise UsageError(f"{path.name}: dlapp reads {', '.join(f.description for f in UPLOAD_FORMATS)}, "
                     "or a folder of class folders.")


def dataset_tasks(name: str) -> tuple[TaskName, ...]:
    """Every task a data set serves, its own first. Raises UsageError as dataset_task does."""
    key = normalize_name(name)
    return BUILTINS[key].tasks if key in BUILTINS else (dataset_task(name),)


def dataset_task(name: str) -> TaskName:
    """Which task a built-in name or a path feeds, without loading it.

    Raises:
        UsageError: neither a built-in name nor a known file type (folders are image data).
    """
    if (key := normalize_name(name)) in BUILTINS:
        return BUILTINS[key].task
    path = Path(name).expanduser()
    if path.is_dir():
        return "image"
    if not path.exists():
        raise UsageError(f"Unknown dataset {name!r}. Use one of {', '.join(BUILTINS)}, or a path to a class "
                         f"folder or a {', '.join(upload_suffixes())} file.")
    return upload_format(path).task
