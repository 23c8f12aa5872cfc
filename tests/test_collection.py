"""A visitor's sample collection: classes, re-encoded samples, caps, hostile files and zips, threads, zips
in and out, and the folder training reads."""

import copy
import io
import os
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from dlapp import limits
from dlapp.collection import Collection, expire_collections
from dlapp.data import load_dataset
from dlapp.errors import CollectionFullError, InvalidDatasetError, InvalidImageError, UsageError
from dlapp.testing import (
    bomb_zip,
    broken_images,
    distinct_pngs,
    encode,
    odd_images,
    png_bytes,
    sample_rgb,
    write_files,
    zip_with,
)


@pytest.fixture()
def col(tmp_path):
    c = Collection.create(tmp_path)
    yield c
    c.delete()


def frame(seed: int = 0, shape=(48, 64, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)


def filled(col: Collection, per_class: dict[str, int]) -> Collection:
    for name, n in per_class.items():
        col.add_class(name)
        for _ in range(n):
            col.add_image(name, frame(sum(col.counts().values())))  # a new seed for every sample
    return col


# ---------------------------------------------------------------- classes

def test_classes_keep_creation_order_and_free_default_names(col):
    assert col.add_class() == "Class 1" and col.add_class() == "Class 2" and col.add_class("  padded ") == "padded"
    col.remove_class("Class 1")
    assert col.add_class() == "Class 1" and col.classes == ["Class 2", "padded", "Class 1"]
    col.add_class("class 3")
    assert col.add_class() == "Class 4"  # "class 3" is taken, whatever its case


def test_rename_keeps_the_place_and_the_samples(col):
    filled(col, {"a": 1, "b": 2, "c": 0})
    assert col.rename_class("b", " Bees ") == "Bees" and col.classes == ["a", "Bees", "c"]
    assert [p.parent.name for p in col.samples("Bees")] == ["Bees", "Bees"] and all(p.is_file()
                                                                                      for p in col.samples("Bees"))
    assert col.rename_class("a", "A") == "A"  # a change of case is not a clash with itself
    with pytest.raises(UsageError, match="already a class called 'c'"):
        col.rename_class("Bees", "C")
    with pytest.raises(UsageError, match="no class called 'zzz'"):
        col.rename_class("zzz", "y")


@pytest.mark.parametrize("name, words", [
    ("", "needs a name"), ("   ", "needs a name"), ("a/b", "cannot contain"), ("a\\b", "cannot contain"),
    ("tab\there", "control characters"), ("nul\x00", "control characters"), (".hidden", "cannot start"),
    ("__MACOSX", "cannot start"), ("x" * 41, "at most 40"), (" None Of These ", "pick another"),
    ("RED", "already a class called 'red'"), ("e\u0301t\u00e9", "already a class called 'été'"),
])
def test_bad_class_names_are_refused_with_a_reason(col, name, words):
    col.add_class("red")
    col.add_class("\u00e9t\u00e9")  # été, composed; the decomposed spelling is the same name
    with pytest.raises(UsageError, match=words):
        col.add_class(name)
    assert col.classes == ["red", "été"] and sorted(p.name for p in col.as_dataset_folder().iterdir()) == ["red", "été"]


def test_the_class_cap(col, monkeypatch):
    monkeypatch.setattr(limits, "COLLECTION_MAX_CLASSES", 2)
    col.add_class(), col.add_class()
    with pytest.raises(CollectionFullError, match="at most 2 classes"):
        col.add_class("third")


# ---------------------------------------------------------------- samples

@pytest.mark.parametrize("shape", [(30, 40), (30, 40, 1), (30, 40, 3), (30, 40, 4)])
def test_arrays_of_every_layout_are_stored_as_jpegs(col, shape):
    col.add_class("a")
    path = col.add_image("a", frame(1, shape))
    with Image.open(path) as img:
        assert img.format == "JPEG" and img.size == (40, 30)
    assert col.samples("a") == [path] and col.total_bytes() == path.stat().st_size


def test_files_of_every_format_are_decoded_shrunk_and_re_encoded(col, tmp_path):
    col.add_class("a")
    files = sorted(write_files(tmp_path / "in", odd_images()).iterdir())
    report = col.add_images("a", files)
    assert report.added == len(files) and report.skipped == ()
    for path in col.samples("a"):
        with Image.open(path) as img:
            assert img.format == "JPEG" and max(img.size) <= limits.COLLECTION_MAX_SIDE
    big = col.add_image("a", frame(2, (600, 1000, 3)))
    assert Image.open(big).size in ((256, 153), (256, 154))  # aspect kept, longer side at the cap


def test_metadata_is_stripped_and_orientation_applied(col, tmp_path):
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "SecretCam", 6  # camera maker; "rotate 90° to display"
    (tmp_path / "photo.jpg").write_bytes(encode(sample_rgb(64, 48), "JPEG", exif=exif))
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "SecretNote")
    (tmp_path / "note.png").write_bytes(encode(sample_rgb(), "PNG", pnginfo=text))
    col.add_class("a")
    col.add_images("a", [tmp_path / "photo.jpg", tmp_path / "note.png"])
    photo, note = col.samples("a")
    assert b"SecretCam" not in photo.read_bytes() and b"SecretNote" not in note.read_bytes()
    with Image.open(photo) as img:
        assert img.size == (48, 64) and not img.getexif()


