"""Text networks. Every model takes raw strings (N,) and starts with TextVectorization
(adapted on the training texts), so a saved .keras file stands alone."""

from __future__ import annotations

import numpy as np

from ..attention import AttentionPooling, PositionEmbedding, SelfAttentionBlock, TokenMask
from ..backend import keras
from ..layers import NBEvidence, NGramNB, SumOverSteps, bigram_ids, ngram_ids, standardize_review
from ..tasks.text import TextPreset

_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simplernn": keras.layers.SimpleRNN}


def make_vectorizer(preset: TextPreset, texts: np.ndarray) -> keras.layers.TextVectorization:
    """TextVectorization adapted on the training texts (the vocabulary is saved in the model)."""
    vectorizer = keras.layers.TextVectorization(
        max_tokens=preset.vocab_size,
        output_sequence_length=preset.sequence_length,
        standardize=standardize_review,
        name="vectorize",
    )
    vectorizer.adapt(np.asarray(texts, dtype=str), batch_size=1024)
    return vectorizer


NB_FOLDS = 5
BIGRAM_BUCKETS = 1_000_003  # a prime; 1M ratios (4 MB) keep IMDB's bigram collisions rare


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
    ids = _token_ids(vectorizer, texts)
    # A small upload needs far fewer buckets than IMDB's million; 8 per token keeps collisions rare.
    vocab, buckets = vectorizer.vocabulary_size(), int(min(BIGRAM_BUCKETS, max(1009, 8 * ids.size)))
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
    inputs = keras.Input(shape=(), dtype="string", name="text")
    ids = vectorizer(inputs)
    if preset.architecture == "nbsvm":
        if texts is None or labels is None:
            raise ValueError("NBSVM needs the training texts and labels.")
        nb = _fit_ngram_nb(vectorizer, preset, texts, labels)
        return keras.Model(inputs, _summed_head(preset)(nb(ids)), name=f"text_{preset.name}")
    cell = _CELLS[preset.cell]
    x = keras.layers.Embedding(vectorizer.vocabulary_size(), preset.embedding_dim, name="embed")(ids)
    if preset.architecture == "stacked":  # the seed tutorials: recurrent layers, last state -> sigmoid
        for i, units in enumerate(preset.units):
            x = cell(units, return_sequences=i < len(preset.units) - 1)(x)
        outputs = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="positive")(x)
        return keras.Model(inputs, outputs, name=f"text_{preset.name}")
    head = _attention_head if preset.architecture == "attention" else _pooled_head
    if not preset.nb_features:
        outputs = _call_head(head(preset, x.shape[-1]), x, ids)
        return keras.Model(inputs, outputs, name=f"text_{preset.name}")
    if texts is None or labels is None or folds is None:
        raise ValueError("NB features need the training texts, labels and folds.")
    fold = keras.Input(shape=(), dtype="int32", name="fold")
    nb = _fit_nb_evidence(vectorizer, preset, texts, labels, folds)
    x = keras.layers.Concatenate(name="with_nb")([x, nb(ids, fold)])
    return keras.Model({"text": inputs, "fold": fold}, _call_head(head(preset, x.shape[-1]), x, ids),
                       name=f"text_{preset.name}")


def _token_ids(vectorizer, texts: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(vectorizer(np.asarray(texts[i:i + 2048], dtype=str)))
                           for i in range(0, len(texts), 2048)])


def _fit_ngram_nb(vectorizer, preset: TextPreset, texts: np.ndarray, labels: np.ndarray) -> NGramNB:
    """NBSVM's ratios: log-count ratios of every 1..n-gram over the training reviews, each review
    counted once per n-gram (binarised)."""
    ids = _token_ids(vectorizer, texts)
    vocab = vectorizer.vocabulary_size()
    buckets = int(min(preset.buckets or BIGRAM_BUCKETS, max(1009, 8 * ids.size)))
    labels = np.asarray(labels)
    layer = NGramNB(vocab, buckets, order=preset.ngrams, l2=preset.l2, name="nb")
    layer.build(ids.shape)
    for n, table in enumerate(layer.ratios, start=1):
        table.assign(nb_log_ratios(*nb_counts(ngram_ids(ids, n, vocab, buckets), labels, layer._size(n)), min_docs=2))
    return layer


