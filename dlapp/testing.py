"""Helpers for tests and benchmarks: the real app on a free port, and synthetic/hostile inputs
(nothing from a data set).

Imports neither Gradio nor TensorFlow at module level (Keras only inside `tiny_model`);
needs pytest only for `needs_data` and `error_of`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .card import ModelCard

REPO = Path(__file__).resolve().parents[1]  # the checkout: app.py and the shipped models/

# Real data for the data-dependent tests (DLAPP_DATA_DIR, as tests/run.sh sets it).
DATA_DIR = Path(os.environ["DLAPP_DATA_DIR"]) if os.environ.get("DLAPP_DATA_DIR") else None
HAVE_DATA = DATA_DIR is not None and (DATA_DIR / "cifar10.npz").is_file() and (DATA_DIR / "imdb.jsonl.gz").is_file()


def __getattr__(name: str) -> Any:
    if name == "needs_data":  # built on first use, so that importing this module needs no pytest
        import pytest

        mark = pytest.mark.skipif(not HAVE_DATA, reason="DLAPP_DATA_DIR with cifar10.npz and imdb.jsonl.gz is not set")
        globals()["needs_data"] = mark
        return mark
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- the real app ---------------------------------------------------------------------------------------------------

def copy_shipped_models(dest: Path) -> Path:
    """Copy the shipped models into `dest` as git tracks them (HEAD's version of a changed file; an untracked
    one is never copied), so tests see what a fresh clone has. Outside a checkout: the installed models."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        git = ["git", "-C", str(REPO)]
        tracked = subprocess.run([*git, "ls-files", "-z", "models"], capture_output=True, check=True).stdout
        changed = subprocess.run([*git, "ls-files", "-z", "-m", "models"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        from .settings import shipped_model_dir

        for p in shipped_model_dir().glob("*"):
            if p.is_file() and p.suffix in (".keras", ".json"):
                shutil.copy2(p, dest / p.name)
        return dest
    changed_paths = set(changed.decode().split("\0"))
    for rel in filter(None, tracked.decode().split("\0")):
        target = dest / Path(rel).name
        if rel in changed_paths:
            target.write_bytes(subprocess.run([*git, "show", f"HEAD:{rel}"], capture_output=True, check=True).stdout)
        else:
            shutil.copy2(REPO / rel, target)
    return dest


LONG_MODEL_ID = "cifar10-fast-a-rather-long-model-id-made-by-a-visitor-2026-12-05"  # tables and pickers must fit it


def copy_under_id(models: Path, source: str, new_id: str) -> None:
    """A copy of model `source` in the folder `models` under `new_id` (its card says the new id)."""
    for ext in (".keras", ".json"):
        shutil.copy(models / f"{source}{ext}", models / f"{new_id}{ext}")
    card = models / f"{new_id}.json"
    card.write_text(card.read_text().replace(f'"{source}"', f'"{new_id}"'))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`python app.py` on a free loopback port with `model_dir` as the user's models (the shipped ones are read
    from DLAPP_SHIPPED_MODEL_DIR or models/, never written); its output goes to a log beside `model_dir`.
    Its user cache (XDG_CACHE_HOME) is a folder beside `model_dir` too, so it never touches ~/.cache.
    An `env` value of None removes that variable."""

    QUIET = {"GRADIO_ANALYTICS_ENABLED": "False"}  # dlapp quiets TensorFlow itself (see dlapp/backend.py)

    def __init__(self, model_dir: Path, env: dict | None = None, *, script: Path = REPO / "app.py"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.model_dir = model_dir
        self.log = model_dir.parent / f"app-{self.port}.log"
        full_env = {**self.QUIET, **os.environ, "GRADIO_SERVER_PORT": str(self.port),
                    "GRADIO_SERVER_NAME": "127.0.0.1", "DLAPP_MODEL_DIR": str(model_dir),
                    "XDG_CACHE_HOME": str(model_dir.parent / "cache"), **(env or {})}
        full_env = {k: v for k, v in full_env.items() if v is not None}
        model_dir.mkdir(parents=True, exist_ok=True)
        self.shipped_dir = Path(full_env["DLAPP_SHIPPED_MODEL_DIR"]) if full_env.get("DLAPP_SHIPPED_MODEL_DIR") \
            else None
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([sys.executable, str(script)], cwd=REPO, env=full_env,
                                         stdout=log, stderr=subprocess.STDOUT)
        try:
            self.wait_ready()
        except BaseException:  # a server that never got ready would outlive the test run, taking a core
            self.stop()
            raise

    def wait_ready(self, timeout: float = 120) -> None:
        """Wait until the server answers /gradio_api/info, the first request a browser makes."""
        def answers() -> bool:
            try:
                with urllib.request.urlopen(self.url + "gradio_api/info", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        self._wait_for(answers, "ready", timeout)

    def wait_warm(self, timeout: float = 300) -> None:
        """Wait until the app says its default models are loaded and compiled (inference.WARM):
        a load measured before that would time the background warm-up too."""
        from .inference import WARM

        self._wait_for(lambda: WARM in self.log.read_text(), "warm", timeout)

    def _wait_for(self, done, what: str, timeout: float) -> None:
        """Poll `done()` every half second; raise with the log's tail if the app exits or time runs out."""
        deadline = time.monotonic() + timeout
        while not done():
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited early:\n{self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"app not {what} in {timeout}s:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.5)

    def store(self):
        """A ModelStore over the same folders as the app's (this process's own instance)."""
        from .settings import shipped_model_dir
        from .store import ModelStore

        return ModelStore(self.model_dir, self.shipped_dir or shipped_model_dir())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def assert_no_traceback(self) -> None:
        """Every error a visitor can cause is answered with a message and logged as one line, never a traceback."""
        log = self.log.read_text()
        assert "Traceback" not in log, log[log.index("Traceback") - 500:][:4000]


def error_of(fn, *args, **kwargs) -> str:
    """The message of the exception that `fn(*args, **kwargs)` must raise."""
    import pytest

    with pytest.raises(Exception) as err:
        fn(*args, **kwargs)
    return str(err.value)


def wait_for_training(client, timeout: float = 300) -> dict:
    """Poll the app's /training_status (through a gradio_client Client) until no training runs."""
    deadline = time.monotonic() + timeout
    snap = {}
    while time.monotonic() < deadline:
        snap = client.predict(api_name="/training_status")
        if snap["state"] != "running":
            return snap
        time.sleep(0.5)
    raise AssertionError(f"training did not finish: {snap}")


# --- tiny models -----------------------------------------------------------------------------------------------------

def tiny_model():
    """A two-class Keras image model on 4x4 uint8 inputs (imports Keras on call)."""
    import keras

    inputs = keras.Input((4, 4, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


def constant_model(store, model_id: str, class_names: list[str], *, bias: tuple[float, float],
                   none_threshold: float | None) -> str:
    """Save a two-class model on 4x4 pictures into `store` that gives every picture the same answer, softmax(bias),
    with a "none of these" threshold: e.g. bias (0, 0) and a threshold of 0.6 decline everything. It has one conv
    stage, so the Image tab's explanations of it run too."""
    import keras

    inputs = keras.Input((4, 4, 3), dtype="uint8")
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu")(keras.layers.Rescaling(1 / 255)(inputs))
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(x)))
    dense.set_weights([np.zeros_like(dense.get_weights()[0]), np.asarray(bias, np.float32)])
    store.save(model, toy_card(class_names=list(class_names), calibration={
        "temperature": 1.0, "fitted_on": 10, "none_threshold": none_threshold}), model_id)
    return model_id


def toy_card(**overrides: Any) -> ModelCard:
    """A model card that fits `tiny_model`. `overrides` replace fields of its JSON form (schema 2); a dict
    given for a nested field (metrics, dataset, input, provenance) is merged into the default one, e.g.
    `toy_card(metrics={"test_accuracy": 0.9})`."""
    data: dict[str, Any] = {
        "schema_version": 2, "task": "image", "preset": "test", "class_names": ["a", "b"],
        "dataset": {"name": "toy"}, "input": {"kind": "image", "dtype": "uint8", "shape": [4, 4, 3]},
        "metrics": {"test_accuracy": 0.5, "test_examples": 4}, "provenance": {},
    }
    for key, value in overrides.items():
        data[key] = {**data[key], **value} if isinstance(data.get(key), dict) and isinstance(value, dict) else value
    return ModelCard.from_json(data)


GENERATOR_REPORT = {"judge": "cifar10-best", "samples": 100, "class_accuracy": 0.61,
                    "per_class_accuracy": {"a": 0.5, "b": 0.72}, "frechet_distance": 12.5, "frechet_floor": 1.5,
                    "frechet_ceiling": 50.0, "frechet_share_of_ceiling": 0.25}


def toy_generator(store, model_id: str = "toy-gan") -> str:
    """Save a real (untrained) conditional generator of 8×8 pictures of two classes into `store`, with a generate
    card: no test accuracy, the requested-class accuracy (61%) as headline, GENERATOR_REPORT as its report."""
    from .nets.gan import build_gan, export

    gan = build_gan(2, latent=8, width=8, side=8, channels=3, aux_weight=0.5, ema=0.999, seed=0)
    store.save(export(gan), toy_card(
        task="generate", preset="fast", input={"kind": "generate", "dtype": "float32", "shape": [8]},
        hyperparameters={"width": 8, "latent": 8},
        metrics={"test_accuracy": None, "test_examples": 100, "report": GENERATOR_REPORT,
                 "headline": {"name": "requested-class accuracy", "value": 0.61}}), model_id)
    return model_id


def loadable_ids(store, task: str | None = None) -> list[str]:
    """Ids of the models `store` lists (newest first) that actually load (hash checked, safe mode)."""
    from .errors import ModelLoadError

    ids = []
    for card in store.list(task):
        try:
            store.load(card.id)
        except ModelLoadError:
            continue
        ids.append(card.id)
    return ids


# --- a hostile-input corpus, built on the fly -----------------------------------------------------------------------

def png_bytes(arr: np.ndarray | None = None, size=(32, 32), mode="RGB", **save) -> bytes:
    if arr is None:
        rng = np.random.default_rng(0)
        arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    img = Image.fromarray(arr) if mode == "RGB" else Image.fromarray(arr).convert(mode)
    buf = io.BytesIO()
    img.save(buf, format="PNG", **save)
    return buf.getvalue()


def encode(img: Image.Image, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims width×height pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def sample_rgb(w=64, h=48) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)
    arr = np.stack([np.tile(x, (h, 1)), np.tile(x[::-1], (h, 1)), np.full((h, w), 90, np.uint8)], axis=-1)
    return Image.fromarray(arr)


def broken_images() -> dict[str, bytes]:
    """Files that must be refused with a clear message."""
    jpeg = encode(sample_rgb(), "JPEG")
    png = encode(sample_rgb(), "PNG")
    return {
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "truncated.png": png[: len(png) // 2],
        "empty.png": b"",
        "random.png": np.random.default_rng(1).integers(0, 255, 4096, dtype=np.uint8).tobytes(),
        "svg.png": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                   b'<rect width="10" height="10"/></svg>',
        "html.png": b"<html><body><script>alert(1)</script></body></html>",
        "text.png": b"just some text, renamed to .png",
        "bomb.png": bomb_png(),
    }


def odd_images() -> dict[str, bytes]:
    """Valid images in unusual modes, sizes and formats: each must get an answer."""
    base = sample_rgb()
    i16 = Image.fromarray((np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20).astype(np.uint16))
    palette_t = base.convert("P", palette=Image.Palette.ADAPTIVE)
    palette_t.info["transparency"] = 0
    frames = [Image.new("RGB", (40, 30), c) for c in ("red", "green", "blue")]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return {
        "gray.png": encode(base.convert("L"), "PNG"),
        "gray-alpha.png": encode(base.convert("LA"), "PNG"),
        "palette.png": encode(base.convert("P"), "PNG"),
        "palette-transparent.png": encode(palette_t, "PNG"),
        "rgba.png": encode(base.convert("RGBA"), "PNG"),
        "cmyk.jpg": encode(base.convert("CMYK"), "JPEG"),
        "16bit.png": encode(i16, "PNG"),
        "one-pixel.png": encode(Image.new("RGB", (1, 1), "white"), "PNG"),
        "strip-10000x10.png": encode(Image.new("RGB", (10000, 10), "white"), "PNG"),
        "animated.gif": gif.getvalue(),
        "image.tiff": encode(base, "TIFF"),
        "image.webp": encode(base, "WEBP"),
        "image.ico": encode(base, "ICO"),
        "image.bmp": encode(base, "BMP"),
    }


def zip_with(entries: dict[str, bytes], path: Path, *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)  # S_IFLNK
            zf.writestr(info, "/etc/passwd")
    return path


def distinct_pngs(n: int, classes=("a", "b"), size: int = 8) -> dict[str, bytes]:
    """`n` small PNGs, no two alike, spread over `classes` as {"<class>/<i>.png": bytes}: thousands of tiny files."""
    entries = {}
    for i in range(n):
        arr = np.zeros((size, size, 3), np.uint8)
        arr.flat[:3] = (i % 256, i // 256 % 256, i // 65536 % 256)  # the index in the first pixel: all distinct
        entries[f"{classes[i % len(classes)]}/{i}.png"] = png_bytes(arr)
    return entries


def write_files(root: Path, entries: dict[str, bytes]) -> Path:
    """Write {"relative/path": bytes} under `root` (the folder twin of `zip_with`)."""
    for name, data in entries.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def bomb_zip(path: Path, *, member: str = "cat/bomb.png", mb: int = 64) -> Path:
    """A .zip whose one member unpacks to `mb` MB of zeros from a few kB: a zip bomb (ratio ~1000:1)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(member, "w") as out:
            zero = bytes(1 << 20)
            for _ in range(mb):
                out.write(zero)
    return path


def class_folder(root: Path, classes=("red", "blue"), per_class=6, size=24) -> Path:
    """A tiny two-colour image-folder data set that a model can actually learn."""
    colours = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = np.clip(np.array(colours.get(cls, (128, 128, 128))) + rng.integers(-25, 25, (size, size, 3)), 0, 255)
            Image.fromarray(arr.astype(np.uint8)).save(root / cls / f"{i}.png")
    return root


# --- the browser (Playwright pages; playwright is imported by the tests' fixtures, not here) -------------------------

SHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags from the machine notes: no sandbox as root, and no background traffic to the closed network.
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage"]


@contextlib.contextmanager
def opened(browser, url: str, width: int, *, height: int = 900):
    """A page of the app at `width` px, ready (the Image tab has loaded), closed afterwards."""
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(url)
        page.locator("#image-input").wait_for(timeout=60_000)
        yield page
    finally:
        page.close()


def screenshot(page, name, **kwargs) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"screenshot-{name}.png"), **kwargs)


def tab(page, name):
    """Open a tab; on a phone Gradio folds the tabs that do not fit into its "…" menu."""
    button = page.get_by_role("tab", name=name)
    if button.is_visible():
        button.click()
        return
    page.locator(".overflow-menu button").first.click()
    page.locator(".overflow-dropdown button").filter(has_text=name).click()


def upload_photo(page, path):
    page.locator("#image-input input[type=file]").set_input_files(str(path))


def toast(page, text):
    from playwright.sync_api import expect

    expect(page.locator(".toast-body").filter(has_text=text).first).to_be_visible()


def set_number(page, elem_id, value):
    box = page.locator(f"#{elem_id} input").first
    if not box.is_visible():  # batch size and the like sit under "Expert settings"
        page.get_by_text("Expert settings").click()
    box.fill(str(value))
    box.press("Tab")


def export_and_download(page, box: str, model_id: str, folder: Path, *, timeout: int) -> Path:
    """In an export box (`box`: "models" or "train", the ids' prefix), export `model_id` as ONNX, wait for its
    check's figures, download the archive into `folder` and return its path."""
    from playwright.sync_api import expect

    page.locator(f"#{box}-export-format input").click()
    page.get_by_role("option", name=re.compile("ONNX")).click()
    page.locator(f"#{box}-export").click()
    result = page.locator(f"#{box}-export-result")
    expect(result).to_contain_text(f"{model_id} as onnx", timeout=timeout)
    expect(result).to_contain_text("top-1 agreement with Keras")
    download = page.locator(f"#{box}-export-download")
    expect(download).to_be_visible()
    with page.expect_download() as info:
        download.click()
    saved = folder / info.value.suggested_filename
    info.value.save_as(saved)
    return saved


def press_start(page, client) -> None:
    """Press the Train tab's Start and wait until the page names the run it started (a run that
    finished before may still be drawn for a tick)."""
    before = (client.predict(api_name="/training_status") or {}).get("id") or 0
    page.locator("#train-start").click()
    page.wait_for_function("""n => [...(document.querySelector('#train-status')?.innerText ?? '')
                                    .matchAll(/#(\\d+)/g)].some(m => Number(m[1]) > n)""", arg=before, timeout=120_000)


def press_stop(page) -> str:
    """Press the Train tab's Stop and return the state the run ends in (within about 50 s)."""
    page.locator("#train-stop").click()
    state = "running"
    for _ in range(200):
        state, _ = progress(page)
        if state != "running":
            break
        page.wait_for_timeout(250)
    return state


def progress(page) -> tuple[str, int]:
    bar = page.locator("#train-progress .dlapp-progress")
    return bar.get_attribute("data-state"), int(bar.get_attribute("data-points") or 0)


def plot_points(page, elem_id: str) -> int:
    """How many data points a Plotly chart (a gr.Plot) has drawn: its markers' SVG paths."""
    return page.locator(f"#{elem_id} .scatterlayer .points path").count()


def click_confusion_cell(page, elem_id: str, true: int, predicted: int) -> None:
    """Click the centre of a cell of a Plotly confusion matrix (plots.confusion_figure), wherever it is drawn."""
    plot = page.locator(f"#{elem_id} .js-plotly-plot")
    plot.scroll_into_view_if_needed()
    n = plot.evaluate("gd => gd.data[0].z.length")
    area = page.locator(f"#{elem_id} .nsewdrag").first.bounding_box()  # the plot area, between the axes
    x = area["x"] + (predicted + 0.5) * area["width"] / n
    y = area["y"] + (true + 0.5) * area["height"] / n  # row 0 on top (the y axis is reversed)
    page.mouse.move(x, y)
    page.wait_for_timeout(300)  # Plotly finds the hovered cell on mouse moves; a click uses it
    page.mouse.click(x, y)


def own_classes_page(browser, url: str, width: int):
    """The Train tab with "your own classes" picked, on a camera-enabled page."""
    context = browser.new_context(viewport={"width": width, "height": 900}, permissions=["camera"])
    page = context.new_page()
    page.goto(url)
    page.locator("#image-input").wait_for(timeout=60_000)
    tab(page, "Train")
    page.locator("#train-data input").click()
    page.get_by_role("option", name=re.compile("your own classes")).click()
    page.locator("#collect-name").wait_for()
    return page


def count_of(page, name: str) -> int:
    found = re.search(rf"{re.escape(name)}: (\d+)", page.locator("#collect-counts").inner_text())
    return int(found.group(1)) if found else 0


def record_until(page, webcam: str, done, timeout_s: float = 60) -> None:
    """Press the webcam's Record, wait until `done()` holds, press Stop."""
    box = page.locator(webcam)
    access, record = box.get_by_text("Click to Access Webcam"), box.locator("button", has_text="Record")
    access.or_(record).first.wait_for()  # the webcam has rendered (an accordion may just have opened)
    if access.count():
        access.click()
    record.click()
    for _ in range(int(timeout_s * 4)):
        if done():
            break
        page.wait_for_timeout(250)
    box.locator("button", has_text="Stop").click()
    assert done(), "the webcam stream never delivered"


def add_class(page, name: str) -> None:
    from playwright.sync_api import expect

    page.locator("#collect-name textarea, #collect-name input").first.fill(name)
    page.locator("#collect-add").click()
    expect(page.locator("#collect-counts")).to_contain_text(f"{name}: 0")


# --- pictures the browser tests upload ------------------------------------------------------------------------------

def a_test_photo(tmp_path: Path) -> Path:
    """A 128-px photo to upload: a CIFAR-10 ship when the data is here, else a drawn picture."""
    from dlapp.tasks import get_task

    picks = get_task("image").examples(data_dir=DATA_DIR, per_class=1, prefer="cifar10")
    arr = picks[8][1] if picks else np.asarray(sample_rgb())  # a ship, if the data is here
    path = tmp_path / "photo.png"
    Image.fromarray(arr).resize((128, 128), Image.Resampling.BICUBIC).save(path)
    return path


def expected_top(app_server: AppServer, path: Path, model_id: str | None = None) -> str:
    """The top label the app's own store gives `path`: what the page must show."""
    from dlapp.inference import get_predictor

    return get_predictor("image", model_id, store=app_server.store()).classify(path, k=1)[0][0]


def a_picture_of_nothing(tmp_path: Path, predictor) -> Path:
    """A flat or smooth 128-px picture that `predictor` (an ImageClassifier) declines, else is unsure of: its answer
    has a note. Chosen by asking the model, so a retrained one is tested on what it declines; declined ones first."""
    from .tasks.image import NONE_OF_THESE

    ramp = np.linspace(0, 255, 128, dtype=np.uint8)
    candidates = {"grey": np.full((128, 128, 3), 128, np.uint8), "black": np.zeros((128, 128, 3), np.uint8),
                  "white": np.full((128, 128, 3), 255, np.uint8),
                  "gradient": np.stack([np.tile(ramp, (128, 1))] * 3, -1)}
    noted = []
    for name, arr in candidates.items():
        top = predictor.classify(Image.fromarray(arr), k=5)
        if predictor.note(top):
            noted.append((predictor.top_label(top) != NONE_OF_THESE, name, arr))
    assert noted, f"{predictor.model_id} is sure of every flat picture: {list(candidates)}"
    _, name, arr = sorted(noted, key=lambda n: n[0])[0]  # the first declined one, in the order above
    path = tmp_path / f"{name}.png"
    Image.fromarray(arr).save(path)
    return path
