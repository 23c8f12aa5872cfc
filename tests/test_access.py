"""A simulated public deployment (SPACE_ID set, no password): no visitor changes what others get."""

import hashlib

import pytest
from gradio_client import Client

from dlapp.testing import error_of

pytestmark = pytest.mark.app


def disk_state(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def public_server(closed_space_server):
    """A Space with training off and no password (conftest.py: shared with the browser tests of one)."""
    return closed_space_server


@pytest.mark.parametrize("call,fragment", [
    (dict(model_id="cifar10-best", api_name="/delete_model"), "Deleting a model is not allowed"),
    (dict(model_id="cifar10-fast", api_name="/set_default_model"), "Changing the default model is not allowed"),
    (dict(task="image", dataset="cifar10", subset=5, api_name="/start_training"), "Training is switched off"),
], ids=["delete", "set-default", "train"])
def test_changes_are_refused_and_nothing_changes_on_disk(public_server, call, fragment):
    client = Client(public_server.url, verbose=False)
    before = disk_state(public_server.model_dir)
    message = error_of(client.predict, **call)
    assert fragment in message and "DLAPP_ADMIN_PASSWORD" in message, message
    assert disk_state(public_server.model_dir) == before
    defaults = {m["id"] for m in client.predict(api_name="/list_models") if m["default"]}
    assert defaults == {"cifar10-best", "imdb-fast", "cifar10-gan"}
    assert public_server.alive()
