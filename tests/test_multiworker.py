"""Several workers (MultiWorkerMirroredStrategy) as real processes on 127.0.0.1: they train like one
process, only the chief writes, a dead worker stops the chief with a clear error and no model, and the
chief's checkpoint resumes the run. Tiny data: each run takes seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlapp.testing import REPO, class_folder, free_port

ARGS = ["--preset", "fast", "--batch-size", "16", "--quiet", "--force"]


@pytest.fixture()
def colours(tmp_path) -> str:
    return str(class_folder(tmp_path / "colours", classes=("blue", "green", "red"), per_class=40, size=16))


def start(tmp_path: Path, name: str, argv: list[str]) -> subprocess.Popen:
    """`python -m dlapp train …` with a model cache and a temporary folder of its own."""
    (tmp_path / f"tmp-{name}").mkdir(exist_ok=True)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "DLAPP_MODEL_DIR": str(tmp_path / f"models-{name}"),
           "TMPDIR": str(tmp_path / f"tmp-{name}"), "DLAPP_WORKER_TIMEOUT_S": "15"}
    env.pop("TF_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "dlapp", "train", *argv], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def two_workers(tmp_path: Path, argv: list[str]) -> list[subprocess.Popen]:
    workers = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    return [start(tmp_path, f"w{rank}", [*argv, "--workers", workers, "--rank", str(rank)]) for rank in (0, 1)]


def finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def cards(models: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(models.glob("*.json")) if p.name != "defaults.json"]


def model_files(models: Path) -> list[str]:
    """Everything a finished model leaves in the cache (checkpoints under .runs/ are not models)."""
    return sorted(p.name for p in models.glob("*") if p.is_file()) if models.is_dir() else []


def test_two_workers_train_like_one_process_and_only_the_chief_writes(tmp_path, colours):
    argv = ["--dataset", colours, "--epochs", "4", *ARGS]
    procs = [*two_workers(tmp_path, argv), start(tmp_path, "single", argv)]
    (rc0, out0, err0), (rc1, out1, err1), (rc, out, err) = (finish(p) for p in procs)
    assert (rc0, rc1, rc) == (0, 0, 0), err0[-2000:] + err1[-2000:] + err[-2000:]

    [chief] = cards(tmp_path / "models-w0")
    [single] = cards(tmp_path / "models-single")
    assert chief["provenance"]["workers"] == 2 and "2 workers" in chief["provenance"]["device"]
    assert single["provenance"]["workers"] == 1
    # The same global batch and learning rate: the same data learnt as well (these colours are easy: ~100%).
    assert single["metrics"]["test_accuracy"] >= 0.9
    assert abs(chief["metrics"]["test_accuracy"] - single["metrics"]["test_accuracy"]) <= 0.1
    assert len(chief["history"]) == 4 and chief["dataset"]["train_examples"] == single["dataset"]["train_examples"]
    # The other worker wrote nothing: no model cache, nothing left in its temporary folder.
    assert not (tmp_path / "models-w1").exists()
    assert list((tmp_path / "tmp-w1").iterdir()) == []
    assert "the chief (rank 0) saves the model" in out1


def test_a_dead_worker_stops_the_chief_with_a_clear_error_and_resume_finishes(tmp_path, colours):
    argv = ["--dataset", colours, "--epochs", "12", *ARGS]
    chief, worker = two_workers(tmp_path, argv)
    state, deadline = None, time.monotonic() + 180
    while not state and time.monotonic() < deadline and chief.poll() is None:
        time.sleep(0.2)
        state = next((tmp_path / "models-w0").glob(".runs/*/state.json"), None)
    assert state, "the chief never checkpointed an epoch"
    worker.kill()
    worker.wait()
    rc, out, err = finish(chief, timeout=120)
    assert rc == 1, out + err
    assert "Another worker of this 2-worker training died or stopped answering" in err
    assert "--resume" in err and "Traceback" not in err
    models = tmp_path / "models-w0"
    assert model_files(models) == [], "no model (or a part of one) was saved"
    saved = json.loads(state.read_text())["epoch"]
    assert 1 <= saved < 12

    # Every worker again, with --resume: the chief starts from its last complete epoch, the other from the
    # chief's weights (it has no checkpoint of its own).
    chief, worker = two_workers(tmp_path, [*argv, "--resume"])
    (rc0, _, err0), (rc1, _, err1) = finish(chief), finish(worker)
    assert (rc0, rc1) == (0, 0), err0[-2000:] + err1[-2000:]
    [card] = cards(models)
    assert [h["epoch"] for h in card["history"]] == list(range(1, 13))
    assert card["metrics"]["test_accuracy"] >= 0.9


@pytest.mark.parametrize(("argv", "reason"), [
    (["--workers", "127.0.0.1:5000,127.0.0.1:5001"], "--workers needs --rank"),
    (["--rank", "1"], "--rank needs --workers"),
    (["--workers", "127.0.0.1:5000", "--rank", "0"], "at least two HOST:PORT"),
    (["--workers", "127.0.0.1:5000,nohost", "--rank", "0"], "'nohost' is not HOST:PORT"),
    (["--workers", "127.0.0.1:5000,127.0.0.1:5001", "--rank", "2"], "--rank must be between 0 and 1"),
])
def test_bad_cluster_arguments_are_usage_errors(tmp_path, colours, argv, reason):
    proc = start(tmp_path, "bad", ["--dataset", colours, *argv])
    rc, _, err = finish(proc, timeout=60)
    assert rc == 2 and reason in err, err


def test_a_bad_tf_config_is_a_clear_error(tmp_path, colours):
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "DLAPP_MODEL_DIR": str(tmp_path / "m"),
           "TF_CONFIG": "{not json"}
    out = subprocess.run([sys.executable, "-m", "dlapp", "train", "--dataset", colours, *ARGS], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "TF_CONFIG is not valid" in out.stderr, out.stderr
