"""Data sets: built-ins from DLAPP_DATA_DIR, custom folders/zips/CSVs, and hostile uploads."""

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

from dlapp.archives import extract_zip
from dlapp.data import BUILTINS, UPLOAD_FORMATS, dataset_task, load_dataset, upload_format
from dlapp.data.custom import load_image_folder, load_text_table
from dlapp.errors import InvalidDatasetError, UsageError
from dlapp.testing import REPO, class_folder, needs_data, png_bytes, zip_with


@needs_data
def test_cifar10_from_data_dir_with_subset():
    ds = load_dataset("cifar10", subset=5)
    assert ds.x_train.shape == (50, 32, 32, 3) and ds.x_train.dtype == np.uint8
    assert sorted(np.bincount(ds.y_train)) == [5] * 10
    assert ds.class_names[0] == "airplane" and ds.class_names[9] == "truck"
    assert len(ds.y_test) == 50
    assert ds.name == "cifar10" and ds.subset_per_class == 5 and ds.label == "cifar10 (5/class)"


@needs_data
def test_imdb_from_data_dir_keeps_raw_text():
    ds = load_dataset("imdb", subset=20)
    assert ds.task == "text" and ds.class_names == ("negative", "positive")
    assert len(ds.x_train) == 40 and isinstance(ds.x_train[0], str)
    assert sorted(np.bincount(ds.y_train)) == [20, 20] and ds.label == "imdb (20/class)"


def test_fingerprint_is_stable_and_sensitive(tmp_path):
    a = load_dataset(str(class_folder(tmp_path / "a")))
    b = load_dataset(str(class_folder(tmp_path / "b")))
    assert a.fingerprint() == b.fingerprint()
    (tmp_path / "b" / "red" / "0.png").write_bytes(png_bytes(size=(24, 24)))
    assert load_dataset(str(tmp_path / "b")).fingerprint() != a.fingerprint()


def test_unknown_dataset_is_a_usage_error():
    with pytest.raises(UsageError, match="Unknown dataset"):
        load_dataset("imagenet-9000")


