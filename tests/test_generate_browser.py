"""The Generate tab's 2-D game in a real browser: Play converges, the step mode moves one side at a time, the
collapse preset covers fewer modes, bad settings get a readable error; screenshots at 1280 and 390 px."""

from __future__ import annotations

import re

import pytest

from dlapp import limits
from dlapp.testing import opened, plot_points, screenshot, tab, toast

pytestmark = pytest.mark.browser

PLAY_TIMEOUT_MS = 240_000  # the ring converges in ~1,000 generator steps (~10 s on an idle core); a loaded machine


FIGURES = re.compile(r"Modes covered: (\d+) of (\d+).*?on target: (\d+)%.*?generator step ([\d,]+)", re.S)


def quality(page) -> tuple[int, int, int, int] | None:
    """(modes covered, modes, % of points on target, generator step) as the page says them, or None before the
    first frame."""
    m = FIGURES.search(page.locator("#gan2d-quality").inner_text())
    if not m:
        return None
    covered, modes, on_target, step = m.groups()
    return int(covered), int(modes), int(on_target), int(step.replace(",", ""))


def play_until(page, done, what: str) -> tuple[int, int, int, int]:
    """Watch the quality line until `done(figures)`; returns the figures then."""
    seen = None
    for _ in range(PLAY_TIMEOUT_MS // 250):
        now = quality(page)
        if now is not None:
            seen = now
            if done(now):
                return now
        page.wait_for_timeout(250)
    raise AssertionError(f"{what}: never happened; last figures {seen}")


def open_game(page) -> None:
    from playwright.sync_api import expect

    tab(page, "Generate")
    expect(page.locator("#gan2d-play")).to_be_visible()


def test_press_play_and_watch_the_ring_converge_then_pause(page):
    from playwright.sync_api import expect

    open_game(page)
    page.locator("#gan2d-play").click()
    expect(page.locator("#gan2d-play")).to_contain_text("Pause")
    first = play_until(page, lambda q: q[3] > 0, "a first frame")
    covered, modes, on_target, step = play_until(page, lambda q: q[0] == q[1] and q[2] >= 80, "convergence")
    assert step > first[3] and modes == 8
    shown = 2 * limits.GAN2D_POINTS_SHOWN
    assert plot_points(page, "gan2d-field") >= shown, "the real and generated points are not all drawn"
    expect(page.locator("#gan2d-quality")).to_contain_text("converged")
    expect(page.locator("#gan2d-losses .js-plotly-plot")).to_be_visible()
    page.locator("#gan2d-play").click()  # Pause: the step count stops
    expect(page.locator("#gan2d-play")).to_contain_text("Play")
    page.wait_for_timeout(1500)
    paused = quality(page)[3]
    page.wait_for_timeout(2000)
    assert quality(page)[3] == paused, "the game kept playing after Pause"
    page.wait_for_timeout(500)
    screenshot(page, "generate-converged", full_page=True)


def test_step_mode_moves_one_side_at_a_time_and_bad_settings_say_why(page):
    from playwright.sync_api import expect

    open_game(page)
    step, status = page.locator("#gan2d-step"), page.locator("#gan2d-status")
    expect(step).to_contain_text("Step: discriminator")
    step.click()
    expect(status).to_contain_text("one discriminator step")
    expect(page.locator("#gan2d-quality")).to_contain_text("generator step 0 (discriminator steps 1)")
    expect(step).to_contain_text("Step: generator")
    step.click()
    expect(status).to_contain_text("one generator step")
    expect(page.locator("#gan2d-quality")).to_contain_text("generator step 1 (discriminator steps 1)")
    expect(step).to_contain_text("Step: discriminator")

    page.locator("#gan2d-settings").get_by_text("Settings").first.click()
    steps = page.locator("#gan2d-d-steps input[type=number]")
    steps.fill("2")
    steps.press("Enter")  # a changed setting starts a new game: D, D, then G
    expect(page.locator("#gan2d-quality")).to_contain_text("generator step 0 (discriminator steps 0)")
    for words in ("discriminator step 1 of 2", "discriminator step 2 of 2", "one generator step"):
        step.click()
        expect(status).to_contain_text(words)
    expect(page.locator("#gan2d-quality")).to_contain_text("generator step 1 (discriminator steps 2)")
    screenshot(page, "generate-step", full_page=True)

    rate = page.locator("#gan2d-d-lr input")
    rate.fill("0.5")
    rate.press("Enter")
    toast(page, "learning rate must be a number above 0.0 and at most 0.1")
    rate.fill("0.002")
    rate.press("Enter")
    step.click()
    expect(status).to_contain_text("discriminator step 1 of 2")  # the app keeps serving


def test_the_collapse_preset_covers_fewer_modes_on_a_phone(browser, app_server):
    from playwright.sync_api import expect

    with opened(browser, app_server.url, 390, height=844) as phone:
        expect.set_options(timeout=30_000)
        open_game(phone)
        phone.get_by_text("Provoke mode collapse").click()
        expect(phone.locator("#gan2d-preset-says")).to_contain_text("faster than the discriminator")
        expect(phone.locator("#gan2d-status")).to_contain_text("A new game")  # the preset's game is ready
        phone.locator("#gan2d-play").click()
        covered, modes, _, step = play_until(phone, lambda q: q[3] >= 400, "400 generator steps")
        assert covered <= 3 < modes, f"the collapse preset covered {covered} of {modes} modes"
        phone.locator("#gan2d-play").click()
        expect(phone.locator("#gan2d-play")).to_contain_text("Play")
        phone.wait_for_timeout(1000)
        screenshot(phone, "generate-collapse-phone", full_page=True)
        width = phone.locator("#gan2d-field .js-plotly-plot").bounding_box()["width"]
        assert width >= 280, f"the field is {width:.0f} px wide on a 390-px phone: it shares its row"
