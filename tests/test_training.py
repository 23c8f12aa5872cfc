"""Training: events, cache hits, cancel, resume, text cells, range checks, multi-device."""

import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from dlapp.errors import TrainingCancelled, UsageError
from dlapp.store import get_store
from dlapp.testing import REPO, class_folder, needs_data
from dlapp.training import TrainConfig, train
from dlapp.training.calibrate import MIN_FIT

CARD_FIELDS = {"schema_version", "task", "dataset", "preset", "hyperparameters", "class_names", "input", "metrics",
               "provenance", "history", "sha256"}
PROVENANCE_FIELDS = {"command", "seed", "device", "training_time_s", "versions", "cache_key", "created", "hub"}


@pytest.fixture()
def colours(tmp_path):
    return str(class_folder(tmp_path / "colours", classes=("blue", "green", "red"), per_class=12, size=16))


@pytest.fixture()
def more_colours(tmp_path):  # enough held-out images (calibrate.MIN_FIT) to fit a temperature on
    return str(class_folder(tmp_path / "more" / "colours", classes=("blue", "green", "red"), per_class=120, size=16))


def test_train_reports_progress_saves_card_and_reuses_cache(model_dir, more_colours):
    events = []
    config = TrainConfig(more_colours, preset="seed-cifar10", epochs=3, batch_size=8, image_size=16,
                         validation_split=0.2)
    result = train(config, on_event=events.append)
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and "batch" in kinds and kinds.count("epoch") == 3
    batch = next(e for e in events if e.kind == "batch")
    assert {"loss", "accuracy"} <= set(batch.metrics) and batch.examples_per_sec > 0 and batch.eta_s is not None
    epoch = next(e for e in events if e.kind == "epoch")
    assert "val_accuracy" in epoch.metrics
    card = result.card
    assert card.id == result.model_id and card.task == "image" and card.class_names == ("blue", "green", "red")
    assert card.dataset.name == "colours" and card.input.shape == (16, 16, 3) and len(card.history) == 3
    p = card.provenance
    assert len(card.sha256) == 64 and p.cache_key and p.created and p.device and p.versions["keras"]
    assert p.training_time_s > 0 and p.seed == 0 and p.command is None  # not trained through the CLI
    m = card.metrics
    assert len(m.confusion_matrix) == 3 and sum(map(sum, m.confusion_matrix)) == m.test_examples
    assert set(m.per_class_accuracy) == {"blue", "green", "red"} and m.final_val_accuracy is not None
    assert (model_dir / f"{result.model_id}.keras").is_file()
    on_disk = json.loads((model_dir / f"{result.model_id}.json").read_text())
    assert CARD_FIELDS <= set(on_disk) and PROVENANCE_FIELDS <= set(on_disk["provenance"])
    assert on_disk["schema_version"] == 2 and on_disk["class_names"] == ["blue", "green", "red"]
    # Calibrated on the held-out split, measured on the test split, examples kept per confusion cell.
    cal = card.calibration
    assert cal.fitted_on == card.dataset.validation_examples > 0 and 0.05 <= cal.temperature <= 20
    assert m.ece is not None and sum(b[2] for b in m.reliability) == m.test_examples
    kept = sorted(i for cell in m.cell_examples.values() for i in cell)
    assert len(set(kept)) == len(kept) and all(0 <= i < m.test_examples for i in kept)
    for key, indices in m.cell_examples.items():  # the first 8 test examples of each cell
        true, predicted = map(int, key.split(","))
        assert len(indices) == min(8, m.confusion_matrix[true][predicted])
    again = train(config)
    assert again.cached and again.model_id == result.model_id
    forced = train(config, force=True)
    assert not forced.cached


def test_preset_sets_the_validation_split_unless_overridden(model_dir, colours):
    seed = train(TrainConfig(colours, preset="seed-cifar10", epochs=1, batch_size=8, image_size=16)).card
    split = seed.dataset
    assert seed.hyperparameters["validation_split"] == 0.1  # held out, where the tutorial used the test split
    assert split.validation_examples == round(0.1 * (split.train_examples + split.validation_examples))
    # Too few held-out examples to fit a temperature on: T stays 1 rather than swinging to an extreme.
    assert 0 < split.validation_examples < MIN_FIT and seed.calibration.fitted_on == 0
    as_written = train(TrainConfig(colours, preset="seed-cifar10", epochs=1, batch_size=8, image_size=16,
                                   validation_split=0)).card
    assert as_written.dataset.validation_examples == as_written.dataset.test_examples
    # Nothing is fitted on the test split: calibrating on the data it is measured on would flatter it.
    assert as_written.calibration.fitted_on == 0 and as_written.calibration.temperature == 1.0
    assert as_written.calibration.none_threshold is None and as_written.metrics.ece is not None


