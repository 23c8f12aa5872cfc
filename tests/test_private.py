"""Private training on a public deployment (issue #25), through gradio_client: two visitors (two Clients) on a
simulated Space with no password. Each trains models of its own, which the other can neither see, use, delete
nor download by path; one run trains at a time and the others wait in a bounded queue; a run stops at its time
cap and is kept; a visitor's files go when its session ends; the shared cache stays byte-for-byte the same."""

from __future__ import annotations

import hashlib
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from dlapp import limits
from dlapp.store import SESSIONS_DIR, session_folder
from dlapp.testing import AppServer, class_folder, error_of, zip_with

pytestmark = pytest.mark.app

TIME_CAP_S = 15  # the Space's cap on fitting, short so that a test's long run ends by itself


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """The app as a Space runs it (SPACE_ID set, no password, DLAPP_TRAINING unset: private), with a short cap."""
    server = AppServer(tmp_path_factory.mktemp("space") / "models",
                       {"SPACE_ID": "someone/dlapp", "DLAPP_TRAINING": None, "DLAPP_ADMIN_PASSWORD": None,
                        "DLAPP_TRAINING_PASSWORD": None, "DLAPP_TRAIN_TIME_S": str(TIME_CAP_S),
                        "DLAPP_MAX_EPOCHS": "200"})
    yield server
    server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log, log[log.index("Traceback") - 500:][:4000]


def shared_files(server: AppServer) -> dict[str, str]:
    """sha256 of every file of the shared cache (the user's folder, less the visitors' own, and the shipped
    models), defaults.json included."""
    out = {}
    for root in (server.model_dir, server.shipped_dir or Path("models")):
        for p in sorted(Path(root).rglob("*")):
            if p.is_file() and SESSIONS_DIR not in p.relative_to(root).parts:
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def colours_zip(tmp_path: Path, name: str = "colours", per_class: int = 10, size: int = 20,
                classes=("blue", "red")) -> Path:
    folder = class_folder(tmp_path / name, classes=classes, per_class=per_class, size=size)
    return zip_with({f"{name}/{p.parent.name}/{p.name}": p.read_bytes() for p in folder.rglob("*.png")},
                    tmp_path / f"{name}.zip")


def train_tiny(client: Client, archive: Path, **extra) -> dict:
    return client.predict(task="image", dataset="upload", upload=handle_file(str(archive)), preset="seed-cifar10",
                          epochs=2, batch_size=4, learning_rate=0.001, validation_split=0.2,
                          **extra, api_name="/start_training")


