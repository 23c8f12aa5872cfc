"""The export centre: a cached model as one .zip for another runtime, checked before it is offered.

    export_model("cifar10-fast", "litert-int8") -> ExportResult (the archive, its figures)

Formats: keras (the .keras file), savedmodel (TensorFlow, raw input in), litert (float32),
litert-int8 (full-integer, uint8 in and out; image models), onnx. Each archive holds the model,
labels.json, an example script (classify.py) that needs only its runtime, and a README with
the verification figures (verify.py). No Gradio here; TensorFlow is imported on first use.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import limits
from .. import settings as settings_mod
from ..errors import ExportCheckError, MissingDependencyError, UsageError

FORMATS: tuple[str, ...] = ("keras", "savedmodel", "litert", "litert-int8", "onnx")
TEXT_FORMATS: tuple[str, ...] = ("keras", "savedmodel", "litert", "onnx")  # int8 crashes the converter on an RNN
# The export runtimes, as requirements-export.txt and pyproject.toml's "export" extra pin them (a test checks).
EXPORT_PINS = {"tf2onnx": "1.17.0", "onnx": "1.23.2", "onnxruntime": "1.32.0", "ai-edge-litert": "2.3.0"}
# format -> (module, pip name) the export and its check need beyond TensorFlow
NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "litert": (("ai_edge_litert", "ai-edge-litert"),),
    "litert-int8": (("ai_edge_litert", "ai-edge-litert"),),
    "onnx": (("tf2onnx", "tf2onnx"), ("onnx", "onnx"), ("onnxruntime", "onnxruntime")),
}


@dataclass(frozen=True)
class ExportResult:
    model_id: str
    format: str
    path: Path  # the .zip archive
    archive_bytes: int
    model_bytes: int  # the model file (or SavedModel folder) alone
    changes: tuple[str, ...]  # what differs from the served Keras model, and why
    figures: tuple[tuple[str, str], ...]  # the verification, as written into the README
    agreement: float
    max_prob_diff: float
    keras_accuracy: float | None
    export_accuracy: float | None
    examples: int
    source: str  # which held-out examples
    check_seconds: float = field(default=0.0)  # the fresh process's time over every example

    def summary(self) -> str:
        """Two lines for the CLI and the UI."""
        acc = (f"; accuracy {self.keras_accuracy:.2%} -> {self.export_accuracy:.2%}"
               if self.keras_accuracy is not None and self.export_accuracy is not None else "")
        return (f"{self.path} ({self.archive_bytes / 1e6:.2f} MB; model {self.model_bytes / 1e6:.2f} MB)\n"
                f"checked in a fresh process on {self.examples:,} examples ({self.source}): top-1 agreement "
                f"{self.agreement:.2%}, largest probability difference {self.max_prob_diff:.2g}{acc}")


def formats_for(task: str) -> tuple[str, ...]:
    """The formats a model of `task` exports to; none for a task dlapp does not export (a generator)."""
    return {"image": FORMATS, "text": TEXT_FORMATS}.get(task, ())


def missing_packages(fmt: str) -> list[str]:
    """The pip names of what `fmt` needs and this Python lacks."""
    return [pip for module, pip in NEEDS.get(fmt, ()) if importlib.util.find_spec(module) is None]


def missing_message(fmt: str, packages: list[str]) -> str:
    """What to install, exactly, when `packages` (pip names) are missing for `fmt`."""
    exact = " ".join(f"{p}=={EXPORT_PINS[p]}" for p in packages)
    return (f"Exporting to {fmt} needs {', '.join(packages)}, which {'is' if len(packages) == 1 else 'are'} not "
            f"installed. Install the export runtimes with: pip install 'dlapp[export]' (from a checkout: "
            f"pip install -r requirements-export.txt), or just: pip install {exact}")


def default_path(model_id: str, fmt: str) -> Path:
    """Where an archive goes without `out`: the user's model folder, in .exports/ (never the checkout)."""
    return settings_mod.load().model_dir / ".exports" / f"{model_id}-{fmt}.zip"


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def check_request(model_id: str, fmt: str, out: Path | str | None = None, *, store=None) -> Path:
    """The archive path for an export request, checked without loading TensorFlow.

    Raises:
        UsageError: an invalid model id, an unknown format or one that does not apply to the model's
            task, or an `out` that is not a .zip (nor a folder).
    """
    from ..errors import ModelNotFoundError
    from ..store import check_model_id, get_store

    check_model_id(model_id)
    if fmt not in FORMATS:
        raise UsageError(f"Unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}.")
    try:
        task = (store or get_store()).card(model_id).task
    except ModelNotFoundError:
        task = None  # said when the export starts, as every command says it
    if task is not None and not formats_for(task):
        raise UsageError(f"{model_id} is a {task} model; dlapp exports image and text models only.")
    if task is not None and fmt not in formats_for(task):
        raise UsageError(f"{model_id} is a {task} model; it exports to {', '.join(formats_for(task))} "
                         "(full-integer int8 of a recurrent network crashes TensorFlow's converter).")
    target = Path(out) if out is not None else default_path(model_id, fmt)
    if target.is_dir():
        target = target / f"{model_id}-{fmt}.zip"
    if target.suffix != ".zip":
        raise UsageError(f"An export is a .zip archive; {target.name} does not end in .zip.")
    return target


