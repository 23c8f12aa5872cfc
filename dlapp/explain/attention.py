"""Where an attention model pooled, and how far that is worth trusting.

For the `attention` text models (nets/text.py: self-attention blocks, then an attention-pooling
head), per read token:

- the pooling head's weight: how much of the pooled vector that position makes up ("where the
  model pooled"). It is read after the blocks, so a position's vector already mixes in others;
- the attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers"): the
  pooling weights carried back through the blocks, each block's head-averaged attention taken as
  half the residual path, 0.5 A + 0.5 I, so it says which input words fed the pooled vector;
- the drop-word effect: how far deleting that one token moves the logit of the predicted label,
  the model re-run on the review without it (one batched call per 64 tokens).

Attention weights are not explanations (Jain & Wallace 2019, "Attention is not Explanation";
Wiegreffe & Pinter 2019): a word can take a large weight and change nothing when removed. So
each review gets an agreement figure, the Spearman rank correlation between the weights and the
size of the drop-word effect over its read tokens, and the view carries CAUTION in plain words.
benchmarks/explain_text_bench.py measures the same over 500 test reviews. Engine code: no gradio.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..attention import AttentionPooling, SelfAttentionBlock
from ..backend import keras, tf
from ..errors import UsageError
from ..layers import Temperature
from .text import Word, _compiled, _words_as_written, standardized_tokens, tokens_read

CAUTION = ("Attention shows where the model pooled, not why it decided: a word can take a large weight and "
           "change nothing when removed. The agreement figure says how far the weights match what removing "
           "each word does.")
DROP_BATCH = 64  # reviews-minus-one-word per model call


@dataclass(frozen=True)
class AttentionView:
    """One review through an attention model. Lists run over the tokens the model reads, in order."""

    tokens: list[str]
    pooled: list[float]  # the pooling head's weight per token; they sum to 1
    rollout: list[float] | None  # the pooling weights carried back through the blocks; None without blocks
    drop_effect: list[float]  # logit of the predicted label, minus the same without that token (> 0: it helped)
    agreement: float | None  # Spearman(pooled, |drop_effect|); None under 3 tokens or with all-equal values
    agreement_rollout: float | None  # the same for the rollout
    words: list[Word]  # the words as written, each with its tokens' summed pooling weight
    rollout_words: list[Word] | None
    caution: str = CAUTION


def is_attention_model(model) -> bool:
    """A dlapp text model whose head pools with learnt attention weights (the `attention` preset)."""
    try:
        head = model.get_layer("head")
    except ValueError:
        return False
    return isinstance(head, keras.Model) and any(
        isinstance(layer, AttentionPooling) and not layer.uniform for layer in head.layers)


class _Probe:
    """The model walked layer by layer, returning what the attention view reads. Holds the layers,
    never the model, so the cache below drops it with the model."""

    def __init__(self, model):
        names = {layer.name for layer in model.layers}
        vectorize, embed, tokens = model.get_layer("vectorize"), model.get_layer("embed"), model.get_layer("tokens")
        nb = model.get_layer("nb") if "nb" in names else None
        last = model.layers[-1]
        temperature = last if isinstance(last, Temperature) else None
        chain = [layer for layer in model.get_layer("head").layers if not isinstance(layer, keras.layers.InputLayer)]

        @tf.function(input_signature=[tf.TensorSpec((None,), tf.string), tf.TensorSpec((), tf.bool)])
        def run(texts, uniform):
            """(ids (N, L), pooling weights (N, L), head-averaged attention (blocks, N, L, L),
            P(positive) (N,)); `uniform` pools with equal weights over the tokens instead."""
            ids = vectorize(texts)
            x = embed(ids)
            if nb is not None:
                x = tf.concat([x, tf.cast(nb(ids), x.dtype)], axis=-1)
            keep = tokens(ids)
            maps, weights = [], None
            for layer in chain:
                if isinstance(layer, SelfAttentionBlock):
                    x, attention = layer(x, keep, training=False, return_attention=True)
                    maps.append(tf.reduce_mean(attention, axis=1))
                elif isinstance(layer, AttentionPooling):
                    flat = keep / tf.maximum(tf.reduce_sum(keep, axis=-1, keepdims=True), 1.0)
                    weights = tf.where(uniform, flat, layer.weights_of(x, keep))
                    x = layer.pool(x, weights)
                else:
                    x = layer(x, training=False)
            p = temperature(x) if temperature is not None else x
            stacked = tf.stack(maps) if maps else tf.zeros((0, tf.shape(ids)[0], tf.shape(ids)[1], tf.shape(ids)[1]))
            return ids, weights, stacked, tf.cast(p[:, 0], tf.float32)

        self.run = run


_PROBES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _probe(model) -> _Probe:
    if model not in _PROBES:
        _PROBES[model] = _Probe(model)
    return _PROBES[model]


def head_outputs(model, texts, *, uniform: bool = False):
    """(pooling weights (N, L), head-averaged attention per block (blocks, N, L, L), P(positive) (N,))
    for raw reviews; `uniform=True` pools with equal weights over each review's tokens (the
    uniform-attention baseline). Raises UsageError for a model that is not an attention model."""
    if not is_attention_model(model):
        raise UsageError("Not an attention model: it has no attention-pooling head.")
    _, weights, maps, p = _probe(model).run(np.asarray(texts, dtype=object), tf.constant(uniform))
    return np.asarray(weights), np.asarray(maps), np.asarray(p)


def rollout(pooled: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Attention rollout of one review's pooling weights (n,) through its blocks' head-averaged
    attention (blocks, n, n), first block first: w . R_B ... R_1 with R = rows of 0.5 A + 0.5 I,
    each renormalised. The result sums to 1 like the weights."""
    out = np.asarray(pooled, dtype=np.float64)
    for attention in maps[::-1]:  # the pooled vector reads the last block's outputs first
        mixed = 0.5 * attention + 0.5 * np.eye(len(out))
        out = out @ (mixed / mixed.sum(axis=1, keepdims=True))
    return out


