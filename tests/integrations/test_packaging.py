"""The package list in pyproject.toml is written by hand (the plugin's directory is mapped to another
import name): a new subpackage left out of it would be missing from every wheel."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_listed_for_the_wheel():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "cxe_gate").rglob("__init__.py")
    }
    assert on_disk <= set(setuptools["packages"])
    assert setuptools["package-dir"]["cxe_gate_pytest"] == "pytest_plugin"
    assert (ROOT / "pytest_plugin" / "__init__.py").is_file()


def _distribution(requirement: str) -> str:
    """`duckdb>=1.3` → `duckdb`; `psycopg[binary]>=3.1` → `psycopg`; names normalised as pip does."""
    name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules(*folders: Path) -> set[str]:
    found: set[str] = set()
    for folder in folders:
        for source in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(), str(source))):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found


def test_every_dependency_is_declared_and_every_declared_one_used():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    # What the library and its plugin may import: the core and every extra but the test tools
    # (an extra that names another extra, `cxe-gate[sql]`, adds nothing new).
    declared = {_distribution(r) for r in project["dependencies"]}
    for extra, requirements in extras.items():
        if extra not in ("test", "shop", "docs"):  # docs: the site's build tools, run as `mkdocs`
            declared |= {_distribution(r) for r in requirements} - {"cxe-gate"}
    first_party = {"cxe_gate", "cxe_gate_pytest"}
    modules = _imported_top_level_modules(ROOT / "cxe_gate", ROOT / "pytest_plugin")
    third_party = {m for m in modules - first_party if m not in sys.stdlib_module_names}
    distributions = metadata.packages_distributions()
    used = set()
    for module in third_party:
        found = {_distribution(name) for name in distributions.get(module, [module])}
        # A namespace package (`google`) is shared by several distributions (google-auth,
        # protobuf...): the declared one among them is the one imported.
        used |= (found & declared) or found
    # pytest imports the plugin (the pytest11 entry point), never the other way round; and
    # pytest-playwright is what seeded suites run under: generated files import it, not the library.
    assert used - declared - {"pytest"} == set(), "imported but not declared in pyproject.toml"
    # psycopg is the driver SQLAlchemy loads for a postgresql+psycopg:// URL (the postgres extra).
    unimported_on_purpose = {"pytest-playwright", "psycopg"}
    assert declared - used - unimported_on_purpose == set(), "declared but never imported"


def test_every_package_data_pattern_matches_a_file():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package, patterns in setuptools["package-data"].items():
        for pattern in patterns:
            assert list((ROOT / package).glob(pattern)), f"{package}: {pattern} matches no file"


def test_the_action_s_constraints_pin_every_runtime_dependency_within_pyproject():
    """constraints.txt (scripts/update_constraints.py) must not fall behind pyproject.toml: every
    dependency of the core and of the `all` extra pinned exactly, each pin allowed by its range."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[_distribution(name)] = Version(version)
    assert "cxe-gate" not in pins
    extras = project["optional-dependencies"]
    wanted = list(project["dependencies"])
    for extra in re.findall(r"[\w-]+", extras["all"][0].split("[", 1)[1]):
        wanted += [r for r in extras[extra] if not r.startswith("cxe-gate")]
    for text in wanted:
        requirement = Requirement(text.split("#")[0])
        name = _distribution(requirement.name)
        assert name in pins, f"{name} is not in constraints.txt: run scripts/update_constraints.py"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside {requirement}"
        )
