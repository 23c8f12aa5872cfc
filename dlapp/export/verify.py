"""Every export is checked before it is offered: re-loaded in a fresh process with its own runtime
(run_check.py), run on held-out examples, and compared with the Keras model.

Float formats need top-1 agreement of at least limits.EXPORT_MIN_AGREEMENT; int8 may lose at most
limits.EXPORT_MAX_INT8_DROP of accuracy. The held-out examples are the test split of the model's
data set from DLAPP_DATA_DIR when it is there, else the examples shipped in dlapp/ (samples.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import limits
from ..errors import ExportCheckError

RUN_CHECK = Path(__file__).with_name("run_check.py")


@dataclass(frozen=True)
class HeldOut:
    x: np.ndarray  # uint8 images (N, H, W, C) or reviews (N,) as an object array of str
    y: np.ndarray | None  # class indices, when known
    source: str  # in words, for the README: which examples, from where
    total: int  # examples the source has (x may be a sample of them)


@dataclass(frozen=True)
class Check:
    """What the fresh process gave, compared with the Keras model."""

    examples: int
    source: str
    agreement: float  # top-1 agreement with the Keras model, 0..1
    max_prob_diff: float  # largest |p_export - p_keras| over every class and example
    keras_accuracy: float | None
    export_accuracy: float | None
    seconds: float  # the fresh process's time to run every example
    passed: bool
    reason: str  # why it failed ("" when it passed)

    def figures(self) -> list[tuple[str, str]]:
        out = [("held-out examples", f"{self.examples:,} ({self.source})"),
               ("top-1 agreement with Keras", f"{self.agreement:.2%}"),
               ("largest probability difference", f"{self.max_prob_diff:.2g}")]
        if self.keras_accuracy is not None and self.export_accuracy is not None:
            out += [("accuracy: Keras / this export", f"{self.keras_accuracy:.2%} / {self.export_accuracy:.2%}"),
                    ("accuracy change", f"{100 * (self.export_accuracy - self.keras_accuracy):+.2f} points")]
        return out + [("passed", "yes" if self.passed else f"no: {self.reason}")]


def kept_examples(card, path: Path | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(uint8 images, class indices) of the test examples kept beside an image model (`<id>.examples.npz`,
    explain/examples.py), if that file is there and was written for this model's data; else None."""
    if path is None or card.task != "image":
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["fingerprint"]) != card.dataset.fingerprint or len(f["index"]) == 0:
                return None
            x, y = f["x"], f["y"].astype(np.int64)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError):  # truncated, or not ours: the other sources still serve
        return None
    return (x[..., None] if x.ndim == 3 else x), y


# A sample of a built-in test split depends on the data set, not on the model: exporting every model to every
# format (the Models tab, tests/test_export.py) reads cifar10.npz (2 s of CPU) once per sample size, not per export.
_HELD_OUT: dict[tuple, HeldOut] = {}
_HELD_OUT_LOCK = threading.Lock()  # exports from several visitors at once


def held_out(card, data_dir: Path | None, *, limit: int | None, seed: int = 0, kept: Path | None = None) -> HeldOut:
    """Up to `limit` test examples of the model's data set (a seeded sample, every class); for a model trained
    on uploaded data (not kept), the test examples kept beside it (`kept`, labelled); else the shipped examples."""
    from ..data import BUILTINS, load_dataset

    name = card.dataset.name
    have = data_dir is not None and name in BUILTINS and (data_dir / BUILTINS[name].file_name).exists()
    if have:
        stat = (data_dir / BUILTINS[name].file_name).stat()
        key = (name, str(data_dir), stat.st_mtime_ns, stat.st_size, limit, seed)
        with _HELD_OUT_LOCK:
            if (cached := _HELD_OUT.get(key)) is not None:
                return cached
        data = load_dataset(name, data_dir=data_dir)
        x, y, total = data.x_test, np.asarray(data.y_test).reshape(-1), len(data.x_test)
        if x.ndim == 3:
            x = x[..., None]
        if limit is not None and limit < total:  # IMDB's test file lists every negative review first
            pick = np.sort(np.random.default_rng(seed).choice(total, limit, replace=False))
            x, y = x[pick], y[pick]
        source = f"{name} test split, DLAPP_DATA_DIR" + ("" if len(x) == total else f", a seeded sample of {total:,}")
        held = HeldOut(x, y, source, total)
        if limit is not None and limit <= limits.EXPORT_CHECK_EXAMPLES:  # a few MB each, never a whole test split
            with _HELD_OUT_LOCK:
                while len(_HELD_OUT) >= 4:  # the oldest goes
                    _HELD_OUT.pop(next(iter(_HELD_OUT)))
                _HELD_OUT[key] = held
        return held
    if (own := kept_examples(card, kept)) is not None:
        return HeldOut(own[0], own[1], "its own test examples, kept beside the model (its data set is not here)",
                       len(own[1]))
    if card.task == "text":
        from ..samples import EXAMPLE_REVIEWS

        return HeldOut(np.array(EXAMPLE_REVIEWS, dtype=object), None, "the reviews shipped in dlapp/samples.py",
                       len(EXAMPLE_REVIEWS))
    from ..images import load_for_model
    from ..settings import PACKAGE_DIR

    paths = sorted((PACKAGE_DIR / "examples").glob("cifar10-test-*.png"))
    h, w, c = card.input.shape
    x = np.stack([load_for_model(p, (h, w), c, max_pixels=1 << 24) for p in paths])
    names = [p.stem.split("-", 3)[3] for p in paths]
    y = np.array([card.class_names.index(n) for n in names]) if set(names) <= set(card.class_names) else None
    return HeldOut(x, y, "the CIFAR-10 test images shipped in dlapp/examples/", len(paths))


