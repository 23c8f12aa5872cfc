"""Shared fixtures: a private copy of the shipped models, and the real app on a free port.

The helpers behind them (and the synthetic inputs) live in dlapp.testing, which tests import directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from dlapp.testing import BROWSER_ARGS, CHROMIUM, AppServer, copy_shipped_models  # noqa: E402  after the env defaults


@pytest.fixture()
def model_dir(tmp_path, monkeypatch) -> Path:
    """An empty model cache for this test, set as DLAPP_MODEL_DIR."""
    d = tmp_path / "models"
    d.mkdir()
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(d))
    return d


@pytest.fixture(scope="session")
def shipped_dir(tmp_path_factory) -> Path:
    """A private copy of the shipped models (tests never touch the repo's models/)."""
    return copy_shipped_models(tmp_path_factory.mktemp("shipped"))


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The real app (python app.py) on a free port, over a copy of the shipped models. Mark users `app`."""
    models = copy_shipped_models(tmp_path_factory.mktemp("app") / "models")
    server = AppServer(models)
    yield server
    server.stop()
    # Every error a visitor can cause is answered with a message and logged as one line, never a traceback.
    log = server.log.read_text()
    assert "Traceback" not in log, log[log.index("Traceback") - 500:][:4000]


@pytest.fixture(scope="session")
def client(app_server):
    """A gradio_client Client on `app_server`. Mark users `app`."""
    from gradio_client import Client

    return Client(app_server.url, verbose=False)


# ---------------------------------------------------------------- the browser (tests marked `browser`)

@pytest.fixture(scope="module")
def playwright():
    """One Playwright per module: a second sync instance inside the first refuses to start."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: run the README's test command (it installs Debian's chromium).")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
    yield b
    b.close()


@pytest.fixture(scope="module")
def camera_browser(playwright):
    """Chromium with its fake camera (a moving test pattern); pages grant it camera permission."""
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=[
        *BROWSER_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    yield b
    b.close()
