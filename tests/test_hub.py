"""Hub pull/push through huggingface_hub's real cache layout, on a local cache (no network)."""

import http.server
import json
import os
import threading

import pytest

from dlapp import hub
from dlapp.errors import HubError
from dlapp.store import ModelStore, sha256_file
from dlapp.testing import loadable_ids, tiny_model, toy_card


@pytest.fixture()
def hf_cache(tmp_path, monkeypatch):
    """An offline huggingface_hub pointed at an empty cache folder of this test's own."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def publish_to_cache(cache, repo_id, files_dir, commit="0123456789abcdef0123456789abcdef01234567"):
    """Lay files out exactly as huggingface_hub caches a download: blobs, snapshots, refs."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    (repo / "blobs").mkdir()
    snap.mkdir(parents=True)
    for f in files_dir.iterdir():
        blob = repo / "blobs" / sha256_file(f)
        blob.write_bytes(f.read_bytes())
        os.symlink(os.path.relpath(blob, snap), snap / f.name)
    return snap


@pytest.fixture()
def source(tmp_path):
    store = ModelStore(tmp_path / "source")
    store.save(tiny_model(), toy_card(metrics={"test_accuracy": 0.75, "per_class_accuracy": {"a": 0.5, "b": 1.0},
                                           "confusion_matrix": [[1, 1], [0, 2]]}), "toy")
    return store


def test_pushed_then_pulled_is_bit_identical_and_listed(tmp_path, hf_cache, source):
    (tmp_path / "staged").mkdir()
    staged = hub.stage("toy", "someone/toy", tmp_path / "staged", store=source)
    publish_to_cache(hf_cache, "someone/toy", staged)
    dest = ModelStore(tmp_path / "dest")
    model_id = hub.pull("someone/toy", store=dest)
    assert model_id == "hf--someone--toy"
    assert sha256_file(dest.root / f"{model_id}.keras") == source.card("toy").sha256
    pulled = dest.card(model_id)
    hub_origin = pulled.provenance.hub
    assert hub_origin.repo_id == "someone/toy" and hub_origin.revision == "main"
    assert hub_origin.commit == "0123456789abcdef0123456789abcdef01234567"
    assert pulled.class_names == ("a", "b") and pulled.metrics == source.card("toy").metrics
    assert loadable_ids(dest, "image") == [model_id]
    staged_card = json.loads((staged / hub.CARD_FILE).read_text())
    assert staged_card["schema_version"] == 2 and "id" not in staged_card  # the store's runtime fields stay local


def test_a_repo_whose_card_is_not_a_dlapp_card_is_refused(tmp_path, hf_cache, source):
    files = tmp_path / "files"
    files.mkdir()
    (files / hub.MODEL_FILE).write_bytes((source.root / "toy.keras").read_bytes())
    (files / hub.CARD_FILE).write_text(json.dumps({"architectures": ["BertModel"]}))
    publish_to_cache(hf_cache, "someone/bert", files)
    dest = ModelStore(tmp_path / "dest")
    with pytest.raises(HubError, match="not a dlapp card"):
        hub.pull("someone/bert", store=dest)
    assert dest.list() == []


def test_uncached_while_offline_is_a_clear_error_and_startup_goes_on(tmp_path, hf_cache, caplog):
    with pytest.raises(HubError, match="not in the local Hugging Face cache"):
        hub.pull("nobody/missing", store=ModelStore(tmp_path / "m"))
    assert hub.pull_configured(["nobody/missing"], store=ModelStore(tmp_path / "m")) == []
    assert "skipping Hub model nobody/missing" in caplog.text


def test_model_card_has_metadata_metrics_and_limits(source):
    text = hub.model_card(source.card("toy"), "someone/toy")
    assert text.startswith("---\nlibrary_name: keras")
    assert "- dlapp" in text and "pipeline_tag: image-classification" in text
    assert "| **a** | 1 | 1 |" in text and "## Intended use and limits" in text and "0.7500" in text


def test_push_without_a_token(source, monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))  # ignore any saved login
    with pytest.raises(HubError, match="No Hugging Face token"):
        hub.push("toy", "someone/toy", store=source)


class Forbidden(http.server.BaseHTTPRequestHandler):
    def _deny(self):
        body = json.dumps({"error": "You don't have the rights to create a model under the namespace"}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _deny

    def log_message(self, *args):
        pass


def test_push_to_a_repo_that_is_not_yours_and_without_network(source, monkeypatch):
    from huggingface_hub import constants

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forbidden)  # a stand-in Hub on loopback
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    secret = "hf_secretsecretsecret"
    with pytest.raises(HubError, match="isn't yours") as err:
        hub.push("toy", "someone-else/toy", token=secret, store=source)
    assert secret not in str(err.value)
    server.shutdown()
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(HubError, match="Cannot reach") as err:
        hub.push("toy", "someone/toy", token=secret, store=source)
    assert secret not in str(err.value)


@pytest.mark.skipif(not (os.environ.get("HF_TOKEN") and os.environ.get("DLAPP_TEST_HUB_REPO")),
                    reason="needs network, HF_TOKEN and DLAPP_TEST_HUB_REPO (a repo you may write to)")
def test_push_and_pull_for_real(tmp_path, source):
    repo = os.environ["DLAPP_TEST_HUB_REPO"]
    hub.push("toy", repo, store=source)
    dest = ModelStore(tmp_path / "dest")
    model_id = hub.pull(repo, store=dest)
    assert sha256_file(dest.root / f"{model_id}.keras") == source.card("toy").sha256
