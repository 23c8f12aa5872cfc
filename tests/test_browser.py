"""End to end in a real browser: Playwright driving Debian's Chromium against the real app.

Also takes the README's screenshots, into test-artifacts/screenshots/ (ignored by git);
scripts/refresh_screenshots.sh copies them to docs/.
"""

import json
import re
import shutil

import pytest
from PIL import Image

from dlapp.testing import (
    HAVE_DATA,
    a_test_photo,
    add_class,
    broken_images,
    click_confusion_cell,
    count_of,
    expected_top,
    needs_data,
    opened,
    own_classes_page,
    plot_points,
    press_start,
    press_stop,
    progress,
    record_until,
    screenshot,
    set_number,
    tab,
    toast,
    upload_photo,
)

pytestmark = pytest.mark.browser

def test_upload_an_image_and_read_the_top_label(page, app_server, tmp_path):
    from playwright.sync_api import expect

    photo = a_test_photo(tmp_path)
    upload_photo(page, photo)
    expect(page.locator("#image-label")).to_contain_text(expected_top(app_server, photo))
    screenshot(page, "image")


def test_type_a_review_and_read_the_sentiment(page):
    from playwright.sync_api import expect

    tab(page, "Sentiment")
    page.locator("#review-input textarea").fill("This movie was wonderful, I loved every minute.")
    page.locator("#analyze-button").click()
    expect(page.locator("#sentiment-label")).to_contain_text("positive")
    screenshot(page, "sentiment")


def test_bad_input_gets_a_readable_error_and_the_app_keeps_serving(page, tmp_path):
    from playwright.sync_api import expect

    fake = tmp_path / "notes.png"
    fake.write_text("this is a text file, renamed")
    upload_photo(page, fake)
    toast(page, "not an image format")
    page.reload()
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(broken_images()["truncated.jpg"])
    upload_photo(page, corrupt)
    toast(page, "damaged or truncated")
    big = tmp_path / "huge.png"
    Image.new("RGB", (7100, 7100), "gray").save(big)
    page.reload()
    upload_photo(page, big)
    toast(page, "megapixels")
    tab(page, "Sentiment")
    page.locator("#analyze-button").click()
    toast(page, "empty")
    page.locator("#review-input textarea").fill("Awful and boring, I hated every minute.")
    page.locator("#analyze-button").click()
    expect(page.locator("#sentiment-label")).to_contain_text("negative")


def test_picking_a_preset_fills_in_its_settings(page):
    from playwright.sync_api import expect

    from dlapp.tasks.image import PRESETS

    tab(page, "Train")
    picker = page.locator("#train-preset input")
    picker.click()
    page.get_by_role("option", name="seed (the tutorial model)", exact=True).click()
    seed = PRESETS["seed-cifar10"]
    expect(page.locator("#train-preset-help")).to_contain_text("tutorial")
    page.get_by_text("Expert settings").click()
    expect(page.locator("#train-batch input")).to_have_value(str(seed.batch_size))
    expect(page.locator("#train-validation input[type=number]")).to_have_value(str(seed.validation_split))


