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

    for pkg, pinned in {**pins("requirements.txt"), **pins("requirements-test.txt"),
                        **pins("requirements-export.txt")}.items():
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


def test_export_extra_pins_the_export_runtimes_everywhere():
    # pip install 'dlapp[export]', requirements-export.txt and requirements-test.txt (so CI runs the export tests)
    import tomllib

    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["export"]
    export = pins("requirements-export.txt")
    assert dict(dep.lower().split("==") for dep in extra) == export
    assert set(export) == {"tf2onnx", "onnx", "onnxruntime", "ai-edge-litert"}
    test = pins("requirements-test.txt")
    assert {pkg: test.get(pkg) for pkg in export} == export
