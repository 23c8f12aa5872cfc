"""Why a sentiment model answers as it does: which words pushed it, and how its answer moves
as it reads the review sentence by sentence.

Word scores are Integrated Gradients (Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for
Deep Networks"; keras.io "Model interpretability with Integrated Gradients") over what the
recurrent layer reads at each position: the token's embedding and, for the NB presets, its two
naive-Bayes evidence features. Summing over those features gives one score per token, in logit
units of the predicted label; by completeness the scores add up to how far the review moves the
logit away from the all-zeros baseline. Engine code: no gradio.

The path integral is a trapezoid rule, refined where it fails: on imdb-best the logit can jump
by several units within a thousandth of the path or less, near the baseline (the recurrent
state flips); with a fixed grid of 64 steps, a third to a half of 300-word reviews missed the 5%
completeness check on the imdb-best models tried. The trapezoid's nodes include both ends, so
the logit's actual change over each interval is known, and the intervals whose gradients miss
it are split (up to three more batched calls) until the scores add up to within 5%.
Measured by benchmarks/explain_text_bench.py: faithfulness (deleting the top words) and speed.
"""

from __future__ import annotations

import bisect
import re
import string
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .. import settings as settings_mod
from ..backend import keras, tf
from ..errors import UsageError
from ..layers import Temperature, standardize_review
from ..tasks.text import FIRST_KNOWN_ID, check_text

STEPS = 32  # intervals of the first pass, one batch; on imdb-best 65 rows cost ~1.4x what 33 rows do
TOLERANCE = 0.05  # completeness gap allowed, as a share of the logit change (the paper's 5% check)
REFINE_ROUNDS = 3  # extra batched calls at most while the gap is larger (most 300-word reviews need 1-2)
REFINE_POINTS = 48  # new points per round, one batch, shared by the intervals that miss most...
REFINE_INTERVALS = 4  # ...at most this many, those holding REFINE_COVER of the error
REFINE_COVER = 0.8
MAX_SENTENCES = 60  # trajectory points: one batched call of <= 60 prefixes, and a plot that stays readable
BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)  # IMDB's line breaks; the model reads them as spaces
SENTENCE_END = re.compile(r"[.!?]+(?=[\s\"')\]]|<|$)|<br\s*/?>", re.IGNORECASE)


@dataclass(frozen=True)
class Word:
    """A word as the review writes it, with what the model made of it."""

    text: str  # as written: "était", "Great!"
    tokens: tuple[str, ...]  # the model's tokens inside it ("était" -> ("tait",)); () if it can read none of it
    score: float | None  # the sum of its read tokens' scores; None if the model read none of it
    past_cut: bool  # after the last token the model reads


@dataclass(frozen=True)
class ReviewExplanation:
    """One review, explained. Scores are in logit units of `label`: positive pushed towards it."""

    label: str
    probability: float  # P(label): the model's own prediction on the raw review
    tokens: list[tuple[str, float]]  # (token, score) for every token the model reads, in reading order
    read: int  # tokens read: the review's first `tokens_read(model)` tokens at most
    total: int  # tokens in the standardised review
    unread: list[str]  # the tokens after the cut, which the model never sees
    baseline_probability: float  # P(label) with every read token's input zeroed (IG's baseline)
    logit_change: float  # logit of `label` at the review minus at the baseline; the scores sum to it
    known: int  # read tokens that are in the model's vocabulary; 0: it knows no word of the review
    words: list[Word]  # every word as written, in order, with its tokens' summed score


# ---------------------------------------------------------------- what the model reads


def _vectorizer(model) -> keras.layers.TextVectorization:
    try:
        return model.get_layer("vectorize")
    except ValueError as e:
        raise UsageError("Not a dlapp text model: it has no 'vectorize' layer.") from e


def tokens_read(model) -> int:
    """How many tokens of a review the model reads (its vectorizer's sequence length)."""
    return int(_vectorizer(model).get_config()["output_sequence_length"])


