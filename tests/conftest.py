"""Shared fixtures: real data (DLAPP_DATA_DIR), a private copy of the shipped models,
and the real app on a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
DATA_DIR = Path(os.environ["DLAPP_DATA_DIR"]) if os.environ.get("DLAPP_DATA_DIR") else None
HAVE_DATA = DATA_DIR is not None and (DATA_DIR / "cifar10.npz").is_file() and (DATA_DIR / "imdb.jsonl.gz").is_file()
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="DLAPP_DATA_DIR with cifar10.npz and imdb.jsonl.gz is not set")


def copy_shipped_models(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for p in (REPO / "models").iterdir():
        if p.is_file() and p.suffix in (".keras", ".json"):
            shutil.copy2(p, dest / p.name)
    return dest


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    def __init__(self, model_dir: Path, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.model_dir = model_dir
        self.log = model_dir.parent / f"app-{self.port}.log"
        full_env = {**os.environ, "GRADIO_SERVER_PORT": str(self.port), "GRADIO_SERVER_NAME": "127.0.0.1",
                    "DLAPP_MODEL_DIR": str(model_dir), **(env or {})}
        self.proc = subprocess.Popen([sys.executable, str(REPO / "app.py")], cwd=REPO, env=full_env,
                                     stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 120) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited early:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "gradio_api/info", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"app not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The real app (python app.py) on a free port, over a copy of the shipped models."""
    models = copy_shipped_models(tmp_path_factory.mktemp("app") / "models")
    server = AppServer(models)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def client(app_server):
    from gradio_client import Client

    return Client(app_server.url, verbose=False)
