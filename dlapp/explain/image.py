"""Why an image model answers as it does: class heat maps (Grad-CAM and its per-position
variant LayerCAM), feature maps, first-layer filters and the layer table.

Every image model dlapp saves (nets/image.py `export`) is uint8 image -> [StackViews "views"] ->
the trained network as the nested model "classifier" -> [MeanOverViews "view_mean"] ->
Temperature, or with a gate uint8 image -> ViewsWhenUnsure (holding "classifier"; the other
views only for images the classifier is unsure of) -> Temperature. Explanations read the
classifier; Grad-CAM also replays the test-time views the model averaged for this image, so a
map explains the answer the user actually got. A model without a
"classifier" layer and without nested models (a plain `build_image_model` network) is read as
its own classifier with one view.

Engine code: arrays in, arrays and dataclasses out; no gradio, no matplotlib (colour maps are a
small LUT here).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from ..backend import keras, tf
from ..errors import UsageError
from ..layers import MeanOverViews, StackViews, ViewsWhenUnsure, top_probability

View = tuple[bool, int, int]  # (mirrored, dy, dx), as StackViews.views gives them
Method = Literal["layercam", "gradcam"]  # how gradients weight the activations; see grad_cam

# --- which layers to read ---------------------------------------------------------------------------------------------

# Which layer, and which weighting: measured by benchmarks/explain_image_bench.py on cifar10-best
# (first 500 CIFAR-10 test images; mean drop of the predicted class's probability when the top
# 20% of a map's pixels are replaced by the image's mean colour; standard errors <= 0.017):
#   layer (side)          random map of that side   Grad-CAM   LayerCAM
#   conv2d (31×31)        0.381                     0.225      0.397
#   conv2d_2 (15×15)      0.266                     0.229      0.441
#   conv2d_4 (7×7)        0.155                     0.409      0.458   <- the default
#   activation_6 (3×3)    0.132                     0.453      0.392   <- Grad-CAM's default
# Checked on the next 500 test images (chosen on the first 500): LayerCAM 0.464 at 7×7 and 0.391
# at 15×15 (paired difference 0.073 ± 0.017); Grad-CAM at 3×3 0.451 (0.013 ± 0.015 below).
# - Classic Grad-CAM (one weight per channel: its mean gradient) is faithful only at the last,
#   3×3 stage; at 15×15 it does worse than a random 15×15 map: after two pools and a global max
#   pool, an early layer's mean gradient says little about where the evidence is.
# - LayerCAM (each position weighted by its own positive gradient) is the most faithful at the
#   7×7 conv before the last pool, at five times the cells of 3×3 Grad-CAM, which cannot say
#   which fifth of a 32-px image matters. At 15×15 its maps follow edges and texture instead.
# - Honest limits: a centred Gaussian "map" scores 0.435 (CIFAR-10 objects are central), and
#   replacing 20% of scattered random pixels scores 0.569 (noise wrecks a 32-px image more than
#   any compact region does), so the maps beat random maps of their own shape by far, the centre
#   prior narrowly, and scattered pixels not at all.
MIN_SIDE_FRACTION = 0.2  # LayerCAM reads the deepest layer at least this share of the input's side: 7×7 of 32×32
FEATURE_TILE_PX = 48  # a feature-map tile is upscaled (nearest) to at least this many pixels a side
FILTER_TILE_PX = 32  # a first-layer filter (3×3 or 4×4) is upscaled to about this
GAP_PX = 2  # white border between tiles


@dataclass(frozen=True)
class LayerRow:
    """One row of `layer_table`. `params` counts the weights this row adds: a nested model's
    own row counts 0 and its layers (the rows below it, one `depth` deeper) count theirs, so the
    column adds up to model.count_params()."""

    name: str
    kind: str  # the layer's class name
    output_shape: str
    params: int
    depth: int  # 0 for the model's own layers, 1 inside a nested model (the classifier), ...


@dataclass(frozen=True)
class FeatureStage:
    """The activations after one conv stage of the classifier, for one image (the unmirrored view)."""

    name: str  # the layer whose output this is
    shape: tuple[int, int, int]  # (h, w, channels)
    channels: tuple[int, ...]  # the channels shown, strongest mean activation first
    grid: np.ndarray  # uint8 RGB tiles of those channels, each normalised to its own range


@dataclass(frozen=True)
class _Structure:
    classifier: keras.Model
    head: keras.layers.Dense  # the final Dense: its input and weights give the pre-softmax logits
    views: tuple[View, ...]
    view_weights: tuple[float, ...]
    stack: StackViews | None  # the model's own view stacking, rebuilt from its config
    gate: float | None = None  # ViewsWhenUnsure: only images whose first view is less sure than this get every view

    @property
    def num_classes(self) -> int:
        return 2 if self.head.units == 1 else self.head.units  # one sigmoid unit answers two classes


def _structure(model: keras.Model) -> _Structure:
    return _cached(model, ("structure",), lambda: _read_structure(model))


def _read_structure(model: keras.Model) -> _Structure:
    """Find the classifier, its final Dense, and the test-time views of a dlapp image model."""
    if len(model.input_shape) != 4:
        raise UsageError(f"Model {model.name!r} is not an image model: it takes {model.input_shape}, not images.")
    names = {layer.name: layer for layer in model.layers}
    gated = next((layer for layer in model.layers if isinstance(layer, ViewsWhenUnsure)), None)
    if gated is not None:
        classifier = gated.classifier
    elif "classifier" in names:
        classifier = names["classifier"]
    elif not any(isinstance(layer, keras.Model) for layer in model.layers):
        classifier = model
    else:
        raise UsageError(f"Model {model.name!r} was saved before explanations existed (no 'classifier' "
                         "layer): re-export it with `python -m dlapp models recalibrate ID`.")
    dense = [layer for layer in classifier.layers if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise UsageError(f"Model {model.name!r} is not an image classifier with a final Dense layer.")
    if gated is not None:  # fresh copies of its parts: the cache must not hold `model`
        stack = StackViews(flip=gated.stack.flip, shifts=gated.stack.shifts)
        return _Structure(classifier, dense[-1], tuple(gated.views), gated.view_weights, stack, gated.gate)
    views_layer, mean_layer = names.get("views"), names.get("view_mean")
    if isinstance(views_layer, StackViews) and isinstance(mean_layer, MeanOverViews):
        stack = StackViews.from_config(views_layer.get_config())
        return _Structure(classifier, dense[-1], tuple(views_layer.views), mean_layer.view_weights, stack)
    return _Structure(classifier, dense[-1], ((False, 0, 0),), (1.0,), None)


def _spatial_layers(classifier: keras.Model) -> list[keras.layers.Layer]:
    """The classifier's layers with a 4-D output, in order, after its Rescaling."""
    return [layer for layer in classifier.layers
            if not isinstance(layer, keras.layers.InputLayer | keras.layers.Rescaling) and len(layer.output.shape) == 4]


