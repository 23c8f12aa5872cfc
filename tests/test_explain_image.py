"""Image explanations (dlapp/explain/image.py) on real Keras models: small untrained ones built and
exported as the presets build them, and copies of the shipped models (image and text)."""

import gc
import weakref

import keras
import numpy as np
import pytest
from PIL import Image

from dlapp.errors import UsageError
from dlapp.explain.image import (
    feature_maps,
    first_layer_filters,
    grad_cam,
    gradcam_layer,
    heat_image,
    layer_table,
    overlay,
    to_image_frame,
    view_maps,
)
from dlapp.layers import ShiftImage
from dlapp.nets.image import build_image_model, export
from dlapp.tasks.image import EXAMPLES_DIR, PRESETS
from dlapp.training.calibrate import with_temperature

RNG = np.random.default_rng(0)
SAMPLE = RNG.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)  # fits the whitening stem
IMAGE = SAMPLE[0]


@pytest.fixture(scope="module")
def network():
    """The fast preset's network (whitening stem, 24/48/96), untrained."""
    keras.utils.set_random_seed(0)
    return build_image_model(PRESETS["fast"], (32, 32, 3), 10, sample=SAMPLE)


@pytest.fixture(scope="module")
def flip_model(network):
    """Saved the way the fast preset saves: mirror TTA, then a fitted temperature."""
    return with_temperature(export(network, flip=True), 0.7)


@pytest.fixture(scope="module")
def shipped_fast(shipped_dir):
    return keras.saving.load_model(shipped_dir / "cifar10-fast.keras", safe_mode=True)


@pytest.fixture(scope="module")
def shipped_text(shipped_dir):
    return keras.saving.load_model(shipped_dir / "imdb-fast.keras", safe_mode=True)


def lit_class(model, method: str) -> int:
    """A class with some evidence in IMAGE (an untrained net can have none for a class: an all-zero map)."""
    return next(c for c in range(10) if grad_cam(model, IMAGE, c, method=method).max() > 0)


@pytest.mark.parametrize("method", ["layercam", "gradcam"])
def test_heat_map_is_finite_in_unit_range_at_the_layers_resolution(flip_model, method):
    side = flip_model.get_layer("classifier").get_layer(gradcam_layer(flip_model, method)).output.shape[1:3]
    maps = [grad_cam(flip_model, IMAGE, c, method=method) for c in range(10)]
    for heat in maps:
        assert heat.shape == tuple(side) and heat.dtype == np.float32
        assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() in (0.0, pytest.approx(1.0))
    assert sum(heat.max() > 0 for heat in maps) >= 3


def test_default_layers_are_the_7px_conv_for_layercam_and_the_last_stage_for_gradcam(flip_model):
    inner = flip_model.get_layer("classifier")
    layer = inner.get_layer(gradcam_layer(flip_model))  # the conv before the last pool (names vary per process)
    assert type(layer).__name__ == "Conv2D" and layer.output.shape[1:3] == (7, 7)
    assert inner.get_layer(gradcam_layer(flip_model, "gradcam")).output.shape[1:3] == (3, 3)


@pytest.mark.parametrize("method", ["layercam", "gradcam"])
def test_with_flip_tta_the_mirrored_images_map_is_the_mirrored_map(flip_model, method):
    c = lit_class(flip_model, method)
    heat = grad_cam(flip_model, IMAGE, c, method=method)
    mirrored = grad_cam(flip_model, np.ascontiguousarray(IMAGE[:, ::-1]), c, method=method)
    assert heat.max() == pytest.approx(1.0)  # not trivially equal zero maps
    np.testing.assert_allclose(mirrored, heat[:, ::-1], atol=1e-4)


