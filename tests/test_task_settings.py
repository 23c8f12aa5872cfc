"""A task's own settings live with the task (Task.settings): TrainConfig carries them as `options` (the old keywords
still work), plan() checks them against the task, and the CLI makes its flags from them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dlapp.errors import UsageError
from dlapp.tasks import TASKS
from dlapp.testing import REPO
from dlapp.training import TrainConfig, plan


def test_options_and_the_old_keywords_are_one_setting():
    assert TrainConfig("imdb", cell="gru").options == {"cell": "gru"}
    assert TrainConfig("imdb", options={"cell": "gru"}).cell == "gru"
    assert plan(TrainConfig("imdb", options={"cell": "simplernn"})).preset.cell == "simplernn"
    with pytest.raises(UsageError, match="cell is given twice"):
        TrainConfig("imdb", cell="gru", options={"cell": "lstm"})


def test_a_generator_takes_its_own_settings_and_plan_checks_them():
    gan = plan(TrainConfig("cifar10", task="generate", preset="fast", options={"latent": 64, "width": 48}))
    assert (gan.preset.latent, gan.preset.width) == (64, 48)
    for options, message in [({"width": 1000}, "width must be between 8 and 256, got 1,000"),
                             ({"width": 33}, "even number"), ({"latent": "many"}, "latent takes a whole number"),
                             ({"cell": "gru"}, "cell does not apply to generate models"),
                             ({"latnet": 3}, "Unknown setting 'latnet'; generate models take latent, width")]:
        with pytest.raises(UsageError, match=message):
            plan(TrainConfig("cifar10", task="generate", options=options))
    with pytest.raises(UsageError, match="latent does not apply to image models"):
        plan(TrainConfig("cifar10", options={"latent": 64}))


def test_the_cli_makes_a_flag_for_every_task_setting():
    help_text = subprocess.run([sys.executable, "-m", "dlapp", "train", "--help"], cwd=REPO, capture_output=True,
                               text=True, check=True).stdout
    flags = {f"--{name.replace('_', '-')}" for task in TASKS.values() for name in task.settings}
    assert {"--cell", "--backbone", "--image-size", "--latent", "--width"} <= flags
    assert all(flag in help_text for flag in flags), help_text
    refused = subprocess.run([sys.executable, "-m", "dlapp", "train", "--dataset", "cifar10", "--latent", "64"],
                             cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 2 and "latent does not apply to image models" in refused.stderr
    refused = subprocess.run([sys.executable, "-m", "dlapp", "train", "--dataset", "cifar10", "--task", "generate",
                              "--width", "9"], cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 2 and "even number" in refused.stderr