@needs_data
def test_train_watch_the_curve_then_use_the_new_model(page, browser, app_server, client, tmp_path):
    from playwright.sync_api import expect

    tab(page, "Train")
    set_number(page, "train-subset", 300)
    set_number(page, "train-epochs", 1)
    set_number(page, "train-batch", 16)
    press_start(page, client)
    seen, drawn = [], set()
    for _ in range(600):
        state, points = progress(page)
        if state == "running" and (not seen or points > seen[-1]):
            seen.append(points)
            drawn.add(plot_points(page, "loss-plot"))
        if state in ("done", "failed", "cancelled"):
            break
        page.wait_for_timeout(250)
    assert state == "done", page.locator("#train-status").inner_text()
    assert len(seen) >= 2, f"the curve never gained points while running: {seen}"
    assert len(drawn) >= 2, "the loss curve was not redrawn while training ran"
    expect(page.locator("#loss-plot .js-plotly-plot")).to_be_visible()
    expect(page.locator("#train-summary")).to_contain_text("Test accuracy")
    page.wait_for_timeout(2000)  # let the plots finish drawing their last update
    screenshot(page, "train", full_page=True)

    model_id = client.predict(api_name="/training_status")["model_id"]
    tab(page, "Image")
    picker = page.locator("#image-model input")
    picker.click()
    picker.fill(model_id)
    page.get_by_role("option", name=re.compile(re.escape(model_id))).first.click()
    photo = a_test_photo(tmp_path)
    upload_photo(page, photo)
    expect(page.locator("#image-label")).to_contain_text(expected_top(app_server, photo, model_id))
    tab(page, "Models")
    expect(page.locator("#models-table")).to_contain_text(model_id)
    screenshot(page, "models", full_page=True)

    client.predict(model_id=model_id, api_name="/delete_model")  # a later visitor still sees the run's figures
    with opened(browser, app_server.url, 1280) as later:
        tab(later, "Train")
        expect(later.locator("#train-summary")).to_contain_text("It has since been deleted.")
        expect(later.locator("#train-make-default")).to_be_hidden()


@needs_data
def test_stop_a_training_and_the_previous_model_still_serves(page, app_server, client, tmp_path):
    from playwright.sync_api import expect

    before = client.predict(api_name="/list_models")
    tab(page, "Train")
    set_number(page, "train-subset", 500)
    set_number(page, "train-epochs", 30)
    set_number(page, "train-batch", 8)
    press_start(page, client)
    for _ in range(400):
        state, points = progress(page)
        if state == "running" and points > 0:
            break
        page.wait_for_timeout(250)
    assert state == "running"
    state = press_stop(page)
    assert state == "cancelled"
    expect(page.locator("#train-status")).to_contain_text("Nothing was saved")
    assert client.predict(api_name="/list_models") == before
    tab(page, "Image")
    photo = a_test_photo(tmp_path)
    upload_photo(page, photo)
    expect(page.locator("#image-label")).to_contain_text(expected_top(app_server, photo))


def test_html_in_reviews_never_renders_as_markup(page, tmp_path):
    from playwright.sync_api import expect

    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> great film'
    tab(page, "Sentiment")
    page.locator("#review-input textarea").fill(payload)
    page.locator("#analyze-button").click()
    expect(page.locator("#sentiment-label")).to_contain_text("positive")
    csv = tmp_path / "reviews.csv"
    csv.write_text('text\n"' + payload.replace('"', '""') + '"\n"=1+1 awful"\n')
    page.get_by_text("A CSV of reviews at once").click()
    page.locator("#csv-input input[type=file]").set_input_files(str(csv))
    # The accessible name: the visible text splits the name and extension into spans ("reviews .csv").
    expect(page.locator("#csv-input").get_by_role("cell", name="reviews.csv")).to_be_visible()
    page.locator("#csv-button").click()
    expect(page.locator("#csv-preview")).to_contain_text("awful")
    expect(page.locator("#csv-preview")).to_contain_text("onerror")  # shown as text, not run
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    assert page.locator('img[src="x"]').count() == 0