def _split(model, texts: Sequence[str]) -> list[list[str]]:
    """Each text standardised and split exactly as the vectorizer does, by the same TF ops."""
    config = _vectorizer(model).get_config()
    standardize = config["standardize"]
    if config["split"] != "whitespace" or not (standardize is None or callable(standardize)):
        raise UsageError("Only vectorizers with a custom (or no) standardize and whitespace split are supported.")
    x = tf.constant(list(texts), dtype=tf.string)
    ragged = tf.strings.split(standardize(x) if standardize else x)
    return [[t.decode("utf-8", errors="replace") for t in row] for row in ragged.to_list()]


def standardized_tokens(model, text: str) -> list[str]:
    """Every token of the standardised review, in order, as the model's vectorizer splits it
    (including those past the cut). Raises InvalidTextError for empty or oversized text."""
    return _split(model, [check_text(text, max_chars=settings_mod.load().max_text_chars)])[0]


# ---------------------------------------------------------------- the words as written

# standardize_review (layers.py), replayed in Python so that each token keeps where it came from.
# TensorFlow's ops are ASCII-only: tf.strings.lower leaves "É" as it is, and RE2's \w and \s are
# [0-9A-Za-z_] and [\t\n\f\r ], so every other letter becomes a space ("était" is read as "tait").
# The saved models keep reading that way (changing it would change what they answer); only the
# display maps the model's tokens back to the words as written.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_REVIEW_BREAK = re.compile(r"<br[\t\n\f\r ]*/?>")  # RE2's \s, not Python's (which has \v and Unicode spaces)
_REVIEW_STEPS = (_REVIEW_BREAK, re.compile(r"<[^>]{0,40}>"), re.compile(r"[^0-9A-Za-z_\t\n\f\r ']"))
_TOKEN = re.compile(r"[^\t\n\f\r ]+")


def _token_spans(text: str) -> tuple[list[tuple[str, int, int]], list[tuple[int, int]]]:
    """standardize_review + whitespace split on `text`: (token, start, end) in the original text
    per token, and the spans of the <br /> tags (line breaks, not words)."""
    chars, where = text.translate(_ASCII_LOWER), list(range(len(text)))
    breaks: list[tuple[int, int]] = []
    for pattern in _REVIEW_STEPS:
        pieces, index, last = [], [], 0
        for m in pattern.finditer(chars):
            if pattern is _REVIEW_BREAK:
                breaks.append((where[m.start()], where[m.end() - 1] + 1))
            pieces += [chars[last:m.start()], " "]
            index += where[last:m.start()] + [-1]  # each replacement is one space: it never joins two words
            last = m.end()
        chars, where = "".join(pieces) + chars[last:], index + where[last:]
    return [(m[0], where[m.start()], where[m.end() - 1] + 1) for m in _TOKEN.finditer(chars)], breaks


def _words_as_written(model, text: str, tokens: list[str], scores: list[float], read: int) -> list[Word]:
    """Every word of `text` as written (split at whitespace and <br />), with the tokens the model
    made of it and their summed score. Where the replay cannot be checked against the model's own
    tokens (a model with another standardizer), the tokens themselves are the words, as before."""
    if _vectorizer(model).get_config()["standardize"] is standardize_review:
        spans, breaks = _token_spans(text)
        if [t for t, _, _ in spans] == tokens:
            blanked = list(text)
            for a, b in breaks:
                blanked[a:b] = " " * (b - a)
            found = [(m.start(), m[0]) for m in re.finditer(r"\S+", "".join(blanked))]
            starts = [a for a, _ in found]
            owned: list[list[int]] = [[] for _ in found]
            for i, (_, a, _) in enumerate(spans):
                owned[bisect.bisect_right(starts, a) - 1].append(i)  # a token never spans whitespace
            cut = spans[read][1] if read < len(spans) else len(text) + 1
            return [Word(word, tuple(tokens[i] for i in mine),
                         sum(scores[i] for i in mine if i < read) if any(i < read for i in mine) else None,
                         past_cut=start >= cut) for (start, word), mine in zip(found, owned, strict=True)]
    return [Word(t, (t,), scores[i] if i < read else None, past_cut=i >= read) for i, t in enumerate(tokens)]


