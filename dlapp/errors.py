"""Every error dlapp raises on purpose. Messages say what to do next.

Each class also subclasses the matching builtin, so callers can catch
`ValueError` or `FileNotFoundError` without knowing dlapp.
"""


class DlappError(Exception):
    """Base class: an expected failure with a message fit for a user."""


class UsageError(DlappError, ValueError):
    """A setting or argument is out of range or unknown."""


class DatasetNotFoundError(DlappError, FileNotFoundError):
    """A data set is neither local nor downloadable (for example, offline)."""


class InvalidDatasetError(DlappError, ValueError):
    """Custom data is malformed: too few classes, missing columns, a hostile archive..."""


class InvalidImageError(DlappError, ValueError):
    """An image cannot be decoded, or is too large to decode safely."""


class InvalidTextError(DlappError, ValueError):
    """A review is empty, whitespace-only or over the size cap."""


class ModelNotFoundError(DlappError, LookupError):
    """No model in the cache has that id, or no default exists for a task."""


class ModelLoadError(DlappError, OSError):
    """A cached model is corrupt, tampered with or incompatible."""


class ModelSaveError(DlappError, OSError):
    """A model could not be written (disk full, permissions); the old one is intact."""


class TrainingBusyError(DlappError, RuntimeError):
    """Another training is already running; only one runs at a time."""


class WorkerLostError(DlappError, RuntimeError):
    """A multi-worker training lost a worker (it died, or stopped answering); the run stopped."""


class TrainingCancelled(DlappError, RuntimeError):
    """The training was stopped by the user; nothing was saved."""


class PermissionDeniedError(DlappError, PermissionError):
    """This deployment does not let this visitor do that (train, stop, delete, set default, push)."""


class HubError(DlappError, OSError):
    """A Hugging Face Hub pull or push failed; the message says why."""


class ExportCheckError(DlappError, RuntimeError):
    """An export re-loaded in a fresh process does not answer as the Keras model does; it is not offered."""


class MissingDependencyError(DlappError, ImportError):
    """An optional package (the export runtimes: `pip install 'dlapp[export]'`) is not installed."""


class CollectionFullError(UsageError):
    """A visitor's sample collection is at one of its caps (classes, samples, bytes); see limits.py."""


def hide_paths(message: str, named: dict[str, str] | None = None) -> str:
    """`message` without the server's absolute paths, for visitors of the web app.

    Each folder in `named` (default: the model and data folders of settings.py) becomes its name in
    words ("the model folder"); any other absolute path becomes its last part (an upload's own file
    name). URLs and owner/name ids are kept.
    """
    import re
    from pathlib import Path

    if named is None:
        from . import settings

        s = settings.load()
        named = {str(s.model_dir): "the model folder", str(Path(s.model_dir).resolve()): "the model folder"}
        if s.data_dir:
            named |= {str(s.data_dir): "the data folder", str(Path(s.data_dir).resolve()): "the data folder"}
    for folder, words in sorted(named.items(), key=lambda kv: -len(kv[0])):  # nested folders: longest first
        if folder and folder != "/":
            message = re.sub(re.escape(folder.rstrip("/")) + r"(?=$|[\s'\"`,;:()<>\[\]]|\.(?:\s|$))", words, message)

    def last_part(m: re.Match) -> str:
        path = m.group(0)
        trail = path[len(path.rstrip(".")):]  # a sentence's full stop is no part of the path
        return (path.rstrip(".").rstrip("/").rsplit("/", 1)[-1] or "/") + trail

    return re.sub(r"(?<![\w.:/~-])/[^\s'\"`,;:()<>\[\]]+", last_part, message)


class StorageFullError(DlappError, OSError):
    """The storage budget for visitors' data (DLAPP_STORAGE_MB, budget.py) is full of data still in use."""
