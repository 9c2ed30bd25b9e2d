"""Form fields by their labels, from the HAR, on Django's admin: an admin session recorded with real
clicks in Chromium, its journey map carries each posted field's label and the button pressed, the
seeded browser test says them, and its replay fills fields by those labels: it passes on a fresh
instance, still passes when developers rename a field under the same label (a proxy in front of the
app renames `title`), and fails naming the label of a field that was removed."""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from click.testing import CliRunner
from test_real_app import _run, admin_app, database, record  # noqa: F401 (database: a fixture)

from cxe_gate.cli import main
from cxe_gate.har.journey_map import load_journey_map

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.browser]

# The labels Django's admin gives the posted fields (its templates: `<label for=id_X>X:</label>`,
# the login form's unnamed `<input type="submit" value="Log in">`, the change form's named
# `<input type="submit" value="Save" name="_save">`), written here from the admin's HTML.
LOGIN_LABELS = {"username": "Username:", "password": "Password:", "": "Log in"}
TICKET_LABELS = {"title": "Title:", "urgent": "Urgent", "team": "Team:", "labels": "Labels:",
                 "_save": "Save", "": "Save"}  # fmt: skip
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@pytest.fixture(scope="module")
def seeded(database: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    root = tmp_path_factory.mktemp("labels-seed")
    (root / "hars").mkdir()
    with admin_app(database, root / "recording") as base:
        record(base, root / "hars" / "admin.har")
    runner = CliRunner()
    result = runner.invoke(main, ["journeys", str(root / "hars"), "-o", str(root / "map.json")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["seed", str(root / "map.json"), "-o", str(root / "suite")])
    assert result.exit_code == 0, result.output
    return root


def test_the_journey_map_and_the_seeded_test_carry_the_recorded_labels(seeded):
    [journey] = load_journey_map(seeded / "map.json").journeys
    posts = [step.page for step in journey.steps if step.page.method == "POST"]
    # Log in, add the ticket, change it: three form posts.
    assert [p.route for p in posts] == [
        "/admin/login/?next",  # the login form posts back to its own URL
        "/admin/tickets/ticket/add/",
        "/admin/tickets/ticket/{id}/change/",
    ]
    assert posts[0].labels == LOGIN_LABELS
    # The priority radio group has a label per option, none for the field; the change post did
    # not send `urgent` (unchecked), so it has no label for it.
    assert posts[1].labels == TICKET_LABELS
    assert posts[2].labels == {k: v for k, v in TICKET_LABELS.items() if k != "urgent"}
    code = (seeded / "suite" / "test_journeys.py").read_text("utf-8")
    compile(code, "test_journeys.py", "exec")
    for said in (
        "#   'username', labelled 'Username:': from CXE_SECRET_",
        "#   click button 'Log in'",
        "#   'title', labelled 'Title:'",
        "#   'team', labelled 'Team:'",
        "#   click button 'Save'",
    ):
        assert said in code, code
    assert "labels={" in code


@contextmanager
def renaming_proxy(upstream: str, old: str, new: str) -> Iterator[str]:
    """A release where developers renamed the field `old` to `new` and kept its label: a proxy on
    127.0.0.1 that renames it in the pages and back in the posts; yields its base URL."""
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._forward(None)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if "urlencoded" in (self.headers.get("Content-Type") or ""):
                pairs = parse_qsl(body.decode(), keep_blank_values=True)
                body = urlencode([(old if k == new else k, v) for k, v in pairs]).encode()
            self._forward(body)

        def _forward(self, body: bytes | None) -> None:
            connection = http.client.HTTPConnection(target.netloc, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Accept-Encoding"] = "identity"
            if body is not None:
                headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
            if "text/html" in (answer.getheader("Content-Type") or ""):
                content = content.replace(f'name="{old}"'.encode(), f'name="{new}"'.encode())
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
            connection.close()

        def log_message(self, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_replay_passes_and_survives_a_field_renamed_under_its_label(seeded, database, tmp_path):  # noqa: F811
    suite = seeded / "suite"
    with admin_app(database, tmp_path / "healthy") as base:
        outcomes = _run(suite, base, tmp_path / "healthy.xml")
    assert set(outcomes.values()) == {None}, outcomes
    with (
        admin_app(database, tmp_path / "renamed") as base,
        renaming_proxy(base, "title", "subject") as proxied,
    ):
        form = requests.get(f"{proxied}/admin/login/", timeout=10).text
        assert 'name="username"' in form  # the proxy serves the admin
        outcomes = _run(suite, proxied, tmp_path / "renamed.xml")
        # The ticket was saved with the recorded titles sent under the new name: `title` was
        # found by its label "Title:" and filled.
        page = requests.get(f"{base}/tickets/1/", timeout=10).text
    assert set(outcomes.values()) == {None}, outcomes
    assert '<h1 id="title">Parcel found</h1>' in page


def test_a_removed_field_fails_naming_its_recorded_label(seeded, database, tmp_path):  # noqa: F811
    # The add form loses its `team` select (ADMIN_APP_BREAKAGE=field_removed).
    with admin_app(database, tmp_path / "app", "field_removed") as base:
        outcomes = _run(seeded / "suite", base, tmp_path / "run.xml")
    [message] = outcomes.values()
    assert message is not None
    assert re.search(
        r"POST /admin/tickets/ticket/add/: the form has no field `team` labelled 'Team:'", message
    ), message
