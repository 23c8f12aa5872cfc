"""The model cache: atomic saves, integrity checks, defaults, crash safety."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from dlapp.card import CardError, ModelCard
from dlapp.errors import ModelLoadError, ModelNotFoundError, ModelSaveError, UsageError
from dlapp.store import ModelStore
from dlapp.testing import REPO, loadable_ids, tiny_model, toy_card


@pytest.fixture()
def store(tmp_path):
    return ModelStore(tmp_path / "models")


def test_save_load_once_default_delete(store):
    saved = store.save(tiny_model(), toy_card(), "toy-1")
    assert isinstance(saved, ModelCard) and len(saved.sha256) == 64 and saved.id == "toy-1"
    assert saved.size_bytes == (store.root / "toy-1.keras").stat().st_size and saved.provenance.created
    assert store.load("toy-1") is store.load("toy-1")  # deserialized once per process
    assert store.default_id("image") == "toy-1"
    store.save(tiny_model(), toy_card(metrics={"test_accuracy": 0.9}), "toy-2")
    assert store.default_id("image") == "toy-2"  # no explicit default: the most accurate
    store.set_default("image", "toy-1")
    assert store.default_id("image") == "toy-1"
    with pytest.raises(UsageError):
        store.set_default("text", "toy-1")
    store.delete("toy-1")
    assert [c.id for c in store.list()] == ["toy-2"] and store.default_id("image") == "toy-2"
    with pytest.raises(ModelNotFoundError):
        store.card("toy-1")


def test_failed_write_keeps_old_model(store, monkeypatch):
    store.save(tiny_model(), toy_card(), "toy")
    before = store.card("toy").sha256
    broken = tiny_model()

    def disk_full(path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"PK partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(broken, "save", disk_full)
    with pytest.raises(ModelSaveError, match="No space left"):
        store.save(broken, toy_card(), "toy")
    assert store.card("toy").sha256 == before
    assert ModelStore(store.root).load("toy") is not None  # a fresh process view loads it
    assert not list(store.root.glob(".tmp-*"))


def test_corrupt_model_is_skipped_not_fatal(store):
    store.save(tiny_model(), toy_card(metrics={"test_accuracy": 0.9}), "good")
    store.save(tiny_model(), toy_card(metrics={"test_accuracy": 0.99}), "bad")
    path = store.root / "bad.keras"
    path.write_bytes(path.read_bytes()[:-100] + b"x" * 100)
    fresh = ModelStore(store.root)
    with pytest.raises(ModelLoadError, match="sha256"):
        fresh.load("bad")
    assert loadable_ids(fresh, "image") == ["good"]
    assert fresh.default_id("image") == "good"


def test_unreadable_cards_and_orphans_are_ignored(store):
    store.save(tiny_model(), toy_card(), "good")
    (store.root / "broken.json").write_text("{not json")
    (store.root / "orphan.keras").write_bytes(b"no card")
    (store.root / "nofile.json").write_text(json.dumps(toy_card(sha256="0" * 64).to_json()))
    (store.root / "notacard.json").write_text(json.dumps({"task": "image", "sha256": "0" * 64}))
    (store.root / "notacard.keras").write_bytes((store.root / "good.keras").read_bytes())
    assert [c.id for c in store.list()] == ["good"]


def test_model_ids_cannot_escape_the_cache(store):
    for bad in ("../evil", "a/b", "", "UPPER"):
        with pytest.raises(UsageError):
            store.card(bad)


def test_kill_during_save_leaves_a_consistent_cache(tmp_path):
    """kill -9 a process that keeps re-saving a model: afterwards every listed model loads."""
    root = tmp_path / "models"
    code = f"""
import dlapp
from dlapp.testing import tiny_model, toy_card
from dlapp.store import ModelStore
s = ModelStore({str(root)!r})
s.save(tiny_model(), toy_card(), "victim")
print("READY", flush=True)
while True:
    s.save(tiny_model(), toy_card(), "victim")
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "READY"
    time.sleep(1.5)  # mid-way through some save
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    fresh = ModelStore(root)
    fresh.clean_temp_files()
    assert loadable_ids(fresh) == ["victim"]
    assert not list(root.glob(".tmp-*"))