def test_saved_image_model_stands_alone(model_dir, colours):
    import keras

    import dlapp.layers  # noqa: F401  registers dlapp's layers (`import dlapp` alone no longer does)

    result = train(TrainConfig(colours, preset="fast", epochs=1, batch_size=8, image_size=16))
    model = keras.saving.load_model(model_dir / f"{result.model_id}.keras", safe_mode=True)
    out = model.predict(np.zeros((2, 16, 16, 3), np.uint8), verbose=0)
    assert out.shape == (2, 3) and np.allclose(out.sum(axis=1), 1, atol=1e-4)


def test_cancel_stops_within_a_batch_and_saves_nothing(model_dir, colours):
    cancel = threading.Event()
    batches = []

    def on_event(e):
        if e.kind == "batch":
            batches.append(e)
            cancel.set()

    events = []
    with pytest.raises(TrainingCancelled):
        train(TrainConfig(colours, preset="seed-cifar10", epochs=5, batch_size=4, image_size=16),
              on_event=lambda e: (events.append(e), on_event(e)), cancel=cancel)
    assert len(batches) == 1
    assert not [e for e in events if e.kind == "epoch"]  # the cut epoch's validation was never measured
    assert [c.id for c in get_store().list() if not c.shipped] == []  # nothing of the user's saved


def test_text_validation_holds_out_runs_of_neighbours_per_class():
    import numpy as np

    from dlapp.data import Dataset
    from dlapp.training.pipeline import split_validation

    y = np.array([0] * 50 + [1] * 50)  # IMDB's layout: one label after the other, a film's reviews together
    data = Dataset("d", "text", ("neg", "pos"), np.array([f"r{i}" for i in range(100)], dtype=object), y,
                   np.array(["t"], dtype=object), np.array([0]))
    _, y_tr, x_val, y_val = split_validation(data, 0.2, seed=3, in_blocks=True)
    ids = sorted(int(x[1:]) for x in x_val)
    assert list(y_val).count(0) == list(y_val).count(1) == 10 and len(y_tr) == 80
    for part in (ids[:10], ids[10:]):
        assert part == list(range(part[0], part[0] + 10))  # one contiguous run per class
    _, _, x_rand, _ = split_validation(data, 0.2, seed=3)
    assert sorted(int(x[1:]) for x in x_rand) != ids


def test_resume_continues_from_last_epoch(model_dir, colours):
    cancel = threading.Event()
    config = TrainConfig(colours, preset="seed-cifar10", epochs=3, batch_size=8, image_size=16)

    def stop_after_first_epoch(e):
        if e.kind == "epoch" and e.epoch == 1:
            cancel.set()

    with pytest.raises(TrainingCancelled):
        train(config, on_event=stop_after_first_epoch, cancel=cancel)
    epochs = []
    result = train(config, resume=True, on_event=lambda e: e.kind == "epoch" and epochs.append(e.epoch))
    assert epochs == [2, 3]
    assert [h["epoch"] for h in result.card.history] == [1, 2, 3]


def test_resume_of_a_text_model_with_cross_fitted_nb_features(model_dir, tmp_path):
    rows = ["text,label"] + [f"a truly great film {i},pos" for i in range(20)] + \
           [f"an awful boring film {i},neg" for i in range(20)]
    data = tmp_path / "reviews.csv"
    data.write_text("\n".join(rows))
    cancel = threading.Event()
    config = TrainConfig(str(data), preset="fast", epochs=2, batch_size=8)
    with pytest.raises(TrainingCancelled):
        train(config, on_event=lambda e: e.kind == "epoch" and cancel.set(), cancel=cancel)
    result = train(config, resume=True)
    assert [h["epoch"] for h in result.card.history] == [1, 2]
    import keras

    import dlapp.layers  # noqa: F401  registers NBEvidence and the text standardizer

    model = keras.saving.load_model(model_dir / f"{result.model_id}.keras", safe_mode=True)
    assert model.get_layer("nb").tables == 1  # strings in, no fold input, one NB table
    assert model.predict(np.array(["a truly great film"], dtype=object), verbose=0).shape == (1, 1)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simplernn"])
def test_text_model_with_each_cell(model_dir, tmp_path, cell):
    rows = ["text,label"] + [f"a truly great wonderful film {i},pos" for i in range(20)] + \
           [f"an awful boring terrible film {i},neg" for i in range(20)]
    data = tmp_path / "reviews.csv"
    data.write_text("\n".join(rows))
    result = train(TrainConfig(str(data), preset="fast", epochs=1, batch_size=8, cell=cell))
    assert result.card.hyperparameters["cell"] == cell
    import keras

    import dlapp.layers  # noqa: F401  registers the text standardizer

    model = keras.saving.load_model(model_dir / f"{result.model_id}.keras", safe_mode=True)
    assert model.predict(np.array(["great film<br />really"], dtype=object), verbose=0).shape == (1, 1)


