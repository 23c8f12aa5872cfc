"""A generate training in a real browser (issue 26's "done when"): it starts from the Train tab (task generate,
cifar10, a tiny subset), shows its live fixed-noise grid and its two losses, can be stopped; a run of one epoch
completes with the generator's own figures (no accuracy or confusion matrix), and its model draws in the Generate
tab at once, with what the image classifier sees in each picture. Screenshots at 1280 and 390 px."""

from __future__ import annotations

import re

import pytest

from dlapp.testing import needs_data, press_start, press_stop, progress, screenshot, set_number, tab

pytestmark = [pytest.mark.browser, pytest.mark.app, needs_data]

RUN_TIMEOUT_MS = 600_000  # a one-epoch run on 20 pictures per class: seconds idle, minutes on a loaded machine


def choose_generate(page) -> None:
    from playwright.sync_api import expect

    tab(page, "Train")
    page.locator("#train-task").get_by_text("generate", exact=True).click()
    expect(page.locator("#train-preset-help")).to_contain_text("conditional GAN")
    expect(page.locator("#train-data input")).to_have_value("cifar10")


def wait_state(page, states: tuple[str, ...], timeout_ms: int = RUN_TIMEOUT_MS) -> str:
    state = None
    for _ in range(timeout_ms // 250):
        state, _ = progress(page)
        if state in states:
            return state
        page.wait_for_timeout(250)
    raise AssertionError(f"never {states}; last {state}: {page.locator('#train-status').inner_text()}")


@pytest.mark.timeout(1800)  # two runs and a draw on a loaded 2-core machine: behaviour, not speed, is checked
def test_generate_training_shows_its_grid_stops_completes_and_draws_in_the_generate_tab(browser, app_server, client):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    expect.set_options(timeout=60_000)
    try:
        page.goto(app_server.url)
        page.locator("#image-input").wait_for(timeout=60_000)
        choose_generate(page)

        # A run long enough to stop (5 epochs of 100 per class): its grid and its losses show while it runs.
        set_number(page, "train-subset", 100)
        set_number(page, "train-epochs", 5)
        press_start(page, client)
        expect(page.locator("#train-status")).to_contain_text("generate model")
        grid = page.locator("#train-preview img")
        expect(grid).to_be_visible(timeout=RUN_TIMEOUT_MS)
        size = grid.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert size == [2 * (8 * 33 - 1), 2 * (10 * 33 - 1)], size  # 8 seeds × 10 classes of 32 px, enlarged 2×
        expect(page.locator("#train-preview-note")).to_contain_text("Rows, top to bottom: airplane, automobile")
        expect(page.locator("#loss-plot")).to_contain_text("discriminator", timeout=RUN_TIMEOUT_MS)
        expect(page.locator("#loss-plot")).to_contain_text("generator")
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 1000})
            page.wait_for_timeout(500)
            screenshot(page, f"train-generate-running-{width}", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 1000})
        assert press_stop(page) == "cancelled", page.locator("#train-status").inner_text()
        expect(page.locator("#train-status")).to_contain_text("Stopped")
        # Nothing saved: the only generator listed is the shipped one.
        assert [m["id"] for m in client.predict(api_name="/list_models") if m["task"] == "generate"] == ["cifar10-gan"]

        # One epoch on 20 per class completes: the generator's figures, and no classifier's widgets.
        set_number(page, "train-subset", 20)
        set_number(page, "train-epochs", 1)
        press_start(page, client)
        assert wait_state(page, ("done", "failed", "cancelled")) == "done", page.locator("#train-status").inner_text()
        summary = page.locator("#train-summary")
        expect(summary).to_contain_text("Requested-class accuracy")
        expect(summary).to_contain_text("Fréchet distance")
        expect(summary).not_to_contain_text("Test accuracy")
        expect(page.locator("#confusion")).to_be_hidden()
        expect(page.locator("#train-export-box")).to_be_hidden()
        expect(page.locator("#acc-plot")).to_contain_text("requested class recognised")
        screenshot(page, "train-generate-done-1280", full_page=True)
        model_id = client.predict(api_name="/training_status")["model_id"]
        assert model_id

        # The new generator draws in the Generate tab at once (the models timer puts it in the picker).
        tab(page, "Generate")
        # The models timer lists it within seconds; the shipped cifar10-gan stays the default, so pick it.
        picker = page.locator("#gen-model input")
        picker.click()
        page.get_by_role("option", name=re.compile("^" + re.escape(model_id))).click(timeout=30_000)
        expect(picker).to_have_value(re.compile("^" + re.escape(model_id)))
        page.locator("#gen-class input").click()
        page.get_by_role("option", name="horse", exact=True).click()
        page.locator("#gen-draw").click()
        expect(page.locator("#gen-gallery img")).to_have_count(16)
        seen = page.locator("#gen-seen")
        expect(seen).to_contain_text("16 pictures of 32×32 pixels")
        expect(seen).to_contain_text("cifar10-best sees the requested class in")
        expect(page.locator("#gen-table")).to_contain_text("horse")
        page.locator("#gen-class-b input").click()
        page.get_by_role("option", name="dog", exact=True).click()
        set_number(page, "gen-seed-b", 0)
        page.locator("#gen-walk-go").click()
        expect(page.locator("#gen-walk-gallery img")).to_have_count(8)
        expect(page.locator("#gen-walk-table")).to_contain_text(re.compile(r"horse → dog \d+%"))
        page.locator("#gan-draw").scroll_into_view_if_needed()
        page.locator("#gan-draw").screenshot(path=str(_shot("generate-gan-1280")))

        # On a phone: four pictures per row, none off-screen.
        page.set_viewport_size({"width": 390, "height": 900})
        page.wait_for_timeout(500)
        images = page.locator("#gen-gallery img")
        first, fifth = images.nth(0).bounding_box(), images.nth(4).bounding_box()
        assert fifth["y"] > first["y"] + first["height"] / 2, (first, fifth)  # the fifth starts the second row
        assert first["x"] >= 0 and images.nth(3).bounding_box()["x"] + first["width"] <= 391
        page.locator("#gan-draw").screenshot(path=str(_shot("generate-gan-390")))
    finally:
        page.close()


def _shot(name: str):
    from dlapp.testing import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / f"screenshot-{name}.png"
