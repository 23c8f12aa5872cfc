"""A short form of benchmarks/load_bench.py: 32 concurrent clients while a training runs, loopback only."""

import time

import pytest
from gradio_client import handle_file

from benchmarks.load_bench import make_images, run_load
from dlapp.testing import class_folder, zip_with

pytestmark = pytest.mark.app


def test_32_clients_during_a_training_all_succeed_and_memory_is_stable(app_server, client, tmp_path):
    folder = class_folder(tmp_path / "d", classes=("blue", "green", "red"), per_class=60, size=32)
    upload = zip_with({f"d/{p.parent.name}/{p.name}": p.read_bytes() for p in folder.rglob("*.png")},
                      tmp_path / "d.zip")
    client.predict(task="image", dataset="upload", upload=handle_file(str(upload)), preset="fast", epochs=200,
                   batch_size=8, learning_rate=0.001, api_name="/start_training")
    try:
        deadline = time.monotonic() + 120
        while client.predict(api_name="/training_status").get("epoch", 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)  # past the training's own ramp-up
        result = run_load(app_server.url, clients=32, seconds=12, pid=app_server.proc.pid,
                          images=make_images(tmp_path))
        assert client.predict(api_name="/training_status")["state"] == "running"
    finally:
        client.predict(api_name="/stop_training")
    assert result["failures"] == [] and result["requests"] >= 32
    assert result["rss_end"] <= 1.10 * result["rss_warm"], result
    assert app_server.alive()
    for _ in range(120):
        if client.predict(api_name="/training_status")["state"] != "running":
            break
        time.sleep(0.5)
