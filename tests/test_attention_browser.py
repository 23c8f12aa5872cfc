"""The attention view in a real browser: for imdb-attention the Sentiment tab shows, beside the
word attributions, where the model pooled, the rollout, the agreement figure and the caution; for
imdb-fast (no attention) none of it. Screenshots at 1280 and 390 px go to test-artifacts/screenshots/."""

import re

import pytest

from dlapp.testing import REPO, opened, screenshot, tab

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (REPO / "models" / "imdb-attention.json").exists(),
                                 reason="imdb-attention is not shipped yet (models/)")]

REVIEW = ("The first hour drags and the plot is thin. But the acting is wonderful, the music is superb, "
          "and the ending moved me.")


def choose_text_model(page, model_id: str) -> None:
    from playwright.sync_api import expect

    for _ in range(5):  # a click that lands while the models timer redraws the dropdown does not open it
        page.locator("h1").first.click()
        page.locator("#text-model input").click()
        option = page.get_by_role("option").filter(has_text=model_id)
        if option.count():
            option.first.click()
            break
        page.keyboard.press("Escape")
    expect(page.locator("#text-model input")).to_have_value(re.compile(rf"^{re.escape(model_id)}\b"))


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_the_attention_view_appears_for_attention_models_only(browser, app_server, width):
    from playwright.sync_api import expect

    with opened(browser, app_server.url, width) as page:
        tab(page, "Sentiment")
        choose_text_model(page, "imdb-attention")
        page.locator("#review-input textarea").fill(REVIEW)
        page.locator("#analyze-button").click()
        expect(page.locator("#review-words")).to_contain_text("wonderful", timeout=60_000)  # the attributions stay
        pooled = page.locator("#review-pooled")
        expect(pooled).to_be_visible()
        expect(pooled).to_contain_text("Where the model pooled")
        expect(pooled).to_contain_text("an even share")  # the legend
        expect(pooled).to_contain_text("wonderful")
        expect(page.locator("#review-rollout")).to_contain_text("attention rollout")
        note = page.locator("#review-attention-note")
        expect(note).to_contain_text("agree with what removing each word does")
        expect(note).to_contain_text("not why it decided")
        screenshot(page, f"attention-view-{width}", full_page=True)

        choose_text_model(page, "imdb-fast")
        page.locator("#analyze-button").click()
        expect(page.locator("#review-words")).to_contain_text("wonderful", timeout=60_000)
        expect(pooled).to_be_hidden()
        expect(page.locator("#review-rollout")).to_be_hidden()
        expect(note).to_be_hidden()
        screenshot(page, f"attention-view-none-{width}", full_page=True)
