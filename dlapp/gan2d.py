"""The adversarial game in two dimensions, made visible (after GAN Lab, Kahng et al. 2018).

A generator turns noise into 2-D points; a discriminator says how real a point looks. They learn against each
other on a 2-D distribution (a ring of Gaussians, two moons, a grid of Gaussians, a spiral): every step can be
drawn, so a person sees the discriminator's decision surface move, then the generated points follow it.

`GAN2D` is a keras.Model with its own `train_step` (as keras.io's DCGAN), so `fit` plays the game on a data
set of real points; its `discriminator_step` and `generator_step` are the two halves of that step, which
`Game` (one visitor's game: its settings, its networks, its history) calls one at a time for the step-by-step
mode, or in rounds for Play. `Game.quality()` says how much of the distribution the generator covers: the
share of the distribution's modes it reaches, and the share of its points that land near real ones. Mode
collapse (a generator that covers one or two modes) shows as the first figure dropping.

Nothing here is shared between games: each has its own weights, optimizer state, random streams and real points,
kept as NumPy arrays; the Keras networks and traced steps that play them are engines lent to one game at a time
(`ENGINES`), so a new game builds no new model or graph.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from . import limits
from .errors import UsageError

ShapeName = Literal["ring", "moons", "grid", "spiral"]
Side = Literal["discriminator", "generator"]

BATCH = 256  # real and generated points per step: enough that every mode of a ring of 8 is in each batch
POOL = 4096  # real points a game samples its batches from (and measures against): 512 per mode of a ring
HIDDEN = (64, 64)  # units of both networks' hidden layers: small enough for ~1 ms a step on a CPU core
EQUILIBRIUM_D_LOSS = 2 * math.log(2)  # a discriminator that answers 1/2 everywhere: -log(1/2) on real and on fake
EQUILIBRIUM_G_LOSS = math.log(2)  # ... and the generator's (non-saturating) loss against it
COVERED_SHARE = 0.25  # a mode counts as covered when it gets at least a quarter of its fair share of the points


# ---------------------------------------------------------------- the distributions

@dataclass(frozen=True)
class Shape:
    """A 2-D distribution: how to sample it, its modes (labelled regions), and the plot's extent."""

    name: ShapeName
    label: str  # in words, for the picker
    modes: int  # labelled regions a generator should cover (Gaussians, or arcs of a curve)
    tolerance: float  # a generated point within this distance of a real one is "on target"
    extent: float  # the plot and the decision surface span [-extent, extent] on both axes


SHAPES: dict[str, Shape] = {s.name: s for s in (
    Shape("ring", "a ring of 8 Gaussians", 8, 0.3, 3.0),
    Shape("moons", "two moons", 8, 0.25, 3.0),
    Shape("grid", "a 3×3 grid of Gaussians", 9, 0.3, 3.0),
    Shape("spiral", "a spiral", 8, 0.25, 3.0),
)}


