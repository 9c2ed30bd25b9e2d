"""The k6 script the seeder writes: it parses (node's own parser) whatever a HAR holds, carries
recorded values only as literals, never holds a scrubbed secret, and when run (under node with
stand-in k6 modules whose requests are real) against a site on 127.0.0.1 makes the recorded
requests in order, sending back the values the site handed out and the secrets from the
environment."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest

from cxe_gate.har.journey_map import load_journey_map
from cxe_gate.har.pipeline import build_journey_map
from cxe_gate.seed.k6 import FILE_NAME, K6Options, generate_k6, literal
from tests.har_producers import SECRETS, write_all

STUB = Path(__file__).parent / "k6_stub"
NODE = shutil.which("node") or "/usr/bin/node"
TIMING = {"count": 1, "min_ms": 5.0, "p50_ms": 5.0, "p90_ms": 5.0, "max_ms": 5.0, "mean_ms": 5.0}
HOSTILE = (
    "q'uo\"te `tick` ${alert(1)} ${CXE_SECRET_X} \\ end\n line\r\u2028\u2029 </script><!-- "
    "*/ // \x00 é"
)
EMAIL, PASSWORD = "tester@shop.test", "pa'ss`${word}\""


# --- maps ------------------------------------------------------------------------------------


def _request(method: str, route: str, path: str, status: int = 200, **more: Any) -> dict[str, Any]:
    return {"method": method, "host": "shop.test", "route": route, "path": path,
            "status": status, "body": "none", "time": TIMING, **more}  # fmt: skip


def _link(target: str, at: list[Any], step: int, call: int | None, source: str, key: list[Any]):
    return {"target": target, "at": at, "step": step, "call": call, "source": source, "key": key}


def _journey(steps: list[dict[str, Any]], name: str = "login → order") -> dict[str, Any]:
    return {"id": "j1", "name": name, "weight": 3, "share": 0.75, "occurrences": 3,
            "sessions": ["a.har"], "recorded": ["2026-11-23"], "duration": TIMING,
            "steps": steps}  # fmt: skip


def _write_map(path: Path, journeys: list[dict[str, Any]]) -> Path:
    summary = {"files": 1, "files_failed": 0, "sessions": 4, "entries_read": 9, "entries_kept": 9,
               "entries_dropped": 0, "journeys": len(journeys)}  # fmt: skip
    document = {"schema_version": "1.1", "first_party": ["shop.test"], "summary": summary,
                "journeys": journeys, "scrubbed": [], "dropped": {}, "placeholders": [],
                "failures": []}  # fmt: skip
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _login_order_steps() -> list[dict[str, Any]]:
    """Log in with the page's CSRF token, land on the order the redirect names, then ask the API
    for a token and the order's items with it. Every recorded dynamic value is stale."""
    login = _request("POST", "/login", "/login", 303, body="form",
                     content_type="application/x-www-form-urlencoded",
                     fields={"csrf": "stale-csrf", "email": "${CXE_SECRET_EMAIL_1}",
                             "password": "${CXE_SECRET_PASSWORD_1}"},
                     links=[_link("form", ["csrf"], 0, None, "html_input", ["csrf"])])  # fmt: skip
    order = _request("GET", "/orders/{id}", "/orders/stale-order", via="redirect",
                     links=[_link("path", [2], 1, None, "location", [2])])  # fmt: skip
    token = _request("POST", "/api/token", "/api/token", body="json",
                     content_type="application/json", fields={"user": "${CXE_SECRET_EMAIL_1}"},
                     response={"mime": "application/json"})  # fmt: skip
    items = _request(
        "GET", "/api/orders/{id}/items", "/api/orders/stale-order/items?ref=stale-ref",
        links=[_link("path", [3], 1, None, "location", [2]),
               _link("query", ["ref"], 1, None, "location", ["ref"]),
               _link("header", ["x-auth-token"], 2, 0, "json", ["data", "token"])],
    )  # fmt: skip
    return [
        {"page": _request("GET", "/login", "/login"), "calls": []},
        {"page": login, "calls": []},
        {"page": order, "calls": [token, items]},
    ]


# --- the site --------------------------------------------------------------------------------


