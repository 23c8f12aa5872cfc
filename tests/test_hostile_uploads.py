"""Hostile uploads against the real app: server paths sent as uploads, compressed and row bombs,
huge cells, odd line endings, binary junk, deep zips, and the staged copies a training leaves.

The app runs with a temp dir of its own (TMPDIR), so the files it stages, Gradio's upload folder,
and the bytes left behind are counted for this app alone, whatever else runs on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from dlapp import limits
from dlapp.testing import AppServer, class_folder, copy_shipped_models, error_of, png_bytes, wait_for_training, zip_with

MARKER = "SECRET-b7e1"  # in a file on the server that no visitor uploaded: it must never come back, nor be copied
RSS_BOUND_MB = 300  # what one hostile upload may add to the server's peak memory
NOT_RECEIVED = "The upload did not arrive with this request"  # dlapp.ui.common.NOT_RECEIVED, the same for any path


# ---------------------------------------------------------------- the app, and ways to talk to it

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    (root / "tmp").mkdir()
    app = AppServer(copy_shipped_models(root / "models"), env={"TMPDIR": str(root / "tmp")})
    app.tmp = root / "tmp"
    app.wait_warm(timeout=300)  # memory is measured against a server whose models are loaded
    yield app
    app.stop()
    # Gradio logs its own refusals of hostile FileData with a traceback; none may pass through dlapp's code.
    log = app.log.read_text()
    ours = f'File "{Path(__file__).resolve().parents[1] / "dlapp"}'
    assert ours not in log, log[log.index(ours) - 2000:][:4000]


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url, verbose=False)


@pytest.fixture(scope="module")
def secret(tmp_path_factory) -> Path:
    """A file on the server's disk, outside Gradio's upload folder, whose labels an error would echo."""
    path = tmp_path_factory.mktemp("server-files") / "secret.csv"
    path.write_text("".join(f"review {i},{MARKER}-{i % 3}\n" for i in range(30)), encoding="utf-8")
    path.write_text("text,label\n" + path.read_text())
    return path


def call(server, api_name: str, data: list, timeout: float = 300) -> tuple[str, object]:
    """A raw HTTP call of a named endpoint: ("complete", outputs), ("error", message) or ("http <code>", body)."""
    r = httpx.post(f"{server.url}gradio_api/call/{api_name}", json={"data": data}, timeout=30)
    if r.status_code != 200:
        return f"http {r.status_code}", r.text
    event_id = r.json()["event_id"]
    with httpx.stream("GET", f"{server.url}gradio_api/call/{api_name}/{event_id}", timeout=timeout) as s:
        event = None
        for line in s.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line.split(":", 1)[1])
                return event, data.get("error") if event == "error" and isinstance(data, dict) else data
    return "none", None


def join(server, fn_index: int, data: list, timeout: float = 60) -> str:
    """Call any event handler as the browser does (queue/join by fn_index, private ones included);
    returns the raw event stream's text up to its end."""
    session = f"hostile{fn_index}x{time.monotonic_ns()}"
    r = httpx.post(f"{server.url}gradio_api/queue/join",
                   json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                         "trigger_id": None}, timeout=30)
    if r.status_code != 200:
        return f"http {r.status_code} {r.text}"
    out = []
    try:
        with httpx.stream("GET", f"{server.url}gradio_api/queue/data", params={"session_hash": session},
                          timeout=timeout) as s:
            for line in s.iter_lines():
                out.append(line)
                if '"process_completed"' in line or '"close_stream"' in line:
                    break
    except httpx.ReadTimeout:
        out.append("(no end: a streaming handler waits for more)")
    return "\n".join(out)


def train_data(upload, task: str = "text", password: str = "") -> list:
    """/start_training's positional data: task, dataset, upload, subset, preset, cell, epochs, batch, lr, split, pw."""
    return [task, "upload", upload, None, "seed" if task == "image" else "fast", None, 1, 4, 0.001, 0.2, password]


def staged(server) -> list[Path]:
    return sorted(server.tmp.glob("dlapp-upload-*"))


def upload_folder(server) -> Path:
    folder = server.tmp / "gradio"
    folder.mkdir(exist_ok=True)
    return folder


