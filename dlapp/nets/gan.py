"""A class-conditional DCGAN for small pictures (CIFAR-10): generator, discriminator and the
adversarial game as one keras.Model with its own `train_step` (keras.io's DCGAN example).

- Generator: noise -> 4×4 -> three transposed-convolution doublings -> tanh picture. The class enters
  through conditional BatchNorm (a per-class scale and shift after each normalisation), as in
  Miyato & Koyama's projection-discriminator paper (2018).
- Discriminator: strided convolutions under spectral normalisation (Miyato et al. 2018), then a
  projection: the score is w·h + embed(class)·h over the pooled features h, so the discriminator
  judges "a real picture of *this* class". A small auxiliary class head (AC-GAN, Odena et al. 2017)
  adds a direct pull towards the requested class; on a CPU budget of ~2 h the generator sees few
  epochs, and the class signal is what makes the output recognisable.
- Hinge loss, one discriminator step per generator step, Adam (lr 2e-4, beta1 0.5): SN-GAN's
  setting "C" for its standard CNN.
- An exponential moving average of the generator's weights is kept beside it and is what is saved
  (Yazıcı et al. 2019): it is visibly less noisy than the last step's weights.

One optimizer updates both networks (each `apply` touches only its side's variables), so Keras's
own model saving keeps the whole training state in one file and dlapp's per-epoch checkpoint and
`--resume` work unchanged.
"""

from __future__ import annotations

import numpy as np

from ..backend import keras, tf

ops = keras.ops


def _cbn(h, y, num_classes: int, name: str, soft: bool):
    """Conditional BatchNorm: normalise, then scale by (1 + gamma[y]) and shift by beta[y]. `soft`: y is a
    weight per class (N, classes) and gamma, beta the weighted sums (a matrix product with the same table)."""
    channels = int(h.shape[-1])
    h = keras.layers.BatchNormalization(center=False, scale=False, momentum=0.9, name=f"{name}_bn")(h)
    if soft:
        gamma = keras.layers.Dense(channels, use_bias=False, name=f"{name}_gamma")(y)
        beta = keras.layers.Dense(channels, use_bias=False, name=f"{name}_beta")(y)
    else:
        gamma = keras.layers.Embedding(num_classes, channels, embeddings_initializer="zeros",
                                       name=f"{name}_gamma")(y)
        beta = keras.layers.Embedding(num_classes, channels, embeddings_initializer="zeros", name=f"{name}_beta")(y)
    gamma = keras.layers.Reshape((1, 1, channels))(gamma)
    beta = keras.layers.Reshape((1, 1, channels))(beta)
    return keras.layers.Add(name=f"{name}_out")([h, keras.layers.Multiply()([h, gamma]), beta])


