"""The disk as a whole (issue #23, items 4 and 7): one storage budget for what visitors make the server keep,
Gradio's upload cache cleaned, no checkpoint left by a stopped, failed or killed run, and a full disk at a
checkpoint that says so, keeps the previous checkpoint and leaves no partial file. Checked by bytes on disk."""

import json
import os
import subprocess
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


# ---------------------------------------------------------------- one budget across sessions (item 4)

def age(path: Path, seconds: float) -> None:
    """Make `path` and everything in it look untouched for `seconds` (as an idle session's folder would)."""
    t = time.time() - seconds
    for p in [*Path(path).rglob("*"), Path(path)]:
        os.utime(p, (t, t))


def test_collections_share_one_budget_and_idle_ones_make_room(private_tmp, monkeypatch):
    from dlapp import limits

    monkeypatch.setenv("DLAPP_STORAGE_MB", "1")
    a, b = Collection.create(), Collection.create()  # two sessions (an API client's never closes)
    a.add_class("x"), b.add_class("x")
    report = a.add_images("x", [noise(i) for i in range(40)])  # far more than the whole budget
    assert 0 < report.added < 40 and "storage for visitors' data is full" in report.message
    assert tree_bytes(private_tmp) <= 1 * MB
    # B's session is as entitled as A's, but A's data is in use: B is told so, nothing of A's goes.
    with pytest.raises(StorageFullError, match="in use"):
        b.add_image("x", noise(100))
    assert len(a.samples("x")) == report.added
    budget.sweep()  # what start-up and the sweeper run: a full budget of data in use is logged, not raised
    assert len(a.samples("x")) == report.added
    # Once A is idle, it is what makes room (the oldest first), and A's session is told why it is gone.
    age(a.root, limits.STORAGE_IN_USE_S + 60)
    b.add_images("x", [noise(200 + i) for i in range(3)])
    assert len(b.samples("x")) == 3 and not a.root.exists() and a.deleted
    with pytest.raises(ValueError, match="removed to make room"):
        a.add_image("x", noise(1))
    assert tree_bytes(private_tmp) <= 1 * MB


def test_abandoned_items_go_first_then_the_longest_idle(private_tmp, model_dir, monkeypatch):
    from dlapp import limits

    monkeypatch.setenv("DLAPP_STORAGE_MB", "1")
    idle = limits.STORAGE_IN_USE_S + 60
    live = Collection.create()
    live.add_class("x")
    live.add_images("x", [noise(i) for i in range(4)])
    age(live.root, 10 * idle)  # the oldest item, but someone's session still holds it
    leftover = private_tmp / "dlapp-collection-crashed"  # a collection whose server died
    (leftover / "classes" / "x").mkdir(parents=True)
    (leftover / "classes" / "x" / "1.jpg").write_bytes(os.urandom(300_000))
    upload = private_tmp / "dlapp-upload-old"  # staged for a run that is over
    upload.mkdir()
    (upload / "data.zip").write_bytes(os.urandom(300_000))
    killed = model_dir / ".runs" / "0123456789abcdef"  # the checkpoint of a killed run
    killed.mkdir(parents=True)
    (killed / "checkpoint.keras").write_bytes(os.urandom(300_000))
    for p in (leftover, upload, killed):
        age(p, idle)
    assert budget.usage()["total"] > 1 * MB
    budget.make_room(700_000)  # room for it needs all three abandoned items gone, not the oldest (live) one
    assert not leftover.exists() and not upload.exists() and not killed.exists()
    assert len(live.samples("x")) == 4  # in use: kept while the abandoned ones were enough
    assert budget.usage()["total"] + 700_000 <= 1 * MB


def test_idle_collections_expire_even_while_their_session_lasts(private_tmp):
    from dlapp import limits

    c = Collection.create()
    c.add_class("x")
    c.add_image("x", noise(0))
    age(c.root, limits.COLLECTION_MAX_AGE_H * 3600 + 60)
    assert budget.expire() >= 1
    assert not c.root.exists() and tree_bytes(private_tmp) == 0


# ---------------------------------------------------------------- checkpoints of stopped, failed and killed runs

def web_job(config, *, on_event):
    """Run a job as the web app does (TrainingManager's thread body, here in the test's thread)."""
    job = TrainingJob(config)
    record = job.on_event
    job.on_event = lambda e: (record(e), on_event(job, e))
    TrainingManager()._run(job)
    return job


def test_web_runs_stopped_or_failed_mid_training_leave_no_checkpoint(model_dir, colours):
    config = TrainConfig(colours, preset="seed-cifar10", epochs=3, batch_size=8, image_size=16)
    stopped = web_job(config, on_event=lambda job, e: e.kind == "epoch" and job.cancel.set())
    assert stopped.state == "cancelled"

    def crash(job, e):
        if e.kind == "epoch":
            raise RuntimeError("the machine broke")

    failed = web_job(config, on_event=crash)
    assert failed.state == "failed" and "the machine broke" in failed.message
    assert tree_bytes(model_dir) == 0  # 24 MB per stopped `best` run, before


