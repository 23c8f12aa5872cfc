"""Load: N concurrent gradio_client clients mixing images and reviews (loopback only, bounded in time).

    python benchmarks/load_bench.py [--clients 32] [--seconds 60] [--rounds 3] # dlapp vs a no-op Gradio app
    python benchmarks/load_bench.py --training [--clients 32] [--seconds 60]   # dlapp while a training runs

Default: the reference is benchmarks/noop_app.py, a Gradio app with the same two endpoints' shapes
that does no model work, loaded the same way in the same run; dlapp runs over a copy of the
shipped models. Both start first, dlapp finishes its warm-up (the start-up's compiling is
startup_bench's to measure), then they take turns, --rounds times each, so that the machine's
drift hits both alike. The ratio of their throughputs is what dlapp costs over Gradio itself.
With --training: dlapp with one idle client (the latency floor), then N clients while a training
runs, with the server's RSS after warm-up and at the end.
"""

from __future__ import annotations

import argparse
import os
import random
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


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process (all its threads) has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def run_load(url: str, *, clients: int, seconds: float, pid: int, images: list[str],
             warmup_s: float | None = None) -> dict:
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
    start, cpu_start, clients_start = time.monotonic(), cpu_s(pid), cpu_s(os.getpid())
    stop_at[0] = start + seconds
    rss_samples = []
    while time.monotonic() < stop_at[0]:
        rss_samples.append((time.monotonic() - start, rss_mb(pid)))
        time.sleep(1.0)
    for t in threads:
        t.join(timeout=120)
    warmup_s = seconds / 3 if warmup_s is None else warmup_s  # the first third warms caches and the training
    after_warmup = [r for s, r in rss_samples if s >= warmup_s] or [r for _, r in rss_samples]
    return summary([d for t0, d in latencies if t0 - start >= 0], failures, seconds, cpu_s(pid) - cpu_start,
                   cpu_s(os.getpid()) - clients_start) | {
        "rss_warm": after_warmup[0], "rss_end": rss_mb(pid), "rss_max": max(after_warmup)}


def summary(latencies: list[float], failures: list[str], seconds: float, cpu: float, client_cpu: float) -> dict:
    lat = sorted(latencies)
    return {
        "latencies": lat, "failures": failures, "seconds": seconds, "cpu": cpu, "client_cpu": client_cpu,
        "requests": len(lat),
        "p50": float(np.percentile(lat, 50)) if lat else float("nan"),
        "p95": float(np.percentile(lat, 95)) if lat else float("nan"),
        "p99": float(np.percentile(lat, 99)) if lat else float("nan"),
        "throughput": len(lat) / seconds,
        "server_cpu_ms": 1000 * cpu / max(1, len(lat)),  # server CPU per request (both cores count)
        "client_cpu_ms": 1000 * client_cpu / max(1, len(lat)),  # the same for this process, the clients
    }


def merged(rounds: list[dict]) -> dict:
    """One summary over several rounds of the same server."""
    return summary([x for r in rounds for x in r["latencies"]], [f for r in rounds for f in r["failures"]],
                   sum(r["seconds"] for r in rounds), sum(r["cpu"] for r in rounds),
                   sum(r["client_cpu"] for r in rounds))


def _print(rows: list[tuple[str, dict]]) -> None:
    print(f"{'run':<40} {'requests':>8} {'fail':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'req/s':>7} "
          f"{'server CPU/req':>15} {'client CPU/req':>15}")
    for name, r in rows:
        print(f"{name:<40} {r['requests']:8d} {len(r['failures']):5d} {r['p50'] * 1000:6.0f}ms "
              f"{r['p95'] * 1000:6.0f}ms {r['p99'] * 1000:6.0f}ms {r['throughput']:7.1f} {r['server_cpu_ms']:13.0f}ms "
              f"{r['client_cpu_ms']:13.0f}ms")
        for f in r["failures"][:3]:
            print("   failure:", f)


