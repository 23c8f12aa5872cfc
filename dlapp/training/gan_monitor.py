"""What a GAN training shows while it runs: a fixed-noise grid (one row per class) a few times per
epoch, and per epoch the judge's requested-class accuracy and a Fréchet distance for the curves."""

from __future__ import annotations

import numpy as np

from ..backend import keras
from .events import EventCallback, TrainingEvent

GRID_COLUMNS = 8
PREVIEWS_PER_EPOCH = 4


def grid(pictures: np.ndarray, rows: int, gap: int = 1) -> np.ndarray:
    """(rows × cols) uint8 pictures as one uint8 image, `gap` px of white between them."""
    n, h, w, c = pictures.shape
    cols = n // rows
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, c), 255, np.uint8)
    for i, picture in enumerate(pictures[:rows * cols]):
        r, k = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, k * (w + gap):k * (w + gap) + w] = picture
    return out


class GanMonitor(keras.callbacks.Callback):
    """Must run before the checkpoint callback, so the figures it adds to an epoch's logs are saved with it."""

    def __init__(self, gan, preset, data, emit: EventCallback, *, samples: int = 1_000, store=None):
        """`store`: where the preset's judge is read (a ModelStore; None: the shared one)."""
        from ..nets.gan import noise_for
        from ..quality import judge

        super().__init__()
        self.gan, self.emit = gan, emit
        classes = len(data.class_names)
        self.grid_noise = np.tile(noise_for(range(GRID_COLUMNS), gan.latent), (classes, 1))
        self.grid_classes = np.repeat(np.arange(classes), GRID_COLUMNS).astype("int32")
        self.classes = classes
        self.judge = judge(preset.judge, tuple(data.class_names), tuple(int(d) for d in data.input_shape),
                           store=store)
        n = min(samples, len(data.y_test))
        rng = np.random.default_rng(0)
        self.test_features = self.judge.pooled(data.x_test[rng.choice(len(data.y_test), n, replace=False)])
        self.noise = noise_for(range(10_000, 10_000 + n), gan.latent)
        self.requested = (np.arange(n) % classes).astype("int32")

    def _draw(self, noise, classes) -> np.ndarray:
        from ..nets.gan import to_uint8

        return to_uint8(self.gan.generator_ema.predict([noise, classes], batch_size=500, verbose=0))

    def preview(self) -> np.ndarray:
        return grid(self._draw(self.grid_noise, self.grid_classes), self.classes)

    def on_train_begin(self, logs=None):
        self.steps = self.params.get("steps") or 0
        self.every = max(1, self.steps // PREVIEWS_PER_EPOCH) if self.steps else 50
        self.emit(TrainingEvent("preview", preview=self.preview()))

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0 and batch + 1 < (self.steps or 10**9):
            self.emit(TrainingEvent("preview", step=batch + 1, preview=self.preview()))

    def on_epoch_end(self, epoch, logs=None):
        from ..quality import class_accuracy, frechet_distance

        pictures = self._draw(self.noise, self.requested)
        accuracy, _ = class_accuracy(self.judge, pictures, self.requested)
        if logs is not None:  # the same dict the checkpoint and the progress events read next
            logs["class_accuracy"] = accuracy
            logs["frechet"] = frechet_distance(self.judge.pooled(pictures), self.test_features)
        self.emit(TrainingEvent("preview", epoch=epoch + 1, preview=self.preview()))