def tree_bytes(root: Path) -> int:
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def files_holding(root: Path, text: str) -> list[Path]:
    needle = text.encode()
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and p.stat().st_size < 2**26
            and needle in p.read_bytes()]


# ---------------------------------------------------------------- memory

def vm(pid: int, key: str) -> int:
    """A /proc/PID/status field in MB (VmRSS: now; VmHWM: the peak since the last reset)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
    raise KeyError(key)


def peak_rss_growth(server, fn) -> tuple[int, object]:
    """(MB the server's peak RSS rose above its RSS before `fn`, fn's result)."""
    pid = server.proc.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM, the kernel's own peak-RSS counter
    before = vm(pid, "VmRSS")
    result = fn()
    return vm(pid, "VmHWM") - before, result


def gz_bomb(path: Path, head: bytes, cell_byte: bytes, size: int, tail: bytes) -> Path:
    """A .gz of `head`, then `size` bytes of `cell_byte` (one cell), then `tail`: about size/1000 on disk."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
    block = cell_byte * (1 << 20)
    with open(path, "wb") as f:
        f.write(z.compress(head))
        for _ in range(size >> 20):
            f.write(z.compress(block))
        f.write(z.compress(tail))
        f.write(z.flush())
    return path


# ---------------------------------------------------------------- item 1: only files Gradio received

def hostile_paths(server, secret: Path) -> dict[str, str]:
    """Paths a client may send as its upload: none of them a file it uploaded."""
    folder = upload_folder(server)
    link = folder / "link-to-secret.csv"
    if not link.is_symlink():
        link.symlink_to(secret)
    zero = folder / "zero.csv"
    if not zero.is_symlink():
        zero.symlink_to("/dev/zero")
    fifo = folder / "fifo.csv"
    if not fifo.exists():
        os.mkfifo(fifo)
    return {
        "secret": str(secret), "passwd": "/etc/passwd", "dev-zero": "/dev/zero", "proc-environ": "/proc/self/environ",
        "relative": "app.py", "dotdot": str(folder) + "/.." * 40 + str(secret),
        "link-in-upload-folder": str(link), "link-to-dev-zero": str(zero), "fifo": str(fifo),
        "upload-folder-itself": str(folder), "missing-in-upload-folder": str(folder / "nothing" / "here.csv"),
        "missing": "/no/such/file.csv", "nul": str(secret) + "\0.csv",
    }


@pytest.mark.app
@pytest.mark.parametrize("form", ["bare dict", "with meta", "string"])
def test_start_training_takes_no_path_a_client_sends(server, secret, form):
    before_bytes = tree_bytes(server.tmp)
    answers = {}
    for what, path in hostile_paths(server, secret).items():
        payload = {"bare dict": {"path": path, "orig_name": "x.csv"},
                   "with meta": {"path": path, "orig_name": "x.csv", "meta": {"_type": "gradio.FileData"}},
                   "string": path}[form]
        event, message = call(server, "start_training", train_data(payload))
        assert event == "error", (what, event, message)
        answers[what] = message
        assert MARKER not in str(message) and "root:" not in str(message), (what, message)
    if form != "with meta":  # Gradio refuses those itself, before dlapp sees them
        # one answer whatever the path: a client cannot tell which files exist
        assert set(answers.values()) == {answers["secret"]} and NOT_RECEIVED in answers["secret"], answers
    assert httpx.get(f"{server.url}gradio_api/info", timeout=10).status_code == 200
    assert call(server, "training_status", [])[1][0]["state"] != "running"
    assert staged(server) == [] and files_holding(server.tmp, MARKER) == []  # nothing was copied
    assert tree_bytes(server.tmp) - before_bytes < 2**20  # /dev/zero wrote nothing