def test_hostile_files_are_skipped_with_a_reason_each(col, tmp_path):
    col.add_class("a")
    files = sorted(write_files(tmp_path / "in", broken_images()).iterdir())
    report = col.add_images("a", [*files, tmp_path / "missing.png", frame(3, (10, 10, 2))])
    assert report.added == 0 and col.counts() == {"a": 0} and col.total_bytes() == 0
    reasons = dict(report.skipped)
    assert "not an image" in reasons["text.png"] and "damaged or truncated" in reasons["truncated.jpg"]
    assert "10,000 megapixels" in reasons["bomb.png"] and "not an image" in reasons["empty.png"]
    assert "Cannot read" in reasons["missing.png"] and "(H, W, 3)" in reasons["image 10"]
    assert report.message.startswith("Added 0 pictures. Skipped 10.") and "bomb.png: This image has" in report.message


def test_the_pixel_cap_applies_to_arrays_and_files(col, monkeypatch):
    monkeypatch.setenv("DLAPP_MAX_IMAGE_PIXELS", "10000")
    col.add_class("a")
    for source in (frame(4, (200, 200, 3)), png_bytes(size=(200, 200))):
        with pytest.raises(InvalidImageError, match="megapixels"):
            col.add_image("a", source)
    col.add_image("a", frame(4, (100, 100, 3)))


def test_the_sample_cap(col, monkeypatch, tmp_path):
    monkeypatch.setattr(limits, "COLLECTION_MAX_SAMPLES", 3)
    filled(col, {"a": 2, "b": 1})
    with pytest.raises(CollectionFullError, match="full: 3 samples is the limit. Remove some"):
        col.add_image("a", frame())
    col.remove_sample("a", 0)
    files = sorted(write_files(tmp_path / "in", distinct_pngs(4, classes=("x",), size=20)).rglob("*.png"))
    report = col.add_images("b", files)
    assert report.added == 1 and [name for name, _ in report.skipped] == [p.name for p in files[1:]]
    assert all("full" in why for _, why in report.skipped) and sum(col.counts().values()) == 3


def test_the_byte_cap(col, monkeypatch):
    col.add_class("a")
    first = col.add_image("a", frame())
    monkeypatch.setattr(limits, "COLLECTION_MAX_BYTES", 2 * first.stat().st_size + 10)
    col.add_image("a", frame())
    with pytest.raises(CollectionFullError, match="MB is the limit"):
        col.add_image("a", frame())
    assert col.counts() == {"a": 2} and len(list((col.as_dataset_folder() / "a").iterdir())) == 2


