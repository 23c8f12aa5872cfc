"""Stop is honoured until the model is committed: during calibration, evaluation and saving too (issue #23, 5).

Each test trains a tiny model for real and presses Stop at a phase change, from the progress callback
(deterministic: no sleeping), then checks what the engine and the job say and what is on disk.
"""

import threading

import pytest

from dlapp.errors import TrainingCancelled
from dlapp.jobs import TrainingJob, TrainingManager
from dlapp.store import get_store, sha256_file
from dlapp.testing import class_folder
from dlapp.training import TrainConfig, train


@pytest.fixture()
def colours(tmp_path):
    return str(class_folder(tmp_path / "colours", classes=("blue", "green", "red"), per_class=12, size=16))


def config(colours, **kw):
    return TrainConfig(colours, preset="seed-cifar10", epochs=2, batch_size=8, image_size=16, **kw)


def stop_at(message_start: str, cancel: threading.Event, seen: list):
    """A progress callback that presses Stop at the first "evaluating" event whose message starts so."""
    def on_event(e):
        seen.append(e)
        if e.kind == "evaluating" and e.message.startswith(message_start):
            cancel.set()
    return on_event


@pytest.mark.parametrize("phase", ["Finishing", "Saving"])
def test_stop_after_fitting_saves_nothing(model_dir, colours, phase):
    cancel, seen = threading.Event(), []
    with pytest.raises(TrainingCancelled):
        train(config(colours), on_event=stop_at(phase, cancel, seen), cancel=cancel)
    assert seen[-1].kind == "cancelled"
    assert [c.id for c in get_store().list() if not c.shipped] == []  # the shipped models are read-only
    assert not [p for p in model_dir.iterdir() if p.name != ".runs"]  # no model, card or pending file
    # The checkpoint stays for resume (the CLI): its run was complete, so resume goes straight to saving.
    result = train(config(colours), resume=True)
    assert [h["epoch"] for h in result.card.history] == [1, 2]


def test_a_stopped_run_never_replaces_a_working_model(model_dir, colours):
    first = train(config(colours, name="mine"))
    before = sha256_file(model_dir / "mine.keras"), (model_dir / "mine.json").read_bytes()
    cancel = threading.Event()
    with pytest.raises(TrainingCancelled):
        train(config(colours, name="mine", seed=1), on_event=stop_at("Saving", cancel, []), cancel=cancel,
              force=True)
    assert (sha256_file(model_dir / "mine.keras"), (model_dir / "mine.json").read_bytes()) == before
    assert get_store().card("mine").sha256 == first.card.sha256
    assert not list(model_dir.glob(".pending-*"))


@pytest.mark.parametrize("phase", ["Finishing", "Saving"])
def test_web_job_stopped_after_fitting_ends_cancelled_and_leaves_no_checkpoint(model_dir, colours, phase):
    job = TrainingJob(config(colours))
    record = job.on_event
    job.on_event = stop_at(phase, job.cancel, [])
    stop = job.on_event
    job.on_event = lambda e: (record(e), stop(e))
    TrainingManager()._run(job)  # what the manager's thread runs, here in the test's thread
    assert job.state == "cancelled" and job.result is None, job.message
    assert [c.id for c in get_store().list() if not c.shipped] == []  # the shipped models are read-only
    assert not any(p.is_file() for p in model_dir.rglob("*"))  # nothing saved, no checkpoint left behind
