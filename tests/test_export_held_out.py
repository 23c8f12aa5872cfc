"""The held-out examples an export is checked on: a seeded sample of the data set's test split, read once per
data set and sample size, whichever model and format asks (the export matrix read cifar10.npz 27 times)."""

from __future__ import annotations

import numpy as np

from dlapp.testing import DATA_DIR, needs_data


@needs_data
def test_a_test_split_sample_is_read_once_for_every_model_and_format():
    from dlapp.export import verify
    from dlapp.store import get_store

    store = get_store()
    fast, best = store.card("cifar10-fast"), store.card("cifar10-best")
    first = verify.held_out(fast, DATA_DIR, limit=200)
    assert verify.held_out(best, DATA_DIR, limit=200) is first  # the same sample, not read again
    assert len(first.x) == 200 and first.x.dtype == np.uint8 and first.total == 10_000
    larger = verify.held_out(fast, DATA_DIR, limit=1_000)
    assert larger is not first and len(larger.x) == 1_000
    reviews = verify.held_out(store.card("imdb-fast"), DATA_DIR, limit=60)
    assert len(reviews.x) == 60 and set(reviews.y.tolist()) == {0, 1}
    assert verify.held_out(store.card("imdb-best"), DATA_DIR, limit=60) is reviews
    assert verify.held_out(fast, DATA_DIR, limit=200) is first  # four samples are kept
    assert verify.held_out(fast, DATA_DIR, limit=200, seed=1) is not first  # another seed, another sample
