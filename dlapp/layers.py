"""Custom pieces that live inside saved models, registered so that
`keras.saving.load_model(path, safe_mode=True)` works after `import dlapp.layers`."""

from __future__ import annotations

from .backend import keras, tf


@keras.saving.register_keras_serializable(package="dlapp")
def standardize_review(text):
    """Lowercase, turn IMDB's <br /> tags into spaces, strip punctuation (kept: apostrophes)."""
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")
    text = tf.strings.regex_replace(text, r"<[^>]{0,40}>", " ")
    text = tf.strings.regex_replace(text, r"[^\w\s']", " ")
    return text


@keras.saving.register_keras_serializable(package="dlapp")
class MirrorImage(keras.layers.Layer):
    """Flip a (N, H, W, C) batch left-right; used for test-time augmentation."""

    def call(self, x):
        return keras.ops.flip(x, axis=2)


@keras.saving.register_keras_serializable(package="dlapp")
class ShiftImage(keras.layers.Layer):
    """Translate a (N, H, W, C) batch by (dy, dx) pixels with reflect padding; test-time augmentation."""

    def __init__(self, dy: int = 0, dx: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.dy, self.dx = int(dy), int(dx)

    def call(self, x):
        pad = max(abs(self.dy), abs(self.dx))
        if not pad:
            return x
        h, w = x.shape[1], x.shape[2]
        padded = keras.ops.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="reflect")
        top, left = pad + self.dy, pad + self.dx
        return padded[:, top:top + h, left:left + w, :]

    def get_config(self):
        return {**super().get_config(), "dy": self.dy, "dx": self.dx}


@keras.saving.register_keras_serializable(package="dlapp")
class StackViews(keras.layers.Layer):
    """Test-time augmentation views of a (N, H, W, C) batch, stacked view-major into one
    (V*N, H, W, C) batch, so the classifier runs once over every view: the image, then
    (with `flip`) its mirror, then per (dy, dx) in `shifts` the shifted image and its mirror."""

    def __init__(self, flip: bool = True, shifts=(), **kwargs):
        super().__init__(**kwargs)
        self.flip, self.shifts = bool(flip), tuple(tuple(int(d) for d in s) for s in shifts)

    @property
    def views(self) -> list[tuple[bool, int, int]]:
        """(mirrored, dy, dx) per view, in stacking order."""
        out = [(False, 0, 0)] + ([(True, 0, 0)] if self.flip else [])
        for dy, dx in self.shifts:
            out += [(False, dy, dx)] + ([(True, dy, dx)] if self.flip else [])
        return out

    def call(self, x):
        shifted = [x] + [ShiftImage(dy, dx)(x) for dy, dx in self.shifts]
        views = []
        for v in shifted:
            views += [v, keras.ops.flip(v, axis=2)] if self.flip else [v]
        return keras.ops.concatenate(views, axis=0)

    def compute_output_shape(self, input_shape):
        return (None, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "flip": self.flip, "shifts": [list(s) for s in self.shifts]}


@keras.saving.register_keras_serializable(package="dlapp")
class MeanOverViews(keras.layers.Layer):
    """(V*N, K) outputs of StackViews' views -> (N, K), weighted by `weights` (one per view)."""

    def __init__(self, weights=(1.0,), **kwargs):
        super().__init__(dtype="float32", **{k: v for k, v in kwargs.items() if k != "dtype"})
        total = float(sum(weights))
        self.view_weights = tuple(float(w) / total for w in weights)

    def call(self, x):
        x = keras.ops.cast(x, "float32")
        v = len(self.view_weights)
        stacked = keras.ops.reshape(x, (v, -1, keras.ops.shape(x)[-1]))
        w = keras.ops.reshape(keras.ops.convert_to_tensor(self.view_weights, "float32"), (v, 1, 1))
        return keras.ops.sum(stacked * w, axis=0)

    def compute_output_shape(self, input_shape):
        return (None, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "weights": list(self.view_weights)}


def top_probability(probs):
    """(N, K) softmax outputs, or (N, 1) sigmoid ones (class 1's probability) -> (N,) the top class's."""
    probs = tf.cast(probs, tf.float32)
    if probs.shape[-1] == 1:
        return tf.maximum(probs[:, 0], 1.0 - probs[:, 0])
    return tf.reduce_max(probs, axis=-1)


