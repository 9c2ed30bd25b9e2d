"""A multipart/form-data form the whole way through, with a real Chromium: a customer fills in a
profile form (a text field, a password, a file) on a loopback app, the session is recorded, seeded,
and the seeded suite runs against the app in browser and api mode. The app gets the text field, the
test account's password and a placeholder file of the recorded name and type; a renamed file field
fails the test; no recorded secret and no byte of the uploaded file reaches a generated file."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask, request
from playwright.sync_api import FilePayload, sync_playwright

from cxe_gate.browser import chromium_launch_args
from cxe_gate.cli import main
from examples.shop.server import running

pytestmark = [pytest.mark.server, pytest.mark.browser]

# What the recorded customer typed and uploaded: none of it may reach a generated file.
NAME, PASSWORD = "Ada Lovelace", "hunter2-Secret!"
FILE_NAME, FILE_TYPE = "portrait.png", "image/png"
FILE_CONTENT = b"\x89PNG\r\n\x1a\nRECORDED-PIXELS-7f3a9c"
# The test account the seeded suite reads from its environment. The variables are named by hand
# from the scrubber's rule: CXE_SECRET_<field name>_<n>, numbered from 1 per name.
ACCOUNT = {"CXE_SECRET_DISPLAY_NAME_1": "Quinn Tester", "CXE_SECRET_PASSWORD_1": "qa-pass-1"}

FORM = """<!doctype html><title>Profile</title>
<form method="post" action="/profile" enctype="multipart/form-data">
  <input type="hidden" name="csrf" value="{token}">
  <label>Display name <input name="display_name"></label>
  <label>Password <input type="password" name="password"></label>
  <label>{file_label} <input type="file" name="{file_field}"></label>
  <button type="submit">Save</button>
