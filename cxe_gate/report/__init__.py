"""Report writers, chosen by the output file's extension."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from ..results import GateReport


def render_json(report: GateReport) -> str:
    return report.model_dump_json(indent=2) + "\n"


def _renderer(suffix: str) -> Callable[[GateReport], str]:
    # Imported on use: writing JSON should not pay for the HTML renderer.
    if suffix == ".json":
        return render_json
    if suffix == ".md":
        from .markdown import render_markdown

        return render_markdown
    if suffix in (".html", ".htm"):
        from .html import render_html

        return render_html
    from .junit import render_junit

    return render_junit


FORMATS = (".json", ".md", ".html", ".xml")


def check_report_path(path: str | Path) -> Path:
    """Refuse an unknown extension before any work is done."""
    path = Path(path)
    if path.suffix.lower() not in (*FORMATS, ".htm"):
        raise ConfigError(
            f"-o {path}: unknown report format {path.suffix or '(none)'!r}; "
            f"expected one of {', '.join(FORMATS)}"
        )
    return path


def write_report(report: GateReport, path: str | Path) -> Path:
    path = check_report_path(path)
    text = _renderer(path.suffix.lower())(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
