"""The web app with a generator in the cache: it starts, /list_models carries every model's headline, and the
Models tab shows a generator's headline and report (never "None%"), with no export box and no confusion cells."""

from __future__ import annotations

import pytest

from dlapp.testing import AppServer, opened, screenshot, tab, toy_generator


@pytest.fixture(scope="module")
def gan_server(tmp_path_factory):
    """The real app over the shipped models, with a (toy, untrained) generator in the user's cache."""
    from dlapp.store import ModelStore

    models = tmp_path_factory.mktemp("gan-app") / "models"
    models.mkdir()
    toy_generator(ModelStore(models))
    server = AppServer(models)
    yield server
    server.stop()


@pytest.mark.app
def test_list_models_gives_every_model_its_headline(gan_server):
    from gradio_client import Client

    listed = {m["id"]: m for m in Client(gan_server.url, verbose=False).predict(api_name="/list_models")}
    gan = listed["toy-gan"]
    assert gan["task"] == "generate" and gan["test_accuracy"] is None
    assert gan["headline"] == {"name": "requested-class accuracy", "value": 0.61, "text": "61.0%"}
    best = listed["cifar10-best"]
    assert best["headline"]["name"] == "test accuracy" and best["headline"]["value"] == best["test_accuracy"]
    gan_server.assert_no_traceback()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_the_models_tab_shows_a_generators_headline_and_report(browser, gan_server, width):
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    with opened(browser, gan_server.url, width) as page:
        tab(page, "Models")
        expect(page.locator("#models-table")).to_contain_text("61.0% requested-class accuracy")
        expect(page.locator("#models-table")).to_contain_text("93.6% test accuracy")
        page.locator("#models-selected input").click()
        page.get_by_role("option", name="toy-gan").click()
        summary = page.locator("#models-summary")
        expect(summary).to_contain_text("toy-gan: 61.0% requested-class accuracy")
        expect(summary).to_contain_text("frechet distance 12.5")
        expect(page.locator("#models-export-box")).to_be_hidden()  # a generator exports to no format here
        expect(page.locator("#models-confusion")).to_be_hidden()  # no empty frames: it has no confusion matrix
        expect(summary).not_to_contain_text("Confusion matrix")
        page.wait_for_timeout(1000)
        for where in ("#models-table", "#models-summary"):
            assert "None" not in page.locator(where).inner_text()
        said = summary.inner_text()
        assert "Calibration error" not in said and "Confidences not measured" not in said  # a classifier's only
        screenshot(page, f"models-generator-{width}", full_page=True)
        page.locator("#models-selected input").click()
        page.get_by_role("option", name="cifar10-best").click()
        expect(summary).to_contain_text("cifar10-best: 93.6% test accuracy")
        expect(page.locator("#models-export-box")).to_be_visible()  # back for a model that exports
        expect(page.locator("#models-confusion")).to_be_visible()
        expect(summary).to_contain_text("Confusion matrix")
        screenshot(page, f"models-classifier-after-generator-{width}", full_page=True)
    gan_server.assert_no_traceback()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_the_train_tabs_cell_control_comes_from_the_text_tasks_setting(browser, gan_server, width):
    from playwright.sync_api import expect

    from dlapp.tasks import TASKS

    setting = TASKS["text"].settings["cell"]
    expect.set_options(timeout=30_000)
    with opened(browser, gan_server.url, width) as page:
        tab(page, "Train")
        page.get_by_text("Expert settings").click()
        cell = page.get_by_label(setting.label)
        expect(cell).to_be_hidden()  # image: no such setting
        page.locator("#train-task").get_by_text("text", exact=True).click()
        expect(cell).to_be_visible()
        cell.click()
        for label in setting.choice_labels:
            expect(page.get_by_role("option", name=label)).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#train-form .pending")).to_have_count(0)
        page.wait_for_timeout(1000)
        screenshot(page, f"train-text-cell-{width}", full_page=True)
    gan_server.assert_no_traceback()
