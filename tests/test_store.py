"""The model cache: atomic saves, integrity checks, defaults, crash safety."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO
from dlapp.errors import ModelLoadError, ModelNotFoundError, ModelSaveError, UsageError
from dlapp.store import ModelStore


def tiny_model():
    import keras

    inputs = keras.Input((4, 4, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


def card(**extra):
    return {"task": "image", "dataset": {"name": "toy"}, "preset": "test", "class_names": ["a", "b"],
            "input": {"kind": "image", "dtype": "uint8", "shape": [4, 4, 3]}, "metrics": {"test_accuracy": 0.5},
            **extra}


@pytest.fixture()
def store(tmp_path):
    return ModelStore(tmp_path / "models")


def test_save_load_once_default_delete(store):
    saved = store.save(tiny_model(), card(), "toy-1")
    assert len(saved["sha256"]) == 64 and saved["id"] == "toy-1"
    assert store.load("toy-1") is store.load("toy-1")  # deserialized once per process
    assert store.default_id("image") == "toy-1"
    store.save(tiny_model(), card(metrics={"test_accuracy": 0.9}), "toy-2")
    assert store.default_id("image") == "toy-2"  # no explicit default: the most accurate
    store.set_default("image", "toy-1")
    assert store.default_id("image") == "toy-1"
    with pytest.raises(UsageError):
        store.set_default("text", "toy-1")
    store.delete("toy-1")
    assert [c["id"] for c in store.list()] == ["toy-2"] and store.default_id("image") == "toy-2"
    with pytest.raises(ModelNotFoundError):
        store.card("toy-1")


def test_failed_write_keeps_old_model(store, monkeypatch):
    store.save(tiny_model(), card(), "toy")
    before = store.card("toy")["sha256"]
    broken = tiny_model()

    def disk_full(path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"PK partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(broken, "save", disk_full)
    with pytest.raises(ModelSaveError, match="No space left"):
        store.save(broken, card(), "toy")
    assert store.card("toy")["sha256"] == before
    assert ModelStore(store.root).load("toy") is not None  # a fresh process view loads it
    assert not list(store.root.glob(".tmp-*"))


def test_corrupt_model_is_skipped_not_fatal(store):
    store.save(tiny_model(), card(metrics={"test_accuracy": 0.9}), "good")
    store.save(tiny_model(), card(metrics={"test_accuracy": 0.99}), "bad")
    path = store.root / "bad.keras"
    path.write_bytes(path.read_bytes()[:-100] + b"x" * 100)
    fresh = ModelStore(store.root)
    with pytest.raises(ModelLoadError, match="sha256"):
        fresh.load("bad")
    assert [c["id"] for c in fresh.loadable("image")] == ["good"]
    assert fresh.default_id("image") == "good"


def test_unreadable_cards_and_orphans_are_ignored(store):
    store.save(tiny_model(), card(), "good")
    (store.root / "broken.json").write_text("{not json")
    (store.root / "orphan.keras").write_bytes(b"no card")
    (store.root / "nofile.json").write_text(json.dumps(card(sha256="0" * 64)))
    assert [c["id"] for c in store.list()] == ["good"]


def test_model_ids_cannot_escape_the_cache(store):
    for bad in ("../evil", "a/b", "", "UPPER"):
        with pytest.raises(UsageError):
            store.card(bad)


def test_kill_during_save_leaves_a_consistent_cache(tmp_path):
    """kill -9 a process that keeps re-saving a model: afterwards every listed model loads."""
    root = tmp_path / "models"
    code = f"""
import sys; sys.path.insert(0, {str(REPO / 'tests')!r})
import dlapp
from test_store import tiny_model, card
from dlapp.store import ModelStore
s = ModelStore({str(root)!r})
s.save(tiny_model(), card(), "victim")
print("READY", flush=True)
while True:
    s.save(tiny_model(), card(), "victim")
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "READY"
    time.sleep(1.5)  # mid-way through some save
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    fresh = ModelStore(root)
    fresh.clean_temp_files()
    assert [c["id"] for c in fresh.loadable()] == ["victim"]
    assert not list(root.glob(".tmp-*"))


def test_a_new_cache_adopts_the_shipped_models(tmp_path, shipped_dir):
    """A Space's persistent storage starts empty: it must still get working defaults."""
    fresh = ModelStore(tmp_path / "persistent")
    adopted = fresh.adopt_missing(shipped_dir)
    source = ModelStore(shipped_dir)
    assert sorted(adopted) == sorted(c["id"] for c in source.list())
    assert fresh.defaults() == source.defaults()
    for model_id in adopted:
        assert fresh.card(model_id)["sha256"] == source.card(model_id)["sha256"]
    assert fresh.adopt_missing(shipped_dir) == []  # idempotent