def real_points(shape: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` points of `shape` (float32, (n, 2)) and the mode each belongs to (int, (n,)), from `seed`.

    Raises:
        UsageError: an unknown shape.
    """
    check_shape(shape)
    rng = np.random.default_rng(seed)
    if shape in ("ring", "grid"):
        if shape == "ring":
            angles = np.arange(8) * 2 * np.pi / 8
            centres = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # 1.53 apart: gaps between modes
        else:
            centres = np.array([(x, y) for y in (-1.6, 0.0, 1.6) for x in (-1.6, 0.0, 1.6)])
        labels = rng.integers(0, len(centres), n)
        points = centres[labels] + rng.normal(0.0, 0.1, (n, 2))  # sd 0.1: 3 sd is the tolerance
    elif shape == "moons":
        t = rng.uniform(0.0, np.pi, n)
        lower = rng.integers(0, 2, n)  # which moon
        x = np.where(lower, 1.0 - np.cos(t), np.cos(t))
        y = np.where(lower, 0.5 - np.sin(t), np.sin(t))
        points = 1.6 * (np.stack([x - 0.5, y - 0.25], axis=1)) + rng.normal(0.0, 0.06, (n, 2))
        labels = lower * 4 + np.minimum((t / np.pi * 4).astype(int), 3)  # four arcs per moon
    else:  # spiral: one and a half turns, its radius growing from 0.5 to 2.5
        u = rng.uniform(0.0, 1.0, n)
        angle, radius = 3 * np.pi * u, 0.5 + 2.0 * u
        points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1) + rng.normal(0.0, 0.06, (n, 2))
        labels = np.minimum((u * 8).astype(int), 7)  # eight stretches of the same length in u
    return points.astype("float32"), labels.astype("int64")


def check_shape(shape: str) -> Shape:
    if shape not in SHAPES:
        raise UsageError(f"Unknown shape {shape!r}; choose from {', '.join(SHAPES)}.")
    return SHAPES[shape]


# ---------------------------------------------------------------- settings and presets

@dataclass(frozen=True, kw_only=True)
class GameSettings:
    """What a visitor sets. Checked on creation (UsageError names the setting and its range)."""

    shape: str = "ring"
    d_learning_rate: float = 0.002  # Adam (beta_1 = 0.5, as DCGAN) for both sides
    g_learning_rate: float = 0.002
    d_steps: int = 1  # discriminator steps per generator step
    noise_size: int = 2  # the generator's input: 2 numbers from a standard normal, as GAN Lab
    seed: int = 0

    def __post_init__(self) -> None:
        check_shape(self.shape)
        for name, (low, high) in (("d_learning_rate", limits.GAN2D_LEARNING_RATE_RANGE),
                                  ("g_learning_rate", limits.GAN2D_LEARNING_RATE_RANGE)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not low < value <= high:
                side = "discriminator" if name.startswith("d") else "generator"
                raise UsageError(f"The {side}'s learning rate must be a number above {low} and at most {high} "
                                 f"(got {value!r}).")
        for name, words, (low, high) in (
                ("d_steps", "Discriminator steps per generator step", limits.GAN2D_D_STEPS_RANGE),
                ("noise_size", "The noise size", limits.GAN2D_NOISE_SIZE_RANGE),
                ("seed", "The seed", limits.GAN2D_SEED_RANGE)):
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():
                object.__setattr__(self, name, int(value))  # a number box sends 2.0 for 2
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise UsageError(f"{words} must be a whole number from {low} to {high} (got {value!r}).")

    @classmethod
    def of(cls, values: dict[str, Any]) -> GameSettings:
        """From a dict (an API call's); an unknown key is an error, not silently ignored."""
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(values) - known):
            raise UsageError(f"Unknown game setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Preset:
    label: str
    settings: GameSettings
    says: str  # what to watch for, in plain words


PRESETS: dict[str, Preset] = {
    "balanced": Preset("Balanced: the game converges", GameSettings(),
                       "Both sides learn at the same pace: the generated points spread over every mode."),
    "collapse": Preset("Provoke mode collapse", GameSettings(d_learning_rate=0.0002, g_learning_rate=0.02),
                       "The generator learns 100× faster than the discriminator: it piles its points where "
                       "the discriminator is fooled most, and keeps hopping: few modes covered."),
}


def settings_for(preset: str, **changes: Any) -> GameSettings:
    if preset not in PRESETS:
        raise UsageError(f"Unknown preset {preset!r}; choose from {', '.join(PRESETS)}.")
    return replace(PRESETS[preset].settings, **changes)


# ---------------------------------------------------------------- the networks and the model

MAX_NOISE = limits.GAN2D_NOISE_SIZE_RANGE[1]  # the generator's input is always this wide: noise past a game's own
# noise size is zeros, and the kernel rows that read it start at zero and get zero gradients (Adam moves them by
# 0 / (0 + epsilon)), so a game of any noise size plays on the same networks and the same traced steps


def _mlp(inputs: int, outputs: int, activation: str, name: str):
    """Dense layers (their initial weights come from `initial_weights`, seeded per game)."""
    from .backend import keras

    x = first = keras.Input((inputs,))
    for i, units in enumerate((*HIDDEN, outputs)):
        last = i == len(HIDDEN)
        x = keras.layers.Dense(units, activation=None if last else activation)(x)
    return keras.Model(first, x, name=name)


def build_generator():
    """Noise (MAX_NOISE numbers, a game's own noise size first, zeros after) -> a 2-D point."""
    return _mlp(MAX_NOISE, 2, "relu", "generator")


def build_discriminator():
    """A 2-D point -> a logit: above 0, it looks real."""
    return _mlp(2, 1, "leaky_relu", "discriminator")


def initial_weights(settings: GameSettings) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A new game's discriminator and generator weights, drawn from its seed by the initializers a Dense layer
    would use (Glorot uniform kernels, zero biases; no global seed: games in other threads keep their own).
    The generator's first kernel is drawn for the game's noise size, then padded with zero rows to MAX_NOISE."""
    from .backend import keras

    def mlp(inputs: int, outputs: int, seed: int) -> list[np.ndarray]:
        weights = []
        for i, (fan_in, units) in enumerate(zip((inputs, *HIDDEN), (*HIDDEN, outputs), strict=True)):
            kernel = keras.initializers.GlorotUniform(seed=seed * 16 + i)((fan_in, units), dtype="float32")
            weights += [np.asarray(kernel), np.zeros(units, "float32")]
        return weights

    generator = mlp(settings.noise_size, 2, settings.seed)
    generator[0] = np.pad(generator[0], ((0, MAX_NOISE - settings.noise_size), (0, 0)))
    return mlp(2, 1, settings.seed + 7), generator


def _gan_class():
    """GAN2D, defined on first use (Keras loads only when a game starts: `import dlapp` stays light)."""
    global GAN2D
    if GAN2D is not None:
        return GAN2D
    from .backend import keras, tf

    class _GAN2D(keras.Model):
        """Generator and discriminator in one model; `fit` on real points plays `d_steps` D steps, then a G step.
        The noise size and `d_steps` are variables, not constants of the traced steps: one model plays any game."""

        def __init__(self, discriminator, generator, *, noise_size: int = 2, d_steps: int = 1, seed: int = 0):
            super().__init__()
            self.discriminator, self.generator = discriminator, generator
            self.noise_size = keras.Variable(noise_size, dtype="int32", trainable=False, name="noise_size")
            self.d_steps = keras.Variable(d_steps, dtype="int32", trainable=False, name="d_steps")
            self.seed_generator = keras.random.SeedGenerator(seed)
            self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

        def compile(self, d_optimizer, g_optimizer):
            super().compile()
            self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
            # Built now, outside any tf.function: an optimizer creates its slots on first build.
            d_optimizer.build(self.discriminator.trainable_variables)
            g_optimizer.build(self.generator.trainable_variables)

        def call(self, noise):
            return self.generator(noise)

        def noise(self, n):
            size = self.noise_size.value
            z = keras.random.normal((n, size), seed=self.seed_generator)  # the game's own noise size: its stream
            return tf.pad(z, [[0, 0], [0, MAX_NOISE - size]])

        def discriminator_step(self, real):
            """One step of the discriminator: real points towards 1, the generator's (held still) towards 0."""
            fake = self.generator(self.noise(tf.shape(real)[0]), training=False)
            with tf.GradientTape() as tape:
                real_logits = self.discriminator(real, training=True)
                fake_logits = self.discriminator(fake, training=True)
                loss = (self.bce(tf.ones_like(real_logits), real_logits)
                        + self.bce(tf.zeros_like(fake_logits), fake_logits))
            grads = tape.gradient(loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables, strict=True))
            return loss

        def generator_step(self, batch_size):
            """One step of the generator: its points towards what the (held still) discriminator calls real.
            The non-saturating loss -log D(G(z)) (Goodfellow et al. 2014): strong gradients while D wins."""
            noise = self.noise(batch_size)
            with tf.GradientTape() as tape:
                fake_logits = self.discriminator(self.generator(noise, training=True), training=False)
                loss = self.bce(tf.ones_like(fake_logits), fake_logits)
            grads = tape.gradient(loss, self.generator.trainable_variables)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables, strict=True))
            return loss

        def train_step(self, real):
            # An explicit loop: Keras traces train_step without AutoGraph, and d_steps is a variable.
            _, d_loss = tf.while_loop(lambda i, _: i < self.d_steps.value,
                                      lambda i, _: (i + 1, self.discriminator_step(real)),
                                      (tf.constant(0), tf.constant(0.0)))
            g_loss = self.generator_step(tf.shape(real)[0])
            return {"d_loss": d_loss, "g_loss": g_loss}

    GAN2D = _GAN2D
    return GAN2D


GAN2D: Any = None  # the keras.Model class, once _gan_class() has defined it


def build_gan():
    """A compiled GAN2D (its weights and settings are a game's, loaded by an _Engine before each move)."""
    from .backend import keras

    gan = _gan_class()(build_discriminator(), build_generator())
    gan.compile(keras.optimizers.Adam(0.002, beta_1=0.5), keras.optimizers.Adam(0.002, beta_1=0.5))
    return gan


# ---------------------------------------------------------------- engines: networks lent to games, move by move

class _Engine:
    """A GAN2D with its optimizers, random streams, real points and traced steps, lent to one game at a time.

    A game owns no networks: its state (weights, optimizer slots and learning rates, random streams, real points,
    noise size, d_steps) is NumPy arrays, loaded into an engine before a move and read back after it. Networks,
    optimizers and traced steps built per game were never given back to the process once the game was dropped
    (about 10 MB a game, measured in the server: tests/test_gan2d_memory.py), so every Reset grew it; engines are
    built only when every existing one is busy, so at most as many as games move at once."""

    def __init__(self) -> None:
        from .backend import tf

        self.gan = build_gan()
        self.real = tf.Variable(tf.zeros((POOL, 2)), trainable=False)
        self.sampler = tf.random.Generator.from_seed(0)
        self.variables = [*self.gan.discriminator.weights, *self.gan.generator.weights,
                          *self.gan.d_optimizer.variables, *self.gan.g_optimizer.variables,
                          self.gan.seed_generator.state, self.gan.noise_size, self.gan.d_steps,
                          self.sampler.state, self.real]
        self.holder: object | None = None  # the token of the game whose state the variables hold now
        self.rounds = tf.function(self._play)  # many rounds in one call: no Python between steps
        self.d_only = tf.function(lambda: self.gan.discriminator_step(self.batch()))
        self.g_only = tf.function(lambda: self.gan.generator_step(BATCH))

    def batch(self):
        from .backend import tf

        return tf.gather(self.real, self.sampler.uniform((BATCH,), 0, POOL, dtype=tf.int64))

    def _play(self, rounds):
        from .backend import tf

        d_total, g_total = tf.constant(0.0), tf.constant(0.0)
        for _ in tf.range(rounds):
            for _ in tf.range(self.gan.d_steps.value):
                d_total += self.gan.discriminator_step(self.batch())
            g_total += self.gan.generator_step(BATCH)
        return d_total, g_total

    def start(self, settings: GameSettings, real: np.ndarray) -> None:
        """Set the variables to a new game's: seeded weights, fresh optimizers, its random streams and points."""
        d_weights, g_weights = initial_weights(settings)
        gan = self.gan
        for variable, value in zip([*gan.discriminator.weights, *gan.generator.weights], [*d_weights, *g_weights],
                                   strict=True):
            variable.assign(value)
        for optimizer, rate in ((gan.d_optimizer, settings.d_learning_rate),
                                (gan.g_optimizer, settings.g_learning_rate)):
            for variable in optimizer.variables:  # the step count and Adam's moments
                variable.assign(np.zeros(variable.shape, variable.dtype))
            optimizer.learning_rate = rate
        gan.seed_generator.state.assign(np.array([settings.seed, 0]))  # as keras.random.SeedGenerator(seed) starts
        gan.noise_size.assign(settings.noise_size)
        gan.d_steps.assign(settings.d_steps)
        self.sampler.reset_from_seed(settings.seed + 1)  # the game's own stream of real batches
        self.real.assign(real)

    def save(self) -> list[np.ndarray]:
        return [np.array(v) for v in self.variables]

    def load(self, state: list[np.ndarray]) -> None:
        for variable, value in zip(self.variables, state, strict=True):
            variable.assign(value)


class _Engines:
    """The engines of this process: a free one is lent (the one a game used last, when free: nothing to load),
    or a new one is built when all are busy."""

    def __init__(self) -> None:
        self._free: list[_Engine] = []
        self._lock = threading.Lock()
        self.built = 0

    @contextlib.contextmanager
    def lent(self, holder: object) -> Iterator[_Engine]:
        with self._lock:
            engine = next((e for e in self._free if e.holder is holder), None)
            if engine is None and self._free:
                engine = self._free[-1]
            if engine is not None:
                self._free.remove(engine)
            else:
                self.built += 1
        if engine is None:
            try:
                engine = _Engine()
            except BaseException:
                with self._lock:
                    self.built -= 1
                raise
        try:
            yield engine
        finally:
            with self._lock:
                self._free.append(engine)


ENGINES = _Engines()


# ---------------------------------------------------------------- one visitor's game

@dataclass
class Quality:
    """How much of the distribution the generator covers, from `points` generated points."""

    modes_covered: int
    modes: int
    on_target: float  # share of generated points within the shape's tolerance of a real point
    per_mode: list[int]  # generated points on target, per mode

    @property
    def coverage(self) -> float:
        return self.modes_covered / self.modes

    def sentence(self) -> str:
        return f"modes covered: {self.modes_covered} of {self.modes} · points on target: {self.on_target:.0%}"


@dataclass
class Snapshot:
    """What the page draws after a step: everything as plain numbers."""

    step: int  # generator steps so far
    d_step: int  # discriminator steps so far
    real: np.ndarray  # (n, 2) real points shown
    fake: np.ndarray  # (n, 2) generated points (from the game's fixed noise, so a point moves, not jumps)
    surface: np.ndarray  # (grid, grid) D's probability "real" over the plot, rows along y
    axis: np.ndarray  # (grid,) the surface's coordinates along x and y
    pull: np.ndarray  # (n, 2) where the discriminator pulls each generated point: its logit's gradient, unit length
    quality: Quality
    history: dict[str, list[float]]  # "step", "d_loss", "g_loss", "coverage"
    last: str  # which side just moved ("" before any step), in words


@dataclass
class Game:
    """One visitor's game: settings, the state of its networks (NumPy arrays), the real points, the losses so far."""

    settings: GameSettings
    shown: int = limits.GAN2D_POINTS_SHOWN
    grid: int = limits.GAN2D_GRID
    step: int = 0  # generator steps
    d_step: int = 0  # discriminator steps
    pending_d: int = 0  # discriminator steps taken towards the next generator step (step-by-step mode)
    last: str = ""
    history: dict[str, list[float]] = field(default_factory=lambda: {"step": [], "d_loss": [], "g_loss": [],
                                                                     "coverage": []})

    def __post_init__(self) -> None:
        check_range("Points shown", self.shown, limits.GAN2D_POINTS_SHOWN_RANGE)
        check_range("The surface's grid size", self.grid, limits.GAN2D_GRID_RANGE)
        s = self.settings
        self.real, self.labels = real_points(s.shape, POOL, s.seed)
        fixed = np.random.default_rng(s.seed + 2).standard_normal((limits.GAN2D_QUALITY_POINTS, s.noise_size))
        self._fixed_noise = np.pad(fixed.astype("float32"), ((0, 0), (0, MAX_NOISE - s.noise_size)))
        self._d_sum = self._g_sum = 0.0  # losses since the last history point
        self._d_n = self._g_n = 0
        self._state: list[np.ndarray] = []
        self._token = object()  # names this game to the engines (a dropped game is not kept alive by them)
        with self._engine(start=True):
            pass

    @contextlib.contextmanager
    def _engine(self, *, moves: bool = False, start: bool = False) -> Iterator[_Engine]:
        """An engine holding this game's state for the block; after a move, its state is read back."""
        with ENGINES.lent(self._token) as engine:
            if start:
                engine.start(self.settings, self.real)
            elif engine.holder is not self._token:
                engine.load(self._state)
            engine.holder = self._token
            try:
                yield engine
            except BaseException:
                engine.holder = None  # half a move: the game keeps its state from before it
                raise
            if moves or start:
                self._state = engine.save()

    def weights(self, side: Side) -> list[np.ndarray]:
        """A copy of the discriminator's or the generator's weights (the generator's first kernel: MAX_NOISE rows)."""
        n = len(HIDDEN) * 2 + 2
        return [w.copy() for w in (self._state[:n] if side == "discriminator" else self._state[n:2 * n])]

    # -- steps

    def play(self, rounds: int) -> None:
        """`rounds` rounds of `d_steps` discriminator steps and one generator step (Play), within the step cap.

        Raises:
            UsageError: `rounds` outside limits.GAN2D_ROUNDS_RANGE.
        """
        from .backend import tf

        check_range("Rounds", rounds, limits.GAN2D_ROUNDS_RANGE)
        rounds = min(rounds, self.steps_left)
        if rounds <= 0:
            return
        with self._engine(moves=True) as engine:
            if self.pending_d:  # a half-played round of the step-by-step mode ends first
                self._step_once(engine)
                rounds -= 1
            while rounds > 0:
                n = min(rounds, limits.GAN2D_HISTORY_EVERY - self.step % limits.GAN2D_HISTORY_EVERY)
                d, g = engine.rounds(tf.constant(n))  # a tensor: one trace for any number of rounds
                self._add(d_loss=float(d), d_n=n * self.settings.d_steps, g_loss=float(g), g_n=n)
                self.step += n
                self.d_step += n * self.settings.d_steps
                rounds -= n
                self._record(engine)
        self.last = (f"played {self.settings.d_steps} discriminator step{'s' if self.settings.d_steps > 1 else ''} "
                     "and 1 generator step per round")

    def step_once(self) -> str:
        """One step of one side: the discriminator's `d_steps` steps come first, then the generator's. Returns
        which side just moved ("discriminator" or "generator")."""
        if self.steps_left <= 0:
            raise UsageError(f"This game has reached its {limits.GAN2D_MAX_STEPS:,} generator steps; press Reset.")
        with self._engine(moves=True) as engine:
            return self._step_once(engine)

    def _step_once(self, engine: _Engine) -> str:
        if self.pending_d < self.settings.d_steps:
            self._add(d_loss=float(engine.d_only()), d_n=1)
            self.pending_d += 1
            self.d_step += 1
            n = self.settings.d_steps
            self.last = f"discriminator step {self.pending_d} of {n}"
            return "discriminator"
        self._add(g_loss=float(engine.g_only()), g_n=1)
        self.pending_d = 0
        self.step += 1
        self.last = "generator step"
        self._record(engine)
        return "generator"

    @property
    def next_side(self) -> Side:
        return "discriminator" if self.pending_d < self.settings.d_steps else "generator"

    @property
    def steps_left(self) -> int:
        return limits.GAN2D_MAX_STEPS - self.step

    def fit(self, steps: int) -> dict[str, float]:
        """`steps` rounds through Keras `fit` (GAN2D.train_step) on batches of this game's real points."""
        from .backend import tf

        check_range("Steps", steps, (1, self.steps_left))
        with self._engine(moves=True) as engine:
            data = tf.data.Dataset.from_tensors(engine.real).repeat().map(
                lambda pool: tf.gather(pool, engine.sampler.uniform((BATCH,), 0, POOL, dtype=tf.int64)))
            logs = engine.gan.fit(data, steps_per_epoch=steps, epochs=1, verbose=0).history
        self.step += steps
        self.d_step += steps * self.settings.d_steps
        return {k: float(v[-1]) for k, v in logs.items()}

    def _add(self, *, d_loss: float = 0.0, d_n: int = 0, g_loss: float = 0.0, g_n: int = 0) -> None:
        self._d_sum, self._d_n = self._d_sum + d_loss, self._d_n + d_n
        self._g_sum, self._g_n = self._g_sum + g_loss, self._g_n + g_n

    def _record(self, engine: _Engine) -> None:
        """A point of the loss curves every GAN2D_HISTORY_EVERY generator steps (and after each in step mode)."""
        if self._g_n == 0 or (self.step % limits.GAN2D_HISTORY_EVERY and self.step > limits.GAN2D_HISTORY_EVERY):
            return
        h = self.history
        h["step"].append(self.step)
        h["d_loss"].append(self._d_sum / max(1, self._d_n))
        h["g_loss"].append(self._g_sum / self._g_n)
        h["coverage"].append(self._quality(engine).coverage)
        self._d_sum = self._g_sum = 0.0
        self._d_n = self._g_n = 0

    # -- what it looks like

    def generated(self, n: int | None = None) -> np.ndarray:
        """The generator's points for the game's fixed noise (the first `n`)."""
        with self._engine() as engine:
            return self._generated(engine, n)

    def _generated(self, engine: _Engine, n: int | None = None) -> np.ndarray:
        return np.asarray(engine.gan.generator(self._fixed_noise[: n or len(self._fixed_noise)], training=False))

    def quality(self) -> Quality:
        """Modes covered and points on target, for limits.GAN2D_QUALITY_POINTS generated points."""
        with self._engine() as engine:
            return self._quality(engine)

    def _quality(self, engine: _Engine) -> Quality:
        return measure(self._generated(engine), self.real, self.labels, SHAPES[self.settings.shape])

    def surface(self) -> tuple[np.ndarray, np.ndarray]:
        """The discriminator's probability "real" on a grid over the plot: (grid, grid), rows along y; and the axis."""
        with self._engine() as engine:
            return self._surface(engine)

    def _surface(self, engine: _Engine) -> tuple[np.ndarray, np.ndarray]:
        extent = SHAPES[self.settings.shape].extent
        axis = np.linspace(-extent, extent, self.grid, dtype="float32")
        xx, yy = np.meshgrid(axis, axis)
        logits = np.asarray(engine.gan.discriminator(np.stack([xx.ravel(), yy.ravel()], axis=1), training=False))
        return (1.0 / (1.0 + np.exp(-logits))).reshape(self.grid, self.grid), axis

    def pull(self, points: np.ndarray) -> np.ndarray:
        """The direction in which the discriminator's "real" grows fastest at each point (unit vectors): where
        the generator's next step pushes that point (GAN Lab draws these as the generator's gradients)."""
        with self._engine() as engine:
            return self._pull(engine, points)

    def _pull(self, engine: _Engine, points: np.ndarray) -> np.ndarray:
        from .backend import tf

        x = tf.constant(points)
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = engine.gan.discriminator(x, training=False)
        grads = np.asarray(tape.gradient(logits, x))
        return grads / np.maximum(np.linalg.norm(grads, axis=1, keepdims=True), 1e-12)

    def snapshot(self) -> Snapshot:
        with self._engine() as engine:
            surface, axis = self._surface(engine)
            fake = self._generated(engine, self.shown)
            return Snapshot(self.step, self.d_step, self.real[: self.shown], fake, surface, axis,
                            self._pull(engine, fake), self._quality(engine),
                            {k: list(v) for k, v in self.history.items()}, self.last)


def measure(generated: np.ndarray, real: np.ndarray, labels: np.ndarray, shape: Shape) -> Quality:
    """Each generated point's nearest real point: on target when within the shape's tolerance, and then it counts
    for that real point's mode. A mode is covered when it gets COVERED_SHARE of its fair share (a generator that
    puts every point on one Gaussian of the ring is 100% on target, and covers 1 of 8 modes)."""
    generated = np.asarray(generated, dtype="float32")
    if not np.isfinite(generated).all():  # a diverged generator: nothing it makes is near anything
        return Quality(0, shape.modes, 0.0, [0] * shape.modes)
    nearest = np.empty(len(generated), dtype="int64")
    for start in range(0, len(generated), 256):  # 256 × 4,096 distances at a time: 4 MB, not 16
        d2 = ((generated[start:start + 256, None, :] - real[None, :, :]) ** 2).sum(-1)
        nearest[start:start + 256] = d2.argmin(1)
    near = np.sqrt(((generated - real[nearest]) ** 2).sum(-1)) <= shape.tolerance
    per_mode = np.bincount(labels[nearest][near], minlength=shape.modes)
    fair = len(generated) * np.bincount(labels, minlength=shape.modes) / len(labels)
    covered = int((per_mode >= COVERED_SHARE * fair).sum())
    return Quality(covered, shape.modes, float(near.mean()), per_mode.tolist())


def check_range(words: str, value: Any, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{words} must be a whole number from {low:,} to {high:,} (got {value!r}).")
