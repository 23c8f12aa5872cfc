"""Shared fixtures: a private copy of the shipped models, and the real app on a free port.

Every test runs with a user cache of its own (XDG_CACHE_HOME, DLAPP_MODEL_DIR in a temporary folder) and the
shipped models as git tracks them (DLAPP_SHIPPED_MODEL_DIR, a copy): no test reads or writes ~/.cache or models/.

The helpers behind them (and the synthetic inputs) live in dlapp.testing, which tests import directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from dlapp.testing import (  # noqa: E402  after the env defaults
    BROWSER_ARGS,
    CHROMIUM,
    DATA_DIR,
    LONG_MODEL_ID,
    AppServer,
    copy_shipped_models,
    copy_under_id,
)


@pytest.fixture(scope="session")
def shipped_dir(tmp_path_factory) -> Path:
    """A private copy of the shipped models as git tracks them (tests never touch the repo's models/)."""
    return copy_shipped_models(tmp_path_factory.mktemp("shipped"))


@pytest.fixture(scope="session", autouse=True)
def isolated_session(tmp_path_factory, shipped_dir):
    """Before any server a module or session fixture starts: the session's own user cache and shipped models."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("session-cache")))
        mp.delenv("DLAPP_MODEL_DIR", raising=False)
        mp.setenv("DLAPP_SHIPPED_MODEL_DIR", str(shipped_dir))
        yield


CLIENT_TIMEOUT_S = 60  # a hung server still fails the test; a slow answer on a loaded machine does not


@pytest.fixture(scope="session", autouse=True)
def patient_clients():
    """gradio_client's Client sends a call with httpx's default 5 s timeout (its send_data and uploads pass none),
    where a browser waits. On a loaded 2-core machine a queue join once took longer, while another visitor's
    training started (a GC pause, the GIL, TensorFlow's threads on both cores): the tests check the answer, not
    how fast it came (tests/test_gc_pauses.py covers the pause). A test that sets its own timeout keeps it."""
    from gradio_client import Client

    original = Client.__init__

    def patient(self, *args, httpx_kwargs: dict | None = None, **kwargs):
        original(self, *args, httpx_kwargs={"timeout": CLIENT_TIMEOUT_S, **(httpx_kwargs or {})}, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Client, "__init__", patient)
        yield


@pytest.fixture(autouse=True)
def isolated_user_cache(tmp_path_factory, shipped_dir, monkeypatch) -> None:
    """A fresh user cache for each test, over the git-tracked shipped models; app servers and subprocesses
    that a test starts inherit it."""
    cache = tmp_path_factory.mktemp("user-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(cache / "dlapp" / "models"))
    monkeypatch.setenv("DLAPP_SHIPPED_MODEL_DIR", str(shipped_dir))


@pytest.fixture()
def model_dir(tmp_path, monkeypatch) -> Path:
    """An empty model cache for this test, set as DLAPP_MODEL_DIR."""
    d = tmp_path / "models"
    d.mkdir()
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(d))
    return d


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The real app (python app.py) on a free port: an empty user cache over the shipped models. Mark users `app`."""
    server = AppServer(tmp_path_factory.mktemp("app") / "models")
    yield server
    server.stop()
    server.assert_no_traceback()


@pytest.fixture(scope="session")
def client(app_server):
    """A gradio_client Client on `app_server`. Mark users `app`."""
    from gradio_client import Client

    return Client(app_server.url, verbose=False)


# ---------------------------------------------------------------- deployments that several modules share
# Each app start costs ~10 s of CPU, and its warm-up more, on CI's two cores: one server per kind of deployment
# for the whole run, not one per module. A module that uses one names it through a fixture of its own.

class PatientServer(AppServer):
    """The app, given 10 minutes to start: on the shared 2-core machine, beside a long training, 2 are not enough
    (and a shared server that failed to start fails every module that uses it)."""

    def wait_ready(self, timeout: float = 600) -> None:
        super().wait_ready(timeout)


@pytest.fixture(scope="session")
def pristine_server(tmp_path_factory):
    """The app over the shipped models plus a copy of cifar10-fast under LONG_MODEL_ID, for tests that read what it
    shows: none of them trains, deletes, or changes a default on it."""
    models = copy_shipped_models(tmp_path_factory.mktemp("pristine") / "models")
    copy_under_id(models, "cifar10-fast", LONG_MODEL_ID)
    server = PatientServer(models)
    yield server
    server.stop()
    server.assert_no_traceback()


@pytest.fixture(scope="session")
def closed_space_server(tmp_path_factory):
    """The app as a Hugging Face Space runs it for visitors when its owner switched training off: SPACE_ID set,
    DLAPP_TRAINING=off, no admin password (a Space's default, private training, is `private_space_server`);
    the user's folder is a copy of the shipped models, so that a change to them would show."""
    server = PatientServer(copy_shipped_models(tmp_path_factory.mktemp("closed-space") / "models"),
                           env={"SPACE_ID": "someone/dlapp", "SPACE_HARDWARE": "cpu-basic", "DLAPP_ADMIN_PASSWORD": "",
                                "DLAPP_TRAINING_PASSWORD": "", "DLAPP_TRAINING": "off"})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def private_space_server(tmp_path_factory):
    """The app as a Space runs it by default (SPACE_ID set, no password, DLAPP_TRAINING unset: each visitor trains
    privately), with the real data sets."""
    server = PatientServer(tmp_path_factory.mktemp("private-space") / "models",
                           {"SPACE_ID": "someone/dlapp", "DLAPP_TRAINING": None, "DLAPP_ADMIN_PASSWORD": None,
                            "DLAPP_TRAINING_PASSWORD": None, "DLAPP_DATA_DIR": str(DATA_DIR) if DATA_DIR else None})
    yield server
    server.stop()
    server.assert_no_traceback()


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


@pytest.fixture()
def page(browser, app_server):
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(app_server.url)
    page.locator("#image-input").wait_for(timeout=60_000)
    yield page
    page.close()
