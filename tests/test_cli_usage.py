"""`python -m dlapp` as a user runs it (real subprocesses): usage errors exit 2 with the command's
usage, `predict` alone shows predict's usage, `evaluate` says which model it picked, a zip's data
check names the class, and `hub pull` without a network fails at once, quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dlapp.testing import DATA_DIR, REPO, distinct_pngs, free_port, needs_data, zip_with


def dlapp(*argv: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    return subprocess.run([sys.executable, "-m", "dlapp", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**full_env, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})})


@pytest.mark.parametrize(("argv", "reason"), [
    (["train", "--dataset", "cifar10", "--epochs", "-3"], "epochs must be between 1 and"),
    (["train", "--dataset", "cifar10", "--preset", "nope"], "Unknown image preset 'nope'"),
    (["train", "--dataset", "no-such-data"], "Unknown dataset 'no-such-data'"),
    (["train", "--dataset", "imdb", "--batch-size", "0"], "batch size must be between"),
    (["train", "--task", "text", "--dataset", "cifar10"], "cifar10 is image data, not text data"),
])
def test_train_usage_errors_exit_2_with_train_usage(argv, reason, model_dir):
    out = dlapp(*argv, env={"DLAPP_MODEL_DIR": str(model_dir)})
    assert out.returncode == 2, out
    assert out.stderr.startswith("usage: python -m dlapp train "), out.stderr
    assert reason in out.stderr and "Traceback" not in out.stderr
    assert not out.stdout  # refused before anything was loaded or trained


def test_predict_alone_prints_predicts_usage(model_dir):
    out = dlapp("predict", env={"DLAPP_MODEL_DIR": str(model_dir)})
    assert out.returncode == 2
    assert out.stderr.startswith("usage: python -m dlapp predict "), out.stderr
    assert "give image files, or --text" in out.stderr


@needs_data
def test_evaluate_without_an_id_names_the_model_it_picked(shipped_dir):
    out = dlapp("evaluate", "--subset", "1", "--json",
                env={"DLAPP_MODEL_DIR": str(shipped_dir), "DLAPP_DATA_DIR": str(DATA_DIR)}, timeout=300)
    assert out.returncode == 0, out.stderr
    picked = json.loads(out.stdout)["model"]  # stdout stays pure JSON
    assert f"evaluating the default image model, {picked}" in out.stderr


def test_zip_data_check_names_the_class(tmp_path, model_dir):
    pictures = distinct_pngs(14, classes=("cat", "dog"), size=16)
    one_cat = {name: data for name, data in pictures.items() if name.startswith("dog/") or name == "cat/0.png"}
    data = zip_with(one_cat, tmp_path / "pets.zip")
    out = dlapp("train", "--dataset", str(data), "--preset", "seed-cifar10", "--epochs", "1", "--quiet",
                env={"DLAPP_MODEL_DIR": str(model_dir)}, timeout=300)
    assert out.returncode == 1, out
    error = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "'cat'" in error[0] and "at least 2" in error[0], out.stderr
    assert not list(model_dir.glob("*.keras"))  # nothing trained, nothing saved


def test_hub_pull_without_network_is_quick_and_quiet(tmp_path, model_dir):
    """A refused connection (a closed local port as the Hub) gets one line, not a retry per back-off step.
    The timeout is a generous bound for a hang, not a measurement."""
    env = {"DLAPP_MODEL_DIR": str(model_dir), "HF_HOME": str(tmp_path / "hf"),
           "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    out = dlapp("hub", "pull", "someone/some-model", env=env, timeout=60)
    assert out.returncode == 1, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr  # no "Retrying in 8s [Retry 5/5]" warnings
    assert lines[0].startswith("error: someone/some-model is not in the local Hugging Face cache")
    assert "Pull it once while online" in lines[0]


@pytest.mark.parametrize("argv", [["hub", "pull", "not a repo!"], ["hub", "push", "cifar10-seed", "not a repo!"]])
def test_invalid_hub_repo_id_says_what_a_valid_one_is(argv, shipped_dir, tmp_path):
    env = {"DLAPP_MODEL_DIR": str(shipped_dir), "HF_HOME": str(tmp_path / "hf"),
           "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}", "HF_TOKEN": "hf_not_a_real_token"}
    out = dlapp(*argv, env=env)
    assert out.returncode == 2, out
    assert "'not a repo!' is not a valid Hub repo id: use owner/name, like your-name/" in out.stderr
    assert "HFValidationError" not in out.stderr and "Cannot reach" not in out.stderr
