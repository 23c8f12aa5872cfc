"""Pinned dependencies: exact pins, and Gradio at or above its path-traversal fixes."""

from dlapp.testing import REPO


def pins(name: str) -> dict[str, str]:
    out = {}
    for line in (REPO / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert "==" in line, f"{name}: {line!r} is not an exact pin"
            pkg, version = line.split("==")
            out[pkg.lower()] = version
    return out


def version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split(".")[:3])


def test_runtime_pins_are_exact_and_match_what_is_installed():
    from importlib.metadata import version as installed

    for pkg, pinned in {**pins("requirements.txt"), **pins("requirements-test.txt")}.items():
        assert installed(pkg) == pinned, f"{pkg}: pinned {pinned}, installed {installed(pkg)}"


def test_gradio_is_past_its_path_traversal_advisories():
    # CVE-2023-51449 (/file traversal) fixed in 4.11; CVE-2026-28414 (absolute paths) in 6.7.0;
    # GHSA-j36p-7w88-g82j (FileExplorer traversal) in 6.16.0.
    assert version(pins("requirements.txt")["gradio"]) >= (6, 16, 0)


def test_pyproject_pins_the_same_runtime_dependencies():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = dict(dep.lower().split("==") for dep in project["dependencies"])
    assert declared == pins("requirements.txt")
