"""Two visitors side by side on a simulated Space with no password (issue #25): A collects two classes from the
fake camera, trains `transfer` and classifies with the new model; B sees neither A's model nor A's pictures,
cannot use A's model by name through the API, and is queued while A trains; when A's tab closes, A's files
are gone from disk. Screenshots of the Train tab (idle, queued, training, done) at 1280 and 390 px."""

from __future__ import annotations

import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from dlapp.store import SESSIONS_DIR
from dlapp.testing import (
    a_test_photo,
    add_class,
    count_of,
    error_of,
    own_classes_page,
    record_until,
    screenshot,
    tab,
)

pytestmark = [pytest.mark.browser, pytest.mark.app]


@pytest.fixture(scope="module")
def space(private_space_server):
    """A Space with private training (conftest.py: shared with test_browser_export_train.py)."""
    return private_space_server


def both_widths(page, name: str) -> None:
    """The Train tab at 1280 px and at 390 px (a phone), then back."""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(400)  # the layout settles
        screenshot(page, f"private-{name}-{width}", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def collections() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("dlapp-collection-*"))


def test_two_visitors_train_privately_side_by_side(camera_browser, space, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    before_collections = collections()
    a = own_classes_page(camera_browser, space.url, 1280)
    expect(a.locator("#train-private")).to_contain_text("yours alone")
    expect(a.locator("#train-private")).to_contain_text("s of training")  # the time cap, said before the run
    add_class(a, "pattern")
    record_until(a, "#collect-webcam", lambda: count_of(a, "pattern") >= 12)
    add_class(a, "stripes")
    record_until(a, "#collect-webcam", lambda: count_of(a, "stripes") >= 12)
    expect(a.locator("#train-preset input")).to_have_value("transfer")
    a_collections = collections() - before_collections
    assert a_collections, "A's pictures are stored in a collection folder of its own"

    b = camera_browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    b.goto(space.url)
    b.locator("#image-input").wait_for()
    tab(b, "Train")
    expect(b.locator("#train-start")).to_be_enabled()
    both_widths(b, "idle")

    a.locator("#train-start").click()
    expect(a.locator("#train-status")).to_contain_text("Training")
    b.locator("#train-start").click()  # the Train tab's default run, while A's is going
    expect(b.locator("#train-status")).to_contain_text("you are number 1 in line")
    expect(b.locator("#train-stop")).to_be_enabled()  # Stop leaves the queue
    both_widths(b, "queued")
    both_widths(a, "training")
    b.locator("#train-stop").click()
    expect(b.locator("#train-status")).to_contain_text("You left the queue")

    expect(a.locator("#train-status")).to_contain_text("Finished", timeout=240_000)
    both_widths(a, "done")
    model_id = re.search(r"Model (\S+)", a.locator("#train-summary").inner_text()).group(1)
    assert model_id.startswith("pattern-stripes-transfer")
    assert "pattern" not in b.locator("#train-status").inner_text()  # B never sees A's run, data or result

    # A classifies with the new model.
    tab(a, "Image")
    picker = a.locator("#image-model input")
    picker.click()
    picker.fill(model_id)
    a.get_by_role("option", name=re.compile(re.escape(model_id))).first.click()
    a.locator("#image-input input[type=file]").set_input_files(str(a_test_photo(tmp_path)))
    expect(a.locator("#image-label")).to_contain_text(re.compile("pattern|stripes|none of these"))

    # A's Models tab marks it as A's alone and downloads it as .keras.
    tab(a, "Models")
    expect(a.locator("#models-table")).to_contain_text("yours (only you see it)")
    chosen = a.locator("#models-selected input")
    chosen.click()
    chosen.fill(model_id)
    a.get_by_role("option", name=model_id).first.click()
    a.locator("#models-download").click()
    with a.expect_download() as download:
        a.locator("#models-file a").first.click()
    assert download.value.suggested_filename == f"{model_id}.keras"
    saved = tmp_path / "model.keras"
    download.value.save_as(saved)
    own_file = next((space.model_dir / SESSIONS_DIR).rglob(f"{model_id}.keras"))
    assert saved.read_bytes() == own_file.read_bytes()

    # B: not in its pickers, not in its Models table, no pictures of A's; and not usable by name via the API.
    tab(b, "Image")
    b.locator("#image-model input").click()
    expect(b.get_by_role("option").first).to_be_visible()
    assert b.get_by_role("option", name=re.compile(re.escape(model_id))).count() == 0
    b.keyboard.press("Escape")
    tab(b, "Models")
    expect(b.locator("#models-table")).not_to_contain_text(model_id)
    tab(b, "Train")
    b.locator("#train-data input").click()
    b.get_by_role("option", name=re.compile("your own classes")).click()
    expect(b.locator("#collect-counts")).not_to_contain_text("pattern")
    other = Client(space.url, verbose=False)
    photo = handle_file(str(a_test_photo(tmp_path)))
    assert "No model" in error_of(other.predict, photo, model_id, api_name="/classify_image")
    other.close()

    # Nor are A's pictures or model served to anyone by their paths on the server (Gradio's file route).
    sessions = space.model_dir / SESSIONS_DIR
    private_files = [*sessions.rglob(f"{model_id}.keras"), *(p for c in a_collections for p in c.rglob("*.jpg"))]
    assert any(p.suffix == ".keras" for p in private_files) and any(p.suffix == ".jpg" for p in private_files)
    for path in private_files[:5]:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{space.url}gradio_api/file={path.resolve()}", timeout=10)
        assert refused.value.code in (403, 404)

    # A's tab closes: A's model and pictures are gone from disk.
    a.context.close()
    deadline = 60_000
    while deadline > 0 and (any(sessions.rglob(f"{model_id}*")) or any(p.exists() for p in a_collections)):
        b.wait_for_timeout(500)
        deadline -= 500
    assert not list(sessions.rglob(f"{model_id}*"))
    assert not any(p.exists() for p in a_collections)
    b.context.close()