@pytest.mark.app
def test_every_file_endpoint_refuses_a_server_path(server, secret):
    """Every handler with a file input (public or private: the browser calls both by fn_index)."""
    config = httpx.get(f"{server.url}config", timeout=30).json()
    components = {c["id"]: c for c in config["components"]}
    file_types = {"file", "image", "uploadbutton", "gallery", "video", "audio", "model3d", "imageeditor"}
    tried = []
    for dep in config["dependencies"]:
        kinds = [components.get(i, {}).get("type") for i in dep["inputs"]]
        if dep.get("backend_fn") is False or not any(k in file_types for k in kinds):
            continue
        picture = secret.with_name("secret.png")  # a real picture on the server, outside the upload folder
        picture.write_bytes(png_bytes())
        for path in (str(secret), str(picture), "/etc/passwd", str(upload_folder(server) / "link-to-secret.csv")):
            for meta in ({}, {"meta": {"_type": "gradio.FileData"}}):
                value = {"path": path, "orig_name": "x.png", **meta}
                data = [([value] if components[i]["props"].get("file_count") == "multiple" else value)
                        if k in file_types else None for i, k in zip(dep["inputs"], kinds, strict=True)]
                answer = join(server, dep["id"], data)
                assert MARKER not in answer and "root:x:" not in answer, (dep.get("api_name"), answer[:500])
                # refused before the handler runs, whatever the handler would do with it
                assert '"success":true' not in answer.replace(" ", ""), (dep.get("api_name"), data, answer[-500:])
                assert "process_completed" in answer or "no end" in answer, answer[-500:]  # the handler was reached
        tried.append(dep.get("api_name") or dep["id"])
    assert {"classify_image", "classify_images", "explain_image", "analyze_csv"} <= set(tried), tried
    assert len(tried) >= 7, tried  # the collection builder's files, paste and .zip inputs too
    assert files_holding(server.tmp, MARKER) == []
    assert call(server, "start_training", train_data({"path": str(secret), "orig_name": "x.csv"}))[0] == "error"


@pytest.mark.app
def test_a_received_file_over_the_size_cap_is_refused_and_nothing_stays(server):
    folder = upload_folder(server) / "f00d"
    folder.mkdir(exist_ok=True)
    big = folder / "big.csv"
    with open(big, "wb") as f:  # sparse: 51 MB that take no disk, as if Gradio had let it through
        f.truncate(51 * 2**20)
    event, message = call(server, "start_training", train_data({"path": str(big), "orig_name": "big.csv"}))
    big.unlink()
    assert event == "error" and "larger than 50 MB, the limit" in str(message), message
    assert staged(server) == []


@pytest.mark.app
def test_the_trainings_own_upload_still_trains_and_is_removed_when_it_ends(server, client, tmp_path):
    folder = class_folder(tmp_path / "colours", classes=("blue", "red"), per_class=8, size=16)
    archive = zip_with({f"colours/{p.parent.name}/{p.name}": p.read_bytes() for p in folder.rglob("*.png")},
                       tmp_path / "colours.zip")
    assert staged(server) == []
    snap = client.predict(task="image", dataset="upload", upload=handle_file(str(archive)), preset="seed-cifar10",
                          epochs=1, batch_size=4, learning_rate=0.001, api_name="/start_training")
    assert snap["state"] == "running" and snap["dataset"] == "colours.zip"
    assert wait_for_training(client)["state"] == "done"
    assert staged(server) == []  # a run that ends removes what it trained on
    client.predict(task="image", dataset="upload", upload=handle_file(str(archive)), preset="fast", epochs=50,
                   batch_size=2, learning_rate=0.001, api_name="/start_training")
    assert len(staged(server)) == 1  # while it runs, its upload is there
    client.predict(api_name="/stop_training")
    assert wait_for_training(client, timeout=120)["state"] == "cancelled"
    assert staged(server) == []  # so does a cancelled one


@pytest.mark.app
def test_refused_uploads_leave_no_staged_copy(server, client, tmp_path):
    bad_labels = tmp_path / "labels.csv"
    bad_labels.write_text("text,label\ngood,1\nbad,2\nmeh,3\n")
    lopsided = zip_with({"a/1.png": png_bytes(), "b/1.png": b"not a picture"}, tmp_path / "lopsided.zip")
    fake = tmp_path / "fake.zip"
    fake.write_text("not a zip")
    before = staged(server)
    for upload, task in ((bad_labels, "text"), (lopsided, "image"), (fake, "image"), (bad_labels, "image")):
        error_of(client.predict, task=task, dataset="upload", upload=handle_file(str(upload)), preset="fast",
                 epochs=1, api_name="/start_training")
    assert staged(server) == before == []


