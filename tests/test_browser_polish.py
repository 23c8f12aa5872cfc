"""The trial's UI snags (issue #23, items 15-16), checked in a real browser at 1280 and 390 px.

Playwright drives Debian's Chromium against the real app (fixtures in conftest.py, helpers in
dlapp.testing); screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import time

import pytest

from dlapp import limits
from dlapp.testing import (
    LONG_MODEL_ID,
    add_class,
    click_confusion_cell,
    count_of,
    needs_data,
    opened,
    own_classes_page,
    plot_points,
    press_start,
    press_stop,
    progress,
    screenshot,
    set_number,
    tab,
)

pytestmark = pytest.mark.browser

WIDTHS = pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
LONG_ID = LONG_MODEL_ID  # pristine_server (conftest.py) has a copy of cifar10-fast under it


@pytest.fixture(autouse=True)
def patient_expect():
    """The explanations take seconds on two shared cores: wait up to 30 s, as test_browser.py's pages do."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def polish_server(pristine_server):
    """An app over the shipped models plus a copy under a long id, that no test changes (conftest.py)."""
    return pristine_server


@pytest.fixture(scope="module")
def space_server(closed_space_server):
    """A Space with training off and no admin password (conftest.py; private training: test_browser_private.py)."""
    return closed_space_server


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def lines_of(page, selector: str, text: str) -> int:
    """How many lines `text` takes inside `selector` (1: it does not wrap)."""
    return page.locator(selector).evaluate("""(el, text) => {
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            const i = n.textContent.indexOf(text);
            if (i < 0) continue;
            const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + text.length);
            return new Set([...r.getClientRects()].map(q => Math.round(q.top))).size;
        }
        return -1; }""", text)


def looks_like_a_button(page, selector: str) -> bool:
    """A filled or bordered control, not text on the page's background."""
    return page.locator(selector).evaluate("""el => {
        const cs = getComputedStyle(el);
        const filled = cs.backgroundColor !== 'rgba(0, 0, 0, 0)' && cs.backgroundColor !== 'transparent';
        let under = el.parentElement, bg = 'rgba(0, 0, 0, 0)';
        while (under && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {
            bg = getComputedStyle(under).backgroundColor; under = under.parentElement; }
        return (filled && cs.backgroundColor !== bg) || parseFloat(cs.borderTopWidth) > 0; }""")