def picker_options(page, elem_id) -> list[str]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(5):  # a click that lands while the timer redraws the dropdown does not open it
        page.locator("h1").first.click()  # blur first: a click on a focused dropdown closes it
        page.locator(f"#{elem_id} input").click()
        try:
            page.get_by_role("option").first.wait_for(timeout=2000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return options


def test_new_and_deleted_models_reach_the_pickers_without_a_reload(page, app_server, shipped_dir):
    from playwright.sync_api import expect

    copy = {ext: app_server.model_dir / f"cifar10-fast-copy{ext}" for ext in (".keras", ".json")}
    for ext, dest in copy.items():
        shutil.copy(shipped_dir / f"cifar10-fast{ext}", dest)
    try:
        for _ in range(40):  # the models timer ticks every 3 s
            if any("cifar10-fast-copy" in o for o in picker_options(page, "image-model")):
                break
            page.wait_for_timeout(500)
        options = picker_options(page, "image-model")
        accuracy = json.loads(copy[".json"].read_text())["metrics"]["test_accuracy"]
        assert any("cifar10-fast-copy" in o and f"{accuracy:.1%}" in o for o in options), options
        tab(page, "Models")
        expect(page.locator("#models-table")).to_contain_text("cifar10-fast-copy")
    finally:
        for dest in copy.values():
            dest.unlink()
    tab(page, "Image")
    for _ in range(40):
        if not any("cifar10-fast-copy" in o for o in picker_options(page, "image-model")):
            break
        page.wait_for_timeout(500)
    assert not any("cifar10-fast-copy" in o for o in picker_options(page, "image-model"))


def test_a_new_default_reaches_a_reloaded_page(page, client):
    from playwright.sync_api import expect

    client.predict(model_id="cifar10-fast", api_name="/set_default_model")
    try:
        page.reload()
        expect(page.locator("#image-model input")).to_have_value(re.compile("cifar10-fast"))
    finally:
        client.predict(model_id="cifar10-best", api_name="/set_default_model")


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    """The app as a new user runs it: no DLAPP_DATA_DIR."""
    from dlapp.testing import AppServer, copy_shipped_models

    server = AppServer(copy_shipped_models(tmp_path_factory.mktemp("fresh") / "models"), env={"DLAPP_DATA_DIR": ""})
    yield server
    server.stop()


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_a_fresh_install_shows_examples_that_run_on_every_tab(browser, fresh_server, width):
    from playwright.sync_api import expect

    with opened(browser, fresh_server.url, width) as page:
        expect(page.get_by_text("Examples (CIFAR-10 test images; click one)")).to_be_visible()
        page.get_by_text("Examples (CIFAR-10 test images; click one)").locator("..").locator("img").first.click()
        expect(page.locator("#image-label")).to_contain_text("%")
        expect(page.locator("#image-seen img")).to_be_visible()
        screenshot(page, f"image-{width}", full_page=True)
        tab(page, "Sentiment")
        page.get_by_text("This movie was wonderful", exact=False).first.click()
        expect(page.locator("#sentiment-label")).to_contain_text("positive")
        screenshot(page, f"sentiment-{width}", full_page=True)
        tab(page, "Train")
        expect(page.locator("#train-stop")).to_be_disabled()
        expect(page.locator("#train-preset-help")).to_contain_text("everyday choice")
        screenshot(page, f"train-{width}", full_page=True)
        tab(page, "Models")
        expect(page.locator("#models-summary")).to_contain_text("test accuracy")
        screenshot(page, f"models-{width}", full_page=True)
        if width >= 1024:  # Gradio itself folds its footer links away on phones
            expect(page.locator("footer").get_by_text(re.compile("API", re.I)).first).to_be_visible()


@needs_data
def test_text_training_results_are_readable_and_stay_after_make_default(page, client):
    from playwright.sync_api import expect

    tab(page, "Train")
    page.locator("#train-task").get_by_text("text", exact=True).click()
    expect(page.locator("#train-preset-help")).to_contain_text("reviews per class")
    set_number(page, "train-subset", 100)
    set_number(page, "train-epochs", 1)
    press_start(page, client)
    for _ in range(600):
        state, _ = progress(page)
        if state in ("done", "failed", "cancelled"):
            break
        page.wait_for_timeout(250)
    assert state == "done", page.locator("#train-status").inner_text()
    expect(page.locator("#train-status")).to_contain_text("started by you")
    table = page.locator("#wrong-texts")
    expect(table).to_contain_text("negative")
    assert "<br" not in table.inner_text()
    try:
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 1000})
            page.wait_for_timeout(500)
            box = table.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (width, box)  # nothing off-screen
            screenshot(page, f"train-text-{width}", full_page=True)
        page.locator("#train-make-default").click()
        expect(page.locator("#train-default-note")).to_contain_text("now the default text model")
        expect(page.locator("#train-summary")).to_contain_text("Test accuracy")  # the run's summary stays
    finally:
        client.predict(model_id="imdb-fast", api_name="/set_default_model")


