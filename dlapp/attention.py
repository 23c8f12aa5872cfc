"""Self-attention pieces saved inside the `attention` text models (nets/text.py), written with
keras.ops only so that they run on any Keras backend. Registered on import; `import dlapp.layers`
imports this module, so `keras.saving.load_model(path, safe_mode=True)` works after it as for
every other dlapp model.

Each layer that mixes positions takes `keep`, (N, L) with 1 at the review's tokens and 0 at
padding, as its second input: padding is never attended to nor pooled, so a short review's answer
does not depend on how much padding follows it. The explanations (explain/attention.py) call
the same layers with `return_attention=True` / `weights_of` to read where the model looked.
"""

from __future__ import annotations

from .backend import keras

ops = keras.ops
_NEG = -1e9  # added to the logits of padding positions before a softmax (computed in float32)


def _masked_softmax(logits, keep, axis: int = -1):
    """softmax over `axis` in float32, with `keep` (broadcastable, 1 = attend) zeroing the rest."""
    logits = ops.cast(logits, "float32")
    keep = ops.cast(keep, "float32")
    weights = ops.softmax(logits + (1.0 - keep) * _NEG, axis=axis)
    return weights * keep  # an all-padding row (an empty review) gets all zeros, not a uniform spread


def _gelu(x):
    """Exact GELU as 0.5·x·(1 + erf(x/√2)): TensorFlow's own writes it with erfc, which ONNX lacks, so
    this form keeps the model exportable (export/build.py) and computes the same function."""
    return 0.5 * x * (1.0 + ops.erf(x * 0.7071067811865476))


@keras.saving.register_keras_serializable(package="dlapp")
class TokenMask(keras.layers.Layer):
    """Token ids (N, L) -> (N, L) float32: 1 at the review's tokens, 0 at padding (id 0)."""

    def call(self, ids):
        return ops.cast(ops.not_equal(ids, 0), "float32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="dlapp")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learnt vector per position (Vaswani et al. 2017's learnt variant) to (N, L, D) inputs."""

    def __init__(self, length: int, **kwargs):
        super().__init__(**kwargs)
        self.length = int(length)

    def build(self, input_shape):
        self.positions = self.add_weight(shape=(self.length, int(input_shape[-1])), name="positions",
                                         initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        return x + ops.cast(self.positions[:ops.shape(x)[1]], x.dtype)[None]

    def get_config(self):
        return {**super().get_config(), "length": self.length}


@keras.saving.register_keras_serializable(package="dlapp")
class SelfAttentionBlock(keras.layers.Layer):
    """One pre-norm Transformer encoder block: x + MHSA(LN(x)), then x + FFN(LN(x)).

    Pre-norm (Xiong et al. 2020) trains without a learning-rate warm-up being critical, which
    matters for short CPU runs. `return_attention=True` also returns the heads' attention
    probabilities (N, heads, L, L), rows summing to 1 over the review's tokens.
    """

    def __init__(self, heads: int = 2, ff_dim: int = 128, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.ff_dim, self.dropout_rate = int(heads), int(ff_dim), float(dropout)

    def build(self, input_shape):
        dim = int(input_shape[-1])  # the first input's (Keras passes the first call argument's shape)
        if dim % self.heads:
            raise ValueError(f"width {dim} is not a multiple of {self.heads} heads")
        self.dim = dim
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-5, name="norm1")
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-5, name="norm2")
        self.qkv = keras.layers.Dense(3 * dim, name="qkv")
        self.out = keras.layers.Dense(dim, name="out")
        self.ff1 = keras.layers.Dense(self.ff_dim, name="ff1")  # GELU in call(), written with erf
        self.ff2 = keras.layers.Dense(dim, name="ff2")
        self.drop = keras.layers.Dropout(self.dropout_rate)
        shape = (None, None, dim)
        for layer, width in ((self.norm1, dim), (self.norm2, dim), (self.qkv, dim), (self.out, dim),
                             (self.ff1, dim), (self.ff2, self.ff_dim)):
            layer.build((*shape[:-1], width))

    def _split(self, t, n, length):
        return ops.transpose(ops.reshape(t, (n, length, self.heads, self.dim // self.heads)), (0, 2, 1, 3))

    def call(self, x, keep, training=None, return_attention: bool = False):
        n, length = ops.shape(x)[0], ops.shape(x)[1]
        q, k, v = ops.split(self.qkv(self.norm1(x)), 3, axis=-1)
        q, k, v = (self._split(t, n, length) for t in (q, k, v))
        logits = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / float((self.dim // self.heads) ** 0.5)
        attention = _masked_softmax(logits, keep[:, None, None, :])  # (N, heads, L, L) over keys
        mixed = ops.matmul(ops.cast(self.drop(attention, training=training), v.dtype), v)
        mixed = ops.reshape(ops.transpose(mixed, (0, 2, 1, 3)), (n, length, self.dim))
        x = x + self.drop(self.out(mixed), training=training)
        x = x + self.drop(self.ff2(_gelu(self.ff1(self.norm2(x)))), training=training)
        return (x, attention) if return_attention else x

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "ff_dim": self.ff_dim, "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package="dlapp")
class AttentionPooling(keras.layers.Layer):
    """(N, L, D) -> (N, D): a weighted mean over the review's tokens, the weights a softmax of
    a learnt score per position, v . tanh(W x + b) (Bahdanau-style additive attention, as in
    Yang et al. 2016's attention pooling). `uniform=True` pools with equal weights instead (the
    masked mean), the baseline it is measured against.
    """

    def __init__(self, units: int = 64, uniform: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.uniform = int(units), bool(uniform)

    def build(self, input_shape):
        dim = int(input_shape[-1])  # the first input's (Keras passes the first call argument's shape)
        self.score_hidden = keras.layers.Dense(self.units, activation="tanh", name="score_hidden")
        self.score = keras.layers.Dense(1, use_bias=False, name="score")
        if not self.uniform:  # a mean pool has no weights; building these would save unused ones
            self.score_hidden.build((None, None, dim))
            self.score.build((None, None, self.units))

    def weights_of(self, x, keep):
        """(N, L) pooling weights, float32, summing to 1 over the review's tokens."""
        if self.uniform:
            keep = ops.cast(keep, "float32")
            return keep / ops.maximum(ops.sum(keep, axis=-1, keepdims=True), 1.0)
        return _masked_softmax(self.score(self.score_hidden(x))[..., 0], keep)

    def pool(self, x, weights):
        return ops.sum(x * ops.cast(weights, x.dtype)[..., None], axis=1)

    def call(self, x, keep):
        return self.pool(x, self.weights_of(x, keep))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "uniform": self.uniform}