def test_each_view_is_the_classifier_on_the_view_the_model_averages(network):
    model = export(network, flip=True, shifts=((-1, -1), (1, 1)))
    views = model.get_layer("views").views
    maps = view_maps(model, IMAGE, 4)
    assert maps.shape[0] == len(views) == 6
    plain = model.get_layer("classifier")  # a model with no nested model is its own classifier, one view
    for m, (mirrored, dy, dx) in zip(maps, views, strict=True):
        view = np.asarray(ShiftImage(dy, dx)(IMAGE[None]))[0]
        view = np.ascontiguousarray(view[:, ::-1] if mirrored else view)
        np.testing.assert_allclose(m, view_maps(plain, view, 4)[0], rtol=1e-4, atol=1e-4 * np.abs(m).max())


def test_a_gated_model_is_explained_from_the_views_its_answer_averaged(network):
    tops = np.asarray(network.predict(SAMPLE, verbose=0)).max(axis=1)
    gated = export(network, flip=True, gate=float(np.median(tops)))  # half the sample sure, half not
    one, every = export(network), export(network, flip=True)
    for image, answered, other in ((SAMPLE[int(np.argmax(tops))], one, every),
                                   (SAMPLE[int(np.argmin(tops))], every, one)):
        c = next(c for c in range(10) if grad_cam(one, image, c).max() > 0 and grad_cam(every, image, c).max() > 0)
        heat = grad_cam(gated, image, c)
        np.testing.assert_allclose(heat, grad_cam(answered, image, c), atol=1e-5)
        assert not np.allclose(heat, grad_cam(other, image, c), atol=1e-3)
    rows = layer_table(gated)
    assert [r.name for r in rows if r.depth == 1] == ["classifier"]  # the network the gate holds, one level down
    assert sum(r.params for r in rows) == gated.count_params()


def test_views_are_moved_back_into_the_image_frame():
    cam = np.zeros((32, 32), np.float32)
    cam[5, 9] = 1.0  # a map as fine as the image: a view shifted by (dy, dx) shows pixel (y + dy, x + dx) at (y, x)
    assert np.argwhere(to_image_frame(cam, (False, 2, 3), (32, 32)) == 1).tolist() == [[7, 12]]
    assert np.argwhere(to_image_frame(cam, (True, 0, 0), (32, 32)) == 1).tolist() == [[5, 22]]
    assert np.argwhere(to_image_frame(cam, (True, -1, 1), (32, 32)) == 1).tolist() == [[4, 23]]  # un-mirror, then shift
    half = to_image_frame(np.eye(16, dtype=np.float32), (False, 1, 0), (32, 32))  # 1 px is half a cell here
    np.testing.assert_allclose(half[1:], (np.eye(16)[1:] + np.eye(16)[:-1]) / 2)


CAT = np.asarray(Image.open(EXAMPLES_DIR / "cifar10-test-0000-cat.png").convert("RGB"))


@pytest.mark.parametrize("name", ["cifar10-seed", "cifar10-fast", "cifar10-best"])
def test_every_shipped_image_model_is_explained(shipped_dir, name):
    model = keras.saving.load_model(shipped_dir / f"{name}.keras", safe_mode=True)
    predicted = int(np.argmax(model.predict(CAT[None], verbose=0)))
    heat = grad_cam(model, CAT, predicted)
    assert heat.max() == pytest.approx(1.0) and min(heat.shape) >= 6
    assert len(feature_maps(model, CAT)) >= 2 and first_layer_filters(model).ndim == 3
    assert sum(r.params for r in layer_table(model)) == model.count_params()


def test_the_class_index_matters(shipped_fast):
    image = CAT
    cat, ship = grad_cam(shipped_fast, image, 3), grad_cam(shipped_fast, image, 8)
    assert cat.max() == pytest.approx(1.0) and ship.shape == cat.shape
    assert np.abs(cat - ship).mean() > 0.05


def test_a_single_sigmoid_unit_explains_two_classes():
    keras.utils.set_random_seed(1)
    model = export(build_image_model(PRESETS["seed-binary"], (32, 32, 3), 2))
    no, yes = view_maps(model, IMAGE, 0, method="gradcam")[0], view_maps(model, IMAGE, 1, method="gradcam")[0]
    np.testing.assert_allclose(no, -yes, atol=1e-6)  # class 0's score is minus class 1's
    with pytest.raises(UsageError, match="from 0 to 1"):
        grad_cam(model, IMAGE, 2)