def test_a_new_cache_lists_the_shipped_models_without_copying_them(tmp_path, shipped_dir):
    """A Space's persistent storage (or a new user's cache) starts empty: it still has working defaults."""
    fresh = ModelStore(tmp_path / "persistent", shipped_dir)
    source = ModelStore(shipped_dir)
    assert sorted(c.id for c in fresh.list()) == sorted(c.id for c in source.list())
    assert all(c.shipped for c in fresh.list())
    assert fresh.defaults() == json.loads((shipped_dir / "defaults.json").read_text())
    assert not (tmp_path / "persistent").exists()  # nothing copied, nothing written


def test_cards_round_trip_and_are_saved_as_schema_2(store):
    card = toy_card(metrics={"test_accuracy": 0.75, "per_class_accuracy": {"a": 0.5, "b": 1.0}},
                    dataset={"subset_per_class": 10}, provenance={"seed": 3, "command": "python -m dlapp train"})
    assert ModelCard.from_json(card.to_json()) == card
    assert card.test_accuracy == 0.75 and card.class_names == ("a", "b") and card.dataset.label == "toy (10/class)"
    saved = store.save(tiny_model(), card, "toy")
    on_disk = json.loads((store.root / "toy.json").read_text())
    assert on_disk["schema_version"] == 2 and on_disk["provenance"]["seed"] == 3
    assert on_disk["sha256"] == saved.sha256 and on_disk["provenance"]["created"] == saved.provenance.created
    assert "id" not in on_disk and "size_bytes" not in on_disk  # runtime fields are never written
    for bad in ([], {"task": "image"}, {**card.to_json(), "task": "audio"}):
        with pytest.raises(CardError):
            ModelCard.from_json(bad)


def test_schema_1_cards_still_load(store):
    """Cards written before schema 2 (the shipped ones among them) kept provenance flat and the subset in the name."""
    store.save(tiny_model(), toy_card(), "old")
    v1 = {k: v for k, v in toy_card().to_json().items() if k not in ("schema_version", "provenance")}
    v1.update(dataset={"name": "cifar10[100/class]", "source": "cifar10.npz"}, seed=7, device="CPU (2 cores)",
              created="2024-01-02T03:04:05+00:00", cache_key="k" * 64, training_time_s=12.5,
              sha256=store.card("old").sha256, hyperparameters={"epochs": 3, "validation": 0.1})
    (store.root / "old.json").write_text(json.dumps(v1))
    card = store.card("old")
    assert card.dataset.name == "cifar10" and card.dataset.subset_per_class == 100
    assert card.dataset.label == "cifar10 (100/class)"
    p = card.provenance
    assert (p.seed, p.device, p.created, p.cache_key, p.training_time_s) == \
           (7, "CPU (2 cores)", "2024-01-02T03:04:05+00:00", "k" * 64, 12.5)
    assert card.hyperparameters == {"epochs": 3} and store.find_by_key("k" * 64).id == "old"
    assert store.load("old") is not None


def test_shipped_cards_parse(shipped_dir):
    source = ModelStore(shipped_dir)
    cards = source.list()
    assert {c.task for c in cards} == {"image", "text", "generate"}
    for card in cards:
        assert card.dataset.name in ("cifar10", "imdb") and len(card.sha256) == 64
        if card.task == "generate":  # judged on generated pictures: above chance, on its own sample
            assert card.headline.value > 1 / len(card.class_names) and card.test_accuracy is None
            assert card.metrics.test_examples == card.metrics.report["samples"]
        else:
            assert card.test_accuracy > 0.5 and card.metrics.test_examples == card.dataset.test_examples


def test_a_save_cut_after_its_card_is_finished_on_the_next_read(tmp_path):
    """The window the kill test can miss: new card committed, new model still pending."""
    from dataclasses import replace

    from dlapp.store import sha256_file

    store = ModelStore(tmp_path / "models")
    store.save(tiny_model(), toy_card(), "victim")
    old = sha256_file(store.root / "victim.keras")
    pending = store.root / ".pending-victim.keras"
    tiny_model().save(pending)  # a different, complete model
    card = replace(store.card("victim"), sha256=sha256_file(pending))
    (store.root / "victim.json").write_text(json.dumps(card.to_json()))
    fresh = ModelStore(store.root)
    assert loadable_ids(fresh) == ["victim"]
    assert sha256_file(store.root / "victim.keras") == card.sha256 != old and not pending.exists()
    pending.write_bytes(b"half a model")  # cut before its card: the old model stays, the leftover goes
    assert fresh.clean_temp_files() == 1 and loadable_ids(fresh) == ["victim"]
