"""The README and docs/benchmarks.md say what the shipped models and the code really are.

The model table is written by hand, so it is checked here against each card (models/<id>.json),
rounded as shown; so are the card figures benchmarks.md quotes. Every `python -m dlapp` line of
the README parses with the CLI's own parser, and every benchmark command names a real script and
real flags. Neither file sends a newcomer to a folder they do not have, or to an issue number.
No TensorFlow, no app: these read files and build an argparse parser.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from dlapp.testing import REPO

README = REPO / "README.md"
BENCHMARKS = REPO / "docs" / "benchmarks.md"


def shipped_ids() -> list[str]:
    """The shipped models: the cards git tracks in models/ (a user's own models are not shipped)."""
    try:
        out = subprocess.run(["git", "ls-files", "models/*.json"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # an unpacked copy without git: every card there
        out = [str(p.relative_to(REPO)) for p in (REPO / "models").glob("*.json")]
    ids = sorted(Path(p).stem for p in out if Path(p).name != "defaults.json")
    assert ids, "no shipped model cards found in models/"
    return ids


def card(model_id: str) -> dict:
    return json.loads((REPO / "models" / f"{model_id}.json").read_text())


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table in `text`, as rows of {header: cell}."""
    found, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            block.append([c.strip() for c in line.strip().strip("|").split("|")])
            continue
        if len(block) >= 2 and set("".join(block[1])) <= set("-: "):
            header = block[0]
            found.append([dict(zip(header, row, strict=False)) for row in block[2:]])
        block = []
    return found


def model_id_of(cell: str) -> str | None:
    m = re.fullmatch(r"`([\w.-]+)`", cell.strip())
    return m.group(1) if m else None


def shown(cell: str) -> tuple[float, float]:
    """A figure as printed ("**91.48%**", "4,711 s", "0.520") -> (value, half a unit of its last digit)."""
    m = re.search(r"-?[\d,]+(?:\.(\d+))?", cell.replace("*", ""))
    assert m, f"no number in {cell!r}"
    decimals = len(m.group(1) or "")
    return float(m.group(0).replace(",", "")), 0.5 * 10**-decimals + 1e-9


def assert_shown(where: str, cell: str, value: float | None) -> None:
    if value is None:
        assert cell.strip() == "—", f"{where}: shows {cell!r} where the card has no such figure (expected —)"
        return
    number, tolerance = shown(cell)
    assert abs(number - value) <= tolerance, f"{where}: shows {cell!r}, the card says {value}"


def headline(c: dict) -> float:
    """The card's headline figure as the tables show it: a share in percent, else the number."""
    head = c["metrics"].get("headline")
    if head is None:
        return 100 * c["metrics"]["test_accuracy"]
    return 100 * head["value"] if head.get("percent", True) else head["value"]


def calibrated(value_of):
    """A calibration figure, or None for a model that is not calibrated (a generator): the table shows "—"."""
    return lambda c: value_of(c) if c["task"] != "generate" else None


# What a table column may quote from a card: header -> the card value, in the unit the column shows.
CARD_COLUMNS = {
    "test accuracy": lambda c: 100 * c["metrics"]["test_accuracy"],
    "headline": headline,
    "ECE": calibrated(lambda c: 100 * c["metrics"]["ece"]),
    "ECE with T (shipped)": calibrated(lambda c: 100 * c["metrics"]["ece"]),
    "T": calibrated(lambda c: c["calibration"]["temperature"]),
    "training time (2-core CPU)": lambda c: c["provenance"]["training_time_s"],
}


def check_card_rows(rows: list[dict[str, str]], where: str) -> set[str]:
    """Check every card figure in rows naming a shipped model; return the ids checked."""
    ids = set(shipped_ids())
    seen = set()
    for row in rows:
        model_id = model_id_of(row.get("model", ""))
        if model_id not in ids:
            continue
        seen.add(model_id)
        c = card(model_id)
        for header, value_of in CARD_COLUMNS.items():
            if header in row:
                assert_shown(f"{where}, {model_id}, {header}", row[header], value_of(c))
    return seen


def readme_model_table() -> list[dict[str, str]]:
    for rows in tables(README.read_text()):
        if rows and {"model", "data", "preset", "headline", "ECE", "T"} <= set(rows[0]):
            return rows
    pytest.fail("README.md has no shipped-model table (columns model, data, preset, headline, ECE, T)")


def test_readme_model_table_agrees_with_every_card():
    rows = readme_model_table()
    listed = [model_id_of(r["model"]) for r in rows]
    assert sorted(listed) == shipped_ids(), f"the table lists {listed}; models/ ships {shipped_ids()}"
    check_card_rows(rows, "README")
    defaults_file = REPO / "models" / "defaults.json"
    defaults = json.loads(defaults_file.read_text()) if defaults_file.exists() else {}
    for row in rows:
        model_id = model_id_of(row["model"])
        c = card(model_id)
        assert row["task"] == c["task"], f"{model_id}: task {row['task']!r}, the card says {c['task']!r}"
        assert row["data"] == c["dataset"]["name"], f"{model_id}: data {row['data']!r}, card {c['dataset']['name']!r}"
        assert row["preset"] == c["preset"], f"{model_id}: preset {row['preset']!r}, the card says {c['preset']!r}"
        if defaults:
            expected = " ".join(task for task, default in defaults.items() if default == model_id)
            assert row["default"] == expected, f"{model_id}: default {row['default']!r}, defaults.json: {expected!r}"


def test_benchmarks_quote_the_shipped_cards_as_they_are():
    checked = set()
    for rows in tables(BENCHMARKS.read_text()):
        checked |= check_card_rows(rows, "docs/benchmarks.md")
    calibration = [rows for rows in tables(BENCHMARKS.read_text()) if rows and "ECE with T (shipped)" in rows[0]]
    assert calibration, "docs/benchmarks.md has no calibration table (a column 'ECE with T (shipped)')"
    classifiers = {i for i in shipped_ids() if card(i)["task"] != "generate"}
    assert {model_id_of(r["model"]) for r in calibration[0]} >= classifiers, \
        "the calibration table leaves out a shipped classifier"
    assert checked == set(shipped_ids())


@pytest.mark.parametrize("doc", [README, BENCHMARKS], ids=lambda p: p.name)
def test_docs_send_no_one_to_a_folder_they_lack_or_to_an_issue_number(doc):
    text = doc.read_text()
    assert "../shared" not in text, f"{doc.name} names ../shared, which a fresh clone does not have"
    found = re.findall(r"(?i)\bissues?\s*#\d+|(?<![\w&/])#\d+\b", text)
    assert not found, f"{doc.name} mentions issue numbers {found}: say what the target was instead"


def test_readme_test_command_is_what_ci_runs():
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    assert "bash tests/run.sh" in commands, "the README's test command is not `bash tests/run.sh`"
    assert "pip install -r requirements.txt && python app.py" in commands
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert ci[-1] == "bash tests/run.sh", f".ci/run ends with {ci[-1]!r}, not the README's test command"


def readme_cli_lines() -> list[list[str]]:
    out = []
    for line in README.read_text().splitlines():
        m = re.search(r"python -m dlapp (.*)", line)
        if not m or "`" in line or "..." in m.group(1):  # prose mentions, and `train ... --resume`
            continue
        out.append(shlex.split(m.group(1).replace("[", "").replace("]", ""), comments=True))
    assert len(out) >= 10, out
    return out


@pytest.mark.parametrize("args", readme_cli_lines(), ids=" ".join)
def test_readme_cli_lines_parse(args):
    from dlapp.cli import _parser

    try:
        _parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"`python -m dlapp {' '.join(args)}` from the README is refused by the CLI (exit {exc.code})")


def test_benchmark_commands_name_real_scripts_and_flags():
    text = BENCHMARKS.read_text()
    commands = re.findall(r"python (benchmarks/\w+\.py)([^\n`#]*)", text)
    assert len(commands) >= 10, commands
    for script, rest in commands:
        path = REPO / script
        assert path.is_file(), f"docs/benchmarks.md runs {script}, which does not exist"
        source = path.read_text()
        for flag in re.findall(r"--[\w-]+", rest):
            assert f'"{flag}"' in source, f"{script} has no {flag} option (docs/benchmarks.md uses it)"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", [README, BENCHMARKS], ids=lambda p: p.name)
def test_links_inside_the_docs_lead_somewhere(doc):
    text = doc.read_text()
    anchors = {slug(h) for h in re.findall(r"^#+ (.*)$", text, flags=re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        assert anchor in anchors, f"{doc.name} links to #{anchor}, which no heading makes"
    for target in re.findall(r"\]\((?!https?:|#)([^)#]+)", text):
        assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"


def test_every_test_security_md_names_exists():
    """SECURITY.md backs each guarantee with tests by name; a renamed test must not leave a dead reference."""
    text = (REPO / "SECURITY.md").read_text()
    named, current = [], None
    for match in re.finditer(r"`(?:(test_\w+\.py)::|::)(\w+)(?:\[[^\]]*\])?`", text):
        current = match.group(1) or current  # "::name" continues the file named just before
        named.append((current, match.group(2)))
    assert len(named) > 40
    missing = [f"{f}::{t}" for f, t in named
               if not re.search(rf"^def {t}\(", (REPO / "tests" / f).read_text(), re.M)]
    assert not missing, missing
