"""airbench94's optimizer in Keras 3: Nesterov SGD in airbench's decoupled units, its
warm-up/warm-down schedule, a 64× learning rate on BatchNorm biases, a whitening bias that
trains for the first epochs only, and lookahead (an EMA copied into the weights every 5 steps).

Source: KellerJordan/cifar10-airbench, legacy/airbench94.py (the file behind the README's
94.01% in n=1000 runs); line numbers below refer to it.
"""

from __future__ import annotations

from ..backend import keras

ops = keras.ops

# airbench94.py lines 39-47: per-1024-example learning rate and weight decay, momentum, bias scaler.
AIRBENCH_LR, AIRBENCH_WD, AIRBENCH_MOMENTUM, AIRBENCH_BIAS_SCALER = 11.5, 0.0153, 0.85, 64.0
LOOKAHEAD_EVERY = 5  # line 430
WHITEN_BIAS = "whiten_bias"  # the ChannelBias layer after the frozen whitening conv (nets/image.py)


def keras_units(lr: float, wd: float, batch_size: int, momentum: float = AIRBENCH_MOMENTUM) -> tuple[float, float]:
    """airbench's decoupled (lr, wd) in Keras's terms: a learning rate for a batch-mean loss, and a
    decoupled decay that Keras multiplies by it.

    airbench sums the loss over the batch (line 422) and divides its per-1024 lr by
    1024·(1 + 1/(1 − momentum)) (lines 359-361), so a mean-loss step needs lr·B/1024/(1 + 1/(1 − m)).
    PyTorch's decay goes through the momentum buffer, which multiplies it by 1/(1 − m) in the steady
    state; Keras's is applied beside it, so the decay per step is matched: lr_k·wd_k = wd_torch/(1 − m).
    """
    kilostep = 1 + 1 / (1 - momentum)
    lr_k = lr * batch_size / 1024 / kilostep
    wd_per_step = wd * batch_size / 1024 / kilostep / (1 - momentum)
    return lr_k, wd_per_step / lr_k


@keras.saving.register_keras_serializable(package="dlapp")
class WarmupWarmdown(keras.optimizers.schedules.LearningRateSchedule):
    """Linear from start·peak to peak over the first `warmup` of the run, then linear to end·peak
    (airbench94.py lines 381-389: 0.2 → 1.0 over 23%, then → 0.07)."""

    def __init__(self, peak: float, total_steps: int, warmup: float = 0.23, start: float = 0.2, end: float = 0.07):
        self.peak, self.total_steps = float(peak), int(total_steps)
        self.warmup, self.start, self.end = float(warmup), float(start), float(end)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        up = float(max(1, int(self.total_steps * self.warmup)))
        down = float(max(1, self.total_steps - int(up)))
        rising = self.start + (1.0 - self.start) * step / up
        falling = 1.0 + (self.end - 1.0) * ops.minimum((step - up) / down, 1.0)
        return self.peak * ops.where(step < up, rising, falling)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup": self.warmup,
                "start": self.start, "end": self.end}


@keras.saving.register_keras_serializable(package="dlapp")
class AirbenchSGD(keras.optimizers.SGD):
    """Nesterov SGD with airbench94's per-variable rules, all inside `update_step`, so that it runs
    the same under fit, a MirroredStrategy and dlapp's multi-worker loop.

    - BatchNorm biases (`beta`) step `bias_scaler` times further (lines 375-378); their decay
      fraction is the others' (PyTorch gives them wd/lr_biases), as Keras's decoupled decay does.
    - The whitening bias learns for `whiten_bias_steps` steps, then is frozen (line 410): no step,
      and no decay ever (a frozen bias must not shrink; airbench decays it while it learns).
    - Lookahead (lines 263-271, 392, 430-435): every 5 steps the EMA moves toward the weights by
      1 − decay, decay = 0.95⁵·(step/total)³, and the weights take the EMA; after the last step the
      weights are the EMA. airbench also averages BatchNorm's running statistics; they are not
      trainable variables here, so they are left to BatchNorm's own momentum (measured in
      docs/benchmarks.md's ablation).
    """

    def __init__(self, learning_rate=0.01, *, total_steps: int = 1, bias_scaler: float = AIRBENCH_BIAS_SCALER,
                 whiten_bias_steps: int = 0, lookahead: bool = True, momentum: float = AIRBENCH_MOMENTUM,
                 nesterov: bool = True, **kwargs):
        super().__init__(learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)
        self.total_steps, self.bias_scaler = int(total_steps), float(bias_scaler)
        self.whiten_bias_steps, self.lookahead = int(whiten_bias_steps), bool(lookahead)
        self.exclude_from_weight_decay(var_names=[WHITEN_BIAS])

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._ema = []
        for v in variables:
            ema = self.add_variable_from_reference(v, "lookahead")
            ema.assign(v)
            self._ema.append(ema)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)  # this step's number, counted from 1 as airbench does
        path = getattr(variable, "path", None) or variable.name.split(":")[0]  # a tf.Variable under a strategy
        if path.endswith("/beta"):
            lr = lr * self.bias_scaler
        active = ops.ones((), dtype)
        if WHITEN_BIAS in path:
            active = ops.cast(step <= self.whiten_bias_steps, dtype)
        m = self.momentums[self._get_variable_index(variable)]
        momentum = ops.cast(self.momentum, dtype)
        self.assign(m, m * momentum - gradient * lr)
        self.assign_add(variable, active * (m * momentum - gradient * lr))
        if not self.lookahead:
            return
        ema = self._ema[self._get_variable_index(variable)]
        total = float(max(1, self.total_steps))
        tick = ops.cast(ops.equal(ops.mod(step, LOOKAHEAD_EVERY), 0), dtype)
        last = ops.cast(step >= total, dtype)
        decay = 0.95 ** 5 * ops.minimum(step / total, 1.0) ** 3
        self.assign(ema, ema + tick * (1 - decay) * (variable - ema))
        take = ops.maximum(tick, last)
        self.assign(variable, take * ema + (1 - take) * variable)

    def get_config(self):
        return {**super().get_config(), "total_steps": self.total_steps, "bias_scaler": self.bias_scaler,
                "whiten_bias_steps": self.whiten_bias_steps, "lookahead": self.lookahead}


@keras.saving.register_keras_serializable(package="dlapp")
class KnownClassAccuracy(keras.metrics.Mean):
    """Accuracy over the rows whose target is one class: outlier-exposure rows (uniform targets,
    made-up images that belong to no class) are left out of the curve's accuracy."""

    def __init__(self, name: str = "accuracy", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "float32")
        known = ops.cast(ops.max(y_true, axis=-1) > 0.5, "float32")
        hit = ops.cast(ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1)), "float32")
        return super().update_state(hit, sample_weight=known)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
