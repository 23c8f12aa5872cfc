"""The transfer preset: a new head on the frozen trunk of a cached image model (nets/transfer.py)."""

import shutil

import numpy as np
import pytest

from dlapp.errors import UsageError
from dlapp.settings import SHIPPED_MODEL_DIR
from dlapp.testing import class_folder
from dlapp.training import TrainConfig, train


@pytest.fixture()
def with_backbone(model_dir):
    """A model cache holding the shipped cifar10-best, the transfer preset's default backbone."""
    for suffix in (".keras", ".json"):
        shutil.copy(SHIPPED_MODEL_DIR / f"cifar10-best{suffix}", model_dir / f"cifar10-best{suffix}")
    return model_dir


def test_transfer_trains_a_head_on_the_frozen_trunk_and_saves_one_flat_model(with_backbone, tmp_path):
    import keras

    from dlapp.explain.image import first_layer_filters, grad_cam
    from dlapp.layers import trained_network  # importing it registers dlapp's layers

    folder = class_folder(tmp_path / "colours", classes=("red", "blue", "green"), per_class=14, size=32)
    result = train(TrainConfig(str(folder), preset="transfer"))
    card = result.card
    assert card.hyperparameters["architecture"] == "transfer" and card.hyperparameters["backbone"] == "cifar10-best"
    assert card.input.shape == (32, 32, 3) and card.class_names == ("blue", "green", "red")
    assert card.metrics.test_accuracy >= 0.9  # plain colours: any working head separates them

    model = keras.saving.load_model(with_backbone / f"{result.model_id}.keras", safe_mode=True)
    classifier = model.get_layer("classifier")
    assert not any(isinstance(layer, keras.Model) for layer in classifier.layers)  # flat: trunk layers, then head
    backbone_model = keras.saving.load_model(with_backbone / "cifar10-best.keras", safe_mode=True)
    backbone = trained_network(backbone_model)  # the shipped one answers through a gate (ViewsWhenUnsure)
    convs = [la for la in classifier.layers if isinstance(la, keras.layers.Conv2D)]
    theirs = [la for la in backbone.layers if isinstance(la, keras.layers.Conv2D)]
    assert len(convs) == len(theirs)
    for ours, original in zip(convs, theirs, strict=True):  # the trunk was not trained: same weights
        np.testing.assert_array_equal(ours.get_weights()[0], original.get_weights()[0])
    probs = model.predict(np.zeros((2, 32, 32, 3), np.uint8), verbose=0)
    assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    heat = grad_cam(model, np.full((32, 32, 3), 200, np.uint8), 0)  # explanations read it like any dlapp model
    assert heat.ndim == 2 and np.isfinite(heat).all()
    assert first_layer_filters(model).shape == first_layer_filters(backbone_model).shape


def test_transfer_needs_its_backbone_and_its_size(model_dir, with_backbone, tmp_path):
    folder = class_folder(tmp_path / "colours", per_class=6, size=32)
    with pytest.raises(UsageError, match="reads 32×32"):
        train(TrainConfig(str(folder), preset="transfer", image_size=64))
    with pytest.raises(UsageError, match="not in the model cache"):
        train(TrainConfig(str(folder), preset="transfer", backbone="no-such-model"))
    with pytest.raises(UsageError, match="transfer preset, and only to it"):
        train(TrainConfig(str(folder), preset="fast", backbone="cifar10-best"))


def test_a_retrained_backbone_is_never_answered_from_the_cache(with_backbone, tmp_path):
    import keras

    from dlapp.layers import trained_network  # importing it registers dlapp's layers
    from dlapp.store import get_store

    store = get_store()
    backbone = keras.saving.load_model(with_backbone / "cifar10-best.keras", safe_mode=True)
    store.save(backbone, store.card("cifar10-best"), "my-best")  # the user's own (a shipped one is read-only)
    folder = class_folder(tmp_path / "colours", per_class=8, size=32)
    config = TrainConfig(str(folder), preset="transfer", epochs=2, backbone="my-best")
    first = train(config)
    assert train(config).cached  # same data, same preset, same backbone
    dense = trained_network(backbone).layers[-1]
    dense.set_weights([w + 0.01 for w in dense.get_weights()])  # "retrained"
    store.save(backbone, store.card("my-best"), "my-best")
    again = train(config)
    assert not again.cached and again.card.provenance.cache_key != first.card.provenance.cache_key