def test_offline_without_local_data_gives_one_clear_message(tmp_path):
    # A fresh HOME (no Keras cache) and an empty data folder: the download is the only way,
    # and this machine has no network. Run in a subprocess so HOME takes effect for Keras.
    # No test touches the network: every socket connect in that process is refused, as offline.
    code = ("import socket\n"
            "def refuse(*a, **k):\n    raise OSError(101, 'Network is unreachable (blocked by the test)')\n"
            "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
            "import dlapp, sys\nfrom dlapp.data import load_dataset\n"
            "from dlapp.errors import DatasetNotFoundError\n"
            "try:\n    load_dataset('mnist')\nexcept DatasetNotFoundError as e:\n    print('MSG', e); sys.exit(0)\n"
            "print('LOADED'); sys.exit(3)")
    env = {"HOME": str(tmp_path), "DLAPP_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
           "KERAS_HOME": str(tmp_path / ".keras"), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "DLAPP_DATA_DIR" in out.stdout and "mnist.npz" in out.stdout


def test_image_folder_and_zip(tmp_path):
    folder = class_folder(tmp_path / "colours", classes=("blue", "red"), per_class=5)
    ds = load_dataset(str(folder), image_size=(16, 16))
    assert ds.class_names == ("blue", "red") and ds.x_train.shape[1:] == (16, 16, 3)
    assert len(ds.y_train) + len(ds.y_test) == 10 and set(ds.y_test) == {0, 1}
    entries = {f"colours/{p.parent.name}/{p.name}": p.read_bytes() for p in folder.rglob("*.png")}
    zipped = load_dataset(str(zip_with(entries, tmp_path / "colours.zip")), image_size=(16, 16))
    assert zipped.class_names == ds.class_names
    assert len(zipped.y_train) + len(zipped.y_test) == 10


def test_image_folder_reader_takes_the_size_and_pixel_cap(tmp_path):
    folder = class_folder(tmp_path / "colours", classes=("blue", "red"), per_class=5, size=24)
    ds = load_image_folder(folder, image_size=(8, 12), max_pixels=25_000_000)
    assert ds.name == "colours" and ds.x_train.shape[1:] == (8, 12, 3) and ds.subset_per_class is None
    with pytest.raises(InvalidDatasetError, match="no readable images"):  # every image is over the cap
        load_image_folder(folder, image_size=(8, 12), max_pixels=100)


def test_folder_with_one_class_is_refused(tmp_path):
    class_folder(tmp_path / "one", classes=("red",))
    with pytest.raises(InvalidDatasetError, match="at least 2"):
        load_dataset(str(tmp_path / "one"))


def test_folder_with_an_empty_class_is_refused(tmp_path):
    folder = class_folder(tmp_path / "d", classes=("red", "blue"))
    (folder / "green").mkdir()
    with pytest.raises(InvalidDatasetError, match="green"):
        load_dataset(str(folder))


@pytest.mark.parametrize("entries,symlink,match", [
    ({"../../evil.txt": b"x"}, None, "outside"),
    ({"/etc/evil.txt": b"x"}, None, "outside"),
    ({"a/ok.png": b"x"}, "a/link.png", "link"),
    ({f"f/{i}.png": b"" for i in range(10_000)}, None, "entries"),
])
def test_hostile_zips_are_refused(tmp_path, entries, symlink, match):
    archive = zip_with(entries, tmp_path / "x.zip", symlink=symlink)
    with pytest.raises(InvalidDatasetError, match=match):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_zip_bomb_is_refused(tmp_path):
    import zipfile

    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("a/zeros.png", "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(600):  # 600 MB of zeros compress to under 1 MB
                f.write(chunk)
    with pytest.raises(InvalidDatasetError):
        extract_zip(archive, tmp_path / "out")


def test_not_a_zip(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"not a zip at all")
    with pytest.raises(InvalidDatasetError, match="not a readable"):
        extract_zip(fake, tmp_path / "out")


def _csv(tmp_path, text):
    p = tmp_path / "reviews.csv"
    p.write_text(text)
    return p


def test_text_csv_two_labels(tmp_path):
    rows = "text,label\n" + "".join(f"good film {i},pos\nawful film {i},neg\n" for i in range(10))
    ds = load_text_table(_csv(tmp_path, rows))
    assert ds.class_names == ("neg", "pos") and len(ds.x_train) + len(ds.x_test) == 20


@pytest.mark.parametrize("suffix", [".csv.gz", ".jsonl.gz"])
def test_gzipped_text_uploads_load(tmp_path, suffix):
    if suffix == ".csv.gz":
        body = "text,label\n" + "".join(f"good film {i},pos\nawful film {i},neg\n" for i in range(10))
    else:
        body = "\n".join(json.dumps({"text": f"film {i}", "label": ["neg", "pos"][i % 2]}) for i in range(20))
    path = tmp_path / f"reviews{suffix}"
    path.write_bytes(gzip.compress(body.encode()))
    assert dataset_task(str(path)) == "text" and upload_format(path).suffix == suffix
    ds = load_dataset(str(path))
    assert ds.name == "reviews" and ds.task == "text" and ds.class_names == ("neg", "pos")
    assert len(ds.x_train) + len(ds.x_test) == 20 and ds.x_train[0].startswith(("good", "awful", "film"))


def test_unknown_upload_suffixes_are_usage_errors(tmp_path):
    for name in ("tool.exe", "reviews.txt", "reviews.csv.bz2", "images.tar.gz"):
        path = tmp_path / name
        path.write_bytes(b"MZ\x90\x00")
        with pytest.raises(UsageError, match="dlapp reads"):
            upload_format(path)
        with pytest.raises(UsageError, match="dlapp reads"):
            dataset_task(str(path))
        with pytest.raises(UsageError):
            load_dataset(str(path))
    assert {f.suffix for f in UPLOAD_FORMATS} >= {".zip", ".csv", ".csv.gz", ".jsonl", ".jsonl.gz"}
    assert dataset_task("CIFAR10") == "image" and dataset_task("fashion-mnist") == "image"
    assert {BUILTINS[n].task for n in BUILTINS} == {"image", "text"} and dataset_task(str(tmp_path)) == "image"


def test_subsets_are_drawn_at_random_per_class_and_seeded(tmp_path):
    y_train, y_test = np.arange(200) % 10, np.arange(100) % 10
    x_train = np.arange(200, dtype=np.uint8).reshape(200, 1, 1).repeat(28, 1).repeat(28, 2)  # pixel = index
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_train[:100], y_test=y_test)

    def picked(seed):
        ds = load_dataset("mnist", subset=3, data_dir=tmp_path, seed=seed)
        assert sorted(np.bincount(ds.y_train)) == [3] * 10 and sorted(np.bincount(ds.y_test)) == [3] * 10
        assert ds.subset_per_class == 3 and ds.name == "mnist" and ds.label == "mnist (3/class)"
        index = ds.x_train[:, 0, 0, 0].astype(int)
        np.testing.assert_array_equal(ds.y_train, y_train[index])  # images keep their labels
        assert list(index) == sorted(index)  # kept in file order
        return list(index)

    first = picked(0)
    assert picked(0) == first  # seeded: the same subset every time
    assert picked(1) != first
    assert first != list(range(30)) and max(first) >= 30  # not simply the first N of each class
    whole = load_dataset("mnist", data_dir=tmp_path)
    assert whole.subset_per_class is None and whole.label == "mnist" and len(whole.y_train) == 200
    with pytest.raises(InvalidDatasetError, match="at least 1"):
        load_dataset("mnist", subset=0, data_dir=tmp_path)


def test_text_jsonl_with_split(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text("\n".join(json.dumps({"text": f"t{i}", "label": i % 2, "split": "test" if i < 4 else "train"})
                           for i in range(12)))
    ds = load_text_table(p)
    assert len(ds.x_test) == 4 and ds.class_names == ("0", "1")


@pytest.mark.parametrize("body,match", [
    ("review,label\nx,1\n", "missing column"),
    ("text,label\na,1\nb,2\nc,3\n", "exactly 2"),
    ("text,label\na,1\nb,1\n", "exactly 2"),
    ("text,label\n,1\nb,0\n", "empty text"),
    ("", "empty"),
])
def test_bad_text_tables(tmp_path, body, match):
    with pytest.raises(InvalidDatasetError, match=match):
        load_text_table(_csv(tmp_path, body))


def test_original_aclimdb_folder_is_read(tmp_path):
    root = tmp_path / "aclImdb"
    for split in ("train", "test"):
        for cls, words in (("pos", "lovely"), ("neg", "dreadful")):
            (root / split / cls).mkdir(parents=True)
            for i in range(3):
                (root / split / cls / f"{i}_{8 if cls == 'pos' else 2}.txt").write_text(f"{words} film {i}<br />end")
    ds = load_dataset("imdb", data_dir=tmp_path)
    assert ds.class_names == ("negative", "positive") and len(ds.x_train) == 6 and len(ds.x_test) == 6
    assert ds.x_train[0] == "dreadful film 0<br />end" and ds.y_train.tolist() == [0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_grayscale_npz_in_keras_layout_gets_a_channel_axis(tmp_path, name):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / f"{name}.npz", x_train=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8),
             y_train=np.arange(20) % 10, x_test=rng.integers(0, 255, (10, 28, 28), dtype=np.uint8),
             y_test=np.arange(10))
    ds = load_dataset(name, data_dir=tmp_path)
    assert ds.x_train.shape == (20, 28, 28, 1) and len(ds.class_names) == 10 and ds.task == "image"
