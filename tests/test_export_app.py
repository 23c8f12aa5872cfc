"""The export centre in the real app: the /export_model endpoint through gradio_client, and the Models tab's
Export box in Chromium (pick a format, one click, the check's figures, the download)."""

from __future__ import annotations

import re
import zipfile

import pytest

from dlapp.testing import error_of, export_and_download, screenshot, tab


@pytest.mark.app
def test_export_model_endpoint_returns_a_checked_archive(client, tmp_path):
    import tempfile
    from pathlib import Path

    dead = Path(tempfile.gettempdir()) / "dlapp-exports-999999999"  # an app killed before it could tidy
    (dead / "shared").mkdir(parents=True, exist_ok=True)
    (dead / "shared" / "old.zip").write_bytes(b"x" * 1000)
    out = client.predict(model_id="cifar10-seed", format="onnx", api_name="/export_model")
    assert not dead.exists()  # an export removes what dead apps left
    assert out["model_id"] == "cifar10-seed" and out["format"] == "onnx"
    assert out["agreement"] >= 0.995 and out["examples"] >= 10
    archive = out["archive"]["path"] if isinstance(out["archive"], dict) else out["archive"]
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        readme = z.read("cifar10-seed-onnx/README.md").decode()
    assert {"cifar10-seed-onnx/model.onnx", "cifar10-seed-onnx/classify.py", "cifar10-seed-onnx/labels.json"} <= names
    assert "| passed | yes |" in readme
    assert ["passed", "yes"] in out["figures"]


@pytest.mark.app
def test_export_model_endpoint_refuses_with_the_reason(client):
    assert "it exports to keras, savedmodel, litert, onnx" in error_of(
        client.predict, model_id="imdb-fast", format="litert-int8", api_name="/export_model")
    assert "Unknown export format 'tfjs'" in error_of(
        client.predict, model_id="cifar10-seed", format="tfjs", api_name="/export_model")
    message = error_of(client.predict, model_id="../../etc/passwd", format="onnx", api_name="/export_model")
    assert "Invalid model id" in message and "Traceback" not in message


@pytest.mark.browser
def test_export_from_the_models_tab_and_download_the_archive(page, browser, app_server, tmp_path):

    tab(page, "Models")
    picker = page.locator("#models-selected input")
    picker.click()
    picker.fill("cifar10-fast")
    page.get_by_role("option", name=re.compile("cifar10-fast")).first.click()
    page.get_by_text("Export: phone, browser, server, another language").click()
    saved = export_and_download(page, "models", "cifar10-fast", tmp_path, timeout=180_000)
    assert saved.name == "cifar10-fast-onnx.zip"
    with zipfile.ZipFile(saved) as z:
        assert "| passed | yes |" in z.read("cifar10-fast-onnx/README.md").decode()
    page.locator("#models-export-box").scroll_into_view_if_needed()
    screenshot(page, "export-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    page.locator("#models-export-result").scroll_into_view_if_needed()
    screenshot(page, "export-390")