def wait_until(client: Client, states=("done", "failed", "cancelled"), timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    snap = {}
    while time.monotonic() < deadline:
        snap = client.predict(api_name="/training_status")
        if snap["state"] in states:
            return snap
        time.sleep(0.5)
    raise AssertionError(f"training did not reach {states}: {snap}")


def ids(client: Client) -> set[str]:
    return {m["id"] for m in client.predict(api_name="/list_models")}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def red_png(tmp_path: Path) -> Path:
    red = tmp_path / "red.png"
    Image.new("RGB", (20, 20), (220, 30, 30)).save(red)
    return red


def test_a_visitors_model_is_theirs_alone_and_goes_with_their_session(space, tmp_path):
    before = shared_files(space)
    a, b = Client(space.url, verbose=False), Client(space.url, verbose=False)
    started = train_tiny(a, colours_zip(tmp_path))
    assert started["state"] == "running"
    # B sees that a run is going, not whose or on what, and cannot stop it
    seen_by_b = b.predict(api_name="/training_status")
    assert seen_by_b["state"] == "idle" and seen_by_b["other_running"] is True and "colours" not in str(seen_by_b)
    assert b.predict(api_name="/stop_training") == "No training of yours is running."
    snap = wait_until(a)
    assert snap["state"] == "done", snap
    model = snap["model_id"]

    mine = {m["id"]: m for m in a.predict(api_name="/list_models")}
    assert mine[model]["private"] is True and mine[model]["default"] is False
    assert model not in ids(b)
    label, _ = a.predict(handle_file(str(red_png(tmp_path))), model, api_name="/classify_image")
    assert {c["label"] for c in label["confidences"]} == {"blue", "red"}

    # For B, A's model is exactly a model that does not exist.
    red = handle_file(str(red_png(tmp_path)))
    missing = error_of(b.predict, red, "no-such-model", api_name="/classify_image")
    assert error_of(b.predict, red, model, api_name="/classify_image") == missing.replace("no-such-model", model)
    for endpoint, args in (("/delete_model", ()), ("/analyze_sentiment", ("A review.",)),
                           ("/explain_sentiment", ("A review.",)), ("/promote_model", ())):
        answer = error_of(b.predict, *args, model, api_name=endpoint)
        assert answer == error_of(b.predict, *args, "no-such-model", api_name=endpoint).replace("no-such-model", model)
    assert "No model" in error_of(b.predict, "A review.", model, api_name="/analyze_sentiment")
    assert "not allowed" in error_of(a.predict, model, "", api_name="/promote_model")  # no password here
    assert "not allowed" in error_of(a.predict, model, "", api_name="/set_default_model")

    # Nor can B fetch A's files by their paths through Gradio's file route.
    own = session_folder(space.model_dir.resolve(), a.session_hash)
    files = [p for p in own.rglob("*") if p.is_file()]
    assert any(p.suffix == ".keras" for p in files)
    for p in files:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{space.url}gradio_api/file={p}", timeout=10)
        assert refused.value.code in (403, 404)

    assert shared_files(space) == before  # the shared cache and defaults.json: byte for byte the same

    # A's session ends: its folder goes, nothing of it is left on disk.
    assert folder_bytes(own) > 0
    a.close()
    deadline = time.monotonic() + 60
    while own.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert folder_bytes(own) == 0 and not own.exists()
    assert shared_files(space) == before
    assert model not in ids(b)


def test_a_visitor_keeps_a_few_models_and_the_oldest_goes(space, tmp_path, monkeypatch):
    a = Client(space.url, verbose=False)
    made = []
    for n in range(4):  # DLAPP_SESSION_MODELS defaults to 3
        train_tiny(a, colours_zip(tmp_path, name=f"set{n}", per_class=8 + n))  # other data: another model
        snap = wait_until(a)
        assert snap["state"] == "done", snap
        made.append(snap["model_id"])
    assert f"your oldest, {made[0]}, was removed" in snap["message"]
    assert {m["id"] for m in a.predict(api_name="/list_models") if m["private"]} == set(made[1:])
    a.close()


def test_the_queue_shows_places_is_bounded_and_the_time_cap_keeps_the_model(space, tmp_path):
    before = shared_files(space)
    a = Client(space.url, verbose=False)
    long_run = colours_zip(tmp_path, name="many", per_class=60, size=32, classes=("blue", "green", "red"))
    a.predict(task="image", dataset="upload", upload=handle_file(str(long_run)), preset="fast", epochs=150,
              batch_size=2, learning_rate=0.001, api_name="/start_training")
    tiny = colours_zip(tmp_path)
    waiting = [Client(space.url, verbose=False) for _ in range(limits.TRAIN_QUEUE_MAX)]
    for place, client in enumerate(waiting, start=1):
        snap = train_tiny(client, tiny)
        assert snap["state"] == "queued" and snap["position"] == place, snap
        assert snap["wait_s"] is not None and snap["wait_s"] > 0  # about how long, from the caps
    late = Client(space.url, verbose=False)
    assert "queue is full" in error_of(train_tiny, late, tiny)
    assert "already have a place" in error_of(train_tiny, waiting[0], tiny)  # one place per visitor
    assert "still running" in error_of(train_tiny, a, tiny)
    # Leaving the queue moves the others up; another visitor cannot take someone else's place out.
    assert waiting[1].predict(api_name="/stop_training") == "You left the queue."
    assert waiting[2].predict(api_name="/training_status")["position"] == 2
    for client in waiting[2:]:
        client.predict(api_name="/stop_training")
    assert waiting[0].predict(api_name="/training_status")["position"] == 1

    capped = wait_until(a, timeout=TIME_CAP_S + 240)
    assert capped["state"] == "done", capped
    assert f"the {TIME_CAP_S} s time cap stopped its training in epoch" in capped["message"]
    stopped_in = int(capped["message"].split("training in epoch ")[1].split(" ")[0])
    assert stopped_in < 150 and f"epoch {stopped_in} of 150" in capped["message"] and capped["model_id"] in ids(a)
    # The first in line started by itself once the run ahead ended, and got its own model.
    first = wait_until(waiting[0])
    assert first["state"] == "done" and first["model_id"] in ids(waiting[0]) and first["model_id"] not in ids(a)
    assert shared_files(space) == before
    for client in [a, late, *waiting]:
        client.close()


def test_training_modes_and_their_defaults(monkeypatch):
    from dlapp import settings
    from dlapp.access import authorize
    from dlapp.errors import PermissionDeniedError

    for name in ("SPACE_ID", "DLAPP_TRAINING", "DLAPP_TRAIN_TIME_S", "DLAPP_ADMIN_PASSWORD", "DLAPP_TRAINING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    local = settings.load()
    assert local.training == "on" and not local.public and local.train_time_s == 0  # a plain local run: as ever
    monkeypatch.setenv("SPACE_ID", "someone/dlapp")
    space = settings.load()
    assert space.training == "private" and space.public and space.train_time_s == 120
    for raw, mode in (("off", "off"), ("0", "off"), ("on", "on"), ("true", "on"), (" Private ", "private")):
        monkeypatch.setenv("DLAPP_TRAINING", raw)
        assert settings.load().training == mode
    monkeypatch.setenv("DLAPP_TRAINING", "maybe")
    with pytest.raises(ValueError, match="private"):
        settings.load()
    # Private: anyone trains (their own model); every shared change still needs the password.
    monkeypatch.setenv("DLAPP_TRAINING", "private")
    monkeypatch.delenv("SPACE_ID")
    private = settings.load()
    assert private.public and private.train_time_s == 120
    authorize("train", "", private)
    for action in ("stop", "delete", "set_default", "push", "promote"):
        with pytest.raises(PermissionDeniedError, match="not allowed on this public deployment"):
            authorize(action, "", private)


@pytest.fixture(scope="module")
def guarded_space(tmp_path_factory):
    """A Space whose owner set the admin password: visitors still train privately without it."""
    server = AppServer(tmp_path_factory.mktemp("guarded") / "models",
                       {"SPACE_ID": "someone/dlapp", "DLAPP_TRAINING": None, "DLAPP_ADMIN_PASSWORD": "open sesame",
                        "DLAPP_TRAINING_PASSWORD": None})
    yield server
    server.stop()


def test_the_password_promotes_a_visitors_model_for_everyone(guarded_space, tmp_path):
    a, b = Client(guarded_space.url, verbose=False), Client(guarded_space.url, verbose=False)
    train_tiny(a, colours_zip(tmp_path))  # no password needed for a private run
    snap = wait_until(a)
    assert snap["state"] == "done", snap
    model = snap["model_id"]
    assert model not in ids(b)
    assert "Wrong password" in error_of(a.predict, model, "guess", api_name="/promote_model")
    assert "No model" in error_of(b.predict, model, "open sesame", api_name="/promote_model")  # not B's to give
    assert "No model" in error_of(b.predict, model, "open sesame", api_name="/set_default_model")
    assert a.predict(model, "open sesame", api_name="/promote_model") == \
        f"{model} is now a shared model: every visitor can use it."
    shared = {m["id"]: m for m in b.predict(api_name="/list_models")}
    assert model in shared and not shared[model]["private"]
    assert b.predict(model, "open sesame", api_name="/set_default_model") == f"{model} is now the default image model."
    assert next(m for m in b.predict(api_name="/list_models") if m["id"] == model)["default"]
    a.close()
    b.close()


def test_a_sessions_models_are_removed_after_their_idle_time(model_dir):
    """A Client that never closes its session: its folder goes once idle for limits.SESSION_MAX_IDLE_S, and
    it counts against the storage budget meanwhile."""
    from dlapp import budget
    from dlapp.store import get_session_store, get_store

    store = get_session_store("a-client-that-never-says-goodbye", get_store(model_dir))
    store.root.mkdir(parents=True)
    (store.root / "x.keras").write_bytes(b"\0" * 4096)
    assert budget.usage()["session"] == 4096
    budget.expire(now=time.time() + limits.SESSION_MAX_IDLE_S - 60)
    assert store.root.exists()  # still within its idle time
    budget.expire(now=time.time() + limits.SESSION_MAX_IDLE_S + 60)
    assert not store.root.exists() and budget.usage()["session"] == 0


def test_a_run_whose_visitor_leaves_is_cancelled_and_leaves_nothing(space, tmp_path):
    before = shared_files(space)
    staged = set(Path(tempfile.gettempdir()).glob("dlapp-upload-*"))
    a, b = Client(space.url, verbose=False), Client(space.url, verbose=False)
    long_run = colours_zip(tmp_path, name="many", per_class=60, size=32, classes=("blue", "green", "red"))
    a.predict(task="image", dataset="upload", upload=handle_file(str(long_run)), preset="fast", epochs=150,
              batch_size=2, learning_rate=0.001, api_name="/start_training")
    assert train_tiny(b, colours_zip(tmp_path))["position"] == 1
    own = session_folder(space.model_dir.resolve(), a.session_hash)
    a.close()  # A's tab closes mid-run: the run is stopped, the next visitor's starts
    snap = wait_until(b)
    assert snap["state"] == "done" and snap["model_id"] in ids(b), snap
    assert folder_bytes(own) == 0 and not own.exists()
    assert set(Path(tempfile.gettempdir()).glob("dlapp-upload-*")) <= staged  # A's and B's staged uploads: gone
    assert shared_files(space) == before
    b.close()


def test_a_space_with_shared_training_queues_visitors_too(tmp_path):
    """DLAPP_TRAINING=on on a Space: models are shared as before, and a second visitor waits in the queue."""
    server = AppServer(tmp_path / "models", {"SPACE_ID": "someone/dlapp", "DLAPP_TRAINING": "on",
                                             "DLAPP_ADMIN_PASSWORD": None, "DLAPP_TRAINING_PASSWORD": None})
    try:
        a, b = Client(server.url, verbose=False), Client(server.url, verbose=False)
        long_run = colours_zip(tmp_path, name="many", per_class=60, size=32, classes=("blue", "green", "red"))
        a.predict(task="image", dataset="upload", upload=handle_file(str(long_run)), preset="fast", epochs=100,
                  batch_size=2, learning_rate=0.001, api_name="/start_training")
        assert train_tiny(b, colours_zip(tmp_path))["position"] == 1
        assert b.predict(api_name="/training_status")["position"] == 1
        assert a.predict(api_name="/training_status")["state"] == "running"
        assert b.predict(api_name="/stop_training") == "You left the queue."
        assert b.predict(api_name="/training_status")["dataset"] == "many.zip"  # shared: everyone watches the run
        assert a.predict(api_name="/stop_training") == "Stopping…"
        assert wait_until(a)["state"] == "cancelled"
    finally:
        server.stop()


@pytest.mark.parametrize("session", ["../../etc", "/etc/passwd", "a/../../b", "\0", "x" * 10_000, ".."])
def test_a_session_id_a_client_chooses_never_becomes_a_path(tmp_path, session):
    """gradio_client lets a caller pick its session_hash: the folder is named by its hash, under .sessions."""
    folder = session_folder(tmp_path, session)
    assert folder.parent == tmp_path / SESSIONS_DIR and len(folder.name) == 32 and folder.name.isalnum()