def test_the_cli_keeps_a_stopped_runs_checkpoint_for_resume(model_dir, colours):
    cancel = threading.Event()
    config = TrainConfig(colours, preset="seed-cifar10", epochs=3, batch_size=8, image_size=16)
    with pytest.raises(TrainingCancelled):
        train(config, on_event=lambda e: e.kind == "epoch" and cancel.set(), cancel=cancel)
    kept = sorted(p.name for p in model_dir.rglob("*") if p.is_file())
    assert kept == ["checkpoint.keras", "state.json"]  # the last complete epoch only: what resume needs


# ---------------------------------------------------------------- the real app: start-up pruning, Gradio's cache

LAUNCH = """
import sys
sys.path.insert(0, {repo!r})
from dlapp import limits
# The app's own clean-up, on a test's time scale: the code that runs is the app's, only the ages are shorter.
limits.GRADIO_CACHE_AGE_S, limits.GRADIO_CACHE_SWEEP_S = 30, 1
limits.STORAGE_IN_USE_S, limits.GRADIO_UPLOAD_IN_USE_S, limits.STORAGE_SWEEP_S = 1, 1, 1
from dlapp.ui import launch
launch()
"""


def upload(server: AppServer, name: str, data: bytes) -> Path:
    """POST a file to Gradio's raw upload route, as anyone can (no password, no session)."""
    import httpx

    r = httpx.post(server.url + "gradio_api/upload", files={"files": (name, data)}, timeout=60)
    r.raise_for_status()
    return Path(r.json()[0])


def wait_until(check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.5)


@pytest.mark.app
def test_app_prunes_at_start_and_bounds_gradio_uploads(tmp_path):
    models = copy_shipped_models(tmp_path / "models")
    private, gradio_dir = tmp_path / "tmp", tmp_path / "gradio"
    private.mkdir()
    killed = models / ".runs" / "0123456789abcdef"  # a run killed a week ago
    killed.mkdir(parents=True)
    (killed / "checkpoint.keras").write_bytes(os.urandom(500_000))
    staged = private / "dlapp-upload-refused"  # staged by a crashed server
    staged.mkdir()
    (staged / "data.zip").write_bytes(os.urandom(500_000))
    from dlapp import limits

    age(killed, limits.RUNS_MAX_AGE_H * 3600 + 60)
    age(staged, 3600)
    script = tmp_path / "launch.py"
    script.write_text(LAUNCH.format(repo=str(REPO)))
    server = AppServer(models, {"TMPDIR": str(private), "GRADIO_TEMP_DIR": str(gradio_dir), "DLAPP_STORAGE_MB": "2"},
                       script=script)
    try:
        assert not killed.exists() and not staged.exists()  # pruned at start-up
        # A flood through Gradio's upload route: the budget's sweeper removes the oldest files...
        files = [upload(server, f"junk{i}.bin", os.urandom(800_000)) for i in range(4)]
        assert all(f.is_relative_to(gradio_dir) for f in files)
        wait_until(lambda: tree_bytes(gradio_dir) <= 2 * MB)
        assert not files[0].exists() and files[-1].exists()  # oldest first; the newest is younger than its age
        # ...and Gradio's own clean-up (delete_cache) removes every upload once it is older than its age.
        wait_until(lambda: not any(f.exists() for f in files), timeout=120)
        assert tree_bytes(gradio_dir) < 100_000  # Gradio's own files (the examples) stay
    finally:
        server.stop()


@pytest.mark.browser
@pytest.mark.app
def test_a_visitor_filling_the_builder_past_the_budget_is_told_so(tmp_path):
    """The Train tab's builder, in Chromium, on a server with a 7 MB budget: 30 pictures (6 MB or more in
    Gradio's upload cache, in use by the request, and 1.7 MB stored) do not all fit."""
    import re
    import shutil

    from PIL import Image
    from playwright.sync_api import expect, sync_playwright

    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for i in range(30):
        Image.fromarray(noise(i)).save(pictures / f"{i:02d}.png")
    private = tmp_path / "tmp"
    private.mkdir()
    server = AppServer(copy_shipped_models(tmp_path / "models"),
                       {"TMPDIR": str(private), "GRADIO_TEMP_DIR": str(tmp_path / "gradio"), "DLAPP_STORAGE_MB": "7"})
    shots = REPO / "test-artifacts" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage"]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=args)
            for width in (1280, 390):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(server.url)
                page.locator("#image-input").wait_for(timeout=60_000)
                page.get_by_role("tab", name="Train").click()
                page.locator("#train-data input").click()
                page.get_by_role("option", name=re.compile("your own classes")).click()
                page.locator("#collect-name textarea, #collect-name input").first.fill(f"noise{width}")
                page.locator("#collect-add").click()
                expect(page.locator("#collect-counts")).to_contain_text(f"noise{width}: 0", timeout=30_000)
                page.locator("#collect-files input[type=file]").set_input_files(sorted(map(str, pictures.iterdir())))
                toast = page.locator(".toast-body").filter(has_text="storage for visitors' data is full").first
                expect(toast).to_be_visible(timeout=60_000)
                page.screenshot(path=str(shots / f"screenshot-storage-full-{width}.png"), full_page=True)
                added = int(re.search(rf"noise{width}: (\d+)", page.locator("#collect-counts").inner_text()).group(1))
                assert 0 <= added < 30
                page.close()
            browser.close()
        assert tree_bytes(private) <= 7 * MB
    finally:
        server.stop()
