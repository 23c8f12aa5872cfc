"""Load: N concurrent gradio_client clients mixing images and reviews, while a training runs.

    python benchmarks/load_bench.py [--clients 32] [--seconds 60]

Starts the real app on a free loopback port over a copy of the shipped models,
starts a training through the API, then runs the clients (bounded in count and
time, loopback only). Prints latency percentiles, throughput, failures, and the
server's RSS after warm-up and at the end. The reference in the same run is a
single client alone (the latency floor) measured just before the load.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
REVIEWS = ["A wonderful, moving film with a brilliant cast.", "Boring and far too long; I walked out.",
           "Not bad, but the ending was weak.", "One of the best movies I have seen this year!"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_images(folder: Path, n: int = 8) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        arr = rng.integers(0, 255, (int(rng.integers(24, 300)), int(rng.integers(24, 300)), 3), dtype=np.uint8)
        path = folder / f"load-{i}.jpg"
        Image.fromarray(arr).save(path, quality=85)
        paths.append(str(path))
    return paths


def one_request(client, images, rng) -> None:
    from gradio_client import handle_file

    if rng.random() < 0.5:
        client.predict(handle_file(rng.choice(images)), None, api_name="/classify_image")
    else:
        client.predict(rng.choice(REVIEWS), None, api_name="/analyze_sentiment")


def run_load(url: str, *, clients: int, seconds: float, pid: int, images: list[str], warmup_s: float | None = None) -> dict:
    """Run `clients` threads for `seconds`; return latencies, failures and RSS samples."""
    from gradio_client import Client

    latencies: list[tuple[float, float]] = []  # (start time, seconds)
    failures: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    stop_at = [float("inf")]  # set once every client is connected

    def worker(i: int) -> None:
        rng = random.Random(i)
        client = Client(url, verbose=False)
        ready.wait()
        while time.monotonic() < stop_at[0]:
            t = time.monotonic()
            try:
                one_request(client, images, rng)
                with lock:
                    latencies.append((t, time.monotonic() - t))
            except Exception as exc:  # every failure counts; none is allowed
                with lock:
                    failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    start = time.monotonic()
    stop_at[0] = start + seconds
    rss_samples = []
    while time.monotonic() < stop_at[0]:
        rss_samples.append((time.monotonic() - start, rss_mb(pid)))
        time.sleep(1.0)
    for t in threads:
        t.join(timeout=120)
    lat = sorted(d for t0, d in latencies if t0 - start >= 0)
    warmup_s = seconds / 3 if warmup_s is None else warmup_s  # the first third warms caches and the training
    after_warmup = [r for s, r in rss_samples if s >= warmup_s] or [r for _, r in rss_samples]
    return {
        "requests": len(lat), "failures": failures, "seconds": seconds,
        "p50": float(np.percentile(lat, 50)) if lat else float("nan"),
        "p95": float(np.percentile(lat, 95)) if lat else float("nan"),
        "p99": float(np.percentile(lat, 99)) if lat else float("nan"),
        "throughput": len(lat) / seconds,
        "rss_warm": after_warmup[0], "rss_end": rss_mb(pid), "rss_max": max(after_warmup),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--no-training", action="store_true", help="serve only, to tell serving from training memory")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import AppServer, copy_shipped_models
    from corpus import class_folder, zip_with
    from gradio_client import Client, handle_file

    tmp = Path(tempfile.mkdtemp(prefix="dlapp-load-"))
    server = AppServer(copy_shipped_models(tmp / "models"))
    try:
        images = make_images(tmp)
        client = Client(server.url, verbose=False)
        folder = class_folder(tmp / "data", classes=("blue", "green", "red"), per_class=100, size=32)
        archive = zip_with({f"d/{p.parent.name}/{p.name}": p.read_bytes() for p in folder.rglob("*.png")},
                           tmp / "d.zip")
        alone = run_load(server.url, clients=1, seconds=5, pid=server.proc.pid, images=images, warmup_s=0)
        if not args.no_training:
            client.predict("image", "upload (.zip of class folders / .csv of reviews)", handle_file(str(archive)), 0,
                           "fast", "preset default", 200, 8, 0.001, 0.1, "", api_name="/start_training")
            while client.predict(api_name="/training_status").get("epoch", 0) < 3:  # past the training's ramp-up
                time.sleep(0.5)
        loaded = run_load(server.url, clients=args.clients, seconds=args.seconds, pid=server.proc.pid, images=images)
        training = client.predict(api_name="/training_status")["state"]
        client.predict(api_name="/stop_training")
    finally:
        server.stop()
    print(f"{'run':<34} {'requests':>8} {'fail':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'req/s':>7}")
    label = f"{args.clients} clients" + ("" if args.no_training else " + training")
    for name, r in (("1 client, idle (reference)", alone), (label, loaded)):
        print(f"{name:<34} {r['requests']:8d} {len(r['failures']):5d} {r['p50'] * 1000:6.0f}ms "
              f"{r['p95'] * 1000:6.0f}ms {r['p99'] * 1000:6.0f}ms {r['throughput']:7.1f}")
    growth = (loaded["rss_end"] - loaded["rss_warm"]) / loaded["rss_warm"]
    print(f"server RSS: {loaded['rss_warm']:.0f} MB after warm-up, {loaded['rss_end']:.0f} MB at the end "
          f"({growth:+.1%}; limit +10%), max {loaded['rss_max']:.0f} MB; training was {training} during the load")
    for f in loaded["failures"][:5]:
        print("failure:", f)


if __name__ == "__main__":
    main()