def test_unfit_data_is_refused_before_training_and_says_why_once(page, client, tmp_path):
    from playwright.sync_api import expect

    from dlapp.testing import class_folder, zip_with

    folder = class_folder(tmp_path / "tiny", per_class=1, size=16)  # one image per class: nothing to test on
    archive = zip_with({f"tiny/{p.parent.name}/{p.name}": p.read_bytes() for p in folder.rglob("*.png")},
                       tmp_path / "tiny.zip")
    before = client.predict(api_name="/training_status").get("id")
    tab(page, "Train")
    page.locator("#train-data input").click()
    page.get_by_role("option", name=re.compile("your own data")).click()
    page.locator("#train-upload input[type=file]").set_input_files(str(archive))
    expect(page.locator("#train-upload")).to_contain_text("tiny")
    check = page.locator("#train-upload-check")
    expect(check).to_contain_text("Must fix")  # the data check, as soon as the file is in
    expect(check).to_contain_text("Add more samples to 'blue'")
    page.locator("#train-start").click()
    toast(page, "too few readable pictures")
    expect(page.locator(".toast-body").filter(has_text="too few readable pictures")).to_have_count(1)
    assert client.predict(api_name="/training_status").get("id") == before  # no run started
    screenshot(page, "train-refused")


def open_tidy_up(page, *, threshold: int) -> None:
    tab(page, "Models")
    page.get_by_text("Tidy up: delete weak models").click()
    box = page.locator("#models-threshold input").first
    box.wait_for(state="visible")
    box.fill(str(threshold))
    box.press("Tab")


def test_tidy_up_deletes_weak_models_and_keeps_the_defaults(browser, fresh_server):
    from playwright.sync_api import expect

    for shipped, mine in (("cifar10-seed", "my-seed"), ("cifar10-fast", "my-fast")):  # the user's own weak models
        for ext in (".keras", ".json"):
            source = fresh_server.store().model_path(shipped).with_suffix(ext)
            shutil.copy(source, fresh_server.model_dir / (mine + ext))
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(fresh_server.url)
        page.locator("#image-input").wait_for(timeout=60_000)
        tab(page, "Models")
        expect(page.locator("#models-table")).to_contain_text("my-seed")  # the timer's refresh, before typing
        open_tidy_up(page, threshold=90)
        page.locator("#models-prune").click()
        toast(page, "Tick the confirmation box")  # nothing goes without the tick
        assert (fresh_server.model_dir / "my-seed.keras").exists()
        page.reload()  # a fresh page: the refused click's error overlay would cover the checkbox
        page.locator("#image-input").wait_for(timeout=60_000)
        tab(page, "Models")
        expect(page.locator("#models-table")).to_contain_text("my-seed")
        open_tidy_up(page, threshold=90)
        page.locator("#models-confirm input").check()
        page.locator("#models-prune").click()
        expect(page.locator("#models-status")).to_contain_text("Deleted 2 model(s)")
        assert not list(fresh_server.model_dir.glob("my-*"))  # 83% and 68% went (under 90%)
        ids = {c.id for c in fresh_server.store().list()}
        assert {"cifar10-seed", "cifar10-fast"} <= ids  # shipped ones are read-only: kept
        expect(page.locator("#models-table")).not_to_contain_text("my-seed")
    finally:
        page.close()


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_why_an_image_got_its_label_and_what_the_cnn_computes(browser, app_server, width):
    from playwright.sync_api import expect

    with opened(browser, app_server.url, width) as page:
        expect(page.locator("#image-model-info")).to_contain_text("10 classes")
        expect(page.locator("#image-model-info")).to_contain_text("32×32 pixels")
        page.get_by_text("Examples (CIFAR-10 test images; click one)").locator("..").locator("img").first.click()
        expect(page.locator("#image-label")).to_contain_text("%")
        first = page.locator("#image-cam img")
        expect(first).to_be_visible()
        before = first.get_attribute("src")
        options = page.locator("#explain-class label")
        expect(options).to_have_count(5)
        options.nth(1).click()  # the runner-up: its evidence lies elsewhere
        expect(page.locator("#image-cam img")).not_to_have_attribute("src", before)
        page.locator("#image-inside").get_by_text("Inside the model").click()
        expect(page.locator("#image-stages img").first).to_be_visible()
        expect(page.locator("#image-layers")).to_contain_text("Conv2D")
        screenshot(page, f"explain-image-{width}", full_page=True)


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_which_words_drove_a_review_and_where_reading_stopped(browser, app_server, width):
    from playwright.sync_api import expect

    with opened(browser, app_server.url, width) as page:
        tab(page, "Sentiment")
        expect(page.locator("#text-model-info")).to_contain_text("256 words")
        review = ("The first hour has zero plot. But the acting is wonderful and the ending is brilliant. "
                  + "It goes on and on. " * 80)
        page.locator("#review-input textarea").fill(review)
        page.locator("#analyze-button").click()
        words = page.locator("#review-words")
        expect(words).to_contain_text("wonderful")
        expect(words).to_contain_text("strongly positive")  # the legend
        expect(page.locator("#review-note")).to_contain_text("read the first 256")
        page.locator("#review-trajectory").get_by_text("How the verdict moves").click()
        expect(page.locator("#review-sentences")).to_contain_text("But the acting is wonderful")
        screenshot(page, f"explain-text-{width}", full_page=True)


