"""The disk as a whole (issue #23, items 4 and 7): one storage budget for what visitors make the server keep,
Gradio's upload cache cleaned, no checkpoint left by a stopped, failed or killed run, and a full disk at a
checkpoint that says so, keeps the previous checkpoint and leaves no partial file. Checked by bytes on disk."""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dlapp import budget
from dlapp.collection import Collection
from dlapp.errors import ModelSaveError, StorageFullError, TrainingCancelled
from dlapp.jobs import TrainingJob, TrainingManager
from dlapp.testing import REPO, AppServer, class_folder, copy_shipped_models
from dlapp.training import TrainConfig, train

MB = 2**20


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())


def noise(seed: int, side: int = 256) -> np.ndarray:
    """A picture that JPEG cannot squeeze: ~100 KB stored, so a few fill a small budget."""
    return np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8)


@pytest.fixture()
def colours(tmp_path):
    return str(class_folder(tmp_path / "colours", classes=("blue", "green", "red"), per_class=12, size=16))


@pytest.fixture()
def private_tmp(tmp_path, monkeypatch):
    """A temp dir of this test's own, where collections and staged uploads go."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


# ---------------------------------------------------------------- a full disk at a checkpoint (item 7)

@pytest.fixture()
def small_disk(tmp_path):
    """A 4 MB tmpfs: a real filesystem that really fills up (ENOSPC)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_full_disk_at_a_checkpoint_says_so_and_keeps_the_previous_one(small_disk, monkeypatch, colours):
    models = small_disk / "models"
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(models))
    filler = small_disk / "filler"

    def fill_after_first_epoch(e):  # the "epoch" event comes after its checkpoint is saved
        if e.kind == "epoch" and e.epoch == 1:
            ckpt = next(models.glob(".runs/*/checkpoint.keras"))
            # Leave room for half a checkpoint: the next one starts writing, then runs out of space.
            filler.write_bytes(b"\0" * max(0, free_bytes(small_disk) - ckpt.stat().st_size // 2))
            state["free"] = free_bytes(small_disk)

    state = {}
    with pytest.raises(ModelSaveError) as err:
        train(TrainConfig(colours, preset="seed-cifar10", epochs=3, batch_size=8, image_size=16),
              on_event=fill_after_first_epoch)
    message = str(err.value)
    assert "checkpoint of epoch 2" in message and "disk is full" in message and "epoch 1 is kept" in message
    assert "Errno" not in message and str(small_disk) not in message
    run = next(models.glob(".runs/*"))
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.keras", "state.json"]  # no partial file
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    assert free_bytes(small_disk) >= state["free"] > 0  # the partial file's space was given back
    filler.unlink()
    result = train(TrainConfig(colours, preset="seed-cifar10", epochs=3, batch_size=8, image_size=16), resume=True)
    assert [h["epoch"] for h in result.card.history] == [1, 2, 3]  # resumed from the kept checkpoint