def test_remove_sample_by_index_or_path(col):
    filled(col, {"a": 4, "b": 1})
    first, second, third, fourth = col.samples("a")
    col.remove_sample("a", 0)
    col.remove_sample("a", -1)
    col.remove_sample("a", str(third))
    assert col.samples("a") == [second] and not first.exists() and not fourth.exists() and not third.exists()
    for wrong in (col.samples("b")[0], 5, third):
        with pytest.raises(UsageError):
            col.remove_sample("a", wrong)
    assert col.total_bytes() == second.stat().st_size + col.samples("b")[0].stat().st_size


def test_clear_and_delete(col):
    filled(col, {"a": 2, "b": 1})
    col.clear()
    assert col.classes == [] and col.total_bytes() == 0 and list(col.as_dataset_folder().iterdir()) == []
    col.add_class("again")
    col.delete()
    col.delete()  # twice is fine
    assert not col.root.exists() and col.classes == []
    with pytest.raises(UsageError, match="deleted"):
        col.add_class("after")


def test_concurrent_adds_and_removes_keep_files_counts_and_caps_in_step(col, monkeypatch):
    monkeypatch.setattr(limits, "COLLECTION_MAX_SAMPLES", 40)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: without the lock, the cap is overrun
    col.add_class("a")
    added, removed = [], []

    def add():  # a webcam stream: frames until the collection is full
        for i in range(20):
            try:
                added.append(col.add_image("a", frame(i, (8, 8, 3))))
            except CollectionFullError:
                pass

    def remove():  # clicks on "remove" meanwhile
        while len(removed) < 10:
            try:
                col.remove_sample("a", 0)
                removed.append(1)
            except UsageError:  # nothing to remove yet
                time.sleep(0.001)

    threads = [threading.Thread(target=add) for _ in range(4)] + [threading.Thread(target=remove)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sys.setswitchinterval(interval)
    samples = col.samples("a")
    assert len(added) - len(removed) == len(samples) == len(set(samples)) <= 40 and len(set(added)) == len(added)
    assert sorted(p.name for p in (col.as_dataset_folder() / "a").iterdir()) == sorted(p.name for p in samples)
    assert col.total_bytes() == sum(p.stat().st_size for p in samples)


def test_a_collection_survives_gradio_state_copies(col):
    assert copy.deepcopy(col) is col and copy.copy(col) is col


# ---------------------------------------------------------------- training and zips

def test_training_reads_the_folder_and_the_zip(col, tmp_path):
    filled(col, {"cats": 3, "dogs": 3})
    for source in (col.as_dataset_folder(), col.to_zip(tmp_path / "mine.zip")):
        ds = load_dataset(str(source), image_size=(32, 32))
        assert ds.class_names == ("cats", "dogs") and len(ds.y_train) + len(ds.y_test) == 6


def test_to_zip_then_load_zip_gives_the_same_classes_and_counts(col, tmp_path):
    filled(col, {"Chats 🐱": 3, "dogs": 2, "empty": 0})
    path = col.to_zip()
    assert path.parent == col.root and [p.name for p in col.root.iterdir() if p.name.startswith(".")] == []
    other = Collection.create(tmp_path)
    report = other.load_zip(path)
    assert report.added == 5 and report.skipped == ()
    assert sorted(other.classes) == sorted(col.classes) and other.counts() == col.counts()
    assert other.load_zip(path).added == 5 and other.counts()["dogs"] == 4  # a second load merges, case and all
    other.delete()


def test_a_failed_to_zip_leaves_no_file(col, tmp_path):
    filled(col, {"a": 2})
    col.samples("a")[0].unlink()  # a sample gone behind the collection's back
    with pytest.raises(FileNotFoundError):
        col.to_zip(tmp_path / "out.zip")
    assert list(tmp_path.glob("*out.zip*")) == []


def test_load_zip_skips_what_is_not_a_picture_or_a_class_and_merges_by_name(col, tmp_path):
    col.add_class("Cat")
    entries = {"cat/ok.png": png_bytes(), "cat/text.png": b"just text", "cat/empty.jpg": b"",
               "cat/cut.jpg": broken_images()["truncated.jpg"], "cat/sub/deep.png": png_bytes(),
               "cat/._ok.png": b"macOS metadata", "none of these/x.png": png_bytes(), "readme.txt": b"hi",
               "dog/ok.png": png_bytes(size=(20, 20))}
    report = col.load_zip(zip_with(entries, tmp_path / "up.zip"))
    assert report.added == 2 and col.counts() == {"Cat": 1, "dog": 1}
    reasons = dict(report.skipped)
    assert set(reasons) == {"readme.txt", "none of these/", "cat/sub/", "cat/text.png", "cat/empty.jpg",
                            "cat/cut.jpg"}
    assert "pick another name" in reasons["none of these/"] and "damaged" in reasons["cat/cut.jpg"]


@pytest.mark.parametrize("make, words", [
    (lambda p: bomb_zip(p), "zip bomb"),
    (lambda p: zip_with({"../../evil.png": png_bytes()}, p), "outside the archive"),
    (lambda p: zip_with({f"a/{i}.png": b"" for i in range(limits.ZIP_MAX_MEMBERS + 1)}, p), "entries"),
], ids=["zip-bomb", "traversal", "too-many-entries"])
def test_hostile_zips_are_refused_and_add_nothing(col, tmp_path, make, words):
    with pytest.raises(InvalidDatasetError, match=words):
        col.load_zip(make(tmp_path / "up.zip"))
    assert col.classes == [] and [p.name for p in col.root.iterdir()] == ["classes"]  # nothing unpacked is left
    assert not (tmp_path.parent / "evil.png").exists()


@pytest.mark.timeout(120)  # ~3,000 small files: a few seconds on two busy cores
def test_thousands_of_tiny_files_fill_the_collection_to_its_cap_and_no_further(col, tmp_path):
    report = col.load_zip(zip_with(distinct_pngs(3000, classes=("a", "b", "c"), size=8), tmp_path / "many.zip"))
    assert report.added == limits.COLLECTION_MAX_SAMPLES and len(report.skipped) == 3000 - report.added
    assert sum(col.counts().values()) == limits.COLLECTION_MAX_SAMPLES
    assert all("full" in why for _, why in report.skipped) and len(report.message) < 1000


def test_expire_removes_only_old_collections(tmp_path):
    old, new = Collection.create(tmp_path), Collection.create(tmp_path)
    (tmp_path / "someone-else").mkdir()
    long_ago = time.time() - (limits.COLLECTION_MAX_AGE_H + 1) * 3600
    for path in (old.root, tmp_path / "someone-else"):
        os.utime(path, (long_ago, long_ago))
    assert expire_collections(parent=tmp_path) == 1
    assert not old.root.exists() and new.root.exists() and (tmp_path / "someone-else").exists()


def test_zip_members_are_plain_class_folders(col):
    filled(col, {"a": 1, "b": 0})
    with zipfile.ZipFile(col.to_zip()) as zf:
        assert zf.namelist() == ["a/", "a/000001.jpg", "b/"]
        assert Image.open(io.BytesIO(zf.read("a/000001.jpg"))).format == "JPEG"


def test_a_closed_session_removes_its_collection():
    """Gradio calls a gr.State's delete_callback when the session ends (within the hour after a tab
    closes): the Train tab's builder hands it the collection to remove."""
    import gradio as gr

    from dlapp.ui import collect

    with gr.Blocks():
        builder = collect.layout()
    c = Collection.create()
    c.add_class("mug")
    builder.state.delete_callback(c)
    assert not c.root.exists()
    builder.state.delete_callback(None)  # a session that never collected anything
