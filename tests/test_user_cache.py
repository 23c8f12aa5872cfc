"""The user's models and choices live in a cache outside the repository; the shipped models are read-only.

A new user trains, presses "Make default" and deletes, through the CLI and the real app: the checkout
stays clean (`git status --porcelain`), both kinds of model are listed, a shipped one can't be deleted
or shadowed, deleting the default falls back to the shipped default, the store's own names are not ids,
a delete killed half-way is tidied at the next start, a local run listens on loopback only, and an
installed package finds its shipped models from any folder.
"""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client

from dlapp import settings as settings_mod
from dlapp.errors import UsageError
from dlapp.store import ModelStore, get_store
from dlapp.testing import REPO, AppServer, class_folder, error_of, tiny_model, toy_card


def repo_state() -> tuple[str, dict]:
    """What git says about the checkout, and every file under models/ (ignored and hidden ones too)."""
    porcelain = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout
    files = {str(p.relative_to(REPO)): (p.stat().st_size, p.stat().st_mtime_ns)
             for p in (REPO / "models").rglob("*") if p.is_file()}
    return porcelain, files


def cli(*args: str, env: dict, cwd: Path = REPO, python: str = sys.executable) -> str:
    out = subprocess.run([python, "-m", "dlapp", *args], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def user_env(xdg: Path) -> dict:
    """The environment of a user who set nothing: only XDG_CACHE_HOME (a temporary folder) says where caches go."""
    env = {k: v for k, v in os.environ.items() if k not in ("DLAPP_MODEL_DIR", "GRADIO_SERVER_NAME", "SPACE_ID")}
    return {**env, "XDG_CACHE_HOME": str(xdg), "PYTHONPATH": str(REPO)}


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp{,6} write them) of sockets listening on `port`."""
    found = set()
    for name in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":  # 0A: LISTEN
                found.add(address)
    return found


# ----------------------------------------------------------------------------- the whole road, through real processes

@pytest.mark.app
def test_train_make_default_and_delete_leave_the_repository_clean(tmp_path):
    before = repo_state()
    xdg = tmp_path / "xdg"
    env = user_env(xdg)
    user_dir = xdg / "dlapp" / "models"
    data = class_folder(tmp_path / "colours", per_class=6, size=16)
    cli("train", "--dataset", str(data), "--preset", "seed-cifar10", "--epochs", "1", "--batch-size", "4",
        "--image-size", "16", "--name", "mine", "--quiet", env=env)
    assert "mine is now the default image model" in cli("models", "set-default", "mine", env=env)
    assert (user_dir / "mine.keras").is_file() and json.loads((user_dir / "defaults.json").read_text()) == {
        "image": "mine"}
    listed = cli("models", "list", env=env)
    assert any(line.startswith("* mine ") and line.endswith("yours") for line in listed.splitlines()), listed
    assert any(line.startswith("  cifar10-fast ") and line.endswith("shipped") for line in listed.splitlines())

    # A delete killed half-way (its card gone, its model file and a default left): tidied when the app starts.
    shutil.copy(user_dir / "mine.keras", user_dir / "ghost.keras")
    (user_dir / "defaults.json").write_text(json.dumps({"image": "mine", "text": "ghost"}))
    server = AppServer(user_dir, env={"DLAPP_MODEL_DIR": None, "GRADIO_SERVER_NAME": None, "SPACE_ID": None,
                                      "XDG_CACHE_HOME": str(xdg)})
    try:
        # Gradio's default: a local run listens on loopback only (127.0.0.1 is 0100007F in /proc/net/tcp).
        assert listening_addresses(server.port) == {"0100007F"}
        assert not (user_dir / "ghost.keras").exists()
        assert json.loads((user_dir / "defaults.json").read_text()) == {"image": "mine"}

        client = Client(server.url, verbose=False)
        models = {m["id"]: m for m in client.predict(api_name="/list_models")}
        assert models["mine"]["default"] and not models["mine"]["shipped"]
        assert models["imdb-fast"]["default"] and models["imdb-fast"]["shipped"]  # the shipped text default
        assert models["cifar10-best"]["shipped"] and not models["cifar10-best"]["default"]
        assert client.predict("cifar10-fast", api_name="/set_default_model") == \
            "cifar10-fast is now the default image model."
        assert client.predict("mine", api_name="/set_default_model") == "mine is now the default image model."

        shipped = server.store().model_path("cifar10-best")
        message = error_of(client.predict, "cifar10-best", api_name="/delete_model")
        assert "shipped model" in message and "read-only" in message, message
        assert shipped.is_file() and shipped.with_suffix(".json").is_file()
        message = error_of(client.predict, "defaults", api_name="/delete_model")
        assert "reserved" in message and (user_dir / "defaults.json").is_file(), message

        # Deleting the default: the shipped default answers again, and the message says so.
        assert client.predict("mine", api_name="/delete_model") == \
            "Deleted mine. The image default is now cifar10-best (shipped)."
        models = {m["id"]: m for m in client.predict(api_name="/list_models")}
        assert "mine" not in models and models["cifar10-best"]["default"]
    finally:
        server.stop()
    assert repo_state() == before  # nothing written into the checkout: no model, no default, no checkpoint
    assert not list(user_dir.glob(".runs/*"))


# ----------------------------------------------------------------------------- the store's layers

@pytest.fixture()
def layered(tmp_path, shipped_dir) -> ModelStore:
    return ModelStore(tmp_path / "user", shipped_dir)


def test_shipped_models_are_read_only_and_never_shadowed(layered, shipped_dir, caplog):
    before = {p.name: p.stat().st_mtime_ns for p in shipped_dir.iterdir()}
    with pytest.raises(UsageError, match="cifar10-best is a shipped model: it is read-only and can't be deleted"):
        layered.delete("cifar10-best")
    with pytest.raises(UsageError, match="read-only and can't be replaced"):
        layered.save(tiny_model(), toy_card(), "cifar10-best")
    # A file of the user's under a shipped id (copied in by hand): the shipped model answers, and a warning says so.
    impostor = layered.save(tiny_model(), toy_card(), "impostor")
    for ext in (".keras", ".json"):
        os.replace(layered.root / f"impostor{ext}", layered.root / f"cifar10-seed{ext}")
    with caplog.at_level(logging.WARNING, logger="dlapp.store"):
        seed = next(c for c in layered.list() if c.id == "cifar10-seed")
    assert seed.shipped and seed.sha256 == layered.card("cifar10-seed").sha256 != impostor.sha256
    assert [c.id for c in layered.list()].count("cifar10-seed") == 1
    assert "ignoring cifar10-seed" in caplog.text and "shipped model" in caplog.text
    layered.set_default("image", "cifar10-fast")  # a choice among shipped models goes to the user's folder
    assert json.loads((layered.root / "defaults.json").read_text()) == {"image": "cifar10-fast"}
    assert {p.name: p.stat().st_mtime_ns for p in shipped_dir.iterdir()} == before


def test_the_user_default_overrides_and_deleting_it_falls_back_to_the_shipped_default(layered):
    shipped_image = layered.shipped_defaults()["image"]
    toy = toy_card(metrics={"test_accuracy": 1.0})  # a 3-class toy at 100% must not become the image default
    layered.save(tiny_model(), toy, "toy")
    assert layered.default_id("image") == shipped_image
    layered.set_default("image", "toy")
    assert layered.default_id("image") == "toy" and layered.defaults()["image"] == "toy"
    assert layered.delete("toy") == f"Deleted toy. The image default is now {shipped_image} (shipped)."
    assert layered.default_id("image") == shipped_image and layered.defaults()["image"] == shipped_image
    layered.save(tiny_model(), toy, "other")
    assert layered.delete("other") == "Deleted other."  # not the default: nothing else changed


def test_the_store_s_own_names_are_not_model_ids(layered):
    layered.set_default("image", "cifar10-fast")
    for call in (lambda: layered.delete("defaults"), lambda: layered.save(tiny_model(), toy_card(), "defaults"),
                 lambda: layered.card("defaults")):
        with pytest.raises(UsageError, match="reserved"):
            call()
    assert json.loads((layered.root / "defaults.json").read_text()) == {"image": "cifar10-fast"}


def test_a_delete_killed_half_way_is_tidied_when_the_store_opens(tmp_path):
    """kill -9 right after the card is removed: the model file and the default outlive it, until the next start."""
    root = tmp_path / "user"
    code = f"""
