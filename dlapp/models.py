"""Model builders. Every model takes raw input: uint8 images or raw strings.

Image models start with Rescaling; text models start with TextVectorization
(adapted on the training texts), so a saved .keras file stands alone.
"""

from __future__ import annotations

import keras
import numpy as np

from .layers import MirrorImage, NBEvidence, ShiftImage, bigram_ids, standardize_review
from .presets import ImagePreset, TextPreset


# ---------------------------------------------------------------- image

def _seed_two_conv(x, n, dense_units):
    """The tutorials' CNN: two conv/pool stages, one dense layer (64 units for CIFAR-10, 128 for MNIST)."""
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense_units, activation="relu")(x)
    return keras.layers.Dense(n, activation="softmax", dtype="float32")(x)


def _seed_mnist_deep(x, n):
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    return keras.layers.Dense(n, activation="softmax", dtype="float32")(x)


def _seed_binary(x, n):
    for width in (32, 64, 128):
        x = keras.layers.Conv2D(width, 3, activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(512, activation="relu")(x)
    if n == 2:  # the tutorial's single sigmoid unit
        return keras.layers.Dense(1, activation="sigmoid", dtype="float32")(x)
    return keras.layers.Dense(n, activation="softmax", dtype="float32")(x)


def _conv_bn(x, width, activation):
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    return keras.layers.Activation(activation)(x)


def whitening_kernel(images: np.ndarray, eps: float = 5e-4) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias of a 2×2 conv that whitens image patches (airbench's stem).

    Each eigenvector of the patch covariance, scaled by 1/sqrt(eigenvalue), becomes one
    filter, and so does its negative, so a following GELU keeps both signs.
    """
    x = images.astype(np.float32) / 255.0
    patches = np.concatenate([x[:, i:i + x.shape[1] - 1, j:j + x.shape[2] - 1, :]
                              for i in (0, 1) for j in (0, 1)], axis=-1)  # (N, H-1, W-1, 4C), order (i, j, c)
    flat = patches.reshape(-1, patches.shape[-1]).astype(np.float64)
    mean = flat.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(flat, rowvar=False))
    scaled = eigenvectors / np.sqrt(eigenvalues + eps * eigenvalues.mean())  # columns are filters
    filters = np.concatenate([scaled, -scaled], axis=1)
    kernel = filters.reshape(2, 2, x.shape[-1], -1)
    return kernel.astype(np.float32), (-mean @ filters).astype(np.float32)


def _convnet(x, n, preset: ImagePreset, sample: np.ndarray | None):
    """airbench-style: per stage conv -> pool -> BN-GELU -> conv, then global max pool."""
    if preset.whiten:
        if sample is None:
            raise ValueError("A whitening stem needs training images to fit.")
        kernel, bias = whitening_kernel(sample)
        stem = keras.layers.Conv2D(kernel.shape[-1], 2, strides=preset.whiten_stride, padding="valid",
                                   trainable=False, name="whiten")
        x = keras.layers.Activation(preset.activation)(stem(x))
        stem.set_weights([kernel, bias])
    else:
        x = _conv_bn(x, preset.widths[0] // 2, preset.activation)  # cheap stem at full resolution
    for width in preset.widths:
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.Activation(preset.activation)(x)
        x = _conv_bn(x, width, preset.activation)
    x = keras.layers.GlobalMaxPooling2D()(x)
    if preset.dropout:
        x = keras.layers.Dropout(preset.dropout)(x)
    return keras.layers.Dense(n, activation="softmax", dtype="float32")(x)


IMAGE_ARCHITECTURES = {
    "seed_cifar10": lambda x, n: _seed_two_conv(x, n, 64),
    "seed_mnist": lambda x, n: _seed_two_conv(x, n, 128),
    "seed_mnist_deep": _seed_mnist_deep,
    "seed_binary": _seed_binary,
}


def build_image_model(preset: ImagePreset, input_shape: tuple[int, int, int], num_classes: int,
                      sample: np.ndarray | None = None) -> keras.Model:
    """A classifier from uint8 (N, H, W, C) to class probabilities.

    `sample`: training images (uint8), needed when the preset has a whitening stem.
    """
    inputs = keras.Input(shape=input_shape, dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    if preset.architecture == "convnet":
        outputs = _convnet(x, num_classes, preset, sample)
    else:
        outputs = IMAGE_ARCHITECTURES[preset.architecture](x, num_classes)
    return keras.Model(inputs, outputs, name=f"image_{preset.name}")


def with_tta(model: keras.Model, *, translate: bool = False) -> keras.Model:
    """Wrap a trained classifier so it averages its output over the image and its mirror.

    With `translate`, also over both views shifted by one pixel up-left and down-right,
    weighted as airbench does: half the weight on the unshifted pair.
    """
    inner = inference_model(model)
    inputs = keras.Input(shape=model.input_shape[1:], dtype="uint8", name="image")

    def mirrored_pair(x):
        return keras.layers.Average(dtype="float32")([inner(x), inner(MirrorImage()(x))])

    outputs = mirrored_pair(inputs)
    if translate:
        shifted = keras.layers.Average(dtype="float32")(
            [mirrored_pair(ShiftImage(-1, -1)(inputs)), mirrored_pair(ShiftImage(1, 1)(inputs))])
        outputs = keras.layers.Average(dtype="float32")([outputs, shifted])
    return keras.Model(inputs, outputs, name=model.name + "_tta")


# ---------------------------------------------------------------- text

_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simplernn": keras.layers.SimpleRNN}


def make_vectorizer(preset: TextPreset, texts: np.ndarray) -> keras.layers.TextVectorization:
    """TextVectorization adapted on the training texts (the vocabulary is saved in the model)."""
    vectorizer = keras.layers.TextVectorization(
        max_tokens=preset.vocab_size,
        output_sequence_length=preset.sequence_length,
        standardize=standardize_review,
        ngrams=preset.ngrams,
        name="vectorize",
    )
    vectorizer.adapt(np.asarray(texts, dtype=str), batch_size=1024)
    return vectorizer


NB_FOLDS = 5


def nb_counts(ids: np.ndarray, labels: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """How many positive and negative documents contain each id in [0, size) (NBSVM's binarised counts)."""
    docs = np.repeat(np.arange(len(ids), dtype=np.int64), ids.shape[1])
    present = np.unique(docs * size + ids.reshape(-1).astype(np.int64))  # each (doc, id) pair once
    doc_of, id_of = present // size, present % size
    positive = np.asarray(labels).astype(bool)[doc_of]
    return np.bincount(id_of[positive], minlength=size), np.bincount(id_of[~positive], minlength=size)


def nb_log_ratios(p: np.ndarray, q: np.ndarray, alpha: float = 1.0, min_docs: int = 5) -> np.ndarray:
    """log P(id | positive) / P(id | negative) from document counts, with add-`alpha` smoothing.

    Ids seen in fewer than `min_docs` documents get 0: a bigram from one review mostly
    encodes that review's label. Id 0 (padding) gets 0.
    """
    ratios = np.log((p + alpha) / (p + alpha).sum()) - np.log((q + alpha) / (q + alpha).sum())
    ratios[(p + q) < min_docs] = 0.0
    ratios[0] = 0.0
    return ratios.astype(np.float32)


def nb_tables(ids: np.ndarray, labels: np.ndarray, size: int, folds: np.ndarray, n_folds: int) -> np.ndarray:
    """(n_folds + 1, size) ratio tables: row k leaves fold k out; the last row uses every document."""
    counts = [nb_counts(ids[folds == k], labels[folds == k], size) for k in range(n_folds)]
    p_all, q_all = sum(c[0] for c in counts), sum(c[1] for c in counts)
    rows = [nb_log_ratios(p_all - p, q_all - q) for p, q in counts]
    return np.stack([*rows, nb_log_ratios(p_all, q_all)])


def nb_folds(n: int) -> np.ndarray:
    """Fold of each training review for cross-fitted NB features: contiguous chunks in file
    order, because neighbours often share a source (IMDB numbers a film's reviews
    consecutively), and a film's name must not carry its reviews' labels across folds."""
    return (np.arange(n) * NB_FOLDS) // max(1, n)


def _fit_nb_evidence(vectorizer, preset: TextPreset, texts: np.ndarray, labels: np.ndarray,
                     folds: np.ndarray) -> NBEvidence:
    ids = np.concatenate([np.asarray(vectorizer(np.asarray(texts[i:i + 2048], dtype=str)))
                          for i in range(0, len(texts), 2048)])
    # A small upload needs far fewer buckets than IMDB's million; 8 per token keeps collisions rare.
    vocab, buckets = vectorizer.vocabulary_size(), int(min(preset.bigram_buckets, max(1009, 8 * ids.size)))
    labels = np.asarray(labels)
    layer = NBEvidence(vocab, buckets, tables=NB_FOLDS + 1, name="nb")
    layer.build(ids.shape)
    layer.set_weights([nb_tables(ids, labels, vocab, folds, NB_FOLDS),
                       nb_tables(bigram_ids(ids, vocab, buckets), labels, buckets, folds, NB_FOLDS)])
    return layer


def build_text_model(preset: TextPreset, vectorizer: keras.layers.TextVectorization,
                     texts: np.ndarray | None = None, labels: np.ndarray | None = None,
                     folds: np.ndarray | None = None) -> keras.Model:
    """A classifier from raw strings (N,) to P(positive), shape (N, 1).

    With NB features, the model also takes each review's `fold` while training (see
    NBEvidence), and needs the training `texts`, `labels` and `folds`;
    `inference_model` turns it into the strings-only model that is saved.
    """
    cell = _CELLS[preset.cell]
    inputs = keras.Input(shape=(), dtype="string", name="text")
    ids = vectorizer(inputs)
    x = keras.layers.Embedding(vectorizer.vocabulary_size(), preset.embedding_dim, name="embed")(ids)
    if preset.architecture == "stacked":  # the seed tutorials: recurrent layers, last state -> sigmoid
        for i, units in enumerate(preset.units):
            x = cell(units, return_sequences=i < len(preset.units) - 1)(x)
        outputs = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="positive")(x)
        return keras.Model(inputs, outputs, name=f"text_{preset.name}")
    if not preset.nb_features:
        outputs = _pooled_head(preset, x.shape[-1])(x)
        return keras.Model(inputs, outputs, name=f"text_{preset.name}")
    if texts is None or labels is None or folds is None:
        raise ValueError("NB features need the training texts, labels and folds.")
    fold = keras.Input(shape=(), dtype="int32", name="fold")
    nb = _fit_nb_evidence(vectorizer, preset, texts, labels, folds)
    x = keras.layers.Concatenate(name="with_nb")([x, nb(ids, fold)])
    return keras.Model({"text": inputs, "fold": fold}, _pooled_head(preset, x.shape[-1])(x),
                       name=f"text_{preset.name}")


def _pooled_head(preset: TextPreset, features: int) -> keras.Model:
    """Recurrent layer(s) over the sequence, max+mean pooling over every step, sigmoid."""
    cell = _CELLS[preset.cell]
    inputs = keras.Input(shape=(preset.sequence_length, features), name="sequence")
    x = inputs
    if preset.dropout:
        x = keras.layers.SpatialDropout1D(preset.dropout / 2)(x)
    for units in preset.units:
        layer = cell(units, return_sequences=True)
        x = keras.layers.Bidirectional(layer)(x) if preset.bidirectional else layer(x)
    # Pooling over every step lets a long review's key sentence count wherever it sits.
    x = keras.layers.Concatenate()([keras.layers.GlobalMaxPooling1D()(x), keras.layers.GlobalAveragePooling1D()(x)])
    if preset.dropout:
        x = keras.layers.Dropout(preset.dropout)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="positive")(x)
    return keras.Model(inputs, outputs, name="head")


def inference_model(model: keras.Model) -> keras.Model:
    """The model to save: a fresh uncompiled wrapper over the trained layers (no optimizer state).

    A text model with NB features loses its `fold` input and keeps only the NB table fitted
    on every training review, so it takes raw strings like every other text model.
    """
    if not isinstance(model.input, dict) or "fold" not in model.input:
        return keras.Model(model.inputs[0], model.outputs[0], name=model.name)
    trained = model.get_layer("nb")
    nb = NBEvidence(trained.vocab_size, trained.buckets, tables=1, name="nb")
    inputs = keras.Input(shape=(), dtype="string", name="text")
    ids = model.get_layer("vectorize")(inputs)
    nb.build(ids.shape)
    nb.set_weights([w[-1:] for w in trained.get_weights()])
    x = keras.layers.Concatenate(name="with_nb")([model.get_layer("embed")(ids), nb(ids)])
    return keras.Model(inputs, model.get_layer("head")(x), name=model.name)