def gradcam_layer(model: keras.Model, method: Method = "layercam") -> str:
    """The classifier layer `grad_cam` explains by default: for LayerCAM the deepest one at least
    MIN_SIDE_FRACTION of the input's side, for Grad-CAM the last conv stage (see the figures above)."""
    s = _structure(model)
    height, width = model.input_shape[1:3]
    spatial = _spatial_layers(s.classifier)
    fine = [layer for layer in spatial
            if min(layer.output.shape[1] / height, layer.output.shape[2] / width) >= MIN_SIDE_FRACTION]
    if not spatial or not fine:
        raise UsageError(f"Model {model.name!r} has no convolutional stage to explain.")
    return (spatial if method == "gradcam" else fine)[-1].name


def _nonlinear(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, keras.layers.Activation):
        return True
    act = getattr(layer, "activation", None)
    return act is not None and act is not keras.activations.linear


def feature_stage_layers(model: keras.Model) -> list[str]:
    """One layer per resolution of the classifier: the last output at that size that has been
    through a non-linearity (for the convnets, each stage's closing BN-activation; for the seed
    CNNs, each ReLU conv)."""
    by_size: dict[tuple[int, int], str] = {}
    for layer in _spatial_layers(_structure(model).classifier):
        if _nonlinear(layer):
            by_size[tuple(layer.output.shape[1:3])] = layer.name  # later layers at the same size win
    return list(by_size.values())


