"""The shipped models load and answer sensibly; inference validates its input."""

import numpy as np
import pytest

from conftest import needs_data
from dlapp.errors import InvalidTextError, UsageError
from dlapp.inference import get_predictor
from dlapp.store import ModelStore


@pytest.fixture(scope="module")
def shipped(shipped_dir):
    return ModelStore(shipped_dir)


def test_shipped_defaults_exist_and_are_small(shipped):
    for task in ("image", "text"):
        model_id = shipped.default_id(task)
        assert shipped.card(model_id)["size_bytes"] <= 15 * 2**20


def test_review_sentiment(shipped):
    text = get_predictor("text", store=shipped)
    label, p = text.sentiment("This movie was wonderful, I loved every minute")
    assert label == "positive" and p > 0.8
    label, p = text.sentiment("Dreadful. A boring, stupid waste of two hours.<br /><br />Avoid it.")
    assert label == "negative" and p > 0.8
    assert [l for l, _ in text.sentiment_batch(["I loved it, brilliant", "awful and dull, I hated it"])] == \
           ["positive", "negative"]


@pytest.mark.parametrize("bad", ["", "   \n\t", "x" * 60_000, "nul\x00byte", None])
def test_bad_reviews_are_refused(shipped, bad):
    with pytest.raises(InvalidTextError):
        get_predictor("text", store=shipped).sentiment(bad)


def test_odd_text_gets_an_answer(shipped):
    text = get_predictor("text", store=shipped)
    for review in ["שלום עולם " * 50, "😀🎬" * 500, "e\u0301" * 2000, "<script>alert(1)</script>", "\x07\x1b[31m"]:
        label, p = text.sentiment(review)
        assert label in ("positive", "negative") and 0.5 <= p <= 1


@needs_data
def test_cifar10_test_images_are_classified_correctly(shipped):
    from dlapp.datasets import load_dataset

    data = load_dataset("cifar10", subset=30)  # 300 test images, 30 per class
    image = get_predictor("image", store=shipped)
    tops = [image.classify_batch(list(data.x_test[i:i + 64]), k=1) for i in range(0, len(data.y_test), 64)]
    predicted = [t[0][0] for batch in tops for t in batch]
    truth = [data.class_names[y] for y in data.y_test]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth)])
    card_accuracy = image.card["metrics"]["test_accuracy"]
    assert accuracy >= card_accuracy - 0.1, (accuracy, card_accuracy)


def test_top5_shape_and_order(shipped):
    image = get_predictor("image", store=shipped)
    top = image.classify(np.full((50, 70, 3), 128, np.uint8), k=5)
    probs = [p for _, p in top]
    assert len(top) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001


def test_wrong_task_and_batch_limits(shipped):
    with pytest.raises(UsageError, match="text model"):
        get_predictor("image", shipped.default_id("text"), store=shipped)
    with pytest.raises(UsageError):
        get_predictor("image", store=shipped).classify_batch([])