def serve_only(args, tmp: Path, images: list[str]) -> None:
    """The no-op Gradio reference and dlapp, both started and warm, loaded in turn (A B A B ...) so
    that the machine's drift hits both alike: what dlapp costs over Gradio itself."""
    from dlapp.testing import AppServer, copy_shipped_models

    apps = {"no-op Gradio app (reference)": REPO / "benchmarks" / "noop_app.py",
            "dlapp (python app.py)": REPO / "app.py"}
    servers = {name: AppServer(copy_shipped_models(tmp / name.split()[0] / "models"), script=script)
               for name, script in apps.items()}
    try:
        servers["dlapp (python app.py)"].wait_warm()  # steady state: the start-up's compiling is startup_bench's
        rounds: dict[str, list[dict]] = {name: [] for name in servers}
        for server in servers.values():
            run_load(server.url, clients=4, seconds=5, pid=server.proc.pid, images=images)  # warm-up, not counted
        for _ in range(args.rounds):
            for name, server in servers.items():
                rounds[name].append(run_load(server.url, clients=args.clients, seconds=args.seconds / args.rounds,
                                             pid=server.proc.pid, images=images))
    finally:
        for server in servers.values():
            server.stop()
    ref, dlapp = (merged(r) for r in rounds.values())
    _print([(f"{name}, {args.clients} clients", r) for name, r in zip(rounds, (ref, dlapp), strict=True)])
    pairs = [d["throughput"] / r["throughput"] for r, d in zip(*rounds.values(), strict=True)]
    print(f"dlapp throughput / reference: {dlapp['throughput'] / ref['throughput']:.0%} (target ≥ 90%); "
          f"round by round: {', '.join(f'{p:.0%}' for p in pairs)}")


def with_training(args, tmp: Path, images: list[str]) -> None:
    """dlapp alone with 1 client (the latency floor), then N clients while a training runs."""
    from gradio_client import Client, handle_file

    from dlapp.testing import AppServer, class_folder, copy_shipped_models, zip_with

    server = AppServer(copy_shipped_models(tmp / "models"))
    try:
        server.wait_warm()
        client = Client(server.url, verbose=False)
        folder = class_folder(tmp / "data", classes=("blue", "green", "red"), per_class=100, size=32)
        archive = zip_with({f"d/{p.parent.name}/{p.name}": p.read_bytes() for p in folder.rglob("*.png")},
                           tmp / "d.zip")
        alone = run_load(server.url, clients=1, seconds=5, pid=server.proc.pid, images=images, warmup_s=0)
        client.predict(task="image", dataset="upload", upload=handle_file(str(archive)), preset="fast", epochs=200,
                       batch_size=8, learning_rate=0.001, api_name="/start_training")
        while client.predict(api_name="/training_status").get("epoch", 0) < 3:  # past the training's ramp-up
            time.sleep(0.5)
        loaded = run_load(server.url, clients=args.clients, seconds=args.seconds, pid=server.proc.pid, images=images)
        training = client.predict(api_name="/training_status")["state"]
        client.predict(api_name="/stop_training")
    finally:
        server.stop()
    _print([("1 client, idle (reference)", alone), (f"{args.clients} clients + training", loaded)])
    growth = (loaded["rss_end"] - loaded["rss_warm"]) / loaded["rss_warm"]
    print(f"server RSS: {loaded['rss_warm']:.0f} MB after warm-up, {loaded['rss_end']:.0f} MB at the end "
          f"({growth:+.1%}; limit +10%), max {loaded['rss_max']:.0f} MB; training was {training} during the load")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60, help="measured seconds per app, over all rounds")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per app (default: 3)")
    parser.add_argument("--training", action="store_true",
                        help="load dlapp while a training runs, against 1 idle client (default: dlapp against "
                             "a no-op Gradio app, no training)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))  # run as a script: make dlapp importable without installing it
    tmp = Path(tempfile.mkdtemp(prefix="dlapp-load-"))
    images = make_images(tmp)
    (with_training if args.training else serve_only)(args, tmp, images)


if __name__ == "__main__":
    main()