def build_generator(num_classes: int, *, latent: int, width: int, side: int = 32, channels: int = 3,
                    name: str = "generator", soft: bool = False):
    """(noise (B, latent) float32, class (B,) int32) -> pictures (B, side, side, channels) in [-1, 1].
    `soft`: the class input is a weight per class instead (blends between classes), with the same weights."""
    z = keras.Input((latent,), name="noise")
    y = keras.Input((num_classes,), name="class_weights") if soft else keras.Input((), dtype="int32", name="class")
    start = side // 8
    h = keras.layers.Dense(start * start * width * 4, use_bias=False, name="project")(z)
    h = keras.layers.Reshape((start, start, width * 4))(h)
    for i, w in enumerate((width * 2, width, width // 2)):
        h = keras.layers.ReLU()(_cbn(h, y, num_classes, f"g{i}", soft))
        h = keras.layers.Conv2DTranspose(w, 4, strides=2, padding="same", use_bias=False, name=f"up{i}")(h)
    h = keras.layers.ReLU()(_cbn(h, y, num_classes, "g3", soft))
    out = keras.layers.Conv2D(channels, 3, padding="same", activation="tanh", name="to_rgb")(h)
    return keras.Model([z, y], out, name=name)


def build_discriminator(num_classes: int, *, width: int, side: int = 32, channels: int = 3):
    """(pictures in [-1, 1], class) -> (projection score (B,), class logits (B, num_classes))."""
    x = keras.Input((side, side, channels), name="picture")
    y = keras.Input((), dtype="int32", name="class")

    def sn(layer):
        return keras.layers.SpectralNormalization(layer)

    h = sn(keras.layers.Conv2D(width // 2, 3, padding="same"))(x)
    h = keras.layers.LeakyReLU(0.1)(h)
    for w in (width, width * 2, width * 4):
        h = sn(keras.layers.Conv2D(w, 4, strides=2, padding="same"))(h)
        h = keras.layers.LeakyReLU(0.1)(h)
    h = keras.layers.GlobalAveragePooling2D(name="pooled")(h)
    score = sn(keras.layers.Dense(1, name="score"))(h)
    embed = keras.layers.Embedding(num_classes, width * 4, name="class_projection")(y)
    projection = keras.layers.Dot(axes=1)([embed, h])
    score = keras.layers.Reshape(())(keras.layers.Add()([score, projection]))
    logits = keras.layers.Dense(num_classes, name="aux_class")(h)
    return keras.Model([x, y], [score, logits], name="discriminator")


@keras.saving.register_keras_serializable(package="dlapp")
class ConditionalGAN(keras.Model):
    """The adversarial game on (uint8 pictures, class) batches; `generator_ema` is what is kept."""

    def __init__(self, generator, discriminator, generator_ema, *, latent: int, num_classes: int,
                 aux_weight: float = 0.5, ema: float = 0.999, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator, self.generator_ema = generator, discriminator, generator_ema
        self.latent, self.num_classes = int(latent), int(num_classes)
        self.aux_weight, self.ema = float(aux_weight), float(ema)
        self.seed = int(seed)
        self.noise_seed = keras.random.SeedGenerator(seed)
        generator_ema.trainable = False  # follows the generator by averaging, never by gradients
        self.built = True  # its parts are built functional models

    def get_config(self):
        return {**super().get_config(), "latent": self.latent, "num_classes": self.num_classes,
                "aux_weight": self.aux_weight, "ema": self.ema, "seed": self.seed,
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "generator_ema": keras.saving.serialize_keras_object(self.generator_ema)}

    @classmethod
    def from_config(cls, config):
        parts = {k: keras.saving.deserialize_keras_object(config.pop(k))
                 for k in ("generator", "discriminator", "generator_ema")}
        return cls(**parts, **config)

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        self.optimizer.build(self.trainable_variables)  # both sides, before the first `apply` of either

    def compile_from_config(self, config):  # loading a checkpoint: the same compile, so its state loads
        self.compile(**keras.saving.deserialize_keras_object(config))

    def call(self, inputs, training=False):
        return self.generator_ema(inputs, training=training)

    @staticmethod
    def as_pictures(x):
        """uint8 pictures -> [-1, 1], the generator's range (preprocessing inside the model)."""
        return ops.cast(x, "float32") / 127.5 - 1.0

    def _noise(self, batch):
        return keras.random.normal((batch, self.latent), seed=self.noise_seed)

    def _scores(self, real, y, training: bool):
        batch = ops.shape(y)[0]
        fake = self.generator([self._noise(batch), y], training=training)
        real_score, real_logits = self.discriminator([real, y], training=training)
        fake_score, _ = self.discriminator([fake, y], training=training)
        d_loss = ops.mean(ops.relu(1.0 - real_score)) + ops.mean(ops.relu(1.0 + fake_score))
        aux = ops.mean(keras.losses.sparse_categorical_crossentropy(y, real_logits, from_logits=True))
        return d_loss, aux, real_score, fake_score

    def train_step(self, data):
        x, y = data
        y = ops.cast(ops.reshape(y, (-1,)), "int32")
        real = self.as_pictures(x)
        batch = ops.shape(y)[0]
        with tf.GradientTape() as tape:
            d_loss, aux, real_score, fake_score = self._scores(real, y, True)
            d_total = d_loss + self.aux_weight * aux
        d_vars = self.discriminator.trainable_variables
        self.optimizer.apply(tape.gradient(d_total, d_vars), d_vars)
        with tf.GradientTape() as tape:
            fake = self.generator([self._noise(batch), y], training=True)
            score, logits = self.discriminator([fake, y], training=True)
            g_adv = -ops.mean(score)
            g_aux = ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
            g_total = g_adv + self.aux_weight * g_aux
        g_vars = self.generator.trainable_variables
        self.optimizer.apply(tape.gradient(g_total, g_vars), g_vars)
        for ema_w, w in zip(self.generator_ema.weights, self.generator.weights, strict=True):
            ema_w.assign(self.ema * ema_w + (1.0 - self.ema) * w)  # BN statistics too: they are weights here
        return {"d_loss": d_loss, "g_loss": g_adv, "d_real": ops.mean(real_score),
                "d_fake": ops.mean(fake_score), "g_class_loss": g_aux}

    def test_step(self, data):
        x, y = data
        y = ops.cast(ops.reshape(y, (-1,)), "int32")
        d_loss, aux, real_score, fake_score = self._scores(self.as_pictures(x), y, False)
        return {"d_loss": d_loss, "d_real": ops.mean(real_score), "d_fake": ops.mean(fake_score)}


def build_gan(num_classes: int, *, latent: int, width: int, side: int, channels: int, aux_weight: float,
              ema: float, seed: int) -> ConditionalGAN:
    keras.utils.set_random_seed(seed)
    generator = build_generator(num_classes, latent=latent, width=width, side=side, channels=channels)
    ema_copy = build_generator(num_classes, latent=latent, width=width, side=side, channels=channels,
                               name="generator_ema")
    ema_copy.set_weights(generator.get_weights())
    discriminator = build_discriminator(num_classes, width=width, side=side, channels=channels)
    return ConditionalGAN(generator, discriminator, ema_copy, latent=latent, num_classes=num_classes,
                          aux_weight=aux_weight, ema=ema, seed=seed, name="conditional_gan")


def export(gan: ConditionalGAN):
    """The stand-alone generator to save: (noise, class) -> uint8 pictures, the averaged weights."""
    source = gan.generator_ema
    fresh = build_generator(gan.num_classes, **_shape_of(source), name="drawing")
    fresh.set_weights(source.get_weights())
    return _as_uint8(fresh, keras.Input((), dtype="int32", name="class"))


def _as_uint8(drawing, class_input):
    z = keras.Input((int(drawing.inputs[0].shape[-1]),), name="noise")
    return keras.Model([z, class_input], ToUint8(name="to_uint8")(drawing([z, class_input], training=False)),
                       name="generator")


def _shape_of(drawing) -> dict:
    side, _, channels = (int(d) for d in drawing.output.shape[1:])
    return {"latent": int(drawing.inputs[0].shape[-1]), "width": int(drawing.get_layer("up2").filters) * 2,
            "side": side, "channels": channels}


def with_class_weights(saved, num_classes: int):
    """The saved generator with a weight per class as its class input, (1, 0, …) drawing what class 0 does:
    the same tables, read as a weighted sum, so a picture can be drawn between two classes."""
    drawing = saved.get_layer("drawing")
    soft = build_generator(num_classes, **_shape_of(drawing), name="drawing", soft=True)
    for layer in drawing.layers:
        if layer.weights:
            soft.get_layer(layer.name).set_weights(layer.get_weights())
    return _as_uint8(soft, keras.Input((num_classes,), name="class_weights"))


@keras.saving.register_keras_serializable(package="dlapp")
class ToUint8(keras.layers.Layer):
    """A generator's [-1, 1] output -> uint8 pixels, inside the saved generator so every runtime gets pictures."""

    def call(self, t):
        return keras.ops.cast(keras.ops.clip(keras.ops.round((t + 1.0) * 127.5), 0, 255), "uint8")

    def compute_output_spec(self, t):
        return keras.KerasTensor(t.shape, dtype="uint8")


def noise_for(seeds, latent: int) -> np.ndarray:
    """The noise each seed stands for: the same seed gives the same picture on every machine."""
    return np.stack([np.random.default_rng(int(s)).standard_normal(latent).astype("float32") for s in seeds])


def to_uint8(pictures) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8 pixels (what ToUint8 does inside a saved generator)."""
    return np.clip(np.round((np.asarray(pictures) + 1.0) * 127.5), 0, 255).astype(np.uint8)
