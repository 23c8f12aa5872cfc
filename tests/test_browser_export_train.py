"""Export at the end of a training run (issue #28), on a simulated Space with private training: visitor A trains a
tiny model in the Train tab, exports it from the run's results (format, one click, the check's figures beside a
download) and downloads the archive; visitor B can neither see A's export box nor export A's model by its id.
Screenshots of A's results with the export at 1280 and 390 px."""

from __future__ import annotations

import re
import zipfile

import pytest
from gradio_client import Client

from dlapp.testing import (
    error_of,
    export_and_download,
    needs_data,
    press_start,
    screenshot,
    set_number,
    tab,
)

pytestmark = [pytest.mark.browser, pytest.mark.app, needs_data]


@pytest.fixture(scope="module")
def space(private_space_server):
    """A Space with private training (conftest.py: shared with test_browser_private.py)."""
    return private_space_server


def test_export_the_model_just_trained_from_the_train_tab(browser, space, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    a = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    a.goto(space.url)
    a.locator("#image-input").wait_for(timeout=60_000)
    tab(a, "Train")
    preset = a.locator("#train-preset input")
    preset.click()
    a.get_by_role("option", name="seed (the tutorial model)", exact=True).click()
    set_number(a, "train-subset", 20)
    set_number(a, "train-epochs", 1)
    set_number(a, "train-batch", 32)
    press_start(a, Client(space.url, verbose=False))
    summary = a.locator("#train-summary")
    expect(summary).to_contain_text("Test accuracy", timeout=400_000)
    model_id = re.search(r"Model (\S+) ·", summary.inner_text()).group(1)

    box = a.locator("#train-export-box")
    expect(box).to_be_visible()
    saved = export_and_download(a, "train", model_id, tmp_path, timeout=400_000)
    expect(a.locator("#train-export-result")).to_contain_text("passed")
    assert saved.name == f"{model_id}-onnx.zip"
    with zipfile.ZipFile(saved) as z:
        names = set(z.namelist())
        readme = z.read(f"{model_id}-onnx/README.md").decode()
        labels = z.read(f"{model_id}-onnx/labels.json").decode()
        onnx_bytes = len(z.read(f"{model_id}-onnx/model.onnx"))
    assert {f"{model_id}-onnx/{n}" for n in ("model.onnx", "classify.py", "labels.json", "README.md")} <= names
    assert "| passed | yes |" in readme and "| top-1 agreement with Keras |" in readme
    assert "frog" in labels and "truck" in labels and onnx_bytes > 10_000  # CIFAR-10's classes, a real model

    for width in (1280, 390):
        a.set_viewport_size({"width": width, "height": 1000})
        a.wait_for_timeout(400)
        box.scroll_into_view_if_needed()
        screenshot(a, f"train-export-{width}")
    a.set_viewport_size({"width": 1280, "height": 1000})

    # B, another visitor, sees no finished run of theirs (so no export box) and cannot export A's model by name.
    b = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    b.goto(space.url)
    b.locator("#image-input").wait_for(timeout=60_000)
    tab(b, "Train")
    b.wait_for_timeout(2500)  # a few timer ticks
    expect(b.locator("#train-export-box")).to_be_hidden()
    other = Client(space.url, verbose=False)
    message = error_of(other.predict, model_id=model_id, format="onnx", api_name="/export_model")
    assert model_id in message or "not found" in message.lower() or "no model" in message.lower(), message
    assert "Traceback" not in message
    b.context.close()
    a.context.close()
