"""The shipped models load and answer sensibly; inference validates its input."""

import gc
import logging
import weakref

import numpy as np
import pytest

from dlapp.errors import InvalidTextError, UsageError
from dlapp.inference import WARM, get_predictor, warm_up
from dlapp.limits import MAX_BATCH
from dlapp.store import ModelStore
from dlapp.testing import needs_data, tiny_model, toy_card


@pytest.fixture(scope="module")
def shipped(shipped_dir):
    return ModelStore(shipped_dir)


def test_shipped_defaults_exist_and_are_small(shipped):
    for task in ("image", "text"):
        model_id = shipped.default_id(task)
        card = shipped.card(model_id)
        assert card.task == task and 0 < card.size_bytes <= 15 * 2**20


def test_review_sentiment(shipped):
    text = get_predictor("text", store=shipped)
    label, p = text.sentiment("This movie was wonderful, I loved every minute")
    assert label == "positive" and p > 0.8
    label, p = text.sentiment("Dreadful. A boring, stupid waste of two hours.<br /><br />Avoid it.")
    assert label == "negative" and p > 0.8
    assert [label for label, _ in text.sentiment_batch(["I loved it, brilliant", "awful and dull, I hated it"])] == \
           ["positive", "negative"]


@pytest.mark.parametrize("n", [1, 3, 33])  # 3 pads to XLA's batch of 4; 33 takes the plain graph
def test_text_predictor_gives_each_shipped_model_its_own_answers(shipped, n):
    reviews = [f"Review {i}: " + ("a dull, boring film. " if i % 2 else "a moving, brilliant film! ") * (1 + i % 7)
               for i in range(n)]
    for card in shipped.list(task="text"):
        predictor = get_predictor("text", card.id, store=shipped)
        predictor.warm_up()  # compiles every XLA batch size; answers must not change
        expected = predictor.model.predict(np.array(reviews, dtype=object), verbose=0)[:, 0]
        np.testing.assert_allclose(predictor.positive_probability(reviews), expected, atol=1e-5)


def test_warm_up_loads_the_defaults_freezes_the_heap_and_says_so(shipped_dir, monkeypatch, caplog):
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(shipped_dir))
    gc.unfreeze()
    try:
        with caplog.at_level(logging.INFO, logger="dlapp.inference"):
            warm_up()
        assert gc.get_freeze_count() > 100_000  # TensorFlow, Keras and the models: never rescanned by the GC
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == [WARM]


def test_a_model_saved_again_replaces_its_predictor_and_frees_the_old_one(tmp_path):
    store = ModelStore(tmp_path / "models")
    store.save(tiny_model(), toy_card(), "toy")
    old = get_predictor("image", "toy", store=store)
    assert get_predictor("image", "toy", store=store) is old  # built once per model file
    gone = weakref.ref(old)
    store.save(tiny_model(), toy_card(), "toy")  # retrained: a new file under the same id
    new = get_predictor("image", "toy", store=store)
    del old
    gc.collect()
    assert gone() is None and new.card.sha256 == store.card("toy").sha256


@pytest.mark.parametrize("bad", ["", "   \n\t", "x" * 60_000, "nul\x00byte", None],
                         ids=["empty", "blank", "60k-chars", "nul-byte", "none"])
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
    from dlapp.data import load_dataset

    data = load_dataset("cifar10", subset=30)  # 300 test images, 30 per class
    image = get_predictor("image", store=shipped)
    tops = [image.classify_batch(list(data.x_test[i:i + 64]), k=1) for i in range(0, len(data.y_test), 64)]
    predicted = [t[0][0] for batch in tops for t in batch]
    truth = [data.class_names[y] for y in data.y_test]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    card_accuracy = image.card.test_accuracy
    assert accuracy >= card_accuracy - 0.1, (accuracy, card_accuracy)


def test_predictors_carry_their_card(shipped):
    image, text = get_predictor("image", store=shipped), get_predictor("text", store=shipped)
    assert image.card.id == image.model_id == shipped.default_id("image")
    assert image.class_names == list(image.card.class_names) and image.card.input.shape == (*image.size, image.channels)
    assert text.card.task == "text" and text.card.input.dtype == "string" and len(text.class_names) == 2
    assert get_predictor("image", store=shipped) is image  # built once per model file


def test_top5_shape_and_order(shipped):
    image = get_predictor("image", store=shipped)
    top = image.classify(np.full((50, 70, 3), 128, np.uint8), k=5)
    probs = [p for _, p in top]
    assert len(top) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001


def test_wrong_task_and_batch_limits(shipped):
    with pytest.raises(UsageError, match="is for the text task"):
        get_predictor("image", shipped.default_id("text"), store=shipped)
    with pytest.raises(UsageError, match="is for the image task"):
        get_predictor("text", shipped.default_id("image"), store=shipped)
    image = get_predictor("image", store=shipped)
    picture = np.full((32, 32, 3), 128, np.uint8)
    with pytest.raises(UsageError, match="Send between 1 and"):
        image.classify_batch([])
    with pytest.raises(UsageError, match="Send between 1 and"):
        image.classify_batch([picture] * (MAX_BATCH + 1))
    for k in (0, -1):
        with pytest.raises(UsageError, match="top-k"):
            image.classify(picture, k=k)
    assert len(image.classify_batch([picture] * MAX_BATCH, k=1)) == MAX_BATCH
