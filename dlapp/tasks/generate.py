"""Picture generation: a class-conditional GAN learns to draw a data set's classes (nets/gan.py).

What is learned is a generator; what it is judged by is the project's own classifier
(quality.py): the share of its pictures that classifier files under the requested class, and a
Fréchet distance on the classifier's features, read beside its floor and ceiling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import limits
from ..card import Calibration, Headline, InputSpec, Metrics, ModelCard
from ..errors import UsageError
from .base import BasePreset, DefaultRun, Setting, lookup_preset

if TYPE_CHECKING:
    from ..store import ModelStore

GRID_COLUMNS = 8  # the live grid: one row per class, this many fixed seeds per row
QUALITY_SAMPLES = 5_000  # generated and real pictures for the final figures (the protocol, FID's usual 5k)
EPOCH_SAMPLES = 1_000  # per epoch, for the curves: smaller, so biased upwards against the final figure


@dataclass(frozen=True, kw_only=True)
class GeneratePreset(BasePreset):
    latent: int = 128  # noise numbers per picture
    width: int = 64  # the generator's last and the discriminator's first convolution width; others are multiples
    aux_weight: float = 0.5  # weight of the auxiliary class loss (AC-GAN) beside the hinge loss
    ema: float = 0.999  # the saved generator is this moving average of the trained one
    beta_1: float = 0.5  # Adam's first-moment decay (SN-GAN's setting)
    judge: str = "cifar10-best"  # the cached image classifier that measures the pictures

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width % 2 or self.width < 8:
            raise UsageError("A GAN width is an even number of at least 8.")


PRESETS: dict[str, GeneratePreset] = {p.name: p for p in [
    # A first look: a narrow GAN (width 32, ~37 s per CIFAR-10 epoch here); blurry class-coloured shapes
    # within a couple of minutes on a subset.
    GeneratePreset(name="fast", summary="A narrow conditional GAN: blurry but class-coloured pictures within a "
                   "few minutes; about 40 s per pass over all of CIFAR-10 on a 2-core CPU.",
                   description="Conditional DCGAN (width 32): conditional BatchNorm generator, spectral-norm "
                   "projection discriminator, hinge loss, EMA generator", epochs=10, batch_size=128,
                   learning_rate=2e-4, width=32, validation_split=0.02),
    # cifar10-gan: width 64 is ~110 s per epoch here (width 48: 73 s, 32: 37 s); 40 epochs fit the 2-hour budget.
    GeneratePreset(name="best", summary="The shipped cifar10-gan's recipe: about 75 minutes on all of CIFAR-10 on "
                   "a 2-core CPU.",
                   description="Conditional DCGAN (width 64): conditional BatchNorm generator, spectral-norm "
                   "projection discriminator, hinge + auxiliary class loss, EMA generator", epochs=40,
                   batch_size=128, learning_rate=2e-4, width=64, validation_split=0.02),
]}


class Generator:
    """A cached generator, ready to draw pictures of its classes."""

    def __init__(self, model_id: str, card: ModelCard, model: Any):
        from ..backend import tf

        self.model_id, self.card, self.model = model_id, card, model
        self.class_names = list(card.class_names)
        self.latent = int(card.input.shape[0])
        # Two inputs, and uint8 out: backend.compiled takes one input and returns float64.
        draw = tf.function(lambda noise, classes: model([noise, classes], training=False), reduce_retracing=True,
                           input_signature=[tf.TensorSpec((None, self.latent), tf.float32),
                                            tf.TensorSpec((None,), tf.int32)])
        self._draw = lambda noise, classes: np.asarray(draw(noise, classes))
        self._draw(np.zeros((1, self.latent), np.float32), np.zeros((1,), np.int32))  # trace now, once

    def warm_up(self) -> None:
        """Nothing left to compile: the constructor traced the one graph every batch size uses."""

    def class_index(self, name: str | int) -> int:
        """Raises UsageError for a class this generator does not know."""
        if isinstance(name, int | np.integer) and 0 <= int(name) < len(self.class_names):
            return int(name)
        if isinstance(name, str) and name.strip().lower() in self.class_names:
            return self.class_names.index(name.strip().lower())
        raise UsageError(f"{self.model_id} draws {', '.join(self.class_names)}; not {name!r}.")

    def draw(self, noise: np.ndarray, classes: Sequence[int]) -> np.ndarray:
        """uint8 pictures (N, H, W, C) for these noise rows and class indices."""
        if not 1 <= len(classes) <= limits.MAX_GENERATE:
            raise UsageError(f"Draw between 1 and {limits.MAX_GENERATE} pictures at a time.")
        return np.asarray(self._draw(np.asarray(noise, np.float32), np.asarray(classes, np.int32)))

    def generate(self, class_name: str | int, *, seed: int = 0, n: int = 16) -> np.ndarray:
        """`n` pictures of one class, from seeds seed, seed + 1, …: the same seed gives the same picture."""
        from ..nets.gan import noise_for

        check_seed(seed)
        c = self.class_index(class_name)
        if not 1 <= n <= limits.MAX_GENERATE:
            raise UsageError(f"Draw between 1 and {limits.MAX_GENERATE} pictures at a time, not {n}.")
        return self.draw(noise_for(range(seed, seed + n), self.latent), [c] * n)

    def interpolate(self, *, seed_a: int, seed_b: int, class_a: str | int, class_b: str | int | None = None,
                    steps: int = 8) -> np.ndarray:
        """`steps` pictures walking from (seed_a, class_a) to (seed_b, class_b): the noise along a great circle
        (slerp, as the noise is Gaussian), the class as a blend of the two classes' conditioning."""
        from ..nets.gan import noise_for

        for s in (seed_a, seed_b):
            check_seed(s)
        if not 2 <= steps <= limits.MAX_INTERPOLATION_STEPS:
            raise UsageError(f"Interpolate in 2 to {limits.MAX_INTERPOLATION_STEPS} steps, not {steps}.")
        a, b = noise_for([seed_a, seed_b], self.latent)
        ca, cb = self.class_index(class_a), self.class_index(class_b if class_b is not None else class_a)
        t = np.linspace(0, 1, steps)
        noise = np.stack([_slerp(a, b, float(x)) for x in t])
        if ca == cb:
            return self.draw(noise, [ca] * steps)
        return self._blend(noise, ca, cb, t)

    def _blend(self, noise: np.ndarray, ca: int, cb: int, t: np.ndarray) -> np.ndarray:
        """Pictures whose class conditioning (each embedding the class picks) is (1 - t)·a + t·b."""
        generator = self._with_blended_classes()
        weights = np.zeros((len(t), len(self.class_names)), np.float32)
        weights[:, ca], weights[:, cb] = 1 - t, t
        return np.asarray(generator.predict([noise.astype(np.float32), weights], verbose=0))

    def _with_blended_classes(self):
        if getattr(self, "_blended", None) is None:
            from ..nets.gan import with_class_weights

            self._blended = with_class_weights(self.model, len(self.class_names))
        return self._blended


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def check_seed(seed: int) -> None:
    if not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= limits.MAX_SEED:
        raise UsageError(f"A seed is a whole number from 0 to {limits.MAX_SEED:,}, not {seed!r}.")