@keras.saving.register_keras_serializable(package="dlapp")
class ViewsWhenUnsure(keras.layers.Layer):
    """The trained network (`classifier`, held inside) with test-time views spent where they
    count: it answers each image from the image alone, and averages in the other views
    (StackViews, MeanOverViews) only for images whose top probability is below `gate`. A
    confident answer rarely changes when more views are averaged in: on cifar10-best a gate of
    0.5 sends 13% of the CIFAR-10 test images through the mirror view and gives the accuracy of
    two full views at about 1.1 views' cost (benchmarks/tta_gate_bench.py).

    One layer rather than the classifier called twice in the functional graph: a confident batch
    must skip the second call, and TensorFlow's Conv2D returns its input unchanged on an empty batch.
    """

    def __init__(self, classifier, flip: bool = True, shifts=(), gate: float = 0.5, weights=None, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier
        self.stack = StackViews(flip=flip, shifts=shifts)
        self.mean = MeanOverViews(weights if weights is not None else [1.0] * len(self.stack.views))
        self.gate = float(gate)

    @property
    def views(self) -> list[tuple[bool, int, int]]:
        return self.stack.views

    @property
    def view_weights(self) -> tuple[float, ...]:
        return self.mean.view_weights

    def build(self, input_shape):
        pass  # the classifier comes built; the views and their mean have no weights

    def call(self, x):
        first = tf.cast(self.classifier(x), tf.float32)
        mask = top_probability(first) < self.gate  # the unsure rows: they get every view

        def every_view():
            some = tf.boolean_mask(x, mask)
            rest = self.classifier(self.stack(some)[tf.shape(some)[0]:])  # all views but the first, answered above
            mean = self.mean(tf.concat([tf.boolean_mask(first, mask), tf.cast(rest, tf.float32)], axis=0))
            return tf.tensor_scatter_nd_update(first, tf.where(mask), mean)

        return tf.cond(tf.reduce_any(mask), every_view, lambda: first)

    def compute_output_shape(self, input_shape):
        return (None, self.classifier.output_shape[-1])

    def get_config(self):
        return {**super().get_config(), "classifier": keras.saving.serialize_keras_object(self.classifier),
                "flip": self.stack.flip, "shifts": [list(s) for s in self.stack.shifts], "gate": self.gate,
                "weights": list(self.view_weights)}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "classifier": keras.saving.deserialize_keras_object(config["classifier"])})


def trained_network(model):
    """The trained network inside an exported image model (nets/image.py `export`): the nested
    model "classifier", or the one a ViewsWhenUnsure holds; None for a plain network."""
    for layer in model.layers:
        if isinstance(layer, ViewsWhenUnsure):
            return layer.classifier
        if isinstance(layer, keras.Model):
            return layer
    return None


@keras.saving.register_keras_serializable(package="dlapp")
class Temperature(keras.layers.Layer):
    """Calibrates probabilities: softmax(log p / T), or for one sigmoid unit sigmoid(logit(p) / T).

    T is fitted on held-out data after training (training/calibrate.py) and saved inside the
    model, so anyone who loads the .keras file gets the calibrated probabilities too. T = 1
    changes nothing; T < 1 sharpens an under-confident model, T > 1 softens an over-confident one.
    """

    def __init__(self, temperature: float = 1.0, **kwargs):
        super().__init__(dtype="float32", **{k: v for k, v in kwargs.items() if k != "dtype"})
        self.temperature = float(temperature)

    def call(self, p):
        ops = keras.ops
        p = ops.clip(ops.cast(p, "float32"), 1e-7, 1.0 - 1e-7)
        if p.shape[-1] == 1:
            return ops.sigmoid((ops.log(p) - ops.log1p(-p)) / self.temperature)
        return ops.softmax(ops.log(p) / self.temperature, axis=-1)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


