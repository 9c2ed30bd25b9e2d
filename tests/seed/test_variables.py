"""The environment variables a seeded suite reads: `.env.example` lists every one with what it is and
where each journey sends it, and a run names every variable the selected tests miss at once, before
any of them sends a request, with no secret value anywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from har_producers import SECRETS, chrome, visit, write
from loopback_site import serving
from seed_maps import journey, journey_map

from cxe_gate.har.journey_map import Link, Step
from cxe_gate.har.pipeline import build_journey_map
from cxe_gate.seed.codegen import SeedOptions, generate
from cxe_gate.seed.write import write_suite

LOGIN = {"email": "${CXE_SECRET_EMAIL_1}", "password": "${CXE_SECRET_PASSWORD_1}"}
MAP = journey_map(
    journey("GET /", "GET /products"),
    journey("GET /", "POST /login", "GET /users/${CXE_SECRET_USER_ID_1}/orders",
            forms={"POST /login": LOGIN}),
    journey("GET /search", "POST /newsletter",
            forms={"POST /newsletter": {"email": "${CXE_SECRET_EMAIL_1}"}}),
)  # fmt: skip
# Test names by hand: pages' last two route segments, a POST says so, scrubbed segments left out.
BROWSE = "test_home_products"
LOGIN_TEST = "test_home_post_login_users_orders"
NEWSLETTER = "test_search_post_newsletter"


def test_env_example_lists_every_variable_with_where_it_is_sent():
    text = generate(MAP, SeedOptions())[".env.example"]
    # Written by hand: sorted by name; each with its kind (from the name), its first place (the
    # tests in name order) and the others as "also".
    assert text.split("\n\n", 1)[1] == (
        "# email: test_home_post_login_users_orders, step 2 POST /login, form field email\n"
        "#   also test_search_post_newsletter, step 2 POST /newsletter, form field email\n"
        "CXE_SECRET_EMAIL_1=\n"
        "\n"
        "# password: test_home_post_login_users_orders, step 2 POST /login, form field password\n"
        "CXE_SECRET_PASSWORD_1=\n"
        "\n"
        "# user id: test_home_post_login_users_orders, step 3 GET "
        "/users/CXE_SECRET_USER_ID_1/orders, path\n"
        "CXE_SECRET_USER_ID_1=\n"
    )


def test_a_value_the_journey_captures_is_no_variable():
    # The login form's csrf_token was scrubbed, but the page before hands it out: the test
    # captures it at run time, so only the email is a variable.
    form = {"csrf_token": "${CXE_SECRET_CSRF_TOKEN_1}", "email": "${CXE_SECRET_EMAIL_1}"}
    login = journey("GET /login", "POST /login", forms={"POST /login": form})
    link = Link(target="form", at=["csrf_token"], step=0, call=None, source="html_input",
                key=["csrf_token"])  # fmt: skip
    post = login.steps[1].page.model_copy(update={"links": [link]})
    login = login.model_copy(update={"steps": [login.steps[0], Step(page=post, calls=[])]})
    files = generate(journey_map(login), SeedOptions())
    assert "ref('csrf_token')" in files["test_journeys.py"]
    assert "CXE_SECRET_CSRF_TOKEN_1" not in files[".env.example"] + files["conftest.py"]
    assert "CXE_SECRET_EMAIL_1=" in files[".env.example"]


def test_no_recorded_secret_reaches_the_variable_lists(tmp_path):
    hars = tmp_path / "hars"
    hars.mkdir()
    start = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    for n in range(3):
        write(hars / f"s{n}.har", chrome(visit(order_id=f"{n:020x}"), start + timedelta(hours=n)))
    files = generate(build_journey_map([hars]), SeedOptions())
    raw = "".join(p.read_text("utf-8") for p in hars.iterdir())
    assert all(secret in raw for secret in SECRETS[:3])  # the HARs did carry them
    for name, source in files.items():
        for secret in SECRETS:
            assert secret not in source, (name, secret)
    # Every variable a test reads is in .env.example, and nothing else is.
    read = set(re.findall(r"env\('(CXE_SECRET_\w+)'\)", files["test_journeys.py"]))
    listed = set(re.findall(r"^(CXE_SECRET_\w+)=$", files[".env.example"], re.MULTILINE))
    assert read and listed == read


@pytest.fixture
def site() -> Iterator[tuple[str, list[str]]]:
    with serving() as (base, seen):
        yield base, seen


def _run(suite: Path, base: str, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXE_SECRET_")}
    env.pop("CXE_SEEDED_MODE", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "--base-url", base, "-p", "no:cacheprovider",
         "-p", "no:xdist", "-p", "no:randomly", "--rootdir", str(suite), "-q", "-rf", *options],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_every_missing_variable_is_named_at_once_before_a_request(site, tmp_path):
    base, seen = site
    suite = tmp_path / "suite"
    write_suite(suite, generate(MAP, SeedOptions(mode="api")))
    done = _run(suite, base)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "2 failed, 1 passed" in output, output
    message = (
        "3 environment variable(s) the selected journeys read are not set (they replace values "
        "scrubbed from the recorded sessions; see .env.example):\n"
        "  - CXE_SECRET_EMAIL_1 (email): test_home_post_login_users_orders, step 2 POST /login, "
        "form field email\n"
        "  - CXE_SECRET_PASSWORD_1 (password): test_home_post_login_users_orders, step 2 POST "
        "/login, form field password\n"
        "  - CXE_SECRET_USER_ID_1 (user id): test_home_post_login_users_orders, step 3 GET "
        "/users/CXE_SECRET_USER_ID_1/orders, path\n"
    )
    # Once at the start (after collection, before the first test), then in each failing test.
    assert output.index(message) < output.index("FAILURES"), output
    # The short summary repeats it in full when pytest sees a CI (it truncates it elsewhere).
    body = output.split("short test summary info")[0]
    assert body.count(message) == 3, output
    assert "Traceback" not in output
    # The tests missing a variable sent nothing; the one without any ran as recorded.
    assert seen == ["GET /", "GET /products"]


def test_only_the_selected_tests_variables_are_named(site, tmp_path):
    base, seen = site
    suite = tmp_path / "suite"
    write_suite(suite, generate(MAP, SeedOptions(mode="api")))
    done = _run(suite, base, "-k", "newsletter")
    output = done.stdout + done.stderr
    assert "1 failed, 2 deselected" in output, output
    assert "1 environment variable(s) the selected journeys read are not set" in output
    # Named where a selected test sends it.
    email = "  - CXE_SECRET_EMAIL_1 (email): test_search_post_newsletter, step 2 POST /newsletter"
    assert email in output
    assert "CXE_SECRET_PASSWORD_1" not in output and "CXE_SECRET_USER_ID_1" not in output
    assert seen == []