class GenerateTask:
    name = "generate"
    presets = PRESETS
    settings = {
        "latent": Setting(type=int, label="Latent size", range=limits.GAN_LATENT_RANGE,
                          help="generate models: noise numbers per picture (default 128)"),
        "width": Setting(type=int, label="Width", range=limits.GAN_WIDTH_RANGE,
                         help="generate models: the generator's last convolution width, an even number (fast: 32, "
                         "best: 64)"),
    }
    default_run = DefaultRun(preset="fast", subset=500, epochs=5)  # a first look in a few minutes
    validation_in_blocks = False
    open_set = False
    hub_pipeline = "unconditional-image-generation"  # the Hub has no class-conditional tag
    noun = "class-conditional GAN image generator"

    def noun_for(self, card: ModelCard) -> str:
        width = card.hyperparameters.get("width")
        return f"{self.noun} (DCGAN, width {width})" if width else self.noun

    def preset(self, name: str, *, dataset: str = "") -> GeneratePreset:
        return lookup_preset(self.name, PRESETS, name, dataset=dataset, seed="fast")

    def image_size(self, preset: GeneratePreset, side: int | None) -> tuple[int, int] | None:
        return None

    def check_data(self, data, preset: GeneratePreset | None = None, *, store: ModelStore | None = None) -> None:
        """Also checks, before a long training, that the preset's judge can measure its pictures."""
        from ..quality import judge

        shape = tuple(int(d) for d in data.input_shape)
        if len(shape) != 3 or shape[0] != shape[1] or shape[0] % 8:
            raise UsageError("A GAN here draws square pictures whose side is a multiple of 8 (e.g. 32×32).")
        if len(data.class_names) < 2:
            raise UsageError("A class-conditional GAN needs at least two classes.")
        if preset is not None:
            judge(preset.judge, tuple(data.class_names), shape, store=store)

    def input_spec(self, data, preset: GeneratePreset) -> InputSpec:
        return InputSpec(kind="generate", dtype="float32", shape=(preset.latent,))

    def starts_from(self, preset: GeneratePreset, *, store: ModelStore | None = None) -> str:
        return ""

    def build(self, preset: GeneratePreset, x_train, y_train, *, num_classes: int, input_shape: tuple[int, ...],
              store: ModelStore | None = None):
        from ..nets.gan import build_gan

        return build_gan(num_classes, latent=preset.latent, width=preset.width, side=input_shape[0],
                         channels=input_shape[2], aux_weight=preset.aux_weight, ema=preset.ema, seed=0)

    def load_support(self) -> None:
        from ..nets import gan  # noqa: F401  (registers ConditionalGAN and ToUint8)

    def compile(self, model, preset: GeneratePreset, *, steps_per_epoch: int) -> None:
        from ..backend import keras

        model.compile(optimizer=keras.optimizers.Adam(preset.learning_rate, beta_1=preset.beta_1))

    def targets(self, y: np.ndarray, *, model, preset: GeneratePreset, num_classes: int) -> np.ndarray:
        return y.astype("int32")  # the class to draw, not a target to predict

    def training_inputs(self, model, x, *, validation: bool, preset: GeneratePreset, store: ModelStore | None = None):
        return x

    def augmentations(self, preset: GeneratePreset, *, examples: int) -> list:
        from ..training.augment import random_mirror

        return [random_mirror]

    def callbacks(self, model, preset: GeneratePreset, data, emit, *, store: ModelStore | None = None) -> list:
        from ..training.gan_monitor import GanMonitor

        return [GanMonitor(model, preset, data, emit, store=store)]

    def finalize(self, the_plan, fitted, *, store: ModelStore | None = None) -> tuple[Any, Calibration]:
        from ..nets.gan import export

        return export(fitted.model), Calibration()

    def evaluate(self, model, data, calibration: Calibration, *, preset: GeneratePreset | None = None,
                 store: ModelStore | None = None, samples: int = QUALITY_SAMPLES) -> Metrics:
        report = quality_report(model, data, judge_id=(preset or PRESETS["best"]).judge, samples=samples, store=store)
        return Metrics(test_examples=report["samples"], report=report,
                       headline=Headline("requested-class accuracy", report["class_accuracy"]))

    def export(self, model, preset: GeneratePreset, *, store: ModelStore | None = None):
        from ..nets.gan import export

        return export(model)

    def evaluate_inputs(self, x):
        return x

    def as_uploaded(self, x) -> None:
        return None

    def predictor(self, model_id: str, card: ModelCard, model) -> Generator:
        return Generator(model_id, card, model)

    def examples(self, *, data_dir=None, per_class: int = 1, prefer: str | None = None) -> list:
        return []