def spearman(a, b) -> float | None:
    """Spearman's rank correlation (ties get their mean rank); None for < 3 values or a constant side."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 3:
        return None
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    _, groups = np.unique(x, return_inverse=True)
    return (np.bincount(groups, ranks) / np.bincount(groups))[groups]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def drop_effects(model, tokens: list[str], read: int, positive: bool) -> np.ndarray:
    """Per read token: the predicted label's logit on the re-joined review minus on it without that
    token (the tokens past the cut move up, as they would if the word were deleted)."""
    predict = _compiled(model).predict
    texts = [" ".join(tokens)] + [" ".join(tokens[:i] + tokens[i + 1:]) for i in range(read)]
    p = np.concatenate([np.asarray(predict(np.array(texts[i:i + DROP_BATCH], dtype=object)))[:, 0]
                        for i in range(0, len(texts), DROP_BATCH)])
    logit = _logit(p) * (1.0 if positive else -1.0)
    return logit[0] - logit[1:]


def explain_attention(model, text: str) -> AttentionView:
    """The pooling weights, their rollout and the drop-word effect of one review, with how well
    they agree.

    Raises:
        InvalidTextError: empty, whitespace-only, binary or oversized text.
        UsageError: not an attention model.
    """
    tokens = standardized_tokens(model, text)
    weights, maps, p = head_outputs(model, [text])
    read = min(len(tokens), tokens_read(model))
    pooled = weights[0, :read].astype(np.float64)
    rolled = rollout(pooled, maps[:, 0, :read, :read]) if len(maps) else None
    effect = drop_effects(model, tokens, read, positive=bool(p[0] >= 0.5))
    size = np.abs(effect)
    return AttentionView(
        tokens=tokens[:read], pooled=pooled.tolist(), rollout=None if rolled is None else rolled.tolist(),
        drop_effect=effect.tolist(), agreement=spearman(pooled, size),
        agreement_rollout=None if rolled is None else spearman(rolled, size),
        words=_words_as_written(model, text, tokens, pooled.tolist(), read),
        rollout_words=None if rolled is None else _words_as_written(model, text, tokens, rolled.tolist(), read))


def attention_dict(model, text: str) -> dict | None:
    """The attention view as plain values, for the API and the CLI's --json; None for a model without
    an attention-pooling head. {"pooled": [[token, weight], ...] in reading order, "rollout": the same
    for the rollout (or None), "drop_effect": [[token, logit change], ...], "agreement",
    "agreement_rollout" (Spearman; None when undefined), "caution"}."""
    if not is_attention_model(model):
        return None
    view = explain_attention(model, text)

    def pairs(values):
        return None if values is None else [[t, round(float(v), 5)] for t, v in zip(view.tokens, values, strict=True)]

    def rho(value):
        return None if value is None else round(value, 4)

    return {"pooled": pairs(view.pooled), "rollout": pairs(view.rollout), "drop_effect": pairs(view.drop_effect),
            "agreement": rho(view.agreement), "agreement_rollout": rho(view.agreement_rollout),
            "caution": view.caution}