@pytest.mark.app
def test_uploads_staged_by_a_killed_app_are_removed(server, client, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid no process has now, as after a kill -9 mid-run
    left = server.tmp / f"dlapp-upload-{dead.pid}-abc123"
    left.mkdir()
    (left / "big.zip").write_bytes(b"x" * 1000)
    alive = server.tmp / f"dlapp-upload-{os.getpid()}-abc123"  # another app's run, still going
    alive.mkdir()
    fake = tmp_path / "fake.zip"
    fake.write_text("not a zip")
    error_of(client.predict, task="image", dataset="upload", upload=handle_file(str(fake)), preset="fast",
             epochs=1, api_name="/start_training")
    assert staged(server) == [alive]
    alive.rmdir()


# ---------------------------------------------------------------- items 2 and 3: bounded reading, in memory

@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bombs")
    return {
        "csv": gz_bomb(d / "cell.csv.gz", b'text,label\n"', b"a", 2**30, b'",1\nok,0\n'),
        "jsonl": gz_bomb(d / "cell.jsonl.gz", b'{"text": "', b"a", 2**30, b'", "label": 1}\n'),
        "rows": gz_bomb(d / "rows.csv.gz", b"text,label\n", b"", 0, b"a,1\nb,0\n" * 5_000_000),  # 10 million rows
        "bytes": gz_bomb(d / "long.csv.gz", b"text,label\n", b"", 0,  # 1,400 rows of 100k characters: 140 MB
                         b"".join(b"a" * 100_000 + b",%d\n" % (i % 3) for i in range(1_400))),
    }


@pytest.mark.app
@pytest.mark.parametrize("kind,fragment", [("csv", "longer than"), ("jsonl", "longer than"),
                                           ("rows", f"more than {limits.MAX_TEXT_ROWS:,} rows"),
                                           ("bytes", f"more than {limits.MAX_TABLE_BYTES >> 20} MB of text")])
def test_compressed_bombs_are_read_as_a_stream(server, client, bombs, kind, fragment):
    assert bombs[kind].stat().st_size < 2 * 2**20  # about 1 MB on the wire
    grew, message = peak_rss_growth(server, lambda: error_of(
        client.predict, task="text", dataset="upload", upload=handle_file(str(bombs[kind])), preset="fast",
        epochs=1, api_name="/start_training"))
    assert grew < RSS_BOUND_MB, f"{grew} MB: {message}"
    assert fragment in message, message
    assert staged(server) == []


@pytest.mark.app
def test_analyze_csv_stops_reading_at_its_row_limit(server, client, tmp_path):
    rows = tmp_path / "rows.csv"
    with open(rows, "w") as f:
        f.write("text\n" + "a\n" * 10_000_000)  # 20 MB, under the upload cap
    grew, message = peak_rss_growth(server, lambda: error_of(client.predict, handle_file(str(rows)), None,
                                                             api_name="/analyze_csv"))
    assert grew < RSS_BOUND_MB, f"{grew} MB: {message}"
    assert f"more than {limits.MAX_CSV_ROWS:,} rows" in message, message


@pytest.mark.app
def test_a_45_mb_cell_gets_a_specific_message(server, client, tmp_path):
    huge = tmp_path / "huge.csv"
    huge.write_text('text,label\n"' + "word " * 9_000_000 + '",1\nfine,0\n')
    grew, message = peak_rss_growth(server, lambda: error_of(client.predict, handle_file(str(huge)), None,
                                                             api_name="/analyze_csv"))
    assert "line 2" in message and "longer than" in message and "Something went wrong" not in message, message
    assert grew < RSS_BOUND_MB, f"{grew} MB"
    message = error_of(client.predict, task="text", dataset="upload", upload=handle_file(str(huge)), preset="fast",
                       epochs=1, api_name="/start_training")
    assert "huge.csv, line 2" in message and "longer than" in message, message


# ---------------------------------------------------------------- item 11: line endings and junk; item 7: deep zips

@pytest.mark.app
def test_old_mac_line_endings_are_read(server, client, tmp_path):
    mac = tmp_path / "mac.csv"
    mac.write_bytes(b"text,label\rA lovely film,pos\rDreadful and dull,neg\r\rFine,meh\r")
    out, preview = client.predict(handle_file(str(mac)), None, api_name="/analyze_csv")
    assert [r[1] for r in preview["data"]][:2] == ["positive", "negative"] and len(preview["data"]) == 4
    # Training reads all three rows: its answer names the three labels it found.
    message = error_of(client.predict, task="text", dataset="upload", upload=handle_file(str(mac)), preset="fast",
                       epochs=1, api_name="/start_training")
    assert "found 3 (meh, neg, pos)" in message, message


@pytest.mark.app
@pytest.mark.parametrize("junk", ["random", "xlsx", "png"])
def test_binary_junk_says_what_is_wrong(server, client, tmp_path, junk):
    path = tmp_path / "reviews.csv"
    path.write_bytes({"random": os.urandom(20_000),
                      "xlsx": b"PK\x03\x04" + os.urandom(5_000),
                      "png": png_bytes()}[junk])
    for message in (error_of(client.predict, handle_file(str(path)), None, api_name="/analyze_csv"),
                    error_of(client.predict, task="text", dataset="upload", upload=handle_file(str(path)),
                             preset="fast", epochs=1, api_name="/start_training")):
        assert "is not a text table" in message and "Something went wrong" not in message, message
        assert {"random": "binary data", "xlsx": "spreadsheet", "png": "PNG picture"}[junk] in message, message


@pytest.mark.app
def test_a_path_2500_folders_deep_in_a_zip(server, client, tmp_path):
    deep = tmp_path / "deep.zip"
    with zipfile.ZipFile(deep, "w") as zf:
        zf.writestr("a/" * 2500 + "x.png", png_bytes())
        zf.writestr("b/y.png", png_bytes())
    message = error_of(client.predict, task="image", dataset="upload", upload=handle_file(str(deep)), preset="fast",
                       epochs=1, api_name="/start_training")
    assert "2,500 folders deep" in message and f"the limit is {limits.ZIP_MAX_DEPTH}" in message, message
    assert len(message) < 400  # the entry's name is shortened, not printed 5,000 characters long
    assert staged(server) == []


@pytest.mark.app
def test_the_app_survived(server, client):
    """Last: every attack above was answered, and the server serves on."""
    assert client.predict("A wonderful film", None, api_name="/analyze_sentiment")["label"] == "positive"
    assert staged(server) == []


# ---------------------------------------------------------------- the same readers without the app (the fast tier)

def test_tables_read_old_mac_line_endings_and_name_binary_junk(tmp_path):
    from dlapp.data.custom import load_text_table
    from dlapp.errors import InvalidDatasetError
    from dlapp.ui.text_tab import read_table

    mac = tmp_path / "mac.csv"
    mac.write_bytes(b"text,label\r" + b"".join(b"review %d,%s\r" % (i, b"pos" if i % 2 else b"neg") for i in range(20)))
    assert load_text_table(mac).class_names == ("neg", "pos")
    assert len(read_table(mac)[1]) == 20
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 40)
    for read in (load_text_table, read_table):
        with pytest.raises(InvalidDatasetError, match="is not a text table: it looks like binary data"):
            read(junk)


def test_tables_stop_at_the_row_limit_and_bound_a_cell(tmp_path):
    from dlapp.data.custom import load_text_table
    from dlapp.errors import InvalidDatasetError

    rows = gz_bomb(tmp_path / "rows.csv.gz", b"text,label\n", b"", 0, b"a,1\nb,0\n" * (limits.MAX_TEXT_ROWS + 1))
    with pytest.raises(InvalidDatasetError, match=f"more than {limits.MAX_TEXT_ROWS:,} rows"):
        load_text_table(rows)
    cell = gz_bomb(tmp_path / "cell.jsonl.gz", b'{"text": "', b"a", 64 * 2**20, b'", "label": 1}\n')
    with pytest.raises(InvalidDatasetError, match="line 1: longer than"):
        load_text_table(cell)
    quoted = tmp_path / "quoted.csv"  # one cell over many short lines: the cell limit, not the line limit
    quoted.write_text('text,label\n"' + "word\n" * 30_000 + '",1\n')
    with pytest.raises(InvalidDatasetError, match="a cell is longer than"):
        load_text_table(quoted)
