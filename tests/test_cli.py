"""`python -m dlapp`: help everywhere, exit codes 0/1/2, one-line errors."""

import json
import subprocess
import sys

import pytest

from dlapp.cli import main
from dlapp.testing import REPO, class_folder, encode, needs_data, sample_rgb


@pytest.mark.parametrize("argv", [[], ["train"], ["evaluate"], ["predict"], ["models"], ["models", "list"],
                                  ["models", "show"], ["models", "delete"], ["models", "set-default"], ["hub"],
                                  ["hub", "pull"], ["hub", "push"]])
def test_help_everywhere(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0 and "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["train"],  # --dataset is required
    ["predict"],  # neither image files nor --text
    ["predict", "a.png", "--text", "a review"],  # both
    ["predict", "a.png", "--top", "0"],
    ["train", "--dataset", "imdb", "--cell", "transformer"],
])
def test_usage_error_exits_2(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and "usage:" in capsys.readouterr().err


def test_failure_exits_1_with_one_line(capsys, model_dir):
    # (unknown data, presets and values out of range are usage errors: exit 2, see test_cli_usage.py)
    assert main(["evaluate", "no-such-model"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: No model 'no-such-model'") and "\n" not in err and "Traceback" not in err


def test_train_list_predict_delete(capsys, model_dir, tmp_path):
    data = class_folder(tmp_path / "colours", per_class=8, size=16)
    assert main(["train", "--dataset", str(data), "--preset", "seed-cifar10", "--epochs", "2", "--batch-size", "4",
                 "--image-size", "16", "--name", "colours", "--quiet", "--set-default"]) == 0
    assert "colours: test accuracy" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["id", "task", "data"] and "headline" in header and "test accuracy" in rows[0]
    assert rows[0].startswith("* colours ") and "image" in rows[0] and "seed-cifar10" in rows[0]
    assert main(["models", "list", "--task", "text"]) == 0
    assert "colours" not in capsys.readouterr().out
    assert main(["models", "show", "colours"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["provenance"]["command"].startswith("python -m dlapp ")  # the CLI records how it was run
    assert shown["class_names"] == ["blue", "red"] and shown["schema_version"] == 2
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(encode(sample_rgb(), "JPEG"))
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert main(["predict", str(photo)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(str(photo)) and ("red" in out or "blue" in out)
    assert main(["predict", str(bad)]) == 1
    assert "not an image format" in capsys.readouterr().err
    assert main(["predict", "--top", "1", str(photo)]) == 0
    assert capsys.readouterr().out.count("%") == 1
    assert main(["predict", "--model", "colours", "--text", "a fine film"]) == 1
    assert "colours is for the image task" in capsys.readouterr().err
    assert main(["evaluate", "colours", "--dataset", str(data)]) == 0
    assert "colours on" in capsys.readouterr().out
    assert main(["models", "delete", "colours"]) == 0 and main(["models", "show", "colours"]) == 1


def test_subprocess_exit_code_and_no_traceback(model_dir):
    out = subprocess.run([sys.executable, "-m", "dlapp", "models", "show", "nope"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr and "error: No model 'nope'" in out.stderr


@needs_data
def test_evaluate_reproduces_the_card_on_a_subset(shipped_dir, monkeypatch, capsys):
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(shipped_dir))
    assert main(["evaluate", "--task", "image", "--subset", "20", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"test_examples": 200' in out
