"""Which Chromium to launch: Playwright's own when `playwright install chromium` put it there,
otherwise a system Chromium (Debian's `chromium` package, Chrome, Chromium from a package manager).

Playwright has no environment variable for an executable path, so callers pass
`chromium_launch_args()` to `launch(**...)`, and pytest-playwright users get it through the
`browser_type_launch_args` fixture."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

# The real binaries first: Debian's /usr/bin/chromium is a shell wrapper that adds flags and prints
# an error at every launch.
_SYSTEM_CHROMIUMS = (
    "/usr/lib/chromium/chromium",
    "/usr/lib/chromium-browser/chromium-browser",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)
ENV_VARIABLE = "CXE_GATE_CHROMIUM"  # an explicit choice wins over both


class BrowserNotFound(RuntimeError):
    pass


def _playwright_browsers() -> Path:
    """Where `playwright install` puts browsers (its documented default, or the override)."""
    override = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if override and override != "0":
        return Path(override)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "ms-playwright"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ms-playwright"


def _playwright_chromium() -> Path | None:
    """The folder of the Chromium this Playwright version wants, if `playwright install chromium`
    put it there. Read from the driver's browsers.json, without starting the driver (which cannot
    start inside a running Playwright)."""
    try:
        import playwright
    except ImportError:
        return None
    manifest = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    try:
        browsers = json.loads(manifest.read_text())["browsers"]
    except (OSError, ValueError, KeyError):
        return None
    for entry in browsers:
        if entry.get("name") == "chromium":
            folder = _playwright_browsers() / f"chromium-{entry.get('revision')}"
            return folder if folder.is_dir() else None
    return None


def system_chromium() -> Path | None:
    for candidate in _SYSTEM_CHROMIUMS:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def chromium_executable() -> Path | None:
    """The executable to pass to Playwright, or None when Playwright's own Chromium is installed
    and should be used as it is."""
    chosen = os.environ.get(ENV_VARIABLE)
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise BrowserNotFound(f"{ENV_VARIABLE}={chosen} is not an executable file")
        return Path(chosen)
    if _playwright_chromium() is not None:
        return None
    found = system_chromium()
    if found is None:
        raise BrowserNotFound(
            "no Chromium found: run `playwright install chromium`, install a system Chromium "
            f"(Debian: apt-get install chromium), or point {ENV_VARIABLE} at one"
        )
    return found


def chromium_launch_args() -> dict[str, object]:
    """Keyword arguments for `playwright.chromium.launch()`."""
    executable = chromium_executable()
    return {} if executable is None else {"executable_path": str(executable)}