def export_model(model_id: str, fmt: str, out: Path | str | None = None, *, examples: int | None = None,
                 store=None) -> ExportResult:
    """Export a cached model to `fmt`, check it in a fresh process, and write the archive.

    Args:
        model_id: a cached model (shipped or the user's).
        fmt: one of FORMATS (text models: TEXT_FORMATS).
        out: the .zip to write (a folder: `<id>-<fmt>.zip` inside it); default `default_path`.
        examples: held-out examples to check on; default limits.EXPORT_CHECK_EXAMPLES for float
            formats and the whole test split for litert-int8.

    Raises:
        UsageError: an unknown format, or one that does not apply to the model's task.
        ModelNotFoundError, ModelLoadError: as store.load.
        MissingDependencyError: an export runtime is not installed (the message says what to install).
        ExportCheckError: the export fails its check; nothing is written.
    """
    from ..store import get_store

    store = store or get_store()
    target = check_request(model_id, fmt, out, store=store)
    card = store.card(model_id)
    if missing := missing_packages(fmt):
        raise MissingDependencyError(missing_message(fmt, missing))
    if examples is not None and examples < 1:
        raise UsageError(f"Check on at least 1 example, got {examples}.")

    from . import verify
    from .archive import readme, write_labels

    model = store.load(model_id)
    settings = settings_mod.load()
    limit = examples or (None if fmt == "litert-int8" else limits.EXPORT_CHECK_EXAMPLES)
    kept = store.model_path(model_id).with_name(f"{model_id}.examples.npz")  # explain/examples.py's file
    data = verify.held_out(card, settings.data_dir, limit=limit, kept=kept)
    with tempfile.TemporaryDirectory(prefix="dlapp-export-") as tmp:
        folder = Path(tmp) / f"{model_id}-{fmt}"
        folder.mkdir()
        model_file, changes, inputs = _write_model(model, card, fmt, folder, settings, store.model_path(model_id),
                                                   kept)
        write_labels(folder, list(card.class_names))
        reference = verify.keras_probabilities(model, data.x, card.task)
        got, seconds = verify.run_fresh(fmt, folder, data.x)
        check = verify.compare(fmt, reference, got, data, seconds)
        if not check.passed:
            raise ExportCheckError(f"The {fmt} export of {model_id} failed its check: {check.reason}. "
                                   "It is not offered.")
        (folder / "README.md").write_text(readme(model_id=model_id, fmt=fmt, task=card.task, inputs=inputs,
                                                 changes=changes, figures=check.figures(),
                                                 text_rules=(folder / "vocabulary.json").exists()))
        model_bytes = _size(model_file)
        _zip_atomic(folder, target)
    return ExportResult(model_id=model_id, format=fmt, path=target, archive_bytes=target.stat().st_size,
                        model_bytes=model_bytes, changes=tuple(changes), figures=tuple(check.figures()),
                        agreement=check.agreement, max_prob_diff=check.max_prob_diff,
                        keras_accuracy=check.keras_accuracy, export_accuracy=check.export_accuracy,
                        examples=check.examples, source=check.source, check_seconds=check.seconds)