</form>"""


def make_app(seen: list[dict[str, Any]], *, file_field: str = "avatar") -> Flask:
    """The profile form; a post needs the live CSRF token, the two text fields and a file in
    `file_field`, and answers a page saying what it got. `file_field="photo"` is the broken
    release: the file field renamed (and relabelled)."""
    app = Flask(__name__)
    tokens: set[str] = set()

    @app.get("/profile")
    def form() -> str:
        token = secrets.token_hex(16)
        tokens.add(token)
        label = "Avatar" if file_field == "avatar" else "Photo"
        return FORM.format(token=token, file_label=label, file_field=file_field)

    @app.post("/profile")
    def save() -> Any:
        sent = request.files.get(file_field)
        seen.append(
            {
                "form": request.form.to_dict(flat=False),
                "files": [
                    (field, f.filename, f.mimetype, f.read())
                    for field, f in request.files.items(multi=True)
                ],
            }
        )
        if request.form.get("csrf") not in tokens:
            return "<p>bad token</p>", 403
        if not request.form.get("display_name") or not request.form.get("password"):
            return "<p>missing fields</p>", 422
        if sent is None or not sent.filename:
            return f"<p>no file in {file_field}</p>", 422
        return f"<p>Saved {request.form['display_name']}: {sent.filename} ({sent.mimetype})</p>"

    return app


def _record(base: str, har: Path) -> None:
    """One customer session in a real Chromium. Requests are routed through Playwright while
    recording: measured with Playwright 1.65, Chromium hands over no body for a post carrying a
    file unless requests are intercepted, and the HAR then has no `postData` at all."""
    with sync_playwright() as playwright:
        launch: dict[str, Any] = chromium_launch_args()
        browser = playwright.chromium.launch(**launch)
        context = browser.new_context(record_har_path=str(har), record_har_content="embed")
        context.route("**/*", lambda route: route.continue_())
        page = context.new_page()
        page.goto(f"{base}/profile")
        page.get_by_label("Display name").fill(NAME)
        page.get_by_label("Password").fill(PASSWORD)
        chosen: FilePayload = {"name": FILE_NAME, "mimeType": FILE_TYPE, "buffer": FILE_CONTENT}
        page.get_by_label("Avatar").set_input_files(files=[chosen])
        with page.expect_navigation():
            page.get_by_role("button", name="Save").click()
        assert "Saved Ada Lovelace: portrait.png (image/png)" in page.content()
        context.close()
        browser.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("multipart")
    seen: list[dict[str, Any]] = []
    with running(make_app(seen)) as base:
        _record(base, root / "profile.har")
    recorded_token = seen[0]["form"]["csrf"][0]
    runner = CliRunner()
    result = runner.invoke(
        main, ["journeys", str(root / "profile.har"), "-o", str(root / "j.json")]
    )
    assert result.exit_code == 0, result.output
    suites = {}
    for mode in ("browser", "api"):
        out = root / f"seeded-{mode}"
        result = runner.invoke(main, ["seed", str(root / "profile.har"), "-o", str(out), "--mode", mode])  # fmt: skip
        assert result.exit_code == 0, result.output
        suites[mode] = out
    result = runner.invoke(
        main, ["seed", str(root / "profile.har"), "-o", str(root / "k6"), "--format", "k6"]
    )
    assert result.exit_code == 0, result.output
    return {"root": root, "suites": suites, "token": recorded_token}


def _run(suite: Path, base: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ACCOUNT}
    env.pop("CXE_SEEDED_MODE", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "--base-url", base, "-q",
         "-p", "no:cacheprovider", "-p", "no:xdist", "--rootdir", str(suite)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_the_seeded_suite_sends_the_form_and_a_placeholder_file(seeded, mode):
    seen: list[dict[str, Any]] = []
    with running(make_app(seen)) as base:
        done = _run(seeded["suites"][mode], base)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    [post] = seen
    # The test account's values (not the recorded customer's), and a live token (the app
    # accepted it: it answered 200, as recorded).
    assert post["form"]["display_name"] == ["Quinn Tester"]
    assert post["form"]["password"] == ["qa-pass-1"]
    assert post["form"]["csrf"] != [seeded["token"]]
    [(field, name, kind, content)] = post["files"]
    assert (field, name, kind) == ("avatar", FILE_NAME, FILE_TYPE)
    # A placeholder of a few bytes, not what the customer uploaded: a PNG (its 8-byte signature,
    # from the PNG specification), as an app checking images would want.
    assert content != FILE_CONTENT and len(content) <= 100
    assert content.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("mode", ["browser", "api"])
def test_a_renamed_file_field_fails_the_test(seeded, mode):
    seen: list[dict[str, Any]] = []
    with running(make_app(seen, file_field="photo")) as base:
        done = _run(seeded["suites"][mode], base)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout
    # Found neither by its recorded label nor by its name, in the page's form: nothing is posted.
    assert (
        "POST /profile: the form has no field `avatar` labelled 'Avatar' "
        "(the recorded customers filled it in)" in done.stdout
    )
    assert seen == []
    assert "Traceback" not in done.stdout


def test_no_secret_and_no_file_content_reaches_a_generated_file(seeded):
    root = seeded["root"]
    raw = (root / "profile.har").read_bytes()
    recorded = [NAME, PASSWORD, seeded["token"], "RECORDED-PIXELS"]
    for value in recorded:  # the HAR did carry them
        assert value.encode() in raw, value
    written = [
        root / "j.json",
        *(p for p in root.rglob("*") if "seeded-" in str(p) or "k6" in str(p)),
    ]
    for path in (
        p for p in written if p.is_file() and p.suffix in (".json", ".py", ".js", ".example", "")
    ):
        text = path.read_text("utf-8", errors="replace")
        for value in recorded:
            assert value not in text, (path.name, value)
    tests = (seeded["suites"]["api"] / "test_journeys.py").read_text("utf-8")
    compile(tests, "test_journeys.py", "exec")
    assert "'avatar': upload('portrait.png', 'image/png')" in tests
    assert "'password': env('CXE_SECRET_PASSWORD_1')" in tests
    assert "capture('html_input', 'csrf')" in tests  # the live token, not the recorded one


def test_the_k6_script_posts_a_multipart_body_with_a_placeholder_file(seeded):
    script = (seeded["root"] / "k6" / "journeys.k6.js").read_text("utf-8")
    # k6 sends an object holding an http.file as multipart/form-data, boundary and all: no
    # Content-Type of ours may override it.
    assert 'http.file(PLACEHOLDER_FILE, "portrait.png", "image/png")' in script
    assert '"password": env("CXE_SECRET_PASSWORD_1")' in script
    assert "multipart/form-data" not in script.split("const PLACEHOLDER_FILE")[1]