@dataclass
class Site:
    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    issued: dict[str, str] = field(default_factory=dict)  # what it handed out, by name


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def _answer(self, status: int, body: str = "", **headers: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        seen = {"line": f"{self.command} {self.path}", "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": self.rfile.read(length).decode("utf-8")}  # fmt: skip
        self.site.seen.append(seen)
        return seen

    def do_GET(self) -> None:
        seen, issued = self._record(), self.site.issued
        if self.path == "/login":
            issued["csrf"], issued["sid"] = secrets.token_hex(8), secrets.token_hex(8)
            page = f'<form method="post" action="/login"><input type="hidden" name="csrf" value="{issued["csrf"]}"><input name="email"></form>'  # noqa: E501
            self._answer(200, page, Content_Type="text/html", Set_Cookie=f"sid={issued['sid']}")
        else:
            self._answer(200, "[]" if "/api/" in seen["line"] else "<p>ok</p>")

    def do_POST(self) -> None:
        self._record()
        issued = self.site.issued
        if self.path == "/login":
            issued["order"], issued["ref"] = secrets.token_hex(6), secrets.token_hex(4)
            location = f"{self.site.url}/orders/{issued['order']}?ref={issued['ref']}"
            self._answer(303, Location=location)
        elif self.path == "/api/token":
            issued["token"] = secrets.token_hex(10)
            answer = json.dumps({"data": {"token": issued["token"]}})
            self._answer(200, answer, Content_Type="application/json")
        else:
            self._answer(200, "{}", Content_Type="application/json")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[Site]:
    found = Site("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Handler,), {"site": found}))
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


# --- running a script ------------------------------------------------------------------------


@dataclass
class Ran:
    ok: bool  # no error, every check passed (k6: its thresholds held)
    output: str


def _run(
    argv: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """A command with only the environment given (and PATH; HOME in `cwd`, k6 reporting nothing
    anywhere), its exit code looked at by the caller."""
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd), "K6_NO_USAGE_REPORT": "true"}
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**base, **env}, check=False)  # fmt: skip


def _under_node(script: str, directory: Path, env: dict[str, str]) -> Ran:
    (directory / "node_modules").mkdir(exist_ok=True)
    link = directory / "node_modules" / "k6"
    if not link.exists():
        link.symlink_to(STUB, target_is_directory=True)
    path = directory / "journeys.k6.mjs"
    path.write_text(script, encoding="utf-8")
    done = _run([NODE, str(STUB / "run.mjs"), str(path)], env, directory)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    ok = report["error"] is None and all(c["ok"] for c in report["checks"])
    return Ran(ok, done.stdout)


# k6 itself is not a test dependency: the only k6 on the package index is a repackaged binary from
# an anonymous publisher, which a test suite must not run. Node's parser and these stand-in modules
# take its place (`options.mjs` for `k6 inspect`, `run.mjs` for `k6 run`).
RUNNERS = {"node": _under_node}


