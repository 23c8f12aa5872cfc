"""A model without a test accuracy (a generator) is listed, ranked, shown, carded and trained like any other:
the task's headline (name, value, text) everywhere, and the store train() is given reaches every hook."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from dlapp.card import InputSpec
from dlapp.errors import UsageError
from dlapp.settings import SHIPPED_MODEL_DIR
from dlapp.store import ModelStore, get_store
from dlapp.testing import class_folder, needs_data, toy_generator


def test_a_generator_is_ranked_listed_shown_and_carded_by_its_headline(model_dir, capsys):
    from dlapp import hub
    from dlapp.cli import main

    store = get_store()
    toy_generator(store)
    # Ranked by its headline, not by a test accuracy it lacks (sorting by that raised TypeError): after the
    # shipped default, cifar10-gan.
    assert [c.id for c in store._ranked("generate")] == ["cifar10-gan", "toy-gan"]

    assert main(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "toy-gan" in line)
    assert "61.0%" in row and "requested-class accuracy" in row and "None" not in row

    assert main(["models", "show", "toy-gan"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["headline"] == {"name": "requested-class accuracy", "value": 0.61, "text": "61.0%"}
    assert shown["metrics"]["test_accuracy"] is None and shown["task"] == "generate"

    readme = hub.model_card(store.card("toy-gan"), "someone/toy-gan")
    assert "A Keras class-conditional GAN image generator" in readme
    assert "| requested-class accuracy | 0.6100 |" in readme and "| frechet distance | 12.5 |" in readme
    assert "| per class accuracy: b | 0.72 |" in readme
    assert "- accuracy" not in readme and "None" not in readme  # no classifier metric claimed for a generator

    assert main(["models", "recalibrate", "toy-gan"]) == 1
    assert "only classifiers are calibrated" in capsys.readouterr().err


def test_a_generator_is_offered_no_export_format(model_dir):
    from dlapp.export import export_model, formats_for

    toy_generator(get_store())
    assert formats_for("generate") == () and "litert-int8" not in formats_for("text")
    with pytest.raises(UsageError, match="exports image and text models only"):
        export_model("toy-gan", "keras", model_dir / "out.zip")
    assert not (model_dir / "out.zip").exists()


def test_the_hub_card_names_each_model_by_its_architecture():
    from dlapp import hub

    shipped = ModelStore(SHIPPED_MODEL_DIR)
    first = {cid: hub.model_card(shipped.card(cid), f"me/{cid}").split("\n# ", 1)[1].splitlines()[2]
             for cid in ("imdb-nbsvm", "imdb-fast", "imdb-best", "cifar10-best", "cifar10-seed")}
    assert "NBSVM" in first["imdb-nbsvm"] and "recurrent" not in first["imdb-nbsvm"]
    assert "bidirectional GRU sentiment classifier" in first["imdb-fast"]
    assert "bidirectional LSTM sentiment classifier" in first["imdb-best"]
    assert "airbench94" in first["cifar10-best"] and "CNN image classifier" in first["cifar10-seed"]
    assert all("Its headline: test accuracy" in line for line in first.values())


def test_the_picture_size_comes_from_what_a_model_takes_not_the_rank_of_its_input():
    assert InputSpec(kind="image", dtype="uint8", shape=(32, 24, 3)).picture_size == (32, 24)
    # A generator whose noise is a 3-D tensor is still no image model: no image folder is read at its "size".
    assert InputSpec(kind="generate", dtype="float32", shape=(4, 4, 8)).picture_size is None
    assert InputSpec(kind="text", dtype="string", shape=()).picture_size is None


def test_transfer_finds_its_backbone_in_the_store_train_is_given(model_dir, tmp_path, monkeypatch):
    """A visitor's own store (a SessionStore in the web app) holds a backbone the shared store does not have."""
    from dlapp.training import TrainConfig, train

    empty_shipped = tmp_path / "no-shipped"
    empty_shipped.mkdir()
    monkeypatch.setenv("DLAPP_SHIPPED_MODEL_DIR", str(empty_shipped))  # the shared store has no cifar10-best
    own = ModelStore(tmp_path / "own")
    own.root.mkdir()
    for suffix in (".keras", ".json"):
        shutil.copy(SHIPPED_MODEL_DIR / f"cifar10-best{suffix}", own.root / f"my-backbone{suffix}")
    folder = class_folder(tmp_path / "colours", classes=("red", "blue"), per_class=6, size=32)
    result = train(TrainConfig(str(folder), preset="transfer", epochs=1, backbone="my-backbone"), store=own)
    assert result.card.hyperparameters["backbone"] == "my-backbone" and own.card(result.model_id)
    assert not get_store().list()  # nothing went to the shared store


@needs_data
def test_a_tiny_gan_trains_with_its_judge_only_in_its_store_and_reports_its_headline(model_dir, tmp_path,
                                                                                     monkeypatch, capsys):
    """Through the jobs manager, as the web app trains: the judge (cifar10-best) is only in the store given to the
    run; the snapshot and the run's message carry the headline; no confusion-cell examples are kept beside it;
    `evaluate` prints the headline and the report."""
    from dlapp.cli import main
    from dlapp.jobs import TrainingManager
    from dlapp.training import TrainConfig

    empty_shipped = tmp_path / "no-shipped"
    empty_shipped.mkdir()
    monkeypatch.setenv("DLAPP_SHIPPED_MODEL_DIR", str(empty_shipped))
    own = ModelStore(tmp_path / "own")
    own.root.mkdir()
    for suffix in (".keras", ".json"):
        shutil.copy(SHIPPED_MODEL_DIR / f"cifar10-best{suffix}", own.root / f"cifar10-best{suffix}")
    manager = TrainingManager()
    ended = threading.Event()
    job = manager.start(TrainConfig("cifar10", task="generate", preset="fast", subset=10, epochs=1, name="tiny-gan"),
                        store=own, on_end=ended.set)
    assert ended.wait(600), job.snapshot()
    snap = job.snapshot()
    assert snap["state"] == "done", (snap, job.error)
    assert snap["test_accuracy"] is None and snap["headline"]["name"] == "requested-class accuracy"
    assert 0 <= snap["headline"]["value"] <= 1 and snap["headline"]["text"].endswith("%")
    assert "requested-class accuracy" in snap["message"]
    assert sorted(p.name for p in own.root.glob("tiny-gan*")) == ["tiny-gan.json", "tiny-gan.keras"]
    assert not get_store().list()  # the shared store stayed empty

    monkeypatch.setenv("DLAPP_MODEL_DIR", str(own.root))
    capsys.readouterr()
    assert main(["evaluate", "tiny-gan", "--subset", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["test_accuracy"] is None and out["headline"]["name"] == "requested-class accuracy"
    assert {"frechet_distance", "frechet_floor", "frechet_ceiling"} <= set(out["report"])
    assert main(["evaluate", "tiny-gan", "--subset", "5"]) == 0
    text = capsys.readouterr().out
    assert "requested-class accuracy" in text and "frechet ceiling" in text and "None" not in text
    assert np.isfinite(out["report"]["frechet_distance"])
