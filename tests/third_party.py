"""Installs a third party's provider the way pip does: a module and a .dist-info folder with a
`cxe_gate.providers` entry point, on sys.path for one test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cxe_gate.providers import registry


def install_provider(
    site: Path, monkeypatch: pytest.MonkeyPatch, *, module: str, source: str, entry: str
) -> None:
    """`entry` is `type-name = module:Class`. The registry forgets the provider after the test."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source)
    distribution = module.replace("_", "-")
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[cxe_gate.providers]\n{entry}\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
