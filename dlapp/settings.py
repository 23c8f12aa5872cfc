"""Every environment variable dlapp reads, parsed once, in one place.

Values are read when `load()` is called, not at import time, so tests and the
CLI can change the environment and get fresh settings. Importing this module
also sets the environment TensorFlow reads when it first loads (see backend.py).
"""

from __future__ import annotations

import os
import site
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

TrainingMode = Literal["on", "off", "private"]

# Keras must pick its backend before it is first imported; tf.data and
# MirroredStrategy tie dlapp to TensorFlow.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
DEBUG = bool(os.environ.get("DLAPP_DEBUG"))  # DLAPP_DEBUG=1: TensorFlow's own logs and full tracebacks
if not DEBUG:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ INFO/WARNING/ERROR lines

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
SHIPPED_MODEL_DIR = REPO_DIR / "models"  # trained by this project's CLI and committed with their cards; read-only
# A normal (non-editable) install puts them here (pyproject's data-files), since they sit outside the package;
# `pip install --user` under the user base instead of the prefix.
INSTALLED_MODEL_DIR = Path(sys.prefix) / "share" / "dlapp" / "models"
USER_INSTALLED_MODEL_DIR = Path(site.getuserbase()) / "share" / "dlapp" / "models"


def user_cache_dir() -> Path:
    """Where a user's own models and choices live: `$XDG_CACHE_HOME/dlapp` or `~/.cache/dlapp`, the
    convention huggingface_hub and Keras follow, so nothing a user makes is written into the checkout."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "dlapp"


def shipped_model_dir() -> Path:
    """The shipped models: DLAPP_SHIPPED_MODEL_DIR, else the checkout's models/, else an install's copy."""
    if override := os.environ.get("DLAPP_SHIPPED_MODEL_DIR"):
        return Path(override).expanduser()
    candidates = (SHIPPED_MODEL_DIR, INSTALLED_MODEL_DIR, USER_INSTALLED_MODEL_DIR)
    return next((d for d in candidates if d.is_dir()), SHIPPED_MODEL_DIR)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    extra = ", or private" if name == "DLAPP_TRAINING" else ""
    raise ValueError(f"{name}={raw!r}: use one of on/off, true/false, 1/0{extra}")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a whole number") from None


@dataclass(frozen=True)
class Settings:
    data_dir: Path | None  # DLAPP_DATA_DIR: local data sets (cifar10.npz, imdb.jsonl.gz, ...)
    model_dir: Path  # DLAPP_MODEL_DIR: the user's models and defaults (written); default ~/.cache/dlapp/models
    shipped_model_dir: Path  # DLAPP_SHIPPED_MODEL_DIR: the shipped models (read-only); default the repo's models/
    training: TrainingMode  # DLAPP_TRAINING=on|off|private; private by default on a Space, on elsewhere
    admin_password: str | None  # DLAPP_ADMIN_PASSWORD (or the older DLAPP_TRAINING_PASSWORD): gates every change
    max_epochs: int  # DLAPP_MAX_EPOCHS: cap per training run
    max_train_examples: int  # DLAPP_MAX_TRAIN_EXAMPLES: cap on training-set size (0 = none)
    max_image_pixels: int  # DLAPP_MAX_IMAGE_PIXELS: pixels decoded per image (decompression-bomb guard)
    max_text_chars: int  # DLAPP_MAX_TEXT_CHARS: longest review accepted
    max_upload_mb: int  # DLAPP_MAX_UPLOAD_MB: largest upload the web app takes
    storage_mb: int  # DLAPP_STORAGE_MB: all that visitors can make the server store, together (budget.py)
    space_id: str | None  # SPACE_ID: set by Hugging Face Spaces
    space_hardware: str | None  # SPACE_HARDWARE (e.g. cpu-basic, t4-small), when the Space sets it
    hub_models: tuple[str, ...]  # DLAPP_HUB_MODELS: comma-separated Hub repo ids to pull
    server_name: str  # GRADIO_SERVER_NAME: interface to listen on
    server_port: int  # GRADIO_SERVER_PORT
    tf_config: str | None  # TF_CONFIG: the cluster of a multi-worker training (set by cluster tools or --workers)
    worker_timeout_s: int  # DLAPP_WORKER_TIMEOUT_S: a multi-worker step waits this long for a silent worker
    train_time_s: int = 0  # DLAPP_TRAIN_TIME_S: seconds of fitting per run, then it stops and saves (0 = no cap)
    session_models: int = 3  # DLAPP_SESSION_MODELS: private models a visitor keeps at once; the oldest goes

    @property
    def training_enabled(self) -> bool:
        """Whether anyone may train here (into the shared cache when `on`, into their own session when `private`)."""
        return self.training != "off"

    @property
    def private_training(self) -> bool:
        """Each visitor trains models of their own, kept for their session alone (DLAPP_TRAINING=private)."""
        return self.training == "private"

    @property
    def public(self) -> bool:
        """A deployment strangers reach: a Space, or one whose owner switched training off.
        There, every change (train, stop another's run, delete, set default, push) needs the password."""
        return self.space_id is not None or self.training != "on"


def _training(space_id: str | None) -> TrainingMode:
    raw = os.environ.get("DLAPP_TRAINING")
    if raw is None:
        # A Space's visitors are strangers: each trains for themselves, nothing shared changes. Locally, the
        # user owns the cache.
        return "private" if space_id else "on"
    if raw.strip().lower() == "private":
        return "private"
    return "on" if _bool("DLAPP_TRAINING", False) else "off"


def load() -> Settings:
    """Read the environment now and return the settings."""
    space_id = os.environ.get("SPACE_ID") or None
    data_dir = os.environ.get("DLAPP_DATA_DIR")
    model_dir = os.environ.get("DLAPP_MODEL_DIR")
    if not model_dir and space_id and Path("/data").is_dir() and os.access("/data", os.W_OK):
        model_dir = "/data/dlapp-models"  # a Space's persistent storage survives restarts
    hub = os.environ.get("DLAPP_HUB_MODELS", "")
    training = _training(space_id)
    public = space_id is not None or training != "on"
    return Settings(
        data_dir=Path(data_dir).expanduser() if data_dir else None,
        model_dir=Path(model_dir).expanduser() if model_dir else user_cache_dir() / "models",
        shipped_model_dir=shipped_model_dir(),
        training=training,
        admin_password=os.environ.get("DLAPP_ADMIN_PASSWORD") or os.environ.get("DLAPP_TRAINING_PASSWORD") or None,
        # Public: `transfer` fits its head for 100 cheap epochs; DLAPP_TRAIN_TIME_S bounds what any run costs
        max_epochs=_int("DLAPP_MAX_EPOCHS", 100 if public else 200),
        # Public: the Train tab's default runs (cifar10 1,000/class, imdb 3,000/class) and no more
        max_train_examples=_int("DLAPP_MAX_TRAIN_EXAMPLES", 10_000 if public else 0),
        # 25 MP decoded (75 MB as RGB); larger phone JPEGs, up to 200 MP, decode reduced under it (images.py)
        max_image_pixels=_int("DLAPP_MAX_IMAGE_PIXELS", 25_000_000),
        max_text_chars=_int("DLAPP_MAX_TEXT_CHARS", 50_000),  # IMDB's longest review is ~14k
        max_upload_mb=_int("DLAPP_MAX_UPLOAD_MB", 50),
        # 2 GB: ten full collections (200 MB each), or a few uploads and checkpoints, on a Space's 50 GB disk
        storage_mb=_int("DLAPP_STORAGE_MB", 2048),
        space_id=space_id,
        space_hardware=os.environ.get("SPACE_HARDWARE") or None,
        hub_models=tuple(r.strip() for r in hub.split(",") if r.strip()),
        # Gradio's own default: a local run is reached from this machine only; a Space's proxy needs every
        # interface. GRADIO_SERVER_NAME=0.0.0.0 opens a local run to the network.
        server_name=os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if space_id else "127.0.0.1"),
        server_port=_int("GRADIO_SERVER_PORT", 7860),
        # 2 minutes of fitting: the default runs (and `transfer` on a collection) finish well within it on a
        # Space's CPU, and a visitor waiting in the queue waits at most this long per run ahead
        train_time_s=_int("DLAPP_TRAIN_TIME_S", 120 if public else 0),
        session_models=max(1, _int("DLAPP_SESSION_MODELS", 3)),  # three to compare, few enough to fit the budget
        tf_config=os.environ.get("TF_CONFIG") or None,
        # Longer than any one step of any preset on a slow CPU, short enough that a dead worker is noticed
        worker_timeout_s=_int("DLAPP_WORKER_TIMEOUT_S", 300),
    )
