"""Data sets: built-ins from DLAPP_DATA_DIR, custom folders/zips/CSVs, and hostile uploads."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, needs_data
from corpus import class_folder, png_bytes, zip_with
from dlapp.archives import extract_zip
from dlapp.datasets import load_dataset, load_text_table
from dlapp.errors import DatasetNotFoundError, InvalidDatasetError, UsageError


@needs_data
def test_cifar10_from_data_dir_with_subset():
    ds = load_dataset("cifar10", subset=5)
    assert ds.x_train.shape == (50, 32, 32, 3) and ds.x_train.dtype == np.uint8
    assert sorted(np.bincount(ds.y_train)) == [5] * 10
    assert ds.class_names[0] == "airplane" and ds.class_names[9] == "truck"
    assert len(ds.y_test) == 50


@needs_data
def test_imdb_from_data_dir_keeps_raw_text():
    ds = load_dataset("imdb", subset=20)
    assert ds.task == "text" and ds.class_names == ("negative", "positive")
    assert len(ds.x_train) == 40 and isinstance(ds.x_train[0], str)


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
            "import dlapp, sys\nfrom dlapp.datasets import load_dataset\nfrom dlapp.errors import DatasetNotFoundError\n"
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