def _write_model(model, card, fmt: str, folder: Path, settings, keras_file: Path,
                 kept: Path | None = None) -> tuple[Path, list[str], str]:
    """Write the model file(s) and classify.py into `folder`: (model path, changes, the input in words)."""
    from . import build
    from .archive import example_script

    shape = tuple(card.input.shape)
    (folder / "classify.py").write_text(example_script(card.task, fmt, shape))
    if fmt == "keras":
        path = folder / "model.keras"
        shutil.copyfile(keras_file, path)
        dims = ", ".join(map(str, shape))
        return path, [], f"uint8 images (N, {dims})" if card.task == "image" else "raw review strings (N,)"
    if card.task == "image":
        words = f"uint8 images (N, {', '.join(map(str, shape))}), pixels 0-255"
        if fmt == "savedmodel":
            build.write_savedmodel(model, folder / "saved_model", build.tf.TensorSpec((None, *shape), build.tf.uint8))
            return folder / "saved_model", [], words + '; signature "serving_default"'
        portable, changes = build.portable_image_model(model, erf_gelu=fmt == "onnx")
        if fmt == "onnx":
            build.write_onnx(build.image_function(portable, batch=None), folder / "model.onnx")
            return folder / "model.onnx", changes, words
        calibration, whose = _calibration_images(card, settings, kept) if fmt == "litert-int8" else (None, "")
        dtype = build.tf.float32 if calibration is not None else build.tf.uint8  # int8: quantized from float pixels
        fn = build.image_function(portable, batch=1, dtype=dtype)
        build.write_litert(fn, folder / "model.tflite", calibration=calibration)
        if calibration is not None:
            changes = [*changes, f"full-integer int8 weights and activations, ranges from {len(calibration)} "
                       f"{whose}; uint8 pixels in, uint8 probabilities out (probability = q / 256)"]
        return folder / "model.tflite", changes, words.replace("(N,", "(1,") + " (one image per call)"
    if fmt == "savedmodel":
        build.write_savedmodel(model, folder / "saved_model", build.tf.TensorSpec((None,), build.tf.string))
        return folder / "saved_model", [], 'raw review strings (N,); signature "serving_default"'
    build.write_text_rules(model, folder)
    fn = build.text_ids_function(model)
    path = folder / ("model.onnx" if fmt == "onnx" else "model.tflite")
    (build.write_onnx if fmt == "onnx" else build.write_litert)(fn, path)
    changes = ["the token-ids network only: the review's standardisation and vocabulary lookup are "
               "standardize.json and vocabulary.json, applied by `encode` in classify.py",
               "one review per call (batch size 1)", "the temperature's log1p(-p) written as log(1 - p)"]
    return path, changes, f"int64 token ids (1, {fn.input_signature[0].shape[1]}) from classify.py's encode(review)"


def _calibration_images(card, settings, kept: Path | None = None):
    """(float32 pixels, whose in words): limits.EXPORT_CALIBRATION_IMAGES training images that set the int8
    ranges; for a model trained on uploaded images (dlapp keeps none of them), its own test examples kept
    beside it, the only images of its kind there are."""
    import numpy as np

    from ..data import BUILTINS, load_dataset
    from .verify import kept_examples

    name = card.dataset.name
    if settings.data_dir is None or name not in BUILTINS or not (settings.data_dir / BUILTINS[name].file_name).exists():
        if name not in BUILTINS and (own := kept_examples(card, kept)) is not None:
            return own[0].astype(np.float32), ("of its test examples kept beside it (the uploaded training images "
                                               "are not kept; the check then runs on these same images)")
        raise UsageError(f"An int8 export sets its ranges from {limits.EXPORT_CALIBRATION_IMAGES} of the model's "
                         f"training images; set DLAPP_DATA_DIR to the folder with {name}'s data.")
    x = load_dataset(name, data_dir=settings.data_dir).x_train
    pick = np.random.default_rng(0).choice(len(x), limits.EXPORT_CALIBRATION_IMAGES, replace=False)
    x = x[np.sort(pick)]
    return (x[..., None] if x.ndim == 3 else x).astype(np.float32), "training images"


def _zip_atomic(folder: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=target.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(folder.parent).as_posix())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["EXPORT_PINS", "FORMATS", "TEXT_FORMATS", "ExportCheckError", "ExportResult", "MissingDependencyError",
           "default_path", "export_model", "formats_for", "missing_packages"]
