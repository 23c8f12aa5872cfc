"""Data checks before a training: every problem is found, named, and worded as what to do; hostile folders
and zips are answered, never crash; and the training loader skips what the checks call unreadable."""

import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from dlapp import limits
from dlapp.data import load_dataset
from dlapp.data.checks import DataProblem, check_image_folder, check_image_zip
from dlapp.errors import DatasetNotFoundError, InvalidDatasetError, UsageError
from dlapp.testing import bomb_zip, broken_images, class_folder, distinct_pngs, png_bytes, write_files, zip_with


def kinds(problems: list[DataProblem]) -> dict[str, DataProblem]:
    found = {p.kind: p for p in problems}
    assert len(found) == len(problems), problems  # one problem of each kind at most, in these tests
    return found


def healthy(root, classes=("red", "blue"), per_class=12):
    return class_folder(root, classes=classes, per_class=per_class)


def test_a_healthy_folder_has_no_problems(tmp_path):
    assert check_image_folder(healthy(tmp_path / "ds")) == []


def test_a_single_wrapping_folder_and_a_train_test_layout_are_read_as_training_reads_them(tmp_path):
    healthy(tmp_path / "zipped" / "photos")
    assert check_image_folder(tmp_path / "zipped") == []
    healthy(tmp_path / "split" / "train")
    class_folder(tmp_path / "split" / "test", per_class=1, size=20)  # one each is fine: nothing is held out
    (tmp_path / "split" / "test" / "red" / "notes.png").write_text("not a picture")
    problems = kinds(check_image_folder(tmp_path / "split"))
    assert set(problems) == {"unreadable"} and problems["unreadable"].files == ("test/red/notes.png",)


def test_unreadable_files_are_named_with_a_reason_and_training_skips_them(tmp_path):
    root = healthy(tmp_path / "ds")
    write_files(root / "red", broken_images())  # text, HTML, SVG, random bytes, truncated, empty, a PNG bomb
    problem = kinds(check_image_folder(root))["unreadable"]
    assert not problem.blocking
    assert sorted(problem.files) == sorted(f"red/{name}" for name in broken_images())
    for words in ("8 files", "red/bomb.png (too large)", "red/empty.png (empty file)", "training will skip them",
                  "save as JPEG or PNG"):
        assert words in problem.message, problem.message
    ds = load_dataset(str(root), image_size=(32, 32))  # training skips the same 8 files and keeps the 24 pictures
    assert len(ds.y_train) + len(ds.y_test) == 24


def test_each_unreadable_file_says_why(tmp_path):
    root = healthy(tmp_path / "ds")
    write_files(root / "red", {"cat.png": b"meow", "cut.jpg": broken_images()["truncated.jpg"], "zero.png": b""})
    message = kinds(check_image_folder(root))["unreadable"].message
    for words in ("red/cat.png (not an image)", "red/cut.jpg (damaged or truncated)", "red/zero.png (empty file)"):
        assert words in message, message


def test_a_class_with_one_sample_blocks_and_is_named(tmp_path):
    root = healthy(tmp_path / "ds")
    write_files(root, {"lonely/only.png": png_bytes()})
    problem = kinds(check_image_folder(root))["too_few"]
    assert problem.blocking and "'lonely' (1)" in problem.message and "Add more samples to 'lonely'" in problem.message
    with pytest.raises(InvalidDatasetError, match="at least 2"):  # training agrees: it cannot hold one out
        load_dataset(str(root), image_size=(32, 32))


def test_a_class_of_only_unreadable_files_blocks(tmp_path):
    root = healthy(tmp_path / "ds")
    write_files(root, {"ghost/a.png": b"text", "ghost/b.jpg": b""})
    found = kinds(check_image_folder(root))
    assert found["too_few"].blocking and "'ghost' (0)" in found["too_few"].message
    assert found["unreadable"].files == ("ghost/a.png", "ghost/b.jpg")


@pytest.mark.parametrize("classes", [(), ("red",)])
def test_fewer_than_two_classes_block(tmp_path, classes):
    root = tmp_path / "ds"
    root.mkdir()
    healthy(root, classes=classes)
    (root / "loose.png").write_bytes(png_bytes())  # a picture outside any class folder is no class
    problem = kinds(check_image_folder(root))["too_few_classes"]
    assert problem.blocking and "at least 2 classes" in problem.message
    assert ("only 'red'" if classes else "found none") in problem.message


def test_few_samples_and_imbalance_are_warnings_naming_the_classes(tmp_path):
    root = healthy(tmp_path / "ds", classes=("red",), per_class=40)
    healthy(root, classes=("blue",), per_class=5)
    found = kinds(check_image_folder(root))
    assert set(found) == {"too_few", "imbalance"} and not any(p.blocking for p in found.values())
    assert "'blue' (5)" in found["too_few"].message and f"fewer than {limits.CHECK_RECOMMENDED_SAMPLES}" in \
        found["too_few"].message
    assert "Class 'red' has 40" in found["imbalance"].message and "Add samples to 'blue'" in found["imbalance"].message


def test_duplicates_within_and_across_classes_are_named_and_told_apart(tmp_path):
    root = healthy(tmp_path / "ds")
    (root / "red" / "copy.png").write_bytes((root / "red" / "0.png").read_bytes())
    (root / "blue" / "stolen.png").write_bytes((root / "red" / "1.png").read_bytes())
    found = kinds(check_image_folder(root))
    assert set(found) == {"duplicates", "duplicates_across_classes"}
    assert found["duplicates"].files == ("red/0.png", "red/copy.png")
    assert set(found["duplicates_across_classes"].files) == {"red/1.png", "blue/stolen.png"}
    assert "worse" in found["duplicates_across_classes"].message and "red/0.png = red/copy.png" in \
        found["duplicates"].message


