"""Re-seeding never destroys a hand edit: tests nobody touched follow the new recordings, edited,
deleted and hand-written ones stay as a person left them, and the seeded versions of edited tests
come as a patch (reseed.diff) that applies with `patch -p1`."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

from seed_maps import journey, journey_map

from cxe_gate.seed.codegen import SeedOptions, generate
from cxe_gate.seed.write import DIFF, MANIFEST, Kept, reseed

BROWSE = "test_home_products"
BUY = "test_home_products_checkout_post_checkout_orders"
SEARCH = "test_search_products"
ACCOUNT = "test_account_account_orders"  # pages /account, then /account/orders
TESTS = "test_journeys.py"


def _journeys(weight: int = 1, *, search: bool = True, account: bool = True):
    found = [
        journey("GET /", "GET /products", weight=weight),
        journey("GET /", "GET /products/{id}", "GET /checkout", "POST /checkout",
                "GET /orders/{id}", weight=weight),
    ]  # fmt: skip
    if search:
        found.append(journey("GET /search", "GET /products"))
    if account:
        found.append(journey("GET /account", "GET /account/orders"))
    return journey_map(*found)


def _seed(suite: Path, **journeys):
    files = generate(_journeys(**journeys), SeedOptions(mode="api"))
    return files, reseed(suite, files)


def _tests(suite: Path) -> list[str]:
    tree = ast.parse((suite / TESTS).read_text("utf-8"))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]


def _edit(suite: Path, name: str, line: str) -> None:
    """Adds `line` to the test `name`, just under its docstring."""
    path = suite / TESTS
    source = path.read_text("utf-8")
    found = re.search(rf"def {name}\(.*\n    '[^\n]*'\n", source)
    assert found, name
    path.write_text(source[: found.end()] + line + "\n" + source[found.end() :], "utf-8")


def _drop(suite: Path, name: str) -> None:
    path = suite / TESTS
    source = path.read_text("utf-8")
    pattern = rf"\n\n\n# Weight[^\n]*\n# Sources[^\n]*\ndef {name}\(.*?(?=\n\n\n|\Z)"
    dropped = re.sub(pattern, "", source, count=1, flags=re.DOTALL)
    assert dropped != source
    path.write_text(dropped, "utf-8")


def test_the_same_map_again_changes_no_byte_and_leaves_no_diff(tmp_path):
    files, _ = _seed(tmp_path)
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(written) == {*files, MANIFEST}
    _, again = _seed(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == written
    assert again.kept == [] and again.diff == "" and not (tmp_path / DIFF).exists()
    manifest = json.loads(written[MANIFEST])
    assert set(manifest["files"]) == set(files)
    assert {BROWSE, BUY, SEARCH, ACCOUNT, "(header)"} <= set(manifest["files"][TESTS])


def test_an_untouched_test_follows_the_recordings_an_edited_one_is_kept_with_a_patch(tmp_path):
    _seed(tmp_path)
    _edit(tmp_path, BUY, "    # QA: the order page must show the total")
    files, result = _seed(tmp_path, weight=3)  # more sessions: the weights change
    source = (tmp_path / TESTS).read_text("utf-8")
    browse = source[source.index(f"def {BROWSE}(") - 120 : source.index(f"def {BROWSE}(")]
    assert "# Weight 3:" in browse  # rewritten from the new recordings
    buy = source[source.index(f"def {BUY}(") - 120 : source.index(f"def {BUY}(") + 300]
    assert "# Weight 1:" in buy and "# QA: the order page" in buy  # kept as edited
    assert result.kept == [
        Kept(TESTS, BUY, "edited by hand: kept; its seeded version is in the diff")
    ]
    # The patch holds only that test's seeded version: the QA line out, the weight in.
    lines = result.diff.splitlines()
    removed = [line for line in lines if line.startswith("-") and not line.startswith("---")]
    added = [line for line in lines if line.startswith("+") and not line.startswith("+++")]
    assert removed == [
        "-# Weight 1: taken in 1 of the recorded sessions (50%); recorded 2026-11-23.",
        "-    # QA: the order page must show the total",
    ]
    assert added == ["+# Weight 3: taken in 3 of the recorded sessions (50%); recorded 2026-11-23."]
    # Applied, it gives the seeded file; after that nothing is kept.
    done = subprocess.run(["patch", "-p1", "-i", DIFF], cwd=tmp_path, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / TESTS).read_text("utf-8") == files[TESTS]
    _, after = _seed(tmp_path, weight=3)
    assert after.kept == [] and not (tmp_path / DIFF).exists()


def test_an_edit_is_shown_once_until_the_seeder_has_something_new(tmp_path):
    _seed(tmp_path)
    _edit(tmp_path, BUY, "    # QA: checked by hand")
    _, same = _seed(tmp_path)  # the seeded version did not change: nothing to show
    assert same.kept == [Kept(TESTS, BUY, "edited by hand: kept")] and same.diff == ""
    assert "# QA: checked by hand" in (tmp_path / TESTS).read_text("utf-8")


def test_a_journey_no_longer_recorded_goes_unless_a_person_edited_it(tmp_path):
    _seed(tmp_path)
    _edit(tmp_path, SEARCH, "    # QA: search must stay")
    _, result = _seed(tmp_path, search=False, account=False)
    assert _tests(tmp_path) == [BROWSE, BUY, SEARCH]  # the untouched account test is gone
    assert result.kept == [Kept(TESTS, SEARCH, "edited by hand, no longer seeded: kept")]
    compile((tmp_path / TESTS).read_text("utf-8"), TESTS, "exec")


def test_hand_written_and_hand_deleted_tests_stay_that_way(tmp_path):
    _seed(tmp_path)
    _drop(tmp_path, ACCOUNT)
    path = tmp_path / TESTS
    hand = (
        "def test_qa_login(journey: SeededJourney) -> None:\n"
        "    journey.page('GET', '/login', route='/login', status=200)\n"
    )
    path.write_text(path.read_text("utf-8") + "\n\n" + hand, "utf-8")
    _, same = _seed(tmp_path)
    assert _tests(tmp_path) == [BROWSE, BUY, SEARCH, "test_qa_login"]
    assert set(same.kept) == {
        Kept(TESTS, ACCOUNT, "deleted by hand: not written again"),
        Kept(TESTS, "test_qa_login", "not written by the seeder: kept"),
    }
    assert same.diff == ""  # nothing new from the seeder for the deleted test
    _, heavier = _seed(tmp_path, weight=2)
    assert ACCOUNT not in _tests(tmp_path)
    # Its seeded version is not new (the account journey kept weight 1): still no diff; the
    # others were untouched and follow the new weights.
    assert heavier.diff == ""
    assert "# Weight 2:" in path.read_text("utf-8")


def test_a_file_in_the_middle_of_an_edit_is_kept_whole(tmp_path):
    _seed(tmp_path)
    path = tmp_path / TESTS
    broken = path.read_text("utf-8").replace(f"def {BUY}(", f"def {BUY}((", 1)
    path.write_text(broken, "utf-8")
    _, result = _seed(tmp_path, weight=2)
    assert path.read_text("utf-8") == broken
    assert result.kept == [Kept(TESTS, "(file)", "does not parse: kept as it is")]
    assert f"-def {BUY}((" in result.diff and f"+def {BUY}(" in result.diff


def test_a_broken_manifest_keeps_every_difference_and_says_so(tmp_path):
    _seed(tmp_path)
    _edit(tmp_path, BROWSE, "    # QA: edited")
    (tmp_path / MANIFEST).write_text("{not json", "utf-8")
    _, result = _seed(tmp_path, weight=2)
    assert len(result.notes) == 1 and "not a seed manifest" in result.notes[0]
    source = (tmp_path / TESTS).read_text("utf-8")
    assert "# QA: edited" in source
    # Without a manifest the weight change looks like an edit too: every changed test is kept.
    assert {k.part for k in result.kept} == {BROWSE, BUY}
    # The manifest is written again; with it the next re-seed knows what it wrote.
    json.loads((tmp_path / MANIFEST).read_text("utf-8"))


def test_a_fixture_added_to_the_conftest_stays_and_the_rest_follows(tmp_path):
    _seed(tmp_path)
    conftest = tmp_path / "conftest.py"
    fixture = "@pytest.fixture\ndef qa_account():\n    return 'qa@shop.test'\n"
    conftest.write_text(conftest.read_text("utf-8") + "\n\n" + fixture, "utf-8")
    # A new journey posts a scrubbed email: the seeded VARIABLES table must follow.
    files = generate(
        journey_map(journey("GET /", "POST /login", forms={"POST /login": {
            "email": "${CXE_SECRET_EMAIL_1}"}})),
        SeedOptions(),
    )  # fmt: skip
    result = reseed(tmp_path, files)
    source = conftest.read_text("utf-8")
    assert source.endswith(fixture)
    assert "'CXE_SECRET_EMAIL_1': 'step 2 POST /login, form field email'" in source
    assert Kept("conftest.py", "qa_account", "not written by the seeder: kept") in result.kept
    compile(source, "conftest.py", "exec")
