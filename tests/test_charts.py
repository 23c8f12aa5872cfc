"""The charts (Plotly figures through gr.Plot) and the small views of the UI polish (issue #23, items 15-16).

What the figures hold is checked here; that they draw, live, in a real browser is in test_browser_polish.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlapp import limits
from dlapp.jobs import TrainingJob
from dlapp.training.config import TrainConfig
from dlapp.training.events import TrainingEvent
from dlapp.ui import plots


def run_points(epochs: int = 3, steps: int = 4) -> list[dict]:
    """The points a job records while it trains: running means per batch that restart each epoch (as Keras
    reports them), and one validation point per epoch."""
    job = TrainingJob(TrainConfig("cifar10"))
    for epoch in range(1, epochs + 1):
        for step in range(1, steps + 1):
            running = 0.2 * epoch + 0.05 * step  # rises through an epoch, falls back when the next one starts
            job._last_point = -1e9  # every batch becomes a point (the job thins them out in time otherwise)
            job.on_event(TrainingEvent("batch", epoch, epochs, step, steps, {"loss": 2 - running, "accuracy": running}))
        job.on_event(TrainingEvent("epoch", epoch, epochs, steps, steps, {"val_loss": 1.5 - 0.2 * epoch,
                                                                          "val_accuracy": 0.3 + 0.1 * epoch}))
    job._last_point = -1e9
    job.on_event(TrainingEvent("batch", epochs + 1, epochs + 1, 1, steps, {"loss": 0.9, "accuracy": 0.95}))
    return job.points


def traces(fig) -> dict[str, dict]:
    return {t["name"]: t for t in json.loads(fig.to_json())["data"]}


def test_the_accuracy_axis_ends_at_one_and_reads_in_percent():
    layout = json.loads(plots.curve_figure(run_points(), "accuracy").to_json())["layout"]
    assert layout["yaxis"]["range"] == [0, 1]  # not 1.05
    assert layout["yaxis"]["tickformat"] == ".0%"


@pytest.mark.parametrize("metric", ["loss", "accuracy"])
def test_the_train_curve_joins_complete_epochs_only_so_it_never_saw_tooths(metric):
    points = run_points()
    lines = traces(plots.curve_figure(points, metric))
    train = lines["train"]
    assert train["x"] == [1.0, 2.0, 3.0]  # one value per complete epoch, not every running mean
    ends = [p[metric] for p in points if p["series"] == "train" and float(p["epoch"]).is_integer()]
    assert train["y"] == ends
    assert all(b > a for a, b in zip(ends, ends[1:], strict=False)) if metric == "accuracy" else True
    in_progress = lines["train (this epoch so far)"]  # the running value: a lone marker, not part of the line
    assert in_progress["mode"] == "markers" and in_progress["x"] == [3.25]
    assert lines["validation"]["x"] == [1.0, 2.0, 3.0]


def test_an_empty_curve_says_what_will_appear():
    fig = json.loads(plots.curve_figure([], "loss").to_json())
    assert fig["data"] == []
    assert "while a training runs" in fig["layout"]["annotations"][0]["text"]


def test_the_confusion_matrix_shows_every_count_and_names_numeric_classes_as_categories():
    matrix = [[5, 1, 0], [2, 7, 1], [0, 0, 9]]
    fig = json.loads(plots.confusion_figure(matrix, ["0", "1", "2"]).to_json())
    heat = fig["data"][0]
    assert heat["text"] == matrix and heat["texttemplate"] == "%{text}"
    assert heat["textfont"]["size"] >= 12  # readable on a phone, where the Pillow picture's numbers were 5 px
    assert np.allclose(heat["z"][1], [0.2, 0.7, 0.1])  # coloured by the share of the true class
    assert fig["layout"]["xaxis"]["type"] == fig["layout"]["yaxis"]["type"] == "category"  # "0" is a class name
    assert fig["layout"]["yaxis"]["autorange"] == "reversed"  # the first true class on top, as click_confusion_cell


@pytest.mark.parametrize(("sent", "cell"), [("1,2", (1, 2)), ("0,0", (0, 0)), ("2,2", (2, 2))])
def test_a_clicked_cell_is_read_back(sent, cell):
    assert plots.parse_cell(sent, 3) == cell


@pytest.mark.parametrize("sent", ["", None, "3,0", "0,3", "-1,0", "1", "1,2,3", "a,b", "1e9,0", "1.5,0",
                                  "__proto__", "0," + "9" * 5000])
def test_whatever_else_a_page_sends_as_a_cell_is_no_cell(sent):
    assert plots.parse_cell(sent, 3) is None


def test_the_trajectory_and_reliability_charts_hold_their_values():
    traj = json.loads(plots.trajectory_figure([0.2, 0.6, 0.9], "positive").to_json())
    line = traj["data"][0]
    assert line["x"] == [1, 2, 3] and line["y"] == [0.2, 0.6, 0.9]
    assert traj["layout"]["yaxis"]["range"] == [0, 1]
    rel = json.loads(plots.reliability_figure([[0.55, 0.5, 10], [0.95, 0.9, 90]], 0.031).to_json())
    assert "calibration error 3.1%" in rel["layout"]["title"]["text"]
    assert rel["data"][0]["y"] == [0.5, 0.9] and rel["data"][0]["customdata"] == [10, 90]


def test_the_progress_bar_keeps_its_place_after_a_stop():
    from dlapp.ui.train_tab import _progress

    job = TrainingJob(TrainConfig("cifar10"))
    job.on_event(TrainingEvent("batch", 2, 4, 3, 10, {"loss": 1.0}))
    html, seen = _progress(job, {})
    assert 'data-progress="32.5"' in html
    job.on_event(TrainingEvent("cancelled", message="Training stopped"))  # carries no epochs
    job.state = "cancelled"
    html, seen = _progress(job, seen)
    assert 'data-progress="32.5"' in html and "stopped at epoch 2/4" in html  # not emptied
    later = TrainingJob(TrainConfig("cifar10"))  # a new run starts from zero, whatever the last one showed
    html, _ = _progress(later, seen)
    assert 'data-progress="0.0"' in html and "epoch 2/4" not in html


def test_the_collection_counts_in_the_unit_of_its_limit(tmp_path):
    from dlapp.collection import Collection
    from dlapp.ui.collect import counts_md

    c = Collection.create(tmp_path)
    try:
        c.add_image(c.add_class("mug"), np.zeros((32, 32, 3), np.uint8))
        text = counts_md(c)
    finally:
        c.delete()
    assert f"of {limits.COLLECTION_MAX_BYTES // 2**20} MiB" in text and "MB" not in text.replace("MiB", "")


def test_the_models_table_puts_the_default_mark_first_and_opens_on_the_default(shipped_dir, monkeypatch):
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(shipped_dir))
    from dlapp.store import get_store
    from dlapp.ui import models_tab

    rows = models_tab.rows()
    assert models_tab.HEADERS[0] == "default"
    defaults = set(get_store(shipped_dir).defaults().values())
    assert {r[1] for r in rows if r[0] == "★"} == defaults
    ids = [r[1] for r in rows]
    assert models_tab.first_shown(ids) == get_store(shipped_dir).defaults()["image"] != ids[0]


def test_headings_and_captions_read_as_words(shipped_dir, monkeypatch):
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(shipped_dir))
    from dlapp.ui import image_tab

    assert image_tab.top_heading("cifar10-best") == "Top 5 of 10 classes"
    assert image_tab.top_heading(None) == "Top classes"
    assert image_tab.stage_caption(3, (16, 16, 256)) == "Stage 3 · 16×16 · 256 maps"


@pytest.mark.parametrize("password", [None, "secret"])
def test_a_closed_deployment_tells_visitors_what_they_can_do(monkeypatch, password):
    from dlapp import settings as settings_mod
    from dlapp.ui import models_tab, train_tab

    monkeypatch.setenv("SPACE_ID", "someone/dlapp")
    monkeypatch.delenv("DLAPP_TRAINING", raising=False)
    if password:
        monkeypatch.setenv("DLAPP_ADMIN_PASSWORD", password)
    else:
        monkeypatch.delenv("DLAPP_ADMIN_PASSWORD", raising=False)
        monkeypatch.delenv("DLAPP_TRAINING_PASSWORD", raising=False)
    s = settings_mod.load()
    text = train_tab.closed_md(s)
    assert "DLAPP_TRAINING" not in text  # no environment variables thrown at a visitor
    assert ("password" in text) == bool(password)
    assert models_tab.can_change(s) == bool(password)


def test_no_heading_over_no_misclassified_examples(shipped_dir, monkeypatch):
    """A run whose result lists no mistakes shows no "Misclassified test examples" heading over nothing."""
    monkeypatch.setenv("DLAPP_MODEL_DIR", str(shipped_dir))
    import gradio as gr

    from dlapp.store import get_store
    from dlapp.training.events import TrainResult
    from dlapp.ui import train_tab

    with gr.Blocks():
        tab = train_tab.layout()
    job = TrainingJob(TrainConfig("cifar10"))
    card = get_store(shipped_dir).card("cifar10-fast")
    job.state, job.result = "done", TrainResult("cifar10-fast", card, cached=False)
    assert train_tab._result_outputs(tab, job)[tab.cell_title] == ""
    job.result.misclassified.append({"x": np.zeros((32, 32, 3), np.uint8), "true": "cat", "predicted": "dog"})
    assert "Misclassified test examples" in train_tab._result_outputs(tab, job)[tab.cell_title]