def _bigram_ids(ids, vocab_size: int, buckets: int, ops):
    """Id of the bigram ending at each position, hashed into [1, buckets); 0 for the first token
    or padding. `ops` is keras.ops or NumPy, so training-data counts and the model hash alike."""
    prev = ops.pad(ids[:, :-1], [[0, 0], [1, 0]])
    hashed = 1 + (prev * vocab_size + ids) % (buckets - 1)
    return ops.where((prev > 0) & (ids > 0), hashed, ops.zeros_like(hashed))


def bigram_ids(ids, vocab_size: int, buckets: int):
    """NumPy twin of the hashing inside NBEvidence."""
    import numpy as np

    return _bigram_ids(np.asarray(ids, dtype=np.int64), vocab_size, buckets, np)


@keras.saving.register_keras_serializable(package="dlapp")
class NBEvidence(keras.layers.Layer):
    """Token ids (N, T) -> (N, T, 2): the naive-Bayes log-count ratio of each token and of the
    bigram ending at it, from frozen tables.

    It holds `tables` rows of ratios; the last row is fitted on every training review. While
    training, the other rows are each fitted with one fold of reviews left out, and a review
    reads the row that never saw it (pass `fold`), so the network learns how much evidence from
    unseen reviews is worth instead of memorising its own labels. Inference uses the last row.
    """

    def __init__(self, vocab_size: int, buckets: int, tables: int = 1, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.vocab_size, self.buckets, self.tables = int(vocab_size), int(buckets), int(tables)

    def build(self, input_shape):
        self.unigram = self.add_weight(shape=(self.tables, self.vocab_size), initializer="zeros",
                                       trainable=False, name="unigram")
        self.bigram = self.add_weight(shape=(self.tables, self.buckets), initializer="zeros",
                                      trainable=False, name="bigram")

    def call(self, ids, fold=None):
        ops = keras.ops
        ids = ops.cast(ids, "int64")
        row = ops.full((ops.shape(ids)[0], 1), self.tables - 1, "int64") if fold is None \
            else ops.reshape(ops.cast(fold, "int64"), (-1, 1))
        unigram = ops.take(ops.reshape(self.unigram, (-1,)), row * self.vocab_size + ids)
        bigram = ops.take(ops.reshape(self.bigram, (-1,)),
                          row * self.buckets + _bigram_ids(ids, self.vocab_size, self.buckets, ops))
        return ops.stack([unigram, bigram], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape, 2)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "buckets": self.buckets,
                "tables": self.tables}


@keras.saving.register_keras_serializable(package="dlapp")
class ChannelBias(keras.layers.Layer):
    """A learnt bias per channel, beside a frozen conv: airbench's whitening conv keeps its kernel
    fixed and trains only its bias, for the first epochs (training/optim.py freezes it by name)."""

    def build(self, input_shape):
        self.bias = self.add_weight(name=self.name, shape=(input_shape[-1],), initializer="zeros")

    def call(self, x):
        return x + keras.ops.cast(self.bias, x.dtype)


_NGRAM_MIX = 2_147_483_647  # a prime: an n-gram's running hash stays below it, far from int64's limit


def _ngram_ids(ids, n: int, vocab_size: int, buckets: int, ops):
    """Id of the n-gram ending at each position, hashed into [1, buckets); the token id itself for
    n = 1; 0 where the n-gram would reach before the review or into padding. `ops`: keras.ops or NumPy."""
    if n == 1:
        return ids
    ok, acc = ids > 0, ids
    for back in range(1, n):
        prev = ops.pad(ids[:, :-back], [[0, 0], [back, 0]])
        ok = ok & (prev > 0)
        acc = (acc * vocab_size + prev) % _NGRAM_MIX
    return ops.where(ok, 1 + acc % (buckets - 1), ops.zeros_like(acc))


def ngram_ids(ids, n: int, vocab_size: int, buckets: int):
    """NumPy twin of the hashing inside NGramNB."""
    import numpy as np

    return _ngram_ids(np.asarray(ids, dtype=np.int64), n, vocab_size, buckets, np)


