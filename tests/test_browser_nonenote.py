"""In a real browser: a picture the model declines gets a note with the model's own classes under the answer, and
its "Teach it your own classes" lands in the Train tab's collection builder, ready to add classes; where training
is off, the note says so instead (issue #24). Screenshots at 1280 and 390 px."""

import re

import pytest
from PIL import Image

from dlapp.tasks.image import EXAMPLES_DIR
from dlapp.testing import AppServer, a_picture_of_nothing, add_class, opened, screenshot, tab, upload_photo

pytestmark = pytest.mark.browser

CAT = next(EXAMPLES_DIR.glob("*-cat.png"))


def the_default(server: AppServer):
    from dlapp.inference import get_predictor

    return get_predictor("image", None, store=server.store())


@pytest.mark.parametrize("width", [1280, 390])
def test_a_declined_picture_says_what_the_model_knows_and_leads_to_the_builder(browser, app_server, tmp_path, width):
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    model = the_default(app_server)
    nothing = a_picture_of_nothing(tmp_path, model)  # declined (or unsure), as the engine says first
    note = model.note(model.classify(nothing, k=5))
    with opened(browser, app_server.url, width) as page:
        # Leave the Train tab on the text task: the path must still land on the image builder.
        tab(page, "Train")
        page.locator("#train-task").get_by_text("text", exact=True).click()
        expect(page.locator("#train-data input")).to_have_value("imdb")
        tab(page, "Image")
        upload_photo(page, CAT)  # an answer the model is sure of has no note
        expect(page.locator("#image-label")).to_contain_text("cat")
        expect(page.locator("#image-note-box")).to_be_hidden()
        upload_photo(page, nothing)
        expect(page.locator("#image-note")).to_have_text(note)
        assert f"this model knows ({', '.join(model.class_names)})" in note
        teach = page.locator("#image-teach")
        expect(teach).to_be_visible()
        teach.scroll_into_view_if_needed()
        screenshot(page, f"nonenote-{width}")
        teach.click()
        expect(page.get_by_role("tab", name="Train")).to_have_attribute("aria-selected", "true")
        expect(page.locator("#train-task input[value=image]")).to_be_checked()
        expect(page.locator("#train-data input")).to_have_value(re.compile("your own classes"))
        expect(page.locator("#train-preset input")).to_have_value("transfer")
        name = page.locator("#collect-name textarea, #collect-name input").first
        expect(page.locator("#collect")).to_be_visible()
        expect(name).to_be_in_viewport()  # scrolled to, on a phone too
        expect(name).to_be_focused()
        page.wait_for_timeout(500)  # the scroll has settled
        screenshot(page, f"nonenote-builder-{width}")
        add_class(page, "mug")  # ready to add classes


@pytest.fixture(scope="module")
def closed_server(tmp_path_factory):
    server = AppServer(tmp_path_factory.mktemp("closed") / "models", env={"DLAPP_TRAINING": "off"})
    yield server
    server.stop()
    server.assert_no_traceback()


def test_where_training_is_off_the_note_says_so_and_offers_no_path(browser, closed_server, tmp_path):
    from playwright.sync_api import expect

    from dlapp.ui.image_tab import TRAINING_OFF

    expect.set_options(timeout=30_000)
    model = the_default(closed_server)
    nothing = a_picture_of_nothing(tmp_path, model)
    with opened(browser, closed_server.url, 390) as page:
        upload_photo(page, nothing)
        expect(page.locator("#image-note")).to_contain_text(model.note(model.classify(nothing, k=5)))
        expect(page.locator("#image-note")).to_contain_text(TRAINING_OFF)
        expect(page.locator("#image-teach")).to_be_hidden()
        page.locator("#image-note").scroll_into_view_if_needed()
        screenshot(page, "nonenote-training-off-390")


def test_a_users_class_names_show_as_written_never_as_markup(browser, app_server, tmp_path):
    """Class names are a user's folder names: the note shows them character for character, and runs nothing."""
    from playwright.sync_api import expect

    from dlapp.testing import constant_model

    expect.set_options(timeout=30_000)
    names = ["<img src=x onerror=window.pwned=1>", "*pen* [a](javascript:window.pwned=2)"]
    constant_model(app_server.store(), "hostile-names", names, bias=(0, 0), none_threshold=0.6)
    grey = tmp_path / "grey.png"
    Image.new("RGB", (64, 64), (128, 128, 128)).save(grey)
    with opened(browser, app_server.url, 1280) as page:
        picker = page.locator("#image-model input")
        picker.click()
        picker.fill("hostile-names")
        page.get_by_role("option", name=re.compile("hostile-names")).first.click()
        expect(page.locator("#image-model-info")).to_contain_text("2 classes")
        upload_photo(page, grey)
        expect(page.locator("#image-note")).to_have_text(
            f"This looks like none of the 2 things this model knows ({names[0]}, {names[1]}).")
        assert page.locator("#image-note img, #image-note a, #image-note em").count() == 0
        assert page.evaluate("window.pwned") is None