# ---------------------------------------------------------------- the model, cut where IG looks


@dataclass(frozen=True)
class _Parts:
    """The layers of a text model, split at the input of its recurrent part."""

    vectorize: Callable
    embed: Callable | None  # None for nbsvm, which reads only its n-gram evidence
    nb: Callable | None  # NBEvidence for the NB presets, NGramNB for nbsvm
    features: Callable  # (N, L, F) recurrent inputs -> (N, H) what the final Dense reads
    dense: keras.layers.Dense  # "positive": one sigmoid unit
    temperature: Temperature | None
    tokens: Callable | None = None  # attention models: ids -> (N, L) 1 at tokens, which their head also reads


def _parts(model) -> _Parts:
    """Stacked seed models run their recurrent layers on the embedding directly; pooled models
    run a nested "head" on it (concatenated with the NB evidence where present)."""
    last = model.layers[-1]
    temperature = last if isinstance(last, Temperature) else None
    names = {layer.name for layer in model.layers}
    if "head" in names:
        head = model.get_layer("head")
        dense = head.get_layer("positive")
        features = keras.Model(head.inputs, dense.input, name="head_features")
    else:
        dense = model.get_layer("positive")
        features = keras.Model(model.get_layer("embed").output, dense.input, name="stacked_features")
    return _Parts(vectorize=model.get_layer("vectorize"), embed=model.get_layer("embed") if "embed" in names else None,
                  nb=model.get_layer("nb") if "nb" in names else None, features=features, dense=dense,
                  temperature=temperature, tokens=model.get_layer("tokens") if "tokens" in names else None)


def _path_function(parts: _Parts):
    """A tf.function: (review (1,), alphas (B,)) -> token ids (L,), logit (B,), P(positive) (B,)
    and each token's gradient x input (B, L) at every point of the straight path.

    The baseline is all zeros at the review's tokens: no word and no naive-Bayes evidence (a
    log-ratio of 0 is "as likely in either class"). The padding id's embedding is not neutral:
    it is trained, since every short review is padded. Padding positions keep their own input
    at every point, so no score goes to them. The whole padded length is always run: no recurrent
    dlapp text model masks padding, so a stacked LSTM's last state is read after the padding steps and
    a pooled head pools over every step; cutting to the review's length would change the answer.
    (An attention head masks padding by the review's own token mask, the same at every point.)
    """
    temperature = parts.temperature.temperature if parts.temperature else 1.0

    @tf.function(input_signature=[tf.TensorSpec((1,), tf.string), tf.TensorSpec((None,), tf.float32)],
                 reduce_retracing=True)
    def path(text, alphas):
        ids = parts.vectorize(text)
        if parts.embed is None:  # nbsvm: the score is linear in its evidence, so IG gives each n-gram's own term
            x = parts.nb(ids)
        else:
            x = parts.embed(ids)
            if parts.nb is not None:
                x = tf.concat([x, tf.cast(parts.nb(ids), x.dtype)], axis=-1)
        x = tf.cast(x, tf.float32)
        words = tf.cast(ids != 0, tf.float32)[..., None]  # (1, L, 1): 1 at the review's tokens
        points = x * (words * alphas[:, None, None] + (1.0 - words))  # (B, L, F)
        with tf.GradientTape() as tape:
            tape.watch(points)
            if parts.tokens is None:
                h = tf.cast(parts.features(points, training=False), tf.float32)
            else:  # the padding mask stays the review's own at every point: only the inputs move
                keep = tf.repeat(parts.tokens(ids), tf.shape(points)[0], axis=0)
                h = tf.cast(parts.features([points, keep], training=False), tf.float32)
            # The unsquashed logit: P saturates at 0 or 1 and its gradient vanishes there. (Temperature
            # clips P to 1e-7 from 0 and 1 first; past that, about 16 / T, the logit runs on.)
            logit = (tf.matmul(h, parts.dense.kernel) + parts.dense.bias)[:, 0] / temperature
            total = tf.reduce_sum(logit)  # rows are independent, so d(total)/d(row) is that row's gradient
        grads = tape.gradient(total, points)
        p = parts.dense(h)
        p = parts.temperature(p) if parts.temperature is not None else p
        return ids[0], logit, tf.cast(p[:, 0], tf.float32), tf.reduce_sum(grads * x * words, axis=-1)

    return path