@pytest.mark.parametrize("kwargs,match", [
    (dict(epochs=0), "epochs"), (dict(epochs=100000), "epochs"), (dict(batch_size=0), "batch size"),
    (dict(learning_rate=0), "learning rate"), (dict(learning_rate=500.0), "learning rate"),
    (dict(preset="seed", learning_rate=5.0), r"learning rate for the seed-cifar10 preset must be in \(0, 1\]"),
    (dict(learning_rate=101.0), r"learning rate must be in \(0, 100\]"),
    (dict(validation_split=0.9), "validation split"), (dict(preset="huge"), "Unknown image preset"),
    (dict(cell="lstm"), "cell does not apply to image models"),
])
def test_out_of_range_settings_are_refused(model_dir, colours, kwargs, match):
    with pytest.raises(UsageError, match=match):
        train(TrainConfig(colours, **kwargs))


def test_plan_resolves_task_preset_and_split_without_loading_data(tmp_path):
    from dlapp.training import plan

    seed = plan(TrainConfig("mnist", preset="seed", epochs=2))  # no mnist.npz is needed to plan
    assert seed.task.name == "image" and seed.preset.name == "seed-mnist" and seed.epochs == 2
    assert seed.validation_split == seed.preset.validation_split
    text = plan(TrainConfig("imdb", preset="fast", cell="simplernn", validation_split=0.2))
    assert text.task.name == "text" and text.preset.cell == "simplernn" and text.validation_split == 0.2
    assert text.image_size is None
    with pytest.raises(UsageError, match="Unknown cell 'transformer'"):
        plan(TrainConfig("imdb", cell="transformer"))
    with pytest.raises(UsageError, match="image size does not apply to text models"):
        plan(TrainConfig("imdb", image_size=32))


@needs_data
def test_seed_preset_matches_the_tutorial_architecture(model_dir):
    from dlapp.nets.image import build_image_model
    from dlapp.nets.text import build_text_model, make_vectorizer
    from dlapp.tasks import get_task

    assert get_task("image").preset("seed", dataset="cifar10").name == "seed-cifar10"
    assert get_task("image").preset("seed", dataset="mnist").name == "seed-mnist"
    model = build_image_model(get_task("image").preset("seed", dataset="cifar10"), (32, 32, 3), 10)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Rescaling", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten",
                     "Dense", "Dense"]
    # conv 3->32 (896) + conv 32->64 (18,496) + dense 6*6*64->64 (147,520) + dense 64->10 (650)
    assert model.count_params() == 167_562
    preset = get_task("text").preset("seed", dataset="imdb")
    assert preset.name == "seed-imdb"
    text = build_text_model(preset, make_vectorizer(preset, np.array(["a b c"], dtype=object)))
    lstms = [layer for layer in text.layers if type(layer).__name__ == "LSTM"]
    assert [lstm.units for lstm in lstms] == [100, 100] and lstms[0].return_sequences and not lstms[1].return_sequences


def test_mirrored_strategy_over_two_logical_cpus(tmp_path, colours):
    # Split the CPU into two logical devices (the documented way to test the
    # multi-device path without GPUs); train() must pick MirroredStrategy.
    code = f"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import dlapp
from dlapp.training import TrainConfig, train
r = train(TrainConfig({colours!r}, preset="seed-cifar10", epochs=1, batch_size=8, image_size=16))
print("DEVICE", r.card.provenance.device)
"""
    env = {"PATH": "/usr/bin:/bin", "DLAPP_MODEL_DIR": str(tmp_path / "m"), "PYTHONPATH": str(REPO),
           "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "DEVICE 2× CPU (MirroredStrategy)" in out.stdout


def test_grayscale_training_and_prediction(model_dir, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 60, (40, 28, 28), dtype=np.uint8)
    y = np.arange(40) % 2
    x[y == 1, 8:20, 8:20] = 250  # class 1 has a bright square
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    monkeypatch.setenv("DLAPP_DATA_DIR", str(tmp_path))
    result = train(TrainConfig("mnist", preset="seed", epochs=2, batch_size=8))
    assert result.card.preset == "seed-mnist" and result.card.input.shape == (28, 28, 1)
    from dlapp.inference import get_predictor

    top = get_predictor("image", result.model_id).classify(np.full((40, 40, 3), 200, np.uint8), k=2)
    assert len(top) == 2