TASK = GenerateTask()


def quality_report(generator, data, *, judge_id: str, samples: int, seed: int = 0,
                   store: ModelStore | None = None) -> dict[str, Any]:
    """The requested-class accuracy (overall and per class) and the Fréchet distance of `samples` generated
    pictures against as many test pictures, beside its floor (training pictures) and ceiling (noise); the judge
    is read from `store` (None: the shared one)."""
    from ..nets.gan import noise_for
    from ..quality import class_accuracy, frechet_distance, judge, noise_pictures

    shape = tuple(int(d) for d in data.input_shape)
    judge_ = judge(judge_id, tuple(data.class_names), shape, store=store)
    n = min(samples, len(data.y_test), len(data.y_train))
    rng = np.random.default_rng(seed)
    classes = np.arange(n) % len(data.class_names)
    latent = int(generator.input_shape[0][-1])
    pictures = np.asarray(generator.predict([noise_for(range(seed * n, seed * n + n), latent), classes.astype("int32")],
                                            batch_size=500, verbose=0))
    accuracy, per_class = class_accuracy(judge_, pictures, classes)
    test = judge_.pooled(data.x_test[rng.choice(len(data.y_test), n, replace=False)])
    distance = frechet_distance(judge_.pooled(pictures), test)
    floor = frechet_distance(judge_.pooled(data.x_train[rng.choice(len(data.y_train), n, replace=False)]), test)
    ceiling = frechet_distance(judge_.pooled(noise_pictures(n, shape, seed)), test)
    return {"judge": judge_id, "samples": int(n), "class_accuracy": accuracy,
            "per_class_accuracy": dict(zip(data.class_names, per_class, strict=True)),
            "frechet_distance": distance, "frechet_floor": floor, "frechet_ceiling": ceiling,
            "frechet_share_of_ceiling": distance / ceiling if ceiling else None}
