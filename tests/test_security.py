"""Reliability and security: hostile uploads, crashes, cancels, public-deployment defaults."""

import os
import random
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest
from gradio_client import handle_file

from conftest import AppServer, copy_shipped_models
from corpus import class_folder, zip_with
from dlapp.errors import TrainingCancelled
from dlapp.store import ModelStore
from dlapp.training import TrainConfig, train
from test_api import error_of, wait_for_training

UPLOAD = "upload (.zip of class folders / .csv of reviews)"


def start(client, upload, task="image", preset="seed-cifar10", epochs=1):
    return client.predict(task, UPLOAD, handle_file(str(upload)), 0, preset, "preset default", epochs, 4, 0.001,
                          0.2, "", api_name="/start_training")


@pytest.mark.parametrize("kind,match", [
    ("slip", "outside the archive"), ("link", "symbolic link"), ("many", "entries"),
    ("fake-zip", "not a readable .zip"), ("exe", "'.zip', '.csv', '.jsonl'"),  # Gradio checks file types first
])
def test_hostile_training_uploads_are_refused(client, tmp_path, kind, match):
    if kind == "slip":
        upload = zip_with({"../../escaped.txt": b"x", "a/b.png": b"x"}, tmp_path / "slip.zip")
    elif kind == "link":
        upload = zip_with({"a/ok.png": b"x"}, tmp_path / "link.zip", symlink="a/evil.png")
    elif kind == "many":
        upload = zip_with({f"c{i % 2}/{i}.png": b"" for i in range(10_000)}, tmp_path / "many.zip")
    elif kind == "fake-zip":
        upload = tmp_path / "fake.zip"
        upload.write_text("I am not a zip")
    else:
        upload = tmp_path / "tool.exe"
        upload.write_bytes(b"MZ\x90\x00")
    assert match in error_of(start, client, upload)
    assert client.predict(api_name="/training_status")["state"] != "running"


def test_text_csv_with_wrong_labels_is_refused(client, tmp_path):
    bad = tmp_path / "reviews.csv"
    bad.write_text("text,label\ngood,1\nbad,2\nmeh,3\n")
    assert "exactly 2 label values" in error_of(start, client, bad, task="text", preset="fast")


def test_huge_and_binary_reviews(client):
    assert "limit" in error_of(client.predict, "x" * 1_000_000, None, api_name="/analyze_sentiment")
    assert "binary" in error_of(client.predict, "abc\x00\x01\x02", None, api_name="/analyze_sentiment")
    for odd in ("مرحبا بالعالم " * 100, "🎬🍿😀" * 300, "a\u0301\u0302\u0303" * 2000):
        assert client.predict(odd, None, api_name="/analyze_sentiment")["label"] in ("positive", "negative")


def test_uploads_over_the_size_cap_are_refused(client, tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as f:
        f.write(os.urandom(51 * 2**20))  # DLAPP_MAX_UPLOAD_MB defaults to 50
    message = error_of(client.predict, handle_file(str(big)), None, api_name="/classify_image")
    assert "size" in message.lower() or "large" in message.lower() or "413" in message


@pytest.mark.parametrize("path", ["/etc/passwd", "../../../../etc/passwd", "models/defaults.json",
                                  "dlapp/settings.py"])
def test_only_needed_files_are_served(app_server, path):
    for url in (f"{app_server.url}gradio_api/file={path}", f"{app_server.url}file={path}"):
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = r.read()
        except urllib.error.HTTPError as exc:
            assert exc.code in (403, 404)
            continue
        assert b"root:" not in body and b"DLAPP" not in body and b'"image"' not in body


def test_cancelling_at_random_moments_never_corrupts(model_dir, tmp_path):
    data = str(class_folder(tmp_path / "d", classes=("blue", "red"), per_class=20, size=16))
    config = TrainConfig(data, preset="fast", epochs=3, batch_size=4, image_size=16)
    good = train(config)  # a working model that must survive every cancelled run
    rng = random.Random(7)
    for attempt in range(3):
        cancel = threading.Event()
        stop_at = rng.randint(1, 20)
        seen = []

        def on_event(e):
            if e.kind == "batch":
                seen.append(e)
                if len(seen) >= stop_at:
                    cancel.set()

        with pytest.raises(TrainingCancelled):
            train(config, force=True, on_event=on_event, cancel=cancel)
        store = ModelStore(model_dir)
        assert [c["id"] for c in store.loadable()] == [good.model_id]
        assert store.card(good.model_id)["sha256"] == good.card["sha256"]
        assert not list(model_dir.glob(".tmp-*"))


def test_kill_9_during_training_leaves_a_consistent_cache(tmp_path):
    models = copy_shipped_models(tmp_path / "models")
    before = sorted(p.name for p in models.iterdir())
    server = AppServer(models)
    try:
        from gradio_client import Client

        client = Client(server.url, verbose=False)
        folder = class_folder(tmp_path / "d", classes=("blue", "red"), per_class=40, size=32)
        upload = zip_with({f"d/{p.parent.name}/{p.name}": p.read_bytes() for p in folder.rglob("*.png")},
                          tmp_path / "d.zip")
        start(client, upload, preset="fast", epochs=50)
        deadline = time.monotonic() + 60
        while client.predict(api_name="/training_status").get("epoch", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.3)  # past the first checkpoint, so a save has happened mid-run
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
    finally:
        server.stop()
    store = ModelStore(models)
    store.clean_temp_files()
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == before
    assert store.default_id("image") and store.default_id("text")
    restarted = AppServer(models)
    try:
        from gradio_client import Client

        assert Client(restarted.url, verbose=False).predict("Great!", None, api_name="/analyze_sentiment")["label"]
    finally:
        restarted.stop()


def test_public_space_defaults(monkeypatch):
    from dlapp import settings

    monkeypatch.setenv("SPACE_ID", "someone/dlapp")
    monkeypatch.delenv("DLAPP_TRAINING", raising=False)
    s = settings.load()
    assert not s.training_enabled and s.max_epochs <= 5 and s.max_train_examples > 0
    monkeypatch.setenv("DLAPP_TRAINING", "on")
    assert settings.load().training_enabled


def test_training_gate_and_password(monkeypatch):
    import gradio as gr

    from dlapp.ui import train_tab

    monkeypatch.setenv("DLAPP_TRAINING", "off")
    with pytest.raises(gr.Error, match="switched off"):
        train_tab.start_training("image", "cifar10", None, 5, "seed", None, 1, 32, 0.001, 0.1, "")
    monkeypatch.setenv("DLAPP_TRAINING", "on")
    monkeypatch.setenv("DLAPP_TRAINING_PASSWORD", "open sesame")
    with pytest.raises(gr.Error, match="Wrong training password"):
        train_tab.start_training("image", "cifar10", None, 5, "seed", None, 1, 32, 0.001, 0.1, "guess")


def test_hf_token_is_never_logged(tmp_path):
    secret = "hf_" + "x9" * 16
    models = copy_shipped_models(tmp_path / "models")
    server = AppServer(models, env={"HF_TOKEN": secret, "DLAPP_HUB_MODELS": "nobody/missing", "HF_HUB_OFFLINE": "1"})
    try:
        from gradio_client import Client

        client = Client(server.url, verbose=False)
        client.predict("fine film", None, api_name="/analyze_sentiment")
        info = urllib.request.urlopen(server.url + "gradio_api/info", timeout=5).read()
        page = urllib.request.urlopen(server.url, timeout=5).read()
    finally:
        server.stop()
    assert secret.encode() not in info and secret.encode() not in page
    log = server.log.read_text()
    assert "skipping Hub model nobody/missing" in log and secret not in log
