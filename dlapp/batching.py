"""Merge concurrent model calls into one batch: a recurrent net reads 8 reviews in about the
time of 1.5 on a CPU (benchmarks/load_bench.py), and the web server calls predictors from
several threads at once.

Callers validate their own inputs first, so a batch never fails because of one visitor's input.
No timer: whoever finds the model idle runs it, for everything that queued meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np


class _Request:
    def __init__(self, x: np.ndarray):
        self.x, self.result, self.error, self.done = x, None, None, threading.Event()


class Batcher:
    """`Batcher(fn, max_batch)(x)` returns `fn(x)`, computed together with concurrent calls."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], max_batch: int):
        self.fn, self.max_batch = fn, max_batch
        self._lock = threading.Lock()
        self._pending: list[_Request] = []
        self._busy = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        request = _Request(x)
        with self._lock:
            self._pending.append(request)
            lead, self._busy = not self._busy, True
        if lead:
            self._drain()
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _take(self) -> list[_Request]:
        """The next batch of whole requests (at least one), or [] after marking the model idle."""
        with self._lock:
            batch, size = [], 0
            while self._pending and (not batch or size + len(self._pending[0].x) <= self.max_batch):
                size += len(self._pending[0].x)
                batch.append(self._pending.pop(0))
            if not batch:
                self._busy = False
            return batch

    def _drain(self) -> None:
        while batch := self._take():
            try:
                out = self.fn(np.concatenate([r.x for r in batch]))
                if len(out) != sum(len(r.x) for r in batch):
                    raise ValueError(f"the model returned {len(out)} rows for {sum(len(r.x) for r in batch)} inputs")
                for r, part in zip(batch, np.split(out, np.cumsum([len(r.x) for r in batch])[:-1]), strict=True):
                    r.result = part
            except Exception as exc:  # the model itself failed: every caller in the batch hears of it
                for r in batch:
                    r.error = exc
            for r in batch:
                r.done.set()