# --- compiled functions, one per (model, layer) ---------------------------------------------------------------------

# Tracing a gradient through a CNN costs seconds; a call of the traced function, milliseconds.
# Keyed weakly by the model so a model the app drops takes its functions with it (the values
# reference the classifier's layers, never the outer model).
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached(model: keras.Model, key: tuple, build: Callable[[], Callable]) -> Callable:
    per_model = _CACHE.setdefault(model, {})
    if key not in per_model:
        per_model[key] = build()
    return per_model[key]


def _gradcam_fn(s: _Structure, layer_name: str, method: Method, image_shape: tuple[int, ...]) -> Callable:
    """tf.function: (uint8 image, class) -> (V, h, w) maps, one per view, before the final ReLU."""
    stage = s.classifier.get_layer(layer_name).output
    probe = keras.Model(s.classifier.inputs, [stage, s.head.input])
    head, stack = s.head, s.stack

    @tf.function(input_signature=[tf.TensorSpec(image_shape, tf.uint8), tf.TensorSpec((), tf.int32)])
    def fn(image, class_index):
        x = image[None]
        views = stack(x) if stack is not None else x
        with tf.GradientTape() as tape:
            act, features = probe(views, training=False)
            # The pre-softmax logit, from the final Dense's input: softmax and temperature would
            # let every other class's score leak into this one's gradient.
            logits = tf.matmul(tf.cast(features, tf.float32), tf.cast(head.kernel, tf.float32))
            if head.use_bias:
                logits += tf.cast(head.bias, tf.float32)
            if head.units == 1:  # one sigmoid unit: class 1 is +logit, class 0 is -logit
                logits = tf.concat([-logits, logits], axis=-1)
            score = tf.reduce_sum(logits[:, class_index])  # views are independent: one gradient each
        grads = tape.gradient(score, act)
        if method == "gradcam":  # one weight per channel: its mean gradient (Selvaraju et al.)
            weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        else:  # one weight per position and channel: its positive gradient (Jiang et al.)
            weights = tf.nn.relu(grads)
        return tf.reduce_sum(tf.cast(act, tf.float32) * tf.cast(weights, tf.float32), axis=-1)

    return fn


def _features_fn(s: _Structure, names: list[str], image_shape: tuple[int, ...]) -> Callable:
    probe = keras.Model(s.classifier.inputs, [s.classifier.get_layer(n).output for n in names])

    @tf.function(input_signature=[tf.TensorSpec(image_shape, tf.uint8)])
    def fn(image):
        out = probe(image[None], training=False)
        return [tf.cast(a[0], tf.float32) for a in (out if isinstance(out, list | tuple) else [out])]

    return fn


# --- Grad-CAM -------------------------------------------------------------------------------------------------------

def _check_image(model: keras.Model, image: np.ndarray) -> tuple[int, ...]:
    shape = tuple(model.input_shape[1:])
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != shape:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise UsageError(f"Explain one uint8 image of shape {shape} (the model's input; preprocess it with "
                         f"the model's predictor first), got {got}.")
    return shape


