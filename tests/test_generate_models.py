"""A trained generator in use: `python -m dlapp generate` (a real process) and the /generate and /interpolate
endpoints (a real app, a gradio_client Client, hostile values), on a tiny generator trained for the module
(20 pictures per class, one epoch: seconds)."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlapp import limits
from dlapp.testing import REPO, AppServer

DATA = os.environ.get("DLAPP_DATA_DIR", "/work/shared/data")
TINY = "tiny-gan"


def run_cli(*args: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dlapp", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory, shipped_dir) -> Path:
    """A model folder holding a generator trained in seconds (judged, as every GAN is, by cifar10-best)."""
    root = tmp_path_factory.mktemp("gen")
    models = root / "models"
    env = {**os.environ, "DLAPP_MODEL_DIR": str(models), "DLAPP_SHIPPED_MODEL_DIR": str(shipped_dir),
           "XDG_CACHE_HOME": str(root / "cache"), "DLAPP_DATA_DIR": DATA, "GRADIO_ANALYTICS_ENABLED": "False"}
    r = run_cli("train", "--dataset", "cifar10", "--task", "generate", "--preset", "fast", "--subset", "20",
                "--epochs", "1", "--name", TINY, "--quiet", env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return models


@pytest.fixture()
def cli_env(tiny_models, shipped_dir, tmp_path) -> dict:
    return {**os.environ, "DLAPP_MODEL_DIR": str(tiny_models), "DLAPP_SHIPPED_MODEL_DIR": str(shipped_dir),
            "XDG_CACHE_HOME": str(tmp_path / "cache"), "GRADIO_ANALYTICS_ENABLED": "False"}


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


# ---------------------------------------------------------------- the command line

def test_cli_generate_writes_pictures_and_says_what_the_classifier_sees(cli_env, tmp_path):
    out = tmp_path / "horses"
    r = run_cli("generate", "--model", TINY, "--class", "horse", "--n", "5", "--out", str(out), "--seed", "7",
                env=cli_env)
    assert r.returncode == 0, r.stderr
    pictures = sorted(out.glob(f"{TINY}-horse-seed7-[0-9].png"))
    assert len(pictures) == 5 and (out / f"{TINY}-horse-seed7-grid.png").is_file()
    assert all(pixels(p).shape == (32, 32, 3) for p in pictures)  # the generator's own size, unless --scale
    grid = pixels(out / f"{TINY}-horse-seed7-grid.png")
    assert grid.shape == (32, 5 * 33 - 1, 3)
    assert "32×32" in r.stdout and "cifar10-best sees the requested class in" in r.stdout
    lines = [line for line in r.stdout.splitlines() if line.strip().startswith(f"{TINY}-horse-seed7-")
             and "grid" not in line]
    assert len(lines) == 5 and all("· horse · sees " in line for line in lines), r.stdout
    assert [line.split("seed ")[1].split(" ")[0] for line in lines] == ["7", "8", "9", "10", "11"]

    # The same seed draws the same picture: seed 8 alone is the second picture above.
    again = tmp_path / "again"
    r = run_cli("generate", "--model", TINY, "--class", "7", "--n", "1", "--seed", "8", "--out", str(again),
                "--scale", "3", env=cli_env)
    assert r.returncode == 0, r.stderr
    big = pixels(again / f"{TINY}-horse-seed8-1.png")
    assert big.shape == (96, 96, 3) and np.array_equal(big[::3, ::3], pixels(pictures[1]))  # nearest: exact


def test_cli_generate_walks_between_seeds_and_classes(cli_env, tmp_path):
    r = run_cli("generate", "--model", TINY, "--class", "cat", "--to-class", "dog", "--interpolate", "9",
                "--steps", "4", "--seed", "2", "--out", str(tmp_path), "--json", env=cli_env)
    assert r.returncode == 0, r.stderr
    import json

    answer = json.loads(r.stdout)
    walk = answer["pictures"]
    assert [p["seed"] for p in walk] == ["2", "2 → 9 33%", "2 → 9 67%", "9"]
    assert [p["requested"] for p in walk] == ["cat", "cat → dog 33%", "cat → dog 67%", "dog"]
    assert all(p["seen"]["label"] for p in walk) and all(Path(p["file"]).is_file() for p in walk)
    assert pixels(Path(answer["grid"])).shape == (32, 4 * 33 - 1, 3)


@pytest.mark.parametrize(("args", "code", "says"), [
    (["--class", "unicorn"], 1, "draws airplane, automobile"),
    (["--class", "horse", "--n", str(limits.MAX_GENERATE + 1)], 2, f"--n must be from 1 to {limits.MAX_GENERATE}"),
    (["--class", "horse", "--seed", "-1"], 2, "--seed must be from 0"),
    (["--class", "horse", "--steps", "99", "--interpolate", "3"], 2, "--steps must be from 2 to"),
    (["--class", "horse", "--model", "cifar10-best"], 1, "cifar10-best is for the image task"),
    (["--class", "horse", "--model", "../../etc/passwd"], 1, "Invalid model id"),
])
def test_cli_generate_refuses_bad_requests_clearly(cli_env, tmp_path, args, code, says):
    out = tmp_path / "out"
    r = run_cli("generate", "--out", str(out), *(["--model", TINY] if "--model" not in args else []), *args,
                env=cli_env)
    assert r.returncode == code and says in r.stderr, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and not out.exists()  # refused before anything was written


def test_cli_generate_never_writes_over_a_file(cli_env, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    r = run_cli("generate", "--model", TINY, "--class", "horse", "--out", str(target), env=cli_env)
    assert r.returncode == 2 and "is a file" in r.stderr and target.read_text() == "mine"


# ---------------------------------------------------------------- the API

@pytest.fixture(scope="module")
def gen_app(tiny_models, tmp_path_factory):
    """The real app with the tiny generator beside the shipped models (whose cifar10-gan is the default)."""
    models = tmp_path_factory.mktemp("gen-app") / "models"
    shutil.copytree(tiny_models, models)
    server = AppServer(models)
    yield server
    server.stop()
    server.assert_no_traceback()


@pytest.fixture(scope="module")
def gen_client(gen_app):
    from gradio_client import Client

    return Client(gen_app.url, verbose=False)


def decoded(picture: dict) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(picture["png_base64"]))) as im:
        return np.asarray(im)


@pytest.mark.app
def test_generate_endpoint_answers_pictures_and_what_the_classifier_sees(gen_client):
    out = gen_client.predict(class_name="ship", model_id=TINY, seed=11, n=3, api_name="/generate")
    assert out["model_id"] == TINY and out["size"] == [32, 32] and out["classifier"] == "cifar10-best"
    assert [p["seed"] for p in out["pictures"]] == ["11", "12", "13"]
    assert all(decoded(p).shape == (32, 32, 3) for p in out["pictures"])
    for p in out["pictures"]:
        seen = p["seen"]
        assert p["requested"] == "ship" and 0 <= seen["probability"] <= 1 and len(seen["top"]) == 3
        assert seen["label"] in {"none of these", seen["top"][0][0]}
    # The same seed, the same picture, whichever call draws it (the class named by its index this time).
    again = gen_client.predict(class_name="8", model_id=TINY, seed=12, n=1, api_name="/generate")
    assert np.array_equal(decoded(again["pictures"][0]), decoded(out["pictures"][1]))
    # Without a model, the default generator draws: the shipped one.
    assert gen_client.predict(class_name="ship", n=1, api_name="/generate")["model_id"] == "cifar10-gan"


@pytest.mark.app
def test_interpolate_endpoint_walks_between_classes_for_one_seed(gen_client):
    out = gen_client.predict(seed_a=5, seed_b=5, class_a="cat", class_b="dog", steps=3, api_name="/interpolate")
    assert [p["requested"] for p in out["pictures"]] == ["cat", "cat → dog 50%", "dog"]
    assert [p["seed"] for p in out["pictures"]] == ["5", "5", "5"]
    ends = gen_client.predict(class_name="dog", seed=5, n=1, api_name="/generate")
    assert np.array_equal(decoded(out["pictures"][-1]), decoded(ends["pictures"][0]))  # the walk ends on dog, seed 5


@pytest.mark.app
@pytest.mark.parametrize(("api", "kwargs", "says"), [
    ("/generate", {"class_name": "horse", "n": limits.MAX_GENERATE + 1}, "Number of pictures must be from 1 to 64"),
    ("/generate", {"class_name": "horse", "n": 10**9}, "Number of pictures must be from 1 to 64"),
    ("/generate", {"class_name": "horse", "n": 2.5}, "must be a whole number"),
    ("/generate", {"class_name": "horse", "seed": -3}, "Seed must be from 0 to 2,147,483,647"),
    ("/generate", {"class_name": "horse", "seed": 2**31}, "Seed must be from 0 to 2,147,483,647"),
    ("/generate", {"class_name": "horse", "seed": "1; rm -rf /"}, "Seed must be a whole number"),
    ("/generate", {"class_name": "horse", "seed": None}, "Seed must be a whole number"),
    ("/generate", {"class_name": "unicorn"}, "draws airplane, automobile"),
    ("/generate", {"class_name": 10}, "Class must be from 0 to 9"),
    ("/generate", {"class_name": {"$gt": ""}}, "Name a class"),
    ("/generate", {"class_name": "horse", "model_id": "../../../etc/passwd"}, "Invalid model id"),
    ("/generate", {"class_name": "horse", "model_id": "cifar10-best"}, "is for the image task"),
    ("/interpolate", {"seed_a": 1, "seed_b": 2, "class_a": "cat", "steps": 17}, "Steps must be from 2 to 16"),
    ("/interpolate", {"seed_a": 1, "seed_b": 2, "class_a": "cat", "steps": 1}, "Steps must be from 2 to 16"),
    ("/interpolate", {"seed_a": 1, "seed_b": -2, "class_a": "cat"}, "Seed B must be from 0"),
    ("/interpolate", {"seed_a": 1, "seed_b": 2, "class_a": "cat", "class_b": "unicorn"}, "not 'unicorn'"),
])
def test_generator_endpoints_refuse_bad_values_clearly(gen_client, gen_app, api, kwargs, says):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        gen_client.predict(**kwargs, api_name=api)
    assert says in str(err.value), str(err.value)
    assert "Traceback" not in str(err.value)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.app
def test_many_largest_draws_and_walks_keep_the_server_memory_bounded(gen_client, gen_app):
    """The largest requests a visitor may send, again and again: what each holds is freed after it."""
    gen_client.predict(class_name="cat", n=limits.MAX_GENERATE, api_name="/generate")  # warm: models, graphs
    gen_client.predict(seed_a=0, seed_b=1, class_a="cat", class_b="dog", steps=limits.MAX_INTERPOLATION_STEPS,
                       api_name="/interpolate")
    before = rss_mb(gen_app.proc.pid)
    for i in range(8):
        out = gen_client.predict(class_name=i, seed=i * 1000, n=limits.MAX_GENERATE, api_name="/generate")
        assert len(out["pictures"]) == limits.MAX_GENERATE
        gen_client.predict(seed_a=i, seed_b=i + 7, class_a=i, class_b=9 - i, steps=limits.MAX_INTERPOLATION_STEPS,
                           api_name="/interpolate")
    after = rss_mb(gen_app.proc.pid)
    print(f"server RSS {before:,.0f} MB -> {after:,.0f} MB after 8 draws of {limits.MAX_GENERATE} and 8 walks")
    assert after - before < 300
