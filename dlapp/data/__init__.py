"""Data: one interface for built-in sets, class folders, zips and review tables."""

from __future__ import annotations

from pathlib import Path

from .. import limits
from .. import settings as settings_mod
from ..errors import InvalidDatasetError
from .custom import load_image_folder
from .dataset import Dataset
from .registry import (
    BUILTINS,
    UPLOAD_FORMATS,
    dataset_task,
    dataset_tasks,
    normalize_name,
    upload_format,
    upload_suffixes,
)

__all__ = ["BUILTINS", "UPLOAD_FORMATS", "Dataset", "dataset_task", "dataset_tasks", "load_dataset", "upload_format",
           "upload_suffixes"]


def load_dataset(name: str, *, subset: int | None = None, image_size: tuple[int, int] | None = None,
                 data_dir: Path | None = None, seed: int = 0) -> Dataset:
    """Load a built-in data set by name, or custom data from a path.

    Args:
        name: a BUILTINS name ("cifar10", "imdb", ...), or a path to a class folder or an upload format.
        subset: keep N examples per class (train and test), drawn at random with `seed`.
        image_size: (height, width) for custom image folders (default: limits.DEFAULT_FOLDER_IMAGE_SIZE).
        data_dir: local data folder; defaults to DLAPP_DATA_DIR.

    Raises:
        DatasetNotFoundError: a built-in set is not local and cannot be downloaded.
        InvalidDatasetError: custom data is malformed or hostile.
        UsageError: the name is neither built in nor an existing path of a known type.
    """
    if subset is not None and subset < 1:
        raise InvalidDatasetError(f"subset must be at least 1 example per class, got {subset}.")
    settings = settings_mod.load()
    data_dir = data_dir if data_dir is not None else settings.data_dir
    task = dataset_task(name)  # raises UsageError for unknown names and file types
    key = normalize_name(name)
    if key in BUILTINS:
        data = BUILTINS[key].fetch(BUILTINS[key], data_dir)
    else:
        path = Path(name).expanduser()
        size = image_size or limits.DEFAULT_FOLDER_IMAGE_SIZE
        if path.is_dir():
            data = load_image_folder(path, image_size=size, max_pixels=settings.max_image_pixels)
        else:
            data = upload_format(path).load(path, image_size=size, max_pixels=settings.max_image_pixels)
    assert data.task == task
    return data.subset(subset, seed=seed)
