"""Issue #23, item 11, in a real browser: errors clear the last answer and say their sentence once,
accented reviews keep their letters, and a review without a known word gets no verdict.
Screenshots at 1280 and 390 px go to test-artifacts/screenshots/ (see tests/test_browser.py)."""
import pytest

from dlapp.testing import a_test_photo, expected_top, opened, screenshot, tab, upload_photo

pytestmark = pytest.mark.browser

ACCENTED = "C'était un film großartige, vraiment génial! Wonderful acting, naïve but moving."
CHINESE = "这部电影很好看，演员非常出色。"
NOT_AN_IMAGE = "not an image format"


def not_an_image(tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("this is a text file, renamed")
    return fake


def test_repeated_clicks_on_a_bad_picture_show_its_error_once(page, tmp_path):
    from playwright.sync_api import expect

    upload_photo(page, not_an_image(tmp_path))
    messages = page.locator(".toast-message-item").filter(has_text=NOT_AN_IMAGE)
    expect(messages).to_have_count(1)  # the upload classifies it once
    for n in (2, 3, 4):
        page.locator("#classify-button").click()
        expect(messages).to_have_count(n)  # Gradio keeps every one...
    expect(page.locator(".toast-message-item:visible")).to_have_count(1)  # ...and the sentence shows once
    expect(page.locator(".toast-body:visible")).to_have_count(1)


def test_an_error_on_the_image_tab_clears_the_last_answer(app_server, browser, tmp_path):
    from playwright.sync_api import expect

    photo = a_test_photo(tmp_path)
    top = expected_top(app_server, photo)
    for width in (1280, 390):
        with opened(browser, app_server.url, width) as page:
            upload_photo(page, photo)
            expect(page.locator("#image-label")).to_contain_text(top)
            expect(page.locator("#explain-class input[type=radio]").first).to_be_visible()
            upload_photo(page, not_an_image(tmp_path))
            expect(page.locator("#image-label")).not_to_contain_text(top)
            expect(page.locator("#image-seen img")).to_have_count(0)
            expect(page.locator("#image-cam img")).to_have_count(0)
            expect(page.locator("#explain-class input[type=radio]")).to_have_count(0)
            expect(page.locator(".toast-message-item:visible").filter(has_text=NOT_AN_IMAGE)).to_have_count(1)
            screenshot(page, f"image-after-error-{width}", full_page=True)


def analyze(page, review: str) -> None:
    page.locator("#review-input textarea").fill(review)
    page.locator("#analyze-button").click()


def test_an_error_on_the_sentiment_tab_clears_the_last_answer(page):
    from playwright.sync_api import expect

    tab(page, "Sentiment")
    analyze(page, "This movie was wonderful, I loved every minute.")
    expect(page.locator("#sentiment-label")).to_contain_text("positive")
    expect(page.locator("#review-words")).to_contain_text("wonderful")
    analyze(page, "   ")
    expect(page.locator(".toast-message-item").filter(has_text="empty")).to_have_count(1)
    expect(page.locator("#sentiment-label")).not_to_contain_text("positive")
    expect(page.locator("#review-words")).not_to_contain_text("wonderful")
    expect(page.locator("#review-note")).not_to_contain_text("read")


@pytest.mark.parametrize("width", [1280, 390])
def test_accented_and_unknown_reviews_read_as_written(app_server, browser, width):
    from playwright.sync_api import expect

    with opened(browser, app_server.url, width) as page:
        tab(page, "Sentiment")
        analyze(page, ACCENTED)
        words = page.locator("#review-words")
        for word in ("C'était", "großartige,", "génial!", "naïve"):
            expect(words).to_contain_text(word)
        expect(page.locator("#sentiment-label")).to_contain_text("%")
        expect(page.locator("#review-note")).to_contain_text("read all 11 words")  # as written, not its 15 tokens
        screenshot(page, f"sentiment-accented-{width}", full_page=True)
        analyze(page, CHINESE)
        expect(page.locator("#sentiment-label")).to_contain_text("no verdict")
        expect(page.locator("#sentiment-label")).not_to_contain_text("%")
        expect(page.locator("#review-note")).to_contain_text("knows none of this review's words")
        expect(words).to_contain_text(CHINESE)
        screenshot(page, f"sentiment-no-known-word-{width}", full_page=True)