@WIDTHS
def test_image_tab_pictures_headings_and_stages_read_well(browser, polish_server, width):
    from playwright.sync_api import expect

    with opened(browser, polish_server.url, width) as page:
        page.get_by_text("Examples (CIFAR-10 test images; click one)").locator("..").locator("img").first.click()
        expect(page.locator("#image-label")).to_contain_text("%")
        expect(page.locator("#image-label")).to_contain_text("Top 5 of 10 classes")  # says how many it knows
        for picture in ("#image-seen", "#image-cam"):
            expect(page.locator(f"{picture} img")).to_be_visible()
            image = box(page, f"{picture} img")
            for label in page.locator(f"{picture} [data-testid=block-label]").all():
                assert not label.is_visible() or not overlap(label.bounding_box(), image), picture  # no label on it
        page.locator("#image-inside").get_by_text("Inside the model").click()
        stages = page.locator("#image-stages .caption-label")
        expect(stages.first).to_be_visible()
        captions = stages.all_inner_texts()
        assert len(captions) >= 3, captions
        for k, caption in enumerate(captions, 1):  # "Stage 3 · 16×16 · 256 maps", not "activation_4"
            assert re.fullmatch(rf"Stage {k} · \d+×\d+ · \d+ maps", caption), captions
        assert stages.evaluate_all("cs => cs.every(c => c.scrollWidth <= c.clientWidth + 1)"), "captions cut off"
        wrap = page.locator("#image-stages .grid-wrap")
        assert wrap.evaluate("e => e.scrollHeight <= e.clientHeight + 1"), "stages hide in an inner scroll box"
        page.locator("#image-stages img").last.scroll_into_view_if_needed()
        page.wait_for_function("() => [...document.querySelectorAll('#image-stages img')]"
                               ".every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
        screenshot(page, f"polish-image-{width}", full_page=True)


@WIDTHS
def test_the_trajectory_is_a_full_width_chart_and_its_table_does_not_wrap(browser, polish_server, width):
    from playwright.sync_api import expect

    with opened(browser, polish_server.url, width) as page:
        tab(page, "Sentiment")
        page.locator("#review-input textarea").fill("The first hour has zero plot. But the acting is wonderful. "
                                                    "The ending is brilliant. I loved it.")
        page.locator("#analyze-button").click()
        expect(page.locator("#sentiment-label")).to_contain_text("positive")
        page.locator("#review-trajectory").get_by_text("How the verdict moves").click()
        expect(page.locator("#review-trajectory-plot .js-plotly-plot")).to_be_visible()
        page.wait_for_function("() => document.querySelectorAll('#review-trajectory-plot .points path').length >= 4")
        assert plot_points(page, "review-trajectory-plot") == 4  # one per sentence
        chart = box(page, "#review-trajectory-plot .js-plotly-plot")
        assert chart["width"] >= 0.75 * min(width, 1000) and chart["height"] >= 250, chart  # not a thumbnail
        expect(page.locator("#review-sentences")).to_contain_text("I loved it")
        assert lines_of(page, "#review-sentences", "P(positive)") == 1
        screenshot(page, f"polish-sentiment-{width}", full_page=True)


@WIDTHS
def test_models_tab_opens_on_the_default_keeps_the_mark_in_view_and_cells_readable(browser, polish_server, width):
    from playwright.sync_api import expect

    with opened(browser, polish_server.url, width) as page:
        tab(page, "Models")
        expect(page.locator("#models-table")).to_contain_text(LONG_ID)
        expect(page.locator("#models-selected input")).to_have_value("cifar10-best")  # the default, not the first
        expect(page.locator("#models-summary")).to_contain_text("cifar10-best: ")
        if width >= 1024:  # the default mark stays in view beside long ids (a phone scrolls the table)
            mark = page.locator("#models-table th").filter(has_text="default").first
            expect(mark).to_be_visible()
            table = box(page, "#models-table")
            head = mark.bounding_box()
            assert head["x"] >= table["x"] and head["x"] + head["width"] <= table["x"] + table["width"] + 1
        assert looks_like_a_button(page, "#models-make-default")
        numbers = page.locator("#models-confusion .js-plotly-plot text").filter(has_text=re.compile(r"^\d+$"))
        expect(numbers.first).to_be_visible()
        sizes = numbers.evaluate_all("ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize))")
        assert len(sizes) >= 100 and min(sizes) >= 11, sizes[:5]  # every count, at a readable size
        screenshot(page, f"polish-models-{width}", full_page=True)


@needs_data
@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_a_clicked_heat_map_cell_opens_its_examples(browser, polish_server, width):
    from playwright.sync_api import expect

    with opened(browser, polish_server.url, width) as page:
        tab(page, "Models")
        expect(page.locator("#models-confusion .js-plotly-plot")).to_be_visible()
        click_confusion_cell(page, "models-confusion", 3, 5)
        expect(page.locator("#models-cell-title")).to_contain_text("cat → dog")
        expect(page.locator("#models-cell-images img").first).to_be_visible(timeout=60_000)


@WIDTHS
def test_the_builder_follows_the_data_picker_with_real_buttons_and_mib(camera_browser, polish_server, width):
    from playwright.sync_api import expect

    page = own_classes_page(camera_browser, polish_server.url, width)
    try:
        data = box(page, "#train-data")
        builder = box(page, "#collect")
        assert builder["y"] >= data["y"] + data["height"], (data, builder)  # below the form, not above it
        add_class(page, "mug")
        expect(page.locator("#collect-counts")).to_contain_text(f"of {limits.COLLECTION_MAX_BYTES // 2**20} MiB")
        for button in ("#collect-add", "#collect-rename", "#collect-remove", "#collect-remove-sample",
                       "#collect-download", "#collect-load"):
            assert looks_like_a_button(page, button), button
        screenshot(page, f"polish-builder-{width}", full_page=True)
    finally:
        page.context.close()


def test_webcam_recording_asks_for_small_frames_and_keeps_adding_them(camera_browser, polish_server):
    """A burst asks the camera for 320×240 frames (collect.WEBCAM): samples are stored at 256 px at most, and
    a 640×480 frame cost the browser, the network and the server enough to hold the burst well under the
    4 frames/s the README promises. The rate itself is printed, not asserted (a shared machine's timing);
    measured with Chromium's fake camera: 2.3 frames/s before, 4.0 after (see the report of issue #23)."""
    from dlapp.ui.collect import RECORD_EVERY_S

    page = own_classes_page(camera_browser, polish_server.url, 1280)
    try:
        add_class(page, "pattern")
        cam = page.locator("#collect-webcam")
        access, record = cam.get_by_text("Click to Access Webcam"), cam.locator("button", has_text="Record")
        access.or_(record).first.wait_for()
        if access.count():
            access.click()
        record.click()
        page.wait_for_function("() => /pattern\\*?\\*?: [1-9]/.test(document.querySelector('#collect-counts')"
                               ".innerText)", timeout=30_000)
        width = cam.locator("video").evaluate("v => v.videoWidth")
        n0, t0 = count_of(page, "pattern"), time.monotonic()
        page.wait_for_timeout(10_000)
        n1, t1 = count_of(page, "pattern"), time.monotonic()
        cam.locator("button", has_text="Stop").click()
        rate = (n1 - n0) / (t1 - t0)
        print(f"webcam burst: {rate:.2f} frames/s ({n1 - n0} in {t1 - t0:.1f} s; asked for "
              f"{1 / RECORD_EVERY_S:.0f}); frames {width} px wide")
        assert 0 < width <= 320, width
        assert n1 - n0 >= 5  # it kept recording
    finally:
        page.context.close()


@WIDTHS
def test_a_space_visitor_sees_what_they_can_do_not_buttons_that_fail(browser, space_server, width):
    from playwright.sync_api import expect

    with opened(browser, space_server.url, width) as page:
        tab(page, "Train")
        closed = page.locator("#train-closed")
        expect(closed).to_contain_text("not open to visitors")
        expect(closed).to_contain_text("duplicate this Space")
        expect(page.get_by_text("DLAPP_TRAINING")).to_have_count(0)
        expect(page.locator("#train-start")).to_be_hidden()
        expect(page.locator("#train-status")).to_be_visible()  # a run its owner starts can still be watched
        expect(page.locator("#loss-plot .js-plotly-plot")).to_be_visible()
        screenshot(page, f"polish-space-train-{width}", full_page=True)
        tab(page, "Models")
        expect(page.locator("#models-visitor")).to_contain_text("use it on the Image and Sentiment tabs")
        for action in ("#models-make-default", "#models-delete", "#models-confirm", "#models-password",
                       "#models-prune"):
            expect(page.locator(action)).to_be_hidden()
        expect(page.get_by_text("Push to the Hugging Face Hub")).to_be_hidden()
        screenshot(page, f"polish-space-models-{width}", full_page=True)


@needs_data
def test_live_curves_draw_while_training_and_stop_keeps_the_bar(browser, app_server, client):
    """A tiny real training (30 images per class, many short epochs): the Plotly curves gain points
    tick after tick, the accuracy axis ends at 100%, the train line has one point per epoch; Stop
    leaves the bar where it stopped, says nothing was saved, and the next run starts from zero."""
    from playwright.sync_api import expect

    with opened(browser, app_server.url, 1280, height=1000) as page:
        tab(page, "Train")
        set_number(page, "train-subset", 30)
        set_number(page, "train-epochs", 40)
        set_number(page, "train-batch", 16)
        press_start(page, client)
        counts, state = [], "idle"
        for _ in range(1200):
            state, _ = progress(page)
            drawn = plot_points(page, "loss-plot")
            if state == "running" and (not counts or drawn > counts[-1]):
                counts.append(drawn)
            if len(counts) >= 4 or state in ("done", "failed", "cancelled"):
                break
            page.wait_for_timeout(250)
        assert state == "running" and len(counts) >= 4, (state, counts)  # the chart redrew with more points
        acc = page.locator("#acc-plot .js-plotly-plot")
        assert acc.evaluate("gd => gd._fullLayout.yaxis.range") == [0, 1]
        assert acc.evaluate("gd => gd.data.find(t => t.name === 'train').x.every(Number.isInteger)")
        screenshot(page, "polish-train-running-1280")
        page.set_viewport_size({"width": 390, "height": 1000})
        page.wait_for_timeout(1500)  # the charts follow the new width
        screenshot(page, "polish-train-running-390", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 1000})
        state = press_stop(page)
        assert state == "cancelled"
        bar = page.locator("#train-progress .dlapp-progress")
        assert float(bar.get_attribute("data-progress")) > 0  # not emptied
        expect(bar).to_contain_text("stopped at epoch")
        expect(page.locator("#train-status")).to_contain_text("Nothing was saved")
        expect(page.locator("#train-status")).not_to_contain_text("previous model")
        screenshot(page, "polish-train-stopped-1280")

        before = client.predict(api_name="/training_status")["id"]
        page.locator("#train-start").click()
        expect(bar).not_to_contain_text("stopped at")  # the last run's place goes at once
        expect(page.locator("#train-status")).to_contain_text(f"run #{before + 1}")
        client.predict(api_name="/stop_training")
        expect(page.locator("#train-status")).to_contain_text("Stopped", timeout=60_000)
