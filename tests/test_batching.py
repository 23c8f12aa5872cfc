"""Concurrent predictor calls merge into batches; every caller gets exactly its own rows back."""

import threading
import time

import numpy as np
import pytest

from dlapp.batching import Batcher


def run_concurrently(batcher, n):
    results, errors = {}, {}

    def call(i):
        try:
            results[i] = batcher(np.array([i, i + 1000]))
        except Exception as exc:  # collected and checked by the test
            errors[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results, errors


def test_each_caller_gets_its_own_rows_and_calls_merge():
    sizes = []

    def double(x):
        sizes.append(len(x))
        time.sleep(0.02)  # a model call: others queue meanwhile
        return x * 2

    results, errors = run_concurrently(Batcher(double, max_batch=8), 24)
    assert not errors
    assert all((results[i] == np.array([i, i + 1000]) * 2).all() for i in range(24))
    assert sum(sizes) == 48 and max(sizes) <= 8 and len(sizes) < 24  # merged, never over the cap


def test_a_failing_model_call_reaches_its_callers_and_the_batcher_recovers():
    fail = threading.Event()
    fail.set()

    def model(x):
        if fail.is_set():
            time.sleep(0.02)
            raise RuntimeError("model broke")
        return x + 1

    batcher = Batcher(model, max_batch=64)
    results, errors = run_concurrently(batcher, 6)
    assert len(errors) == 6 and all(str(e) == "model broke" for e in errors.values())
    fail.clear()
    assert (batcher(np.array([1, 2])) == np.array([2, 3])).all()
    with pytest.raises(ValueError):
        Batcher(lambda x: np.concatenate([x, x]), 4)(np.array([1]))  # a wrong-length result is an error, not a hang