def _node_parses(script: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return _run([NODE, "--input-type=module", "--check"], {}, directory, stdin=script)


def _k6_inspect(script: str, directory: Path, *options: str) -> dict[str, Any]:
    """The script's `options` as k6 would read them (`-e NAME=VALUE` pairs as its __ENV)."""
    (directory / "node_modules").mkdir(exist_ok=True)
    link = directory / "node_modules" / "k6"
    if not link.exists():
        link.symlink_to(STUB, target_is_directory=True)
    path = directory / "journeys.k6.mjs"
    path.write_text(script, encoding="utf-8")
    env = dict(pair.split("=", 1) for pair in options if pair != "-e")
    done = _run([NODE, str(STUB / "options.mjs"), str(path)], env, directory)
    assert done.returncode == 0, done.stdout + done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


# --- tests -----------------------------------------------------------------------------------


def test_literals_are_json_in_ascii_that_cannot_close_a_script() -> None:
    # Worked out by hand: quotes and backslash escaped as JSON does, the separators and é as
    # \\u escapes, `</` as `<\/`, NaN as null (JSON.stringify's answer).
    assert literal('a"b\\c') == '"a\\"b\\\\c"'
    assert literal("\u2028\u2029é") == '"\\u2028\\u2029\\u00e9"'
    assert literal("</script>") == '"<\\/script>"'
    assert literal([float("nan"), 1.5]) == "[null, 1.5]"


def _hostile_map(tmp_path: Path, text: str, query: str) -> Path:
    """One journey carrying `text` in every place a HAR value can reach: route, path, query, form
    names and values, a JSON body's keys and values, the journey's name, a capture's key and the
    session's file name."""
    page = _request("GET", f"/p/{text}", "/p/%27q%22%60%24%7B%7D?x=" + query)
    post = _request("POST", f"/f/{text}", "/f/x", body="form", fields={text: text},
                    content_type="application/x-www-form-urlencoded")  # fmt: skip
    call = _request("POST", f"/api/{text}", "/api/j", body="json",
                    fields={text: [text, 1, None, {"k": text}]}, content_type="application/json",
                    links=[_link("json", ["k"], 0, None, "html_meta", [text])])  # fmt: skip
    steps: list[dict[str, Any]] = [{"page": page, "calls": []}, {"page": post, "calls": [call]}]
    journey = _journey(steps, text) | {"sessions": [text]}
    return _write_map(tmp_path / "j.json", [journey])


def test_hostile_values_parse(tmp_path: Path) -> None:
    text = HOSTILE + " ::"  # and k6's group separator
    journey_map = load_journey_map(_hostile_map(tmp_path, text, text))  # the query unquoted
    # A lone surrogate no journeys.json can hold (JSON readers refuse it), in case one gets in.
    fields = journey_map.journeys[0].steps[1].page.fields
    assert fields is not None
    fields["\ud83d"] = text + "\ud83d"
    journey_map.journeys[0].steps[1].calls[0].headers["x-note"] = text + "\ud83d"
    script = generate_k6(journey_map)
    parsed = _node_parses(script, tmp_path)
    assert parsed.returncode == 0, parsed.stderr
    assert script.isascii() and "</script" not in script
    options = _k6_inspect(script, tmp_path)  # the module loads, and its options read
    # Named by its pages' last two route segments ("/" splits the text; a segment with `$` or `{`
    # is dropped), reduced to [a-z0-9_]: " " and " \x00 é ::" leave nothing, so "home".
    assert list(options["scenarios"]) == ["journey_home_post_home"]


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_hostile_values_reach_the_site_as_recorded(runner: str, tmp_path: Path, site: Site) -> None:
    journey_map = load_journey_map(_hostile_map(tmp_path, HOSTILE, quote(HOSTILE, safe="")))
    script = generate_k6(journey_map)
    # ${CXE_SECRET_X} inside HOSTILE is a placeholder: read from the environment.
    env = {"BASE_URL": site.url, "ITERATIONS": "1", "THINK_SCALE": "0", "CXE_SECRET_X": "sx"}
    ran = RUNNERS[runner](script, tmp_path, env)
    sent = HOSTILE.replace("${CXE_SECRET_X}", "sx")
    assert [s["line"].split(" ")[0] for s in site.seen] == ["GET", "POST", "POST"], ran.output
    assert site.seen[0]["line"] == "GET /p/%27q%22%60%24%7B%7D?x=" + quote(sent, safe="${}")
    assert parse_qsl(site.seen[1]["body"], keep_blank_values=True) == [(sent, sent)]
    # The page had no meta tag to capture: the recorded body goes out as it was.
    assert json.loads(site.seen[2]["body"]) == {sent: [sent, 1, None, {"k": sent}]}


def test_no_scrubbed_secret_reaches_the_script(tmp_path: Path) -> None:
    (tmp_path / "hars").mkdir()
    hars = write_all(tmp_path / "hars")
    journey_map = build_journey_map(sorted(hars.values()))
    script = generate_k6(journey_map)
    for secret in SECRETS:
        for form in {secret, quote(secret), quote(secret, safe=""), urlencode({"v": secret})[2:]}:
            assert form not in script, form
    # The secrets the producers planted in fields are read from the environment instead.
    for variable in ("CXE_SECRET_EMAIL_1", "CXE_SECRET_CARD_NUMBER_1", "CXE_SECRET_PASSWORD_1",
                     "CXE_SECRET_PHONE_1"):  # fmt: skip
        assert f'env("{variable}")' in script
        assert f'  "{variable}": ' in script  # listed for setup()'s check
    assert _node_parses(script, tmp_path).returncode == 0
    options = _k6_inspect(script, tmp_path)
    # One journey over five sessions; each of its seven routes recorded at 40 ms: a threshold
    # of max(40 × 2, 40 + 1000) = 1040 ms.
    assert len(options["scenarios"]) == 1
    durations = {k: v for k, v in options["thresholds"].items() if k.startswith("http_req")}
    assert len(durations) == 7 and set(map(tuple, durations.values())) == {("p(90)<1040",)}


def test_the_same_map_gives_the_same_bytes(tmp_path: Path) -> None:
    path = _write_map(tmp_path / "j.json", [_journey(_login_order_steps())])
    assert generate_k6(load_journey_map(path)) == generate_k6(load_journey_map(path))


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_the_script_replays_the_journey_with_captured_values(
    runner: str, tmp_path: Path, site: Site
) -> None:
    path = _write_map(tmp_path / "j.json", [_journey(_login_order_steps())])
    script = generate_k6(load_journey_map(path))
    env = {"BASE_URL": site.url + "/", "ITERATIONS": "1", "THINK_SCALE": "0",
           "CXE_SECRET_EMAIL_1": EMAIL, "CXE_SECRET_PASSWORD_1": PASSWORD}  # fmt: skip
    ran = RUNNERS[runner](script, tmp_path, env)
    assert ran.ok, ran.output
    issued = site.issued
    # The requests the journey recorded, in order, each with what the site handed out before.
    assert [s["line"] for s in site.seen] == [
        "GET /login",
        "POST /login",
        f"GET /orders/{issued['order']}?ref={issued['ref']}",  # the redirect followed
        "POST /api/token",
        f"GET /api/orders/{issued['order']}/items?ref={issued['ref']}",
    ]
    login = dict(parse_qsl(site.seen[1]["body"]))
    assert login == {"csrf": issued["csrf"], "email": EMAIL, "password": PASSWORD}
    assert site.seen[1]["headers"]["cookie"] == f"sid={issued['sid']}"  # k6's cookie jar
    assert json.loads(site.seen[3]["body"]) == {"user": EMAIL}
    assert site.seen[4]["headers"]["x-auth-token"] == issued["token"]
    assert not any("stale" in json.dumps(s) for s in site.seen)


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_missing_variables_are_named_at_once(runner: str, tmp_path: Path, site: Site) -> None:
    path = _write_map(tmp_path / "j.json", [_journey(_login_order_steps())])
    ran = RUNNERS[runner](generate_k6(load_journey_map(path)), tmp_path, {"ITERATIONS": "1"})
    assert not ran.ok
    assert "3 variable(s) this script reads are not set" in ran.output
    for name in ("BASE_URL", "CXE_SECRET_EMAIL_1", "CXE_SECRET_PASSWORD_1"):
        assert name in ran.output
    assert site.seen == []


def test_scenarios_share_the_virtual_users_by_weight(tmp_path: Path) -> None:
    a = _journey([{"page": _request("GET", "/a", "/a"), "calls": []}], "a") | {"share": 0.75}
    b = _journey([{"page": _request("GET", "/b", "/b"), "calls": []}], "b") | {"share": 0.25}
    journey_map = load_journey_map(_write_map(tmp_path / "j.json", [a, b]))
    script = generate_k6(journey_map)
    scenarios = _k6_inspect(script, tmp_path, "-e", "VUS=8")["scenarios"]
    # 8 VUs over shares 0.75 and 0.25 (of 1.0): 6 and 2.
    assert {k: v["vus"] for k, v in scenarios.items()} == {"journey_a": 6, "journey_b": 2}
    # --top 1: the first journey (a map lists the heaviest first) alone, with all the VUs.
    only = generate_k6(journey_map, K6Options(top=1))
    scenarios = _k6_inspect(only, tmp_path, "-e", "VUS=8")["scenarios"]
    assert {k: v["vus"] for k, v in scenarios.items()} == {"journey_a": 8}


def test_seed_format_k6_writes_only_the_script(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cxe_gate.cli import main

    (tmp_path / "hars").mkdir()
    write_all(tmp_path / "hars")
    out = tmp_path / "load"
    result = CliRunner().invoke(
        main, ["seed", str(tmp_path / "hars"), "-o", str(out), "--format", "k6"]
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == [FILE_NAME]
    assert f"wrote {out / FILE_NAME}" in result.output
    parsed = _node_parses((out / FILE_NAME).read_text("utf-8"), tmp_path)
    assert parsed.returncode == 0, parsed.stderr
