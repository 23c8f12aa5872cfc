"""Pick the hardware: every GPU via MirroredStrategy, one GPU, or the CPU."""

from __future__ import annotations

import os

from .backend import tf


def pick_strategy() -> tuple[tf.distribute.Strategy, str]:
    """Return (strategy, human-readable device description) for what is visible."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus]), f"{len(gpus)}× GPU (MirroredStrategy)"
    if len(gpus) == 1:
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return tf.distribute.OneDeviceStrategy(gpus[0].name), f"GPU ({details.get('device_name', gpus[0].name)})"
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) > 1:  # logical CPU split: how the multi-device path is tested without GPUs
        return tf.distribute.MirroredStrategy([c.name for c in cpus]), f"{len(cpus)}× CPU (MirroredStrategy)"
    return tf.distribute.get_strategy(), f"CPU ({os.cpu_count()} cores)"


def use_mixed_precision() -> bool:
    """float16 compute only pays off (and is only safe to assume) on GPUs."""
    return bool(tf.config.list_logical_devices("GPU"))


def describe_device() -> str:
    """What inference and training run on, in words (no strategy is created)."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"{len(gpus)}× GPU" if len(gpus) > 1 else "GPU"
    return f"CPU ({os.cpu_count()} cores)"