_LAST: dict[tuple, np.ndarray] = {}  # one entry: exporting a model to several formats asks for its answers once


def keras_probabilities(model, x: np.ndarray, task: str) -> np.ndarray:
    """The Keras model's probabilities for `x` (N, K), batches of 256."""
    import hashlib

    from ..backend import tf

    raw = "\0".join(map(str, x)).encode("utf-8", "surrogatepass") if x.dtype.kind in "OU" else x.tobytes()
    key = (id(model), x.shape, hashlib.sha256(raw).hexdigest())
    if key in _LAST:
        return _LAST[key]
    from ..backend import compiled

    spec = tf.TensorSpec((None,), tf.string) if task == "text" else tf.TensorSpec((None, *x.shape[1:]), tf.uint8)
    run = compiled(model, spec)  # one graph, as the app serves it (eager string ops are slow)
    out = []
    for i in range(0, len(x), 256):
        batch = tf.constant(x[i:i + 256].astype(object)) if task == "text" else x[i:i + 256]
        out.append(np.asarray(run(batch), np.float32))
    _LAST.clear()
    _LAST[key] = np.concatenate(out)
    return _LAST[key]


def run_fresh(fmt: str, folder: Path, x: np.ndarray) -> tuple[np.ndarray, float]:
    """The export's probabilities from a fresh Python process (run_check.py), and its seconds.

    Raises:
        ExportCheckError: the process failed (the export does not load or run), or imported dlapp or keras.
    """
    with tempfile.TemporaryDirectory(prefix="dlapp-check-") as tmp:
        outputs = Path(tmp) / "outputs.npz"
        if x.dtype.kind in "OU":  # reviews
            inputs = Path(tmp) / "inputs.json"
            inputs.write_text(json.dumps([str(t) for t in x]), encoding="utf-8")
        else:
            inputs = Path(tmp) / "inputs.npz"
            np.savez(inputs, x=x)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        flags = ["-I"]  # isolated: no PYTHONPATH, no user site, not the current folder: dlapp is not importable
        if fmt == "keras":  # the one format that is a Keras file: Keras and dlapp's layers load it
            import dlapp

            flags, env["PYTHONPATH"] = [], str(Path(dlapp.__file__).resolve().parents[1])
        timeout = max(limits.EXPORT_CHECK_TIMEOUT_S, len(x) * limits.EXPORT_CHECK_S_PER_EXAMPLE)
        try:
            proc = subprocess.run([sys.executable, *flags, str(RUN_CHECK), fmt, str(folder), str(inputs),
                                   str(outputs)], capture_output=True, text=True, cwd=tmp, env=env,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ExportCheckError(f"The {fmt} export did not answer {len(x):,} examples within "
                                   f"{timeout:.0f} s in a fresh process; it is not offered."
                                   ) from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise ExportCheckError(f"The {fmt} export does not run in a fresh process ({last[:300]}); "
                                   "it is not offered.")
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        if fmt != "keras" and report["imported"]:
            raise ExportCheckError(f"The check of the {fmt} export imported {', '.join(report['imported'])}; "
                                   "it must run with its runtime alone.")
        with np.load(outputs) as z:
            return z["probs"], float(report["seconds"])


def _as_classes(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, np.float32)
    return np.concatenate([1 - p, p], axis=1) if p.shape[1] == 1 else p


def compare(fmt: str, reference: np.ndarray, got: np.ndarray, data: HeldOut, seconds: float) -> Check:
    """The verdict: float formats by agreement, int8 by its accuracy drop (agreement without labels)."""
    ref, out = _as_classes(reference), _as_classes(got)
    if out.shape != ref.shape:
        return Check(len(ref), data.source, 0.0, float("inf"), None, None, seconds, False,
                     f"it answers with shape {out.shape[1:]}, the Keras model with {ref.shape[1:]}")
    agreement = float(np.mean(ref.argmax(1) == out.argmax(1)))
    diff = float(np.max(np.abs(ref - out)))
    keras_acc = export_acc = None
    if data.y is not None:
        keras_acc, export_acc = float(np.mean(ref.argmax(1) == data.y)), float(np.mean(out.argmax(1) == data.y))
    if fmt == "litert-int8" and keras_acc is not None:
        drop = keras_acc - export_acc
        allowed = max(limits.EXPORT_MAX_INT8_DROP, 1 / len(ref))  # a split under 100: one example's worth
        passed = drop <= allowed + 1e-9
        reason = "" if passed else (f"int8 loses {100 * drop:.2f} points of accuracy (at most {100 * allowed:.2g} "
                                    "allowed" + ("" if allowed == limits.EXPORT_MAX_INT8_DROP else
                                                 f": one of its {len(ref)} examples") + ")")
    else:
        passed = agreement >= limits.EXPORT_MIN_AGREEMENT
        reason = "" if passed else (f"its top-1 answer agrees with the Keras model on {agreement:.2%} of "
                                    f"{len(ref):,} examples (at least {limits.EXPORT_MIN_AGREEMENT:.1%} needed)")
    return Check(len(ref), data.source, agreement, diff, keras_acc, export_acc, seconds, passed, reason)
