"""The package list in pyproject.toml is written by hand (the plugin's directory is mapped to another
import name): a new subpackage left out of it would be missing from every wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_for_the_wheel():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "cxe_gate").rglob("__init__.py")
    }
    assert on_disk <= set(setuptools["packages"])
    assert setuptools["package-dir"]["cxe_gate_pytest"] == "pytest_plugin"
    assert (ROOT / "pytest_plugin" / "__init__.py").is_file()