import os, pathlib, signal
from dlapp.store import ModelStore
from dlapp.testing import tiny_model, toy_card
store = ModelStore({str(root)!r})
store.save(tiny_model(), toy_card(), "victim")
store.set_default("image", "victim")
unlink = pathlib.Path.unlink
def unlink_then_die(self, *args, **kwargs):
    unlink(self, *args, **kwargs)
    if self.name == "victim.json":
        os.kill(os.getpid(), signal.SIGKILL)
pathlib.Path.unlink = unlink_then_die
store.delete("victim")
"""
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert (root / "victim.keras").is_file() and not (root / "victim.json").exists()  # the crashed state
    assert json.loads((root / "defaults.json").read_text()) == {"image": "victim"}
    store = get_store(root)  # what every process does first
    assert not (root / "victim.keras").exists() and json.loads((root / "defaults.json").read_text()) == {}
    assert [c.id for c in store.list() if not c.shipped] == []


# ----------------------------------------------------------------------------- settings

def test_where_a_local_run_and_a_space_listen(monkeypatch):
    for name in ("GRADIO_SERVER_NAME", "SPACE_ID"):
        monkeypatch.delenv(name, raising=False)
    assert settings_mod.load().server_name == "127.0.0.1"  # Gradio's own default: this machine only
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    assert settings_mod.load().server_name == "0.0.0.0"  # opened to the network on purpose
    monkeypatch.delenv("GRADIO_SERVER_NAME")
    monkeypatch.setenv("SPACE_ID", "someone/dlapp")
    assert settings_mod.load().server_name == "0.0.0.0"  # a Space's proxy reaches the app from outside


def test_the_user_cache_follows_xdg_and_dlapp_model_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("DLAPP_MODEL_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings_mod.load().model_dir == tmp_path / "xdg" / "dlapp" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert settings_mod.load().model_dir == tmp_path / "home" / ".cache" / "dlapp" / "models"
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(tmp_path / "mine"))
    assert settings_mod.load().model_dir == tmp_path / "mine"
    monkeypatch.delenv("DLAPP_SHIPPED_MODEL_DIR")
    assert settings_mod.load().shipped_model_dir == REPO / "models"  # a checkout reads its own, never writes them


def test_the_tests_copy_only_what_git_tracks(shipped_dir):
    tracked = subprocess.run(["git", "ls-files", "models"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    assert sorted(p.name for p in shipped_dir.iterdir()) == sorted(Path(p).name for p in tracked)
    assert os.environ["DLAPP_SHIPPED_MODEL_DIR"] == str(shipped_dir)
    assert Path(os.environ["DLAPP_MODEL_DIR"]).is_relative_to(os.environ["XDG_CACHE_HOME"])
    assert not Path(os.environ["XDG_CACHE_HOME"]).is_relative_to(Path.home() / ".cache")


# ----------------------------------------------------------------------------- an installed package

def test_an_installed_package_lists_its_shipped_models_from_any_folder(tmp_path):
    source = tmp_path / "source"  # the checkout's files as git sees them: the build writes nothing into the repo
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        if (REPO / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, source / rel)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    str(source)], check=True, timeout=300, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in user_env(tmp_path / "xdg").items() if k not in ("PYTHONPATH", "DLAPP_SHIPPED_MODEL_DIR")}
    listed = cli("models", "list", env=env, cwd=elsewhere, python=python)
    assert "* cifar10-best" in listed and "* imdb-fast" in listed and "shipped" in listed, listed
    assert f"shipped = read-only, in {venv}" in listed  # the install's copy, not the checkout
