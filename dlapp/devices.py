"""Pick the hardware once: the cluster (TF_CONFIG), every GPU, one GPU, or the CPU; and the number format.

`placement()` builds the tf.distribute strategy that training runs under and says, in words, what it
runs on. It is called once per process, before any TensorFlow op runs (MultiWorkerMirroredStrategy
configures TensorFlow's collective ops and must come first), and passed down to `training.train`.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from . import settings as settings_mod
from .errors import UsageError

if TYPE_CHECKING:
    from .backend import tf

Precision = Literal["auto", "float32", "mixed"]
PRECISIONS: tuple[str, ...] = ("auto", "float32", "mixed")


@dataclass(frozen=True)
class Placement:
    """Where a training runs: the strategy, its description, and this process's place in the cluster."""

    strategy: object  # tf.distribute.Strategy
    device: str  # in words, for the card and the progress line
    workers: int = 1  # processes training together (MultiWorkerMirroredStrategy), 1 for one process
    rank: int = 0  # this process's index among them; 0 is the chief, the only one that writes
    policy: str = "float32"  # Keras dtype policy the training runs under (float32, mixed_float16, mixed_bfloat16)

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    @property
    def multi_worker(self) -> bool:
        return self.workers > 1


def tf_config(workers: str, rank: int) -> str:
    """TF_CONFIG for `--workers HOST:PORT,HOST:PORT --rank N` (the first address is the chief's).

    Raises:
        UsageError: fewer than two addresses, an address without a port, or a rank outside them.
    """
    addresses = [w.strip() for w in workers.split(",") if w.strip()]
    for address in addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"--workers: {address!r} is not HOST:PORT.")
    if len(addresses) < 2:
        raise UsageError("--workers needs at least two HOST:PORT addresses, comma-separated (the first is the chief).")
    if len(set(addresses)) < len(addresses):
        raise UsageError("--workers lists the same address twice.")
    if not 0 <= rank < len(addresses):
        raise UsageError(f"--rank must be between 0 and {len(addresses) - 1} for {len(addresses)} workers, got {rank}.")
    return json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": rank}})


def cluster_of(config: str | None) -> tuple[int, int]:
    """(workers, rank) that a TF_CONFIG describes; (1, 0) without one.

    Raises:
        UsageError: TF_CONFIG is not the JSON TensorFlow reads, or names a task outside its cluster.
    """
    if not config:
        return 1, 0
    try:
        parsed = json.loads(config)
        cluster, task = parsed.get("cluster", {}), parsed.get("task", {})
        workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
        kind, index = task.get("type", "worker"), int(task.get("index", 0))
    except (ValueError, AttributeError, TypeError):
        raise UsageError('TF_CONFIG is not valid: expected JSON like {"cluster": {"worker": ["host:port", ...]}, '
                         '"task": {"type": "worker", "index": 0}}.') from None
    if kind not in ("worker", "chief") or workers < 1:
        raise UsageError(f"TF_CONFIG: dlapp trains with workers (MultiWorkerMirroredStrategy); task type {kind!r} "
                         "and parameter servers are not supported.")
    # With a separate "chief" task, it is rank 0 and the workers follow it.
    rank = 0 if kind == "chief" else index + len(cluster.get("chief", []))
    if rank >= workers:
        raise UsageError(f"TF_CONFIG: task index {index} is outside a cluster of {workers}.")
    return workers, rank


def placement(precision: Precision = "auto", settings: settings_mod.Settings | None = None) -> Placement:
    """The strategy for this process: MultiWorkerMirroredStrategy when TF_CONFIG names a cluster of
    several workers, else MirroredStrategy over every GPU (or every logical CPU), one GPU, or the CPU.
    `precision` picks the dtype policy that training will set (see `policy_for`).

    Raises:
        UsageError: a bad TF_CONFIG, or `precision="mixed"` on hardware without a fast 16-bit format.
    """
    from .backend import tf

    settings = settings or settings_mod.load()
    workers, rank = cluster_of(settings.tf_config)
    if workers > 1:
        # A collective that waits longer than the timeout fails instead of hanging: a dead worker stops the rest.
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=settings.worker_timeout_s)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        local = _local_hardware()
        device = f"{workers} workers × {local} (MultiWorkerMirroredStrategy)"
    else:
        strategy, device = pick_strategy()
    policy = policy_for(precision)  # after the strategy: listing logical devices starts TensorFlow's runtime
    if policy != "float32":
        device = f"{device}, {policy}"
    return Placement(strategy, device, workers, rank, policy)


def pick_strategy() -> tuple[tf.distribute.Strategy, str]:
    """Return (strategy, human-readable device description) for what is visible in this process."""
    from .backend import tf

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


def _local_hardware() -> str:
    from .backend import tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"{len(gpus)}× GPU" if len(gpus) > 1 else "GPU"
    return f"CPU ({os.cpu_count()} cores)"


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512_BF16 or AMX), so mixed_bfloat16 can pay off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine() == "arm64"  # Apple silicon and other ARMv8.6+ have BF16; no cpuinfo to ask
    return "avx512_bf16" in flags or "amx_bf16" in flags


def policy_for(precision: Precision) -> str:
    """Keras's dtype policy for `precision`:
    - "auto": mixed_float16 on GPUs (today's behaviour), float32 on the CPU;
    - "float32": float32 everywhere;
    - "mixed": mixed_float16 on GPUs, mixed_bfloat16 on a CPU with native bfloat16.

    Raises:
        UsageError: "mixed" on a CPU without bfloat16 (it would be emulated, and far slower), or an unknown name.
    """
    from .backend import tf

    gpu = bool(tf.config.list_logical_devices("GPU"))
    if precision == "float32":
        return "float32"
    if precision == "auto":
        return "mixed_float16" if gpu else "float32"
    if precision == "mixed":
        if gpu:
            return "mixed_float16"
        if cpu_has_bf16():
            return "mixed_bfloat16"
        raise UsageError("--precision mixed needs a GPU or a CPU with native bfloat16 (AVX512_BF16 or AMX); "
                         "this CPU has neither. Use --precision float32.")
    raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")


def use_mixed_precision() -> bool:
    """float16 compute only pays off (and is only safe to assume) on GPUs."""
    from .backend import tf

    return bool(tf.config.list_logical_devices("GPU"))


def describe_device() -> str:
    """What inference and training run on, in words (no strategy is created)."""
    from .backend import tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"{len(gpus)}× GPU" if len(gpus) > 1 else "GPU"
    return f"CPU ({os.cpu_count()} cores)"