@pytest.mark.parametrize("index", [-1, 10, 1.0, True, "3"])
def test_a_bad_class_index_is_a_usage_error(flip_model, index):
    with pytest.raises(UsageError, match="from 0 to 9"):
        grad_cam(flip_model, IMAGE, index)


@pytest.mark.parametrize("image", [IMAGE.astype(np.float32), IMAGE[None], IMAGE[:16], IMAGE[..., :1], IMAGE.tolist()])
def test_an_image_not_preprocessed_for_the_model_is_a_usage_error(flip_model, image):
    with pytest.raises(UsageError, match=r"uint8 image of shape \(32, 32, 3\)"):
        grad_cam(flip_model, image, 0)
    with pytest.raises(UsageError, match="preprocess"):
        feature_maps(flip_model, image)


def test_a_text_model_is_not_explained_as_an_image(shipped_text):
    with pytest.raises(UsageError, match="not an image model"):
        grad_cam(shipped_text, IMAGE, 0)


def test_unknown_method_or_layer_is_a_usage_error(flip_model):
    with pytest.raises(UsageError, match="layercam"):
        grad_cam(flip_model, IMAGE, 0, method="saliency")
    with pytest.raises(UsageError, match="not a convolutional layer"):
        grad_cam(flip_model, IMAGE, 0, layer="dense")


def test_layer_table_params_add_up_for_image_and_text_models(flip_model, shipped_text):
    rows = layer_table(flip_model)
    assert sum(r.params for r in rows) == flip_model.count_params()
    assert [r.name for r in rows if r.depth == 0] == [layer.name for layer in flip_model.layers]
    whiten = next(r for r in rows if r.name == "whiten")
    assert (whiten.kind, whiten.output_shape, whiten.depth) == ("Conv2D", "(None, 31, 31, 24)", 1)
    rows = layer_table(shipped_text)
    assert sum(r.params for r in rows) == shipped_text.count_params()
    assert any(r.kind == "TextVectorization" for r in rows) and any(r.depth == 1 for r in rows)


def test_feature_maps_show_the_strongest_channels_of_each_stage(flip_model):
    stages = feature_maps(flip_model, IMAGE, channels=8)
    assert [s.shape[:2] for s in stages] == [(31, 31), (15, 15), (7, 7), (3, 3)]
    for s in stages:
        assert s.grid.dtype == np.uint8 and s.grid.ndim == 3 and s.grid.shape[2] == 3
        assert len(s.channels) == 8 and min(s.grid.shape[:2]) >= 2 * 48  # two rows of tiles, each >= 48 px
        assert s.grid.std() > 0


def test_first_layer_filters_are_a_picture_per_filter(network):
    grid = first_layer_filters(network)  # through the whitening stem: 24 filters, 4×4 RGB each
    assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[2] == 3 and grid.std() > 0
    seed = first_layer_filters(build_image_model(PRESETS["seed-cifar10"], (32, 32, 3), 10))  # 32 filters, 3×3
    assert seed.dtype == np.uint8 and seed.shape[0] > grid.shape[0]


def test_overlay_and_heat_image_are_rgb_pictures_of_the_asked_size():
    heat = np.linspace(0, 1, 15 * 15, dtype=np.float32).reshape(15, 15)
    picture = overlay(IMAGE, heat, size=224)
    assert picture.shape == (224, 224, 3) and picture.dtype == np.uint8
    assert overlay(IMAGE[..., :1], heat, size=96).shape == (96, 96, 3)  # greyscale images too
    alone = heat_image(heat, 64)
    assert alone.shape == (64, 64, 3) and alone.dtype == np.uint8
    assert alone[0, 0].sum() < alone[-1, -1].sum()  # viridis: dark purple to bright yellow


def test_compiled_functions_are_dropped_with_their_model(network):
    model = export(network, flip=True)
    grad_cam(model, IMAGE, 0)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