class _Compiled:
    """What is traced once per model. It holds the model's layers, never the model itself, so
    the cache below drops it when the model goes."""

    def __init__(self, model):
        self.path = _path_function(_parts(model))
        ref = weakref.ref(model)
        self.predict = tf.function(lambda texts: ref()(texts, training=False),
                                   input_signature=[tf.TensorSpec((None,), tf.string)])


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled(model) -> _Compiled:
    if model not in _COMPILED:
        _COMPILED[model] = _Compiled(model)
    return _COMPILED[model]


# ---------------------------------------------------------------- Integrated Gradients


def _trapezoid(alphas: np.ndarray, logit: np.ndarray, grads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-token integrals by the trapezoid rule on a sorted partition of [0, 1], and each
    interval's error: the logit's actual change minus what the gradients integrate to."""
    h = np.diff(alphas)
    scores = ((grads[:-1] + grads[1:]) * (h[:, None] / 2)).sum(axis=0)
    sums = grads.sum(axis=1)
    return scores, np.diff(logit) - h * (sums[:-1] + sums[1:]) / 2


def _refined(alphas: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """New points inside the intervals where the gradients miss the logit's change most. A
    recurrent state can flip within a thousandth of the path or less (seen on imdb-best near
    the baseline), which a uniform grid of any size skips; sharing the points among the few worst
    intervals, by their error, narrows such a jump ~REFINE_POINTS-fold per round."""
    order = np.argsort(-np.abs(errors))
    share = np.abs(errors[order]) / np.abs(errors).sum()
    k = min(REFINE_INTERVALS, int(np.searchsorted(np.cumsum(share), REFINE_COVER)) + 1)
    counts = np.maximum(4, share[:k] / share[:k].sum() * REFINE_POINTS).astype(int)
    return np.concatenate([np.linspace(alphas[i], alphas[i + 1], n + 2)[1:-1]
                           for i, n in zip(order[:k], counts, strict=True)])


def _integrated_gradients(model, text: str, steps: int):
    """(token ids (L,), P(positive) at the review and at the baseline, per-token scores towards
    positive (L,), the logit's change from the baseline to the review). Starts with `steps`
    equal intervals and refines where the trapezoid rule misses the logit's change, until the
    completeness gap is within TOLERANCE or REFINE_ROUNDS more calls are spent."""
    path = _compiled(model).path
    review = np.array([text], dtype=object)
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    ids, logit, p, grads = (np.asarray(t) for t in path(review, alphas))
    ends = float(p[-1]), float(p[0])  # P(positive) at alpha = 1 (exactly the review) and at the baseline
    for round_ in range(REFINE_ROUNDS + 1):
        scores, errors = _trapezoid(alphas.astype(np.float64), logit.astype(np.float64), grads.astype(np.float64))
        change = float(logit[-1]) - float(logit[0])
        if round_ == REFINE_ROUNDS or abs(errors.sum()) <= TOLERANCE * max(abs(change), 1.0):
            break
        extra = _refined(alphas, errors).astype(np.float32)
        _, more_logit, _, more_grads = (np.asarray(t) for t in path(review, extra))
        order = np.argsort(np.concatenate([alphas, extra]), kind="stable")
        alphas = np.concatenate([alphas, extra])[order]
        logit = np.concatenate([logit, more_logit])[order]
        grads = np.concatenate([grads, more_grads])[order]
    return ids, ends, scores, change


def explain_review(model, text: str, *, class_names: Sequence[str] = ("negative", "positive"),
                   steps: int = STEPS) -> ReviewExplanation:
    """The predicted label, its probability, and each read token's Integrated-Gradients score
    towards that label.

    Args:
        model: a dlapp text model (raw strings in, P(positive) out), with or without Temperature.
        text: the raw review.
        class_names: (negative, positive) names, as on the model's card.
        steps: interpolation intervals of the first pass (more are added where the path turns sharply).

    Raises:
        InvalidTextError: empty, whitespace-only, binary or oversized text.
        UsageError: `steps` < 2, or not a dlapp text model.
    """
    if steps < 2:
        raise UsageError("Integrated Gradients needs at least 2 steps.")
    words = standardized_tokens(model, text)
    ids, (p, p_base), scores, change = _integrated_gradients(model, text, steps)
    read = min(len(words), tokens_read(model))
    if int((ids != 0).sum()) != read:  # never put scores on the wrong words
        raise UsageError("The vectorizer's tokens do not match its standardize + split.")
    positive = p >= 0.5  # as SentimentAnalyzer decides
    sign = 1.0 if positive else -1.0  # scores and logits towards the predicted label
    signed = [sign * float(s) for s in scores[:read]]
    return ReviewExplanation(
        label=class_names[1] if positive else class_names[0], probability=p if positive else 1.0 - p,
        tokens=list(zip(words[:read], signed, strict=True)),
        read=read, total=len(words), unread=words[read:],
        baseline_probability=p_base if positive else 1.0 - p_base, logit_change=sign * change,
        known=int((ids >= FIRST_KNOWN_ID).sum()), words=_words_as_written(model, text, words, signed, read))


# ---------------------------------------------------------------- reading trajectory


def _sentences(text: str) -> list[tuple[str, int]]:
    """(sentence, offset just past it) per sentence with a word in it. A piece without words
    (a lone <br />, a trailing "!!") joins the sentence before it, so the last offset is the end."""
    out, start = [], 0
    for end in sorted({m.end() for m in SENTENCE_END.finditer(text)} | {len(text)}):
        piece = " ".join(BREAK.sub(" ", text[start:end]).split())
        if re.search(r"\w", piece):
            out.append((piece, end))
        elif out:
            out[-1] = (f"{out[-1][0]} {piece}".rstrip(), end)
        else:
            continue  # leading punctuation: it starts the first sentence
        start = end
    return out


def _grouped(sentences: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """At most MAX_SENTENCES points: a longer review becomes runs of consecutive sentences."""
    if len(sentences) <= MAX_SENTENCES:
        return sentences
    bounds = np.linspace(0, len(sentences), MAX_SENTENCES + 1).round().astype(int)
    runs = zip(bounds[:-1], bounds[1:], strict=True)
    return [(" ".join(s for s, _ in sentences[a:b]), sentences[b - 1][1]) for a, b in runs]


def reading_trajectory(model, text: str) -> list[tuple[str, float]]:
    """(sentence, P(positive) of the review read up to and including it) per sentence, from one
    batched model call. Sentences end at . ! ? or <br />; a review of more than MAX_SENTENCES (60)
    sentences is shown as 60 runs of consecutive sentences. The last value is the prediction on
    the whole review. Raises InvalidTextError for empty or oversized text."""
    check_text(text, max_chars=settings_mod.load().max_text_chars)
    points = _grouped(_sentences(text)) or [(text.strip(), len(text))]
    prefixes = np.array([text[:end] for _, end in points], dtype=object)
    p = np.asarray(_compiled(model).predict(prefixes), dtype=np.float64)[:, 0]
    return [(sentence, float(q)) for (sentence, _), q in zip(points, p, strict=True)]