def _translate(m: np.ndarray, ty: float, tx: float) -> np.ndarray:
    """out[i, j] = m[i - ty, j - tx], bilinear between cells, edges repeated (shifts are fractional:
    a 1-px image shift is under half a cell of a 15×15 map)."""
    def sample(n: int, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip(np.arange(n) - t, 0, n - 1)
        lo = np.floor(pos).astype(int)
        return lo, np.minimum(lo + 1, n - 1), (pos - lo).astype(np.float32)

    y0, y1, wy = sample(m.shape[0], ty)
    x0, x1, wx = sample(m.shape[1], tx)
    rows = m[y0] * (1 - wy)[:, None] + m[y1] * wy[:, None]
    return rows[:, x0] * (1 - wx) + rows[:, x1] * wx


def to_image_frame(cam: np.ndarray, view: View, image_hw: tuple[int, int]) -> np.ndarray:
    """A map computed on one test-time view, moved back into the original image's frame.

    StackViews shifts first (view pixel y shows image pixel y + dy) and mirrors second, so this
    un-mirrors first and un-shifts second, the shift scaled to the map's resolution.
    """
    mirrored, dy, dx = view
    out = cam[:, ::-1] if mirrored else cam
    if dy or dx:
        out = _translate(out, dy * cam.shape[0] / image_hw[0], dx * cam.shape[1] / image_hw[1])
    return np.ascontiguousarray(out, dtype=np.float32)


def view_maps(model: keras.Model, image: np.ndarray, class_index: int, *, layer: str | None = None,
              method: Method = "layercam") -> np.ndarray:
    """The raw maps `grad_cam` combines: float32 (V, h, w), one per test-time view in the order
    of the model's views (`StackViews.views`; V = 1 without test-time augmentation), each in its
    view's own frame, before the ReLU and the normalisation. Raises as `grad_cam` does."""
    s = _structure(model)
    shape = _check_image(model, image)
    if isinstance(class_index, bool) or not isinstance(class_index, int | np.integer) \
            or not 0 <= class_index < s.num_classes:
        raise UsageError(f"Class index must be a whole number from 0 to {s.num_classes - 1}, got {class_index!r}.")
    if method not in ("layercam", "gradcam"):
        raise UsageError(f"Method must be 'layercam' or 'gradcam', got {method!r}.")
    name = layer or gradcam_layer(model, method)
    if name not in {la.name for la in _spatial_layers(s.classifier)}:
        raise UsageError(f"Layer {name!r} is not a convolutional layer of {s.classifier.name!r}.")
    fn = _cached(model, (method, name), lambda: _gradcam_fn(s, name, method, shape))
    return fn(tf.constant(image), tf.constant(int(class_index), tf.int32)).numpy()


def _all_views_answered(model: keras.Model, s: _Structure, image: np.ndarray) -> bool:
    """Whether the model's answer for `image` averaged all its views: always, unless a gate
    (ViewsWhenUnsure) found the image alone sure enough. The same test as the layer's, in TensorFlow."""
    if s.gate is None:
        return True
    spec = tf.TensorSpec(image.shape, tf.uint8)
    unsure = _cached(model, ("unsure",), lambda: tf.function(
        lambda x: top_probability(s.classifier(x[None], training=False))[0] < s.gate, input_signature=[spec]))
    return bool(unsure(tf.constant(image)))


def grad_cam(model: keras.Model, image: np.ndarray, class_index: int, *, layer: str | None = None,
             method: Method = "layercam") -> np.ndarray:
    """Where in one image the evidence for `class_index` is: float32 in [0, 1] at the explained
    layer's resolution (`layer`, default `gradcam_layer(model, method)`), all zeros where nothing
    speaks for the class. The score explained is the class's pre-softmax logit.

    `method="layercam"` (the default; Jiang et al., 2021) weights each activation by its own
    positive gradient; `"gradcam"` (Selvaraju et al., 2017) weights each channel by its mean
    gradient. Replacing the top 20% of pixels of a cifar10-best map cuts the predicted class's
    probability by 0.46 for LayerCAM at 7×7 (the default), 0.45 for Grad-CAM at 3×3, 0.16 for a
    random 7×7 map and 0.44 for a centred blob (500 test images; more above MIN_SIDE_FRACTION).

    Each test-time view the model averages gets its own map (`view_maps`), moved back into the
    image's frame and averaged with the model's view weights before the ReLU, as the model
    averages its views' answers: evidence one view sees and another contradicts cancels.

    Raises UsageError for an image that is not uint8 at the model's input shape, a class index out
    of range, an unknown method or layer, or a model that is not a dlapp image classifier.
    """
    maps = view_maps(model, image, class_index, layer=layer, method=method)
    s = _structure(model)
    views, weights = s.views, s.view_weights
    if not _all_views_answered(model, s, image):  # the model answered from the image alone
        maps, views, weights = maps[:1], views[:1], (1.0,)
    combined = sum(w * to_image_frame(m, view, image.shape[:2])
                   for m, view, w in zip(maps, views, weights, strict=True))
    heat = np.maximum(combined, 0.0)
    top = float(heat.max())
    return (heat / top if top > 0 else heat).astype(np.float32)


# --- pictures -------------------------------------------------------------------------------------------------------

# viridis (perceptually uniform, readable in grey and by most colour-blind viewers) at ten
# evenly spaced points; 256 entries interpolated between them are indistinguishable from it.
_VIRIDIS = np.array([[68, 1, 84], [72, 40, 120], [62, 73, 137], [49, 104, 142], [38, 130, 142],
                     [31, 158, 137], [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37]], np.float64)
_LUT = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_VIRIDIS)), _VIRIDIS[:, c])
                 for c in range(3)], axis=1).round().astype(np.uint8)


