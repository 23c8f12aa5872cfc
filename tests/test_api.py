"""The app's public API through gradio_client, against the real app on a free port."""

import time

import pytest
from gradio_client import handle_file
from PIL import Image

from dlapp.inference import WARM
from dlapp.testing import (
    broken_images,
    class_folder,
    encode,
    error_of,
    needs_data,
    odd_images,
    sample_rgb,
    wait_for_training,
    zip_with,
)

pytestmark = pytest.mark.app


def classify(client, path, model=None):
    return client.predict(handle_file(str(path)), model, api_name="/classify_image")


def test_endpoints_are_named(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/classify_image", "/analyze_sentiment", "/list_models", "/start_training", "/stop_training",
            "/training_status", "/training_progress", "/set_default_model", "/delete_model"} <= names


def test_classify_and_sentiment(client, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(encode(sample_rgb(), "JPEG"))
    label, seen = classify(client, photo)
    # A drawn test pattern looks like no CIFAR-10 class: declined, with the ranking still given.
    assert len(label["confidences"]) == 5 and label["label"] in ("none of these", label["confidences"][0]["label"])
    preview = Image.open(seen)
    zoom = preview.width // 32  # shown enlarged, pixel for pixel, at the model's 32×32 input resolution
    assert preview.size == (32 * zoom, 32 * zoom) and zoom >= 2
    small = preview.resize((32, 32), Image.Resampling.NEAREST)
    assert small.resize(preview.size, Image.Resampling.NEAREST).tobytes() == preview.convert(small.mode).tobytes()
    result = client.predict("This movie was wonderful, I loved every minute", None, api_name="/analyze_sentiment")
    assert result["label"] == "positive"


def test_the_app_log_has_no_tensorflow_noise(app_server, client):
    client.predict("warm", None, api_name="/analyze_sentiment")  # the models are loaded by now
    noise = [line for line in app_server.log.read_text().splitlines()
             if line.startswith(("I0000", "W0000", "E0000", "WARNING: All log messages")) or "cuInit" in line]
    assert noise == []


def test_the_app_says_when_its_default_models_are_warm(app_server):
    app_server.wait_warm(timeout=120)  # benchmarks wait for this line before they measure
    line = next(line for line in app_server.log.read_text().splitlines() if WARM in line)
    assert "(image, text, generate)" in line and "model warmed up" not in app_server.log.read_text()


def test_list_models(client):
    models = client.predict(api_name="/list_models")
    tasks = {m["task"] for m in models if m["default"]}
    assert tasks == {"image", "text", "generate"}


@pytest.mark.parametrize("name", ["truncated.jpg", "text.png", "random.png", "empty.png", "svg.png", "bomb.png"])
def test_bad_images_get_a_readable_error_and_the_app_keeps_serving(client, tmp_path, name):
    bad = tmp_path / name
    bad.write_bytes(broken_images()[name])
    message = error_of(classify, client, bad)
    assert any(w in message for w in ("image", "megapixels", "damaged", "pixels")), message
    good = tmp_path / "ok.png"
    good.write_bytes(encode(sample_rgb(), "PNG"))
    assert classify(client, good)[0]["label"]


def test_fifty_megapixel_image_is_refused(client, tmp_path):
    big = tmp_path / "big.png"
    Image.new("RGB", (7100, 7100), "gray").save(big)  # 50.4 MP, a small file
    assert "megapixels" in error_of(classify, client, big)


@pytest.mark.parametrize("name", sorted(odd_images()))
def test_odd_images_get_an_answer(client, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(odd_images()[name])
    assert len(classify(client, path)[0]["confidences"]) == 5


@pytest.mark.parametrize("review,fragment", [("", "empty"), ("   \n ", "empty"), ("x" * 60_000, "limit")],
                         ids=["empty", "blank", "60k-chars"])
def test_bad_reviews(client, review, fragment):
    assert fragment in error_of(client.predict, review, None, api_name="/analyze_sentiment")
    assert client.predict("great", None, api_name="/analyze_sentiment")["label"] in ("positive", "negative")


def test_csv_batch_neutralises_formulas(client, tmp_path):
    reviews = tmp_path / "reviews.csv"
    reviews.write_text('text\n"=HYPERLINK(""http://x"",""click"")"\n+great film\n-awful film\n'
                       '@SUM(A1)\nplain good film\n')
    out_path, preview = client.predict(handle_file(str(reviews)), None, api_name="/analyze_csv")
    lines = open(out_path, encoding="utf-8").read().splitlines()
    assert lines[0] == "text,label,confidence,note" and len(lines) == 6
    for line in lines[1:5]:
        assert line.lstrip('"').startswith("'"), line


def test_a_batch_of_images_reads_as_percentages_and_a_bad_file_gets_its_own_row(client, tmp_path):
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    good.write_bytes(encode(sample_rgb(), "PNG"))
    bad.write_text("not an image at all")
    table = client.predict([handle_file(str(good)), handle_file(str(bad))], None, api_name="/classify_images")
    rows = {row[0]: row for row in table["data"]}
    assert rows["good.png"][2].endswith("%") and float(rows["good.png"][2][:-1]) > 0
    assert rows["bad.png"][1:3] == ["error", ""] and "not an image format we can read" in rows["bad.png"][3]


def test_csv_batch_keeps_every_row_and_column(client, tmp_path):
    import csv

    reviews = tmp_path / "mine.csv"
    reviews.write_text("id,text,stars\n1,A wonderful film,5\n2,,3\n3,Dull and far too long,1\n4,Great fun\n")
    out_path, preview = client.predict(handle_file(str(reviews)), None, api_name="/analyze_csv")
    rows = list(csv.reader(open(out_path, encoding="utf-8")))
    assert rows[0] == ["id", "text", "stars", "label", "confidence", "note"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4"] and rows[1][2] == "5"  # every row, extra columns kept
    assert rows[2][3:] == ["", "", "empty review: not analysed"]
    assert rows[1][3] == "positive" and rows[3][3] == "negative" and rows[4][2] == ""  # a short row is padded
    assert [row[3] for row in preview["data"]] == ["", "empty review: not analysed", "", ""]


def test_train_from_an_uploaded_zip_then_use_the_model(client, tmp_path):
    folder = class_folder(tmp_path / "colours", classes=("blue", "red"), per_class=10, size=20)
    archive = zip_with({f"colours/{p.parent.name}/{p.name}": p.read_bytes() for p in folder.rglob("*.png")},
                       tmp_path / "colours.zip")
    started = client.predict(task="image", dataset="upload", upload=handle_file(str(archive)), preset="seed-cifar10",
                             epochs=3, batch_size=4, learning_rate=0.001, validation_split=0.2,
                             api_name="/start_training")
    assert started["state"] == "running" and started["dataset"] == "colours.zip"
    snap = wait_for_training(client)
    assert snap["state"] == "done", snap
    assert snap["model_id"] in {m["id"] for m in client.predict(api_name="/list_models")}
    red = tmp_path / "red.png"
    Image.new("RGB", (20, 20), (220, 30, 30)).save(red)
    label, _ = classify(client, red, snap["model_id"])
    assert {c["label"] for c in label["confidences"]} == {"blue", "red"}


def test_data_check_refuses_what_cannot_train_and_says_what_to_do(client, tmp_path):
    folder = class_folder(tmp_path / "lopsided", classes=("blue", "red"), per_class=8, size=20)
    for extra in sorted((folder / "red").glob("*.png"))[1:]:
        extra.unlink()  # red keeps one picture: nothing left to test it on
    (folder / "blue" / "notes.png").write_text("not a picture")
    archive = zip_with({f"{p.parent.name}/{p.name}": p.read_bytes() for p in folder.rglob("*.png")},
                       tmp_path / "lopsided.zip")
    before = client.predict(api_name="/training_status")
    message = error_of(client.predict, task="image", dataset="upload", upload=handle_file(str(archive)),
                       preset="transfer", api_name="/start_training")
    assert "'red' (1)" in message and "Add more samples to 'red'" in message  # which class, and what to do
    assert client.predict(api_name="/training_status").get("id") == before.get("id")  # nothing started


def test_streaming_progress_and_stop_keep_the_previous_model(client, tmp_path):
    folder = class_folder(tmp_path / "many", classes=("blue", "green", "red"), per_class=60, size=32)
    archive = zip_with({f"many/{p.parent.name}/{p.name}": p.read_bytes() for p in folder.rglob("*.png")},
                       tmp_path / "many.zip")
    before = client.predict(api_name="/list_models")
    client.predict(task="image", dataset="upload", upload=handle_file(str(archive)), preset="fast", epochs=50,
                   batch_size=2, learning_rate=0.001, api_name="/start_training")
    busy = error_of(client.predict, task="image", dataset="cifar10", subset=5, preset="seed", epochs=1,
                    api_name="/start_training")
    assert "already running" in busy
    job = client.submit(api_name="/training_progress")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        snaps = job.outputs()
        if snaps and snaps[-1]["progress"] > 0:
            break
        time.sleep(0.3)
    assert snaps and snaps[-1]["state"] == "running" and snaps[-1]["progress"] > 0
    assert client.predict(api_name="/stop_training") == "Stopping…"
    snap = wait_for_training(client, timeout=60)
    assert snap["state"] == "cancelled"
    assert client.predict(api_name="/list_models") == before
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(sample_rgb(), "PNG"))
    assert classify(client, photo)[0]["label"]


@pytest.mark.parametrize("settings,fragment", [
    ({"epochs": 0}, "epochs must be between"), ({"learning_rate": 700.0}, "learning rate must be in"),
    ({"batch_size": 0}, "batch size must be between"), ({"subset": -1}, "subset must be between"),
    ({"cell": "lstn"}, "does not apply to image"), ({"preset": "turbo"}, "Unknown image preset"),
    ({"dataset": "upload (.zip of class folders / .csv of reviews)"}, "Unknown dataset"),
    ({"task": "text"}, "is image data, not text data"),
], ids=lambda v: str(v)[:40])
def test_bad_training_settings_get_a_specific_message(client, settings, fragment):
    message = error_of(client.predict, **{"task": "image", "dataset": "cifar10", "subset": 5, **settings},
                       api_name="/start_training")
    assert fragment in message, message
    assert client.predict(api_name="/training_status")["state"] != "running"


@needs_data
def test_text_training_through_the_api_with_values(client):
    started = client.predict(task="text", dataset="imdb", subset=40, preset="fast", epochs=1,
                             api_name="/start_training")
    assert started["task"] == "text" and started["dataset"] == "imdb"
    snap = wait_for_training(client, timeout=300)
    assert snap["state"] == "done", snap
    model = next(m for m in client.predict(api_name="/list_models") if m["id"] == snap["model_id"])
    assert model["task"] == "text" and model["dataset"] == "imdb" and model["subset_per_class"] == 40
    result = client.predict("A wonderful film.", snap["model_id"], api_name="/analyze_sentiment")
    assert result["label"] in ("positive", "negative")
    assert client.predict(snap["model_id"], api_name="/delete_model") == f"Deleted {snap['model_id']}."


def test_progress_stream_iterates_as_the_readme_shows(client):
    snapshots = list(client.submit(api_name="/training_progress"))  # nothing running: one snapshot, then done
    assert snapshots and snapshots[-1]["state"] != "running"