def _summed_head(preset: TextPreset) -> keras.Model:
    """NBSVM's score: the evidence summed over the review and over the n-gram orders, plus a bias, sigmoid."""
    inputs = keras.Input(shape=(preset.sequence_length, preset.ngrams), name="sequence")
    x = SumOverSteps(name="sum_over_review")(inputs)
    dense = keras.layers.Dense(1, activation="sigmoid", kernel_initializer="ones", dtype="float32", name="positive")
    outputs = dense(x)
    # The kernel stays 1: the L2 penalty on the per-n-gram weights is NBSVM's regulariser only if no
    # learnt scale can undo it. The bias (the class prior) learns.
    dense.kernel.trainable = False
    return keras.Model(inputs, outputs, name="head")


def _call_head(head: keras.Model, x, ids):
    """An attention head also reads which positions are the review's tokens (TokenMask "tokens")."""
    if len(head.inputs) == 1:
        return head(x)
    layer = TokenMask(name="tokens")
    return head([x, layer(ids)])


def _attention_head(preset: TextPreset, features: int) -> keras.Model:
    """Per-token features (embedding [+ NB evidence]) -> a width-`embedding_dim` projection plus a
    learnt position vector -> `blocks` pre-norm self-attention blocks -> attention pooling -> sigmoid.

    A linear chain of layers, each named, so explain/attention.py can walk it and read each
    block's attention and the pooling weights.
    """
    inputs = keras.Input(shape=(preset.sequence_length, features), name="sequence")
    keep = keras.Input(shape=(preset.sequence_length,), name="keep")
    x = keras.layers.Dense(preset.embedding_dim, name="project")(inputs)
    x = PositionEmbedding(preset.sequence_length, name="position")(x)
    x = keras.layers.Dropout(preset.dropout, name="input_dropout")(x)
    for i in range(preset.blocks):
        x = SelfAttentionBlock(preset.heads, preset.units[0], preset.dropout, name=f"block{i}")(x, keep)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)  # pre-norm blocks leave it unnormalised
    x = AttentionPooling(preset.embedding_dim, uniform=preset.pooling == "mean", name="pool")(x, keep)
    x = keras.layers.Dropout(preset.dropout, name="pooled_dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="positive")(x)
    return keras.Model([inputs, keep], outputs, name="head")


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
    trained = next((layer for layer in model.layers if layer.name == "nb"), None)
    if isinstance(trained, NGramNB):
        nb = NGramNB(trained.vocab_size, trained.buckets, order=trained.order, folded=True, name="nb")
        inputs = keras.Input(shape=(), dtype="string", name="text")
        ids = model.get_layer("vectorize")(inputs)
        nb.build(ids.shape)
        for table, values in zip(nb.ratios, trained.folded_tables(), strict=True):
            table.assign(values)
        return keras.Model(inputs, model.get_layer("head")(nb(ids)), name=model.name)
    if not isinstance(model.input, dict) or "fold" not in model.input:
        return keras.Model(model.inputs[0], model.outputs[0], name=model.name)
    trained = model.get_layer("nb")
    nb = NBEvidence(trained.vocab_size, trained.buckets, tables=1, name="nb")
    inputs = keras.Input(shape=(), dtype="string", name="text")
    ids = model.get_layer("vectorize")(inputs)
    nb.build(ids.shape)
    nb.set_weights([w[-1:] for w in trained.get_weights()])
    x = keras.layers.Concatenate(name="with_nb")([model.get_layer("embed")(ids), nb(ids)])
    head = model.get_layer("head")
    outputs = head(x) if len(head.inputs) == 1 else head([x, model.get_layer("tokens")(ids)])
    return keras.Model(inputs, outputs, name=model.name)