def colormap(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (any shape) -> uint8 RGB (shape + (3,)) in viridis."""
    index = np.clip(np.nan_to_num(np.asarray(values, np.float32)) * 255 + 0.5, 0, 255).astype(np.uint8)
    return _LUT[index]


def upsample(heat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A 2-D map resized bilinearly to (height, width), float32 (the map covers the whole image)."""
    return np.asarray(Image.fromarray(np.asarray(heat, np.float32)).resize(shape[::-1], Image.BILINEAR))


def _fit(shape: tuple[int, ...], size: int) -> tuple[int, int]:
    scale = size / max(shape[0], shape[1])
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def heat_image(heat: np.ndarray, size: int = 224) -> np.ndarray:
    """The heat map alone as a uint8 RGB picture, its longer side `size` pixels."""
    return colormap(np.clip(upsample(heat, _fit(heat.shape, size)), 0, 1))


def overlay(image: np.ndarray, heat: np.ndarray, *, size: int = 224, alpha: float = 0.5) -> np.ndarray:
    """The image upscaled (bicubic) so its longer side is `size`, with the heat map blended over
    it in viridis: uint8 RGB."""
    rgb = image if image.ndim == 3 and image.shape[2] == 3 else np.repeat(image.reshape(*image.shape[:2], 1), 3, 2)
    h, w = _fit(rgb.shape, size)
    big = np.asarray(Image.fromarray(rgb).resize((w, h), Image.BICUBIC), np.float32)
    colour = colormap(np.clip(upsample(heat, (h, w)), 0, 1)).astype(np.float32)
    return ((1 - alpha) * big + alpha * colour).round().astype(np.uint8)


def _tile(tiles: list[np.ndarray], cols: int) -> np.ndarray:
    """Equal-sized uint8 RGB tiles in a grid with white gaps."""
    th, tw = tiles[0].shape[:2]
    rows = math.ceil(len(tiles) / cols)
    grid = np.full((rows * (th + GAP_PX) - GAP_PX, cols * (tw + GAP_PX) - GAP_PX, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        grid[r * (th + GAP_PX):r * (th + GAP_PX) + th, c * (tw + GAP_PX):c * (tw + GAP_PX) + tw] = t
    return grid


def _normalise(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _enlarge(a: np.ndarray, target_px: int) -> np.ndarray:
    k = max(1, math.ceil(target_px / max(a.shape[0], a.shape[1])))
    return np.repeat(np.repeat(a, k, axis=0), k, axis=1)  # nearest: each activation stays one visible block


# --- feature maps and filters -----------------------------------------------------------------------------------------

def feature_maps(model: keras.Model, image: np.ndarray, *, channels: int = 8) -> list[FeatureStage]:
    """What each conv stage of the classifier (`feature_stage_layers`) computes for one image:
    its `channels` strongest channels by mean activation, each normalised to its own range and
    colour-mapped. Raises UsageError for an image that is not uint8 at the model's input shape."""
    _structure(model)  # an image model, before its input is judged
    shape = _check_image(model, image)
    if channels < 1:
        raise UsageError(f"Show at least one channel, got {channels}.")
    names = feature_stage_layers(model)
    s = _structure(model)
    fn = _cached(model, ("features", *names), lambda: _features_fn(s, names, shape))
    stages = []
    for name, act in zip(names, fn(tf.constant(image)), strict=True):
        act = act.numpy()
        top = np.argsort(-act.mean(axis=(0, 1)), kind="stable")[:channels]
        tiles = [colormap(_enlarge(_normalise(act[..., k]), FEATURE_TILE_PX)) for k in top]
        stages.append(FeatureStage(name=name, shape=tuple(int(d) for d in act.shape),
                                   channels=tuple(int(k) for k in top), grid=_tile(tiles, min(4, len(tiles)))))
    return stages


def first_layer_filters(model: keras.Model) -> np.ndarray:
    """The first trainable conv layer's filters as RGB pictures (normalised per filter,
    upscaled), one tile each, in a uint8 grid.

    Seed CNNs: that layer reads the pixels, so its 3×3 filters are shown as they are. Convnets
    with a whitening stem: the stem (a frozen 2×2 conv whose filters are the eigenvectors of the
    training images' patch covariance scaled by 1/sqrt(eigenvalue), and their negatives) is not
    learnt, and the first trainable 3×3 conv reads the stem's channels, not RGB. Each of its
    filters is shown composed with the stem into the 4×4 RGB pattern it would match if the
    activation between them (GELU or ReLU) were the identity: an approximation, since it is not,
    but the pattern the learnt weights point at in pixel space. Raises UsageError for a model
    with no trainable conv layer.
    """
    convs = [layer for layer in _structure(model).classifier.layers if isinstance(layer, keras.layers.Conv2D)]
    learnt = next((c for c in convs if c.trainable), None)
    if learnt is None:
        raise UsageError(f"Model {model.name!r} has no trainable conv layer.")
    kernel = np.asarray(learnt.kernel, np.float32)  # (kh, kw, in, out)
    frozen = [c for c in convs[:convs.index(learnt)] if not c.trainable]
    if frozen:  # the whitening stem: compose (correlation of correlations) into one pixel-space kernel
        stem = np.asarray(frozen[-1].kernel, np.float32)  # (sh, sw, rgb, in)
        sh, sw = stem.shape[:2]
        composed = np.zeros((kernel.shape[0] + sh - 1, kernel.shape[1] + sw - 1, stem.shape[2], kernel.shape[3]),
                            np.float32)
        for a in range(sh):
            for b in range(sw):
                composed[a:a + kernel.shape[0], b:b + kernel.shape[1]] += np.einsum("ck,ijko->ijco", stem[a, b], kernel)
        kernel = composed
    if kernel.shape[2] not in (1, 3):
        raise UsageError(f"Layer {learnt.name!r} reads {kernel.shape[2]} channels, not pixels: nothing to draw.")
    tiles = []
    for o in range(kernel.shape[3]):
        f = (_normalise(kernel[..., o]) * 255).round().astype(np.uint8)
        tiles.append(_enlarge(np.repeat(f, 3, axis=2) if f.shape[2] == 1 else f, FILTER_TILE_PX))
    return _tile(tiles, math.ceil(math.sqrt(len(tiles))))


# --- the layer table --------------------------------------------------------------------------------------------------

def _shape_text(layer: keras.layers.Layer) -> str:
    try:
        out = layer.output
    except (AttributeError, ValueError):  # a layer called more than once has no single output
        return "multiple"
    shapes = [o.shape for o in out] if isinstance(out, list | tuple) else [out.shape]
    return ", ".join("(" + ", ".join("None" if d is None else str(d) for d in sh) + ")" for sh in shapes)


def _inner(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers shown one level deeper under `layer`: a nested model's, or the network a gate holds."""
    if isinstance(layer, keras.Model):
        return layer.layers
    return [layer.classifier] if isinstance(layer, ViewsWhenUnsure) else []


def _rows(layers: list[keras.layers.Layer], depth: int, seen: set[int]) -> list[LayerRow]:
    rows: list[LayerRow] = []
    for layer in layers:
        children = _rows(_inner(layer), depth + 1, seen)
        fresh = [w for w in layer.weights if id(w) not in seen]  # shared weights count once
        seen.update(id(w) for w in fresh)
        params = sum(math.prod(w.shape) for w in fresh)
        rows += [LayerRow(layer.name, type(layer).__name__, _shape_text(layer), int(params), depth), *children]
    return rows


def layer_table(model: keras.Model) -> list[LayerRow]:
    """Every layer of any Keras model, nested models (the image classifier, the text head)
    flattened in after their own row, one level deeper. The params column adds up to
    model.count_params()."""
    return _rows(model.layers, 0, set())