def _first_seen(grams):
    """(N, T) ids -> 1.0 at one position of each non-zero id in its row (the first, as TensorFlow
    sorts ties by position), else 0.0: NBSVM reads whether an n-gram occurs, not how often.

    The ids themselves are sorted, not id * T + position: ids stay below 2**24, so a converter that
    sorts through float32 (tf2onnx's TopK) keeps them exact. The score does not depend on which of an
    id's positions is marked."""
    ops = keras.ops
    order = ops.argsort(grams, axis=-1)
    ids = ops.take_along_axis(grams, order, axis=-1)
    first = ops.concatenate([ops.ones_like(ids[:, :1], dtype="bool"), ids[:, 1:] != ids[:, :-1]], axis=1)
    first = ops.cast(first & (ids > 0), "float32")
    return ops.take_along_axis(first, ops.argsort(order, axis=-1), axis=-1)


@keras.saving.register_keras_serializable(package="dlapp")
class NGramNB(keras.layers.Layer):
    """NBSVM (Wang & Manning 2012) as a layer: token ids (N, T) -> (N, T, n) evidence of the 1..n-gram
    ending at each position: r * w if that n-gram occurs there for the first time in the review, else 0.

    r is the frozen naive-Bayes log-count ratio of the n-gram, fitted on all training reviews as
    Wang & Manning do (cross-fitted ratios, as NBEvidence reads them, scored 91.08% against 91.24% on
    the validation split); w is a learnt weight per n-gram (with the L2 penalty, this is NBSVM's
    logistic regression on r * x). Summing over positions gives NBSVM's score; per position, the
    evidence is an exact word attribution (a linear model). `folded`: the saved form, r * w as one
    frozen table per order.
    """

    def __init__(self, vocab_size: int, buckets: int, order: int = 3, l2: float = 0.0, folded: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.buckets, self.order = int(vocab_size), int(buckets), int(order)
        self.l2, self.folded = float(l2), bool(folded)
        if max(self.vocab_size, self.buckets) >= 2**24:  # _first_seen sorts ids that float32 must hold exactly
            raise ValueError("NGramNB holds at most 2**24 - 1 ids per n-gram order.")

    def _size(self, n: int) -> int:
        return self.vocab_size if n == 1 else self.buckets

    def build(self, input_shape):
        # The saved tables hold 16-bit floats: 4M buckets per order would be 16 MB each in 32 bits.
        self.ratios = [self.add_weight(shape=(self._size(n),), initializer="zeros", trainable=False,
                                       dtype="float16" if self.folded else "float32", name=f"ratio{n}")
                       for n in range(1, self.order + 1)]
        regularizer = keras.regularizers.L2(self.l2) if self.l2 else None
        self.gains = [] if self.folded else [
            self.add_weight(shape=(self._size(n),), initializer="zeros", regularizer=regularizer, name=f"weight{n}")
            for n in range(1, self.order + 1)]

    def call(self, ids):
        ops = keras.ops
        ids = ops.cast(ids, "int64")
        out = []
        for n in range(1, self.order + 1):
            grams = _ngram_ids(ids, n, self.vocab_size, self.buckets, ops)
            # Cast, then gather: LiteRT has no 16-bit gather.
            weight = ops.take(ops.cast(self.ratios[n - 1], "float32"), grams)
            if not self.folded:  # NBSVM's logistic regression on r * x: w starts at 0, the L2 penalty pulls it there
                weight = weight * ops.take(self.gains[n - 1], grams)
            out.append(weight * _first_seen(grams))
        return ops.stack(out, axis=-1)

    def folded_tables(self) -> list:
        """The frozen tables of the saved model: r * w per order."""
        import numpy as np

        if self.folded:
            return [np.asarray(r) for r in self.ratios]
        return [np.asarray(r) * np.asarray(w) for r, w in zip(self.ratios, self.gains, strict=True)]

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.order)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "buckets": self.buckets,
                "order": self.order, "l2": self.l2, "folded": self.folded}


@keras.saving.register_keras_serializable(package="dlapp")
class SumOverSteps(keras.layers.Layer):
    """(N, T, F) -> (N, F): a linear model's score adds its evidence up over the review."""

    def call(self, x):
        return keras.ops.sum(x, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


from . import attention  # noqa: E402,F401  (registers the attention models' layers: TokenMask, SelfAttentionBlock, ...)

