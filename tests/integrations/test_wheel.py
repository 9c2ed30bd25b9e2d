"""The package as a user gets it: `python -m build` makes an sdist and, from it, a wheel; the wheel
installs in a fresh virtual environment as the Dockerfile installs it (not editable, its extras,
its dependencies from the package index pinned by constraints.txt) and runs the example gate from
there. What a missing package, data file or dependency, or a pin that cannot resolve, would break."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    (sdist,) = dist.glob("cxe_gate-*.tar.gz")
    (wheel,) = dist.glob("cxe_gate-*.whl")
    return {"sdist": sdist, "wheel": wheel, "dist": dist}


@pytest.fixture(scope="module")
def venv(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
    # Installed as the Dockerfile installs it: with its extras, pinned by constraints.txt (so the
    # pins are checked to resolve together too).
    extras = re.search(r'\$\{wheel\}(\[[\w,]+\])"', (ROOT / "Dockerfile").read_text())[1]
    subprocess.run(
        [
            str(home / "bin" / "python"), "-m", "pip", "install", "-q",
            "-c", str(ROOT / "constraints.txt"), f"{built['wheel']}{extras}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    return home


def test_the_wheel_holds_every_module_and_the_plugin(built: dict[str, Path]):
    names = zipfile.ZipFile(built["wheel"]).namelist()
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "cxe_gate").rglob("*.py")} | {
        "cxe_gate_pytest/" + str(p.relative_to(ROOT / "pytest_plugin"))
        for p in (ROOT / "pytest_plugin").rglob("*.py")
    }
    assert sources <= set(names), sorted(sources - set(names))[:5]
    assert "cxe_gate/py.typed" in names
    assert not any(n.startswith(("tests/", "examples/", "benchmarks/")) for n in names)
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(built["wheel"]).read(entry_points).decode()
    assert "cxe-gate = cxe_gate.cli:main" in text and "cxe_gate = cxe_gate_pytest" in text


def test_the_version_comes_from_git_and_the_sdist_carries_it(built: dict[str, Path]):
    version = built["wheel"].name.split("-")[1]
    # No tag yet: setuptools-scm numbers the commit after the fallback (0.1.0), e.g. 0.1.1.dev85.
    assert version.startswith("0.") and version != "0.1.0", version
    with tarfile.open(built["sdist"]) as sdist:
        (pkg_info,) = [m for m in sdist.getnames() if m.endswith("/PKG-INFO") and m.count("/") == 1]
        assert f"Version: {version}\n" in sdist.extractfile(pkg_info).read().decode()


def test_the_installed_package_runs_the_example_gate(
    built: dict[str, Path], venv: Path, tmp_path: Path
):
    python, gate = venv / "bin" / "python", venv / "bin" / "cxe-gate"
    where = subprocess.run(
        [str(python), "-c", "import cxe_gate, cxe_gate.report.html; print(cxe_gate.__file__)"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert where.startswith(str(venv)), where  # the installed copy, not the source tree
    report = tmp_path / "shop.json"
    run = subprocess.run(
        [
            str(gate), "evaluate", "-c", str(ROOT / "examples" / "shop" / "cxe.yml"),
            "-o", str(report), "-o", str(tmp_path / "shop.html"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(report.read_text())["verdict"] == "pass"
    assert (tmp_path / "shop.html").stat().st_size > 10_000
    version = subprocess.run(
        [str(gate), "--version"], check=True, capture_output=True, text=True
    ).stdout
    assert version.strip() == f"cxe-gate, version {built['wheel'].name.split('-')[1]}"
