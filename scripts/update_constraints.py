"""Rewrite constraints.txt: the exact versions the GitHub Action installs beside cxe-gate, so two runs
of the same gate at the same ref judge with the same DuckDB, SciPy and pydantic.

Installs cxe-gate with every runtime extra (`all`; not the test tools) into a fresh virtual
environment from the package index and writes what pip resolved. Run it when a dependency should
move, and commit the result; tests/integrations/test_constraints.py checks that it covers every
runtime dependency and satisfies pyproject.toml.

    python scripts/update_constraints.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = (
    "# Exact versions the GitHub Action installs with cxe-gate (pip install -c constraints.txt).\n"
    "# Written by scripts/update_constraints.py from a fresh install of cxe-gate[all]; do not edit.\n"
)


def main() -> int:
    with tempfile.TemporaryDirectory() as home:
        python = Path(home) / "bin" / "python"
        subprocess.run([sys.executable, "-m", "venv", home], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"{ROOT}[all]"], check=True)
        frozen = subprocess.run(
            [str(python), "-m", "pip", "freeze", "--exclude", "cxe-gate", "--all"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    tools = ("pip==", "setuptools==", "wheel==")  # the installer's own, not cxe-gate's
    pins = sorted(
        (line for line in frozen.splitlines() if "==" in line and not line.startswith(tools)),
        key=str.lower,
    )
    (ROOT / "constraints.txt").write_text(HEADER + "\n".join(pins) + "\n")
    print(f"wrote {len(pins)} pins to constraints.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