def pick_model(page, model_id: str) -> None:
    """Select a model on the Models tab and let its change event land (it closes any open cell)."""
    from playwright.sync_api import expect

    page.locator("#models-selected input").click()
    page.get_by_role("option", name=model_id).click()
    expect(page.locator("#models-summary")).to_contain_text(f"{model_id}: ")
    expect(page.locator("#models-summary .pending, #models-cell-title .pending")).to_have_count(0)
    page.wait_for_timeout(1000)


@pytest.fixture(scope="module")
def explain_server(pristine_server):
    """An app over the shipped models that no test trains on (conftest.py), so no training changes the Models tab."""
    return pristine_server


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_a_confusion_cell_opens_its_test_examples_explained(browser, explain_server, width):
    from playwright.sync_api import expect

    with opened(browser, explain_server.url, width) as page:
        tab(page, "Models")
        pick_model(page, "imdb-fast")
        expect(page.locator("#models-summary")).to_contain_text("Calibration error")
        expect(page.locator("#models-reliability .js-plotly-plot")).to_be_visible()
        # Shipped models keep no examples file (no data set is shipped): their cells read the data set.
        click_confusion_cell(page, "models-confusion", 1, 0)
        expect(page.locator("#models-cell-title")).to_contain_text("positive → negative")
        if not HAVE_DATA:
            expect(page.get_by_text("Point DLAPP_DATA_DIR at a folder").first).to_be_visible(timeout=60_000)
        else:
            expect(page.locator("#models-cell-reviews .dlapp-review")).to_have_count(6, timeout=60_000)
            pick_model(page, "cifar10-best")
            expect(page.locator("#models-summary")).to_contain_text("none of these")
            click_confusion_cell(page, "models-confusion", 3, 5)
            expect(page.locator("#models-cell-title")).to_contain_text("cat → dog")
            expect(page.locator("#models-cell-images img")).to_have_count(8, timeout=60_000)
            page.locator("#models-cell-images").scroll_into_view_if_needed()  # the gallery loads lazily
            page.wait_for_function("() => [...document.querySelectorAll('#models-cell-images img')]"
                                   ".every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
        screenshot(page, f"explain-cell-{width}", full_page=True)


# ---------------------------------------------------------------- your own classes, Teachable-Machine style

@pytest.mark.timeout(600)
def test_collect_classes_train_transfer_use_it_live_and_round_trip_the_zip(camera_browser, app_server, client,
                                                                           tmp_path):
    """The whole Teachable-Machine loop: two classes (webcam burst + files), train `transfer`,
    classify the live stream with the new model, download the collection, load it back."""
    import zipfile

    from playwright.sync_api import expect

    from dlapp.testing import distinct_pngs, wait_for_training, write_files

    page = own_classes_page(camera_browser, app_server.url, 1280)
    add_class(page, "pattern")
    record_until(page, "#collect-webcam", lambda: count_of(page, "pattern") >= 12)
    add_class(page, "tiles")
    tiles = write_files(tmp_path / "tiles", distinct_pngs(14, classes=("t",), size=40))
    page.locator("#collect-files input[type=file]").set_input_files(sorted(map(str, tiles.rglob("*.png"))))
    expect(page.locator("#collect-counts")).to_contain_text("tiles: 14")
    expect(page.locator("#train-preset input")).to_have_value("transfer")  # own pictures preselect transfer
    expect(page.locator("#train-preset-help")).to_contain_text("seconds for these")
    expect(page.locator("#collect-check")).to_contain_text("Data check")
    screenshot(page, "collect", full_page=True)

    before = client.predict(api_name="/training_status").get("id")  # an earlier test's run may show "Finished"
    page.locator("#train-start").click()
    expect(page.locator("#train-status")).to_contain_text(f"run #{(before or 0) + 1}", timeout=60_000)
    status = wait_for_training(client)
    assert status["id"] == (before or 0) + 1, status
    expect(page.locator("#train-status")).to_contain_text("Finished", timeout=30_000)
    model_id = status["model_id"]
    assert model_id.startswith("pattern-tiles-transfer") and status["state"] == "done"

    tab(page, "Image")
    picker = page.locator("#image-model input")
    picker.click()
    picker.fill(model_id)
    page.get_by_role("option", name=re.compile(re.escape(model_id))).first.click()
    page.locator("#image-live").get_by_text("Live webcam").click()
    record_until(page, "#image-live-input", lambda: "ms per frame" in page.locator("#image-live-note").inner_text())
    expect(page.locator("#image-live-note")).to_contain_text(model_id)
    expect(page.locator("#image-live-label")).to_contain_text("pattern")  # the fake camera's own class
    expect(page.locator(".toast-body")).to_have_count(0)  # its map, feature maps and filters came without an error
    screenshot(page, "live", full_page=True)

    tab(page, "Train")
    page.locator("#collect-download").click()
    with page.expect_download() as download:
        page.locator("#collect-zip a").first.click()
    archive = tmp_path / "collection.zip"
    download.value.save_as(archive)
    names = zipfile.ZipFile(archive).namelist()
    assert sum(n.startswith("pattern/") and n.endswith(".jpg") for n in names) == count_of(page, "pattern")
    assert sum(n.startswith("tiles/") and n.endswith(".jpg") for n in names) == 14
    counts = {n: count_of(page, n) for n in ("pattern", "tiles")}
    page.context.close()

    again = own_classes_page(camera_browser, app_server.url, 390)  # a new session starts empty...
    expect(again.locator("#collect-counts")).not_to_contain_text("pattern")
    with again.expect_file_chooser() as chooser:  # ...and picks up where it was
        again.locator("#collect-load").click()
    chooser.value.set_files(str(archive))
    expect(again.locator("#collect-counts")).to_contain_text(f"pattern: {counts['pattern']}")
    assert count_of(again, "tiles") == counts["tiles"]
    screenshot(again, "collect-phone", full_page=True)
    again.context.close()
