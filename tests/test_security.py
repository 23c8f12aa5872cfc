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

from dlapp.errors import PermissionDeniedError, TrainingCancelled
from dlapp.store import ModelStore
from dlapp.testing import AppServer, class_folder, copy_shipped_models, error_of, loadable_ids, zip_with
from dlapp.training import TrainConfig, train


def start(client, upload, task="image", preset="seed-cifar10", epochs=1) -> dict:
    """Start a training on an upload through the API; returns the job's first snapshot (id, state, message, ...)."""
    return client.predict(task=task, dataset="upload", upload=handle_file(str(upload)), subset=None, preset=preset,
                          epochs=epochs, batch_size=4, learning_rate=0.001, validation_split=0.2, password="",
                          api_name="/start_training")


@pytest.mark.app
@pytest.mark.parametrize("kind,match", [
    ("slip", "outside the archive"), ("link", "symbolic link"), ("many", "entries"),
    ("fake-zip", "not a readable .zip"), ("exe", "dlapp reads a .zip"),  # the upload's suffix picks its reader
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


@pytest.mark.app
def test_text_csv_with_wrong_labels_is_refused(client, tmp_path):
    bad = tmp_path / "reviews.csv"
    bad.write_text("text,label\ngood,1\nbad,2\nmeh,3\n")
    assert "exactly 2 label values" in error_of(start, client, bad, task="text", preset="fast")


@pytest.mark.app
def test_huge_and_binary_reviews(client):
    assert "limit" in error_of(client.predict, "x" * 1_000_000, None, api_name="/analyze_sentiment")
    assert "binary" in error_of(client.predict, "abc\x00\x01\x02", None, api_name="/analyze_sentiment")
    for odd in ("مرحبا بالعالم " * 100, "🎬🍿😀" * 300):  # no word the model knows: no verdict
        assert client.predict(odd, None, api_name="/analyze_sentiment")["label"] == "no verdict"
    assert client.predict("a\u0301\u0302\u0303" * 2000, None, api_name="/analyze_sentiment")["label"] in (
        "positive", "negative")


@pytest.mark.app
def test_uploads_over_the_size_cap_are_refused(client, tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as f:
        f.write(os.urandom(51 * 2**20))  # DLAPP_MAX_UPLOAD_MB defaults to 50
    message = error_of(client.predict, handle_file(str(big)), None, api_name="/classify_image")
    assert "size" in message.lower() or "large" in message.lower() or "413" in message


@pytest.mark.app
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
    for _ in range(3):
        cancel = threading.Event()
        stop_at = rng.randint(1, 20)
        seen = []

        def on_event(e, seen=seen, stop_at=stop_at, cancel=cancel):
            if e.kind == "batch":
                seen.append(e)
                if len(seen) >= stop_at:
                    cancel.set()

        with pytest.raises(TrainingCancelled):
            train(config, force=True, on_event=on_event, cancel=cancel)
        store = ModelStore(model_dir)
        assert loadable_ids(store) == [good.model_id]
        assert store.card(good.model_id).sha256 == good.card.sha256
        assert not list(model_dir.glob(".tmp-*"))


@pytest.mark.app
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
        started = start(client, upload, preset="fast", epochs=50)
        assert started["state"] == "running" and started["id"], started
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
    # every visitor may train, privately (issue #25), within the caps
    assert s.training == "private" and s.public and s.max_epochs <= 100 and s.max_train_examples > 0
    assert s.train_time_s > 0
    monkeypatch.setenv("DLAPP_TRAINING", "on")
    assert settings.load().training == "on"


GATE_ENV = ("SPACE_ID", "DLAPP_TRAINING", "DLAPP_ADMIN_PASSWORD", "DLAPP_TRAINING_PASSWORD")
ACTIONS = ("train", "stop", "delete", "set_default", "push")


def gate(monkeypatch, **env):
    """The settings of a deployment whose gate-related environment is exactly `env`."""
    from dlapp import settings

    for name in GATE_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings.load()


def refusal(action, password, settings, owner=False) -> str:
    """The message `authorize` refuses with ('' when it allows the action)."""
    from dlapp.access import authorize

    try:
        authorize(action, password, settings, owner=owner)
    except PermissionDeniedError as exc:
        return str(exc)
    return ""


def test_a_local_run_without_a_password_allows_everything(monkeypatch):
    local = gate(monkeypatch)
    assert not local.public and local.training_enabled
    for action in ACTIONS:
        assert refusal(action, "", local) == ""


@pytest.mark.parametrize("env", [{"DLAPP_TRAINING": "off"}, {"SPACE_ID": "someone/dlapp", "DLAPP_TRAINING": "off"}])
def test_a_public_deployment_without_a_password_refuses_every_change(monkeypatch, env):
    public = gate(monkeypatch, **env)
    assert public.public and not public.training_enabled
    assert "switched off" in refusal("train", "", public)
    assert "switched off" in refusal("train", "any guess", public)  # no password is set, so none opens it
    for action in ("stop", "delete", "set_default", "push"):
        assert "not allowed on this public deployment" in refusal(action, "", public)
    assert refusal("stop", "", public, owner=True) == ""  # whoever started a run may stop it


def test_a_space_that_opts_in_to_training_still_guards_the_rest(monkeypatch):
    space = gate(monkeypatch, SPACE_ID="someone/dlapp", DLAPP_TRAINING="on")
    assert space.public and space.training_enabled
    assert refusal("train", "", space) == ""
    assert "not allowed on this public deployment" in refusal("delete", "", space)
    assert "not allowed" in refusal("stop", "", space) and refusal("stop", "", space, owner=True) == ""


@pytest.mark.parametrize("env", [{}, {"DLAPP_TRAINING": "off"}, {"SPACE_ID": "someone/dlapp"},
                                 {"SPACE_ID": "someone/dlapp", "DLAPP_TRAINING": "on"}])
@pytest.mark.parametrize("variable", ["DLAPP_ADMIN_PASSWORD", "DLAPP_TRAINING_PASSWORD"])
def test_a_password_guards_every_change_on_every_deployment(monkeypatch, env, variable):
    guarded = gate(monkeypatch, **env, **{variable: "open sesame"})
    assert guarded.admin_password == "open sesame"
    for action in ACTIONS:
        if action == "train" and guarded.private_training:
            assert refusal(action, "", guarded) == ""  # a private run (a Space's default) changes nothing shared
            continue
        assert refusal(action, "open sesame", guarded) == ""
        assert refusal(action, "guess", guarded).startswith("Wrong password.")
        assert "needs the admin password" in refusal(action, "", guarded)
        assert "needs the admin password" in refusal(action, None, guarded)
        assert "open sesame" not in refusal(action, "guess", guarded)
    assert refusal("stop", "", guarded, owner=True) == ""


def test_the_admin_password_wins_over_the_old_variable(monkeypatch):
    both = gate(monkeypatch, DLAPP_ADMIN_PASSWORD="new", DLAPP_TRAINING_PASSWORD="old")
    assert refusal("train", "new", both) == "" and refusal("train", "old", both).startswith("Wrong password")


def test_the_training_endpoint_applies_the_gate(monkeypatch, model_dir):
    import gradio as gr

    from dlapp.jobs import get_manager
    from dlapp.ui.api import start_training

    gate(monkeypatch, DLAPP_TRAINING="off")
    with pytest.raises(gr.Error, match="switched off"):
        start_training(task="image", dataset="cifar10", subset=5, preset="seed", epochs=1, password="")
    gate(monkeypatch, DLAPP_ADMIN_PASSWORD="open sesame")
    with pytest.raises(gr.Error, match="Wrong password"):
        start_training(task="image", dataset="cifar10", subset=5, preset="seed", epochs=1, password="guess")
    # The right password passes the gate and reaches the next check (the data is for the other task).
    with pytest.raises(gr.Error, match="image data, not text data"):
        start_training(task="text", dataset="cifar10", subset=5, preset="seed", epochs=1, password="open sesame")
    assert get_manager().current is None or not get_manager().current.running


@pytest.mark.app
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