def test_tiny_pictures_are_named_with_their_size(tmp_path):
    root = healthy(tmp_path / "ds")
    Image.new("RGB", (40, 8), "red").save(root / "red" / "strip.png")
    problem = kinds(check_image_folder(root))["tiny"]
    assert problem.files == ("red/strip.png",) and "(40×8)" in problem.message and not problem.blocking


@pytest.mark.timeout(60)  # 3,000 files are checked in about a second; a crawl fails here
def test_thousands_of_tiny_files_are_checked_quickly_and_reported_in_few_words(tmp_path):
    root = write_files(tmp_path / "ds", distinct_pngs(3000, size=8))
    problem = kinds(check_image_folder(root))["tiny"]
    assert problem.message.startswith("3,000 pictures") and "and 2,997 more" in problem.message
    assert len(problem.files) == limits.CHECK_FILES_KEPT and len(problem.message) < 400


def test_more_files_than_the_cap_block_before_anything_is_decoded(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "ZIP_MAX_MEMBERS", 50)
    root = write_files(tmp_path / "ds", {**distinct_pngs(60, size=20), "a/bomb.png": broken_images()["bomb.png"]})
    problems = check_image_folder(root)  # one problem: the bomb among them was never decoded
    assert [(p.kind, p.blocking) for p in problems] == [("too_many_files", True)] and "50" in problems[0].message


def test_links_out_of_the_folder_are_reported_not_followed(tmp_path):
    outside = healthy(tmp_path / "elsewhere", classes=("green",), per_class=30)
    root = healthy(tmp_path / "ds")
    os.symlink(outside / "green" / "0.png", root / "red" / "linked.png")
    os.symlink(outside / "green", root / "green")  # a whole class folder elsewhere
    found = kinds(check_image_folder(root))
    assert set(found["links"].files) == {"red/linked.png", "green"} and not found["links"].blocking
    assert "'green' (0)" in found["too_few"].message  # its 30 pictures were not read


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(DatasetNotFoundError):
        check_image_folder(tmp_path / "nowhere")


# ---------------------------------------------------------------- zips

def test_a_zip_is_extracted_safely_and_checked(tmp_path):
    entries = {f"photos/{p.relative_to(tmp_path / 'src').as_posix()}": p.read_bytes()
               for p in healthy(tmp_path / "src").rglob("*.png")}
    entries["photos/red/cat.png"] = b"just text"
    found = kinds(check_image_zip(zip_with(entries, tmp_path / "d.zip"), tmp_path / "work"))
    assert set(found) == {"unreadable"} and found["unreadable"].files == ("photos/red/cat.png",)
    with pytest.raises(UsageError, match="not empty"):
        check_image_zip(tmp_path / "d.zip", tmp_path / "work")


@pytest.mark.parametrize("make, words", [
    (lambda p: bomb_zip(p), "zip bomb"),
    (lambda p: zip_with({"../../evil.png": png_bytes()}, p), "outside the archive"),
    (lambda p: zip_with({"a/x.png": png_bytes()}, p, symlink="a/link.png"), "symbolic link"),
    (lambda p: zip_with({f"a/{i}.png": b"" for i in range(limits.ZIP_MAX_MEMBERS + 1)}, p), "entries"),
    (lambda p: write_files(p.parent, {p.name: b"PK, but not really"}) / p.name, "not a readable .zip"),
], ids=["zip-bomb", "traversal", "symlink", "too-many-entries", "not-a-zip"])
def test_hostile_zips_are_one_blocking_problem_and_write_nothing_outside(tmp_path, make, words):
    problems = check_image_zip(make(tmp_path / "up.zip"), tmp_path / "work")
    assert len(problems) == 1 and problems[0].kind == "bad_archive" and problems[0].blocking
    assert words in problems[0].message and "one folder of pictures per class" in problems[0].message
    assert not (tmp_path / "evil.png").exists() and not (tmp_path.parent / "evil.png").exists()


# ---------------------------------------------------------------- what training reads

def test_training_fails_clearly_when_a_test_split_has_no_readable_picture(tmp_path):
    root = healthy(tmp_path / "ds" / "train")
    write_files(tmp_path / "ds" / "test", {"red/a.png": b"text", "blue/b.png": np.zeros(3).tobytes()})
    with pytest.raises(InvalidDatasetError, match="'test' folder has no readable images"):
        load_dataset(str(root.parent), image_size=(32, 32))
    found = kinds(check_image_folder(root.parent))  # the check says so before a training tries
    assert found["unreadable"].files == ("test/blue/b.png", "test/red/a.png")
    assert found["too_few"].blocking and "test folder has no readable pictures" in found["too_few"].message


def test_checks_read_the_files_training_reads(tmp_path):
    root = healthy(tmp_path / "ds")
    write_files(root, {"red/readme.txt": b"ignored by training", "red/.hidden/x.png": b"not a class",
                       "__MACOSX/red/._0.png": b"resource fork"})
    assert check_image_folder(root) == []
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as zf:  # the same via a zip made on a Mac
        for p in root.rglob("*"):
            if p.is_file():
                zf.write(p, p.relative_to(root).as_posix())
    assert check_image_zip(tmp_path / "d.zip", tmp_path / "work") == []
