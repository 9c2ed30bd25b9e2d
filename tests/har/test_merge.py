"""Journey maps that merge: shards of the HAR files read into partial maps and merged give the
journey map one run over all of them gives, byte for byte, whatever the split, the order and the
grouping of the merges; a partial map holds no secret; the CLI does it the same way."""

from __future__ import annotations

import itertools
import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner
from har_producers import SECRETS, SITE, Req, chrome, playwright_attached, visit, write, write_all
from hypothesis import given, settings
from hypothesis import strategies as st

from cxe_gate.cli import main
from cxe_gate.errors import HarError
from cxe_gate.har import sessions
from cxe_gate.har.journey_map import load_journey_map
from cxe_gate.har.load import expand
from cxe_gate.har.merge import combine, finish
from cxe_gate.har.partial import PartialMap, is_partial_map, load_partial_map
from cxe_gate.har.pipeline import build_journey_map, build_partial_map
from cxe_gate.har.scrub import ScrubRules

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
KEY = b"the shards' shared secret"
EMAILS = [f"customer.{n}@example.org" for n in range(3)]
DIGEST_TOKEN = re.compile(r"\$\{CXE_SECRET_[A-Z0-9_]+_[A-P]{32}\}")


def _varied(directory: Path, number: int, rng: random.Random) -> None:
    """A visit that differs from the others: its own order and product, an e-mail shared with some
    sessions (in a form and in a URL path), some cut short, statuses and times of its own."""
    email = EMAILS[number % len(EMAILS)]
    reqs = visit(order_id=f"{rng.getrandbits(80):020x}", product=rng.randrange(1, 40))
    reqs.insert(8, Req("GET", f"{SITE}/api/users/{email}/orders", at_ms=3200))
    if number % 3 == 0:
        reqs = reqs[:9]  # left after the product page
    for req in reqs:
        if isinstance(req.body, list):
            req.body = [(k, email if k == "email" else v) for k, v in req.body]
        req.time_ms = rng.choice([10.0, 20.5, 33.0, 40.0, 41.0])
        if req.kind == "fetch" and rng.random() < 0.3:
            req.status = rng.choice([200, 201, 500])
    day = START + timedelta(days=number % 3, minutes=number)
    write(directory / f"visit-{number:02d}.har", chrome(reqs, day))


@pytest.fixture(scope="module")
def hars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sessions of every producer (one customer's secrets in each), a Playwright zip, visits that
    differ, and a file that cannot be read."""
    root = tmp_path_factory.mktemp("merge") / "hars"
    (root / "producers").mkdir(parents=True)
    write_all(root / "producers", START)
    playwright_attached(root / "playwright.zip", visit(), START + timedelta(days=1))
    rng = random.Random(17)
    for number in range(7):
        _varied(root, number, rng)
    (root / "broken.har").write_text('{"log": {"entries": [', encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def single(hars: Path) -> str:
    """The journey map of one run over every HAR."""
    return build_journey_map([hars]).model_dump_json(indent=2)


def _partial(paths: list[Path], key: bytes | None = KEY) -> PartialMap:
    """A shard's partial map, as written to its file and read back."""
    return PartialMap.model_validate_json(build_partial_map(paths, key=key).model_dump_json())


def _shards(hars: Path, count: int) -> list[list[Path]]:
    paths = expand([hars])
    return [paths[i::count] for i in range(count)]


def _merged(parts: list[tuple[str, PartialMap]]) -> str:
    return finish(combine(parts)).model_dump_json(indent=2)


def test_three_shards_merged_in_every_order_and_grouping_equal_one_run(hars, single):
    parts = [(f"part-{i}.json", _partial(s)) for i, s in enumerate(_shards(hars, 3), 1)]
    for order in itertools.permutations(parts):
        assert _merged(list(order)) == single
    a, b, c = parts
    left = combine([("ab", combine([a, b])), c]).model_dump_json()
    right = combine([a, ("bc", combine([b, c]))]).model_dump_json()
    flat = combine([c, a, b]).model_dump_json()
    assert left == right == flat  # the partial maps themselves, not only what they give
    journey_map = json.loads(single)
    assert journey_map["summary"]["files_failed"] == 1  # the broken file is merged like the rest
    assert len(journey_map["journeys"]) >= 3


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_any_split_merged_in_any_grouping_equals_one_run(hars, single, data):
    paths = expand([hars])
    owners = data.draw(st.lists(st.integers(0, 3), min_size=len(paths), max_size=len(paths)))
    shards = [[p for p, o in zip(paths, owners, strict=True) if o == i] for i in range(4)]
    parts = [(f"part-{i}", _partial(s)) for i, s in enumerate(shards) if s]
    parts = data.draw(st.permutations(parts))
    cut = data.draw(st.integers(1, len(parts)))
    grouped = [("left", combine(parts[:cut]))]
    if parts[cut:]:
        grouped.append(("right", combine(parts[cut:])))
    assert _merged(grouped) == single


def _items(directory: Path, name: str, answers: list[dict], start: datetime) -> None:
    reqs = [Req("GET", f"{SITE}/", mime="text/html", kind="document")]
    reqs += [Req("GET", f"{SITE}/api/items/{i + 1}", at_ms=100 + i) for i in range(len(answers))]
    har = chrome(reqs, start)
    for entry, answer in zip(har["log"]["entries"][1:], answers, strict=True):
        entry["response"]["content"]["text"] = json.dumps(answer)
    write(directory / name, har)


def test_a_shape_comes_from_the_first_answers_of_its_route_across_shards(tmp_path, monkeypatch):
    """One run infers a route's shape from its first answers only (here 3); the fourth answer on
    has a new key. A shard meeting that answer among its own first three keeps its shape, and the
    merge leaves it out, as one run does."""
    monkeypatch.setattr(sessions, "SHAPES_PER_ROUTE", 3)
    early, late = {"id": 1, "name": "mug"}, {"id": 2, "name": "cup", "late": True}
    _items(tmp_path, "a.har", [early, early], START)
    _items(tmp_path, "b.har", [early, late], START)
    _items(tmp_path, "c.har", [late, late], START)
    _items(tmp_path, "d.har", [late, late], START)
    one_run = build_journey_map([tmp_path])
    shape = one_run.journeys[0].steps[0].calls[0].response.shape
    assert "late" not in shape["properties"]
    parts = [("ac", _partial([tmp_path / "a.har", tmp_path / "c.har"]))]
    parts.append(("bd", _partial([tmp_path / "b.har", tmp_path / "d.har"])))
    assert any("late" in json.dumps(s) for s in parts[0][1].shapes.values())
    assert _merged(parts) == one_run.model_dump_json(indent=2)


def test_one_secret_in_two_shards_is_one_placeholder_and_two_secrets_are_two(hars, single):
    visits = sorted(hars.glob("visit-*.har"))
    first, second = _partial(visits[:1]), _partial(visits[3:4])  # the same customer's e-mail
    third = _partial(visits[1:2])  # another customer's
    tokens = [
        {t for f in p.files for t in f.secrets if "_EMAIL_" in t} for p in (first, second, third)
    ]
    assert tokens[0] == tokens[1]
    assert not tokens[0] & tokens[2]
    placeholders = json.loads(single)["placeholders"]
    # One per distinct e-mail: the producers' customer and the visits' three.
    assert [p for p in placeholders if p.startswith("${CXE_SECRET_EMAIL_")] == [
        f"${{CXE_SECRET_EMAIL_{n}}}" for n in range(1, 5)
    ]


def test_a_partial_map_holds_no_secret_only_keyed_digests(hars):
    text = build_partial_map([hars], key=KEY).model_dump_json()
    planted = [*SECRETS, *EMAILS, "sk_live_abcdef123456", "k3y-f0r-th1s-s3ss10n"]
    for secret in planted:
        for form in {secret, quote_plus(secret), quote(secret), quote(secret, safe="")}:
            assert form not in text, form
    tokens = set(DIGEST_TOKEN.findall(text))
    assert tokens
    other = build_partial_map([hars], key=b"another key").model_dump_json()
    assert not tokens & set(DIGEST_TOKEN.findall(other))  # a digest says nothing without the key
    assert json.loads(text)["digests"]["keyed"] is True


def test_a_merge_refuses_partial_maps_it_cannot_match(hars):
    one, two, _ = _shards(hars, 3)
    with pytest.raises(HarError, match=r"another CXE_GATE_MERGE_KEY than a\.json") as raised:
        combine([("a.json", _partial(one)), ("b.json", _partial(two, key=b"other"))])
    assert raised.value.file == "b.json"
    unkeyed = [("a.json", _partial(one)), ("b.json", _partial(two, key=None))]
    with pytest.raises(HarError, match="CXE_GATE_MERGE_KEY"):
        combine(unkeyed)
    kept = PartialMap.model_validate_json(
        build_partial_map(
            two, key=KEY, rules=ScrubRules(keep=frozenset({"email"}))
        ).model_dump_json()
    )
    with pytest.raises(HarError, match=r"other settings than a.json \(keep\)"):
        combine([("a.json", _partial(one)), ("b.json", kept)])
    with pytest.raises(HarError, match=r"holds .*, which a.json holds too") as raised:
        combine([("a.json", _partial(one)), ("c.json", _partial(one[-1:]))])
    assert raised.value.file == "c.json"


def test_a_partial_map_says_what_it_is(hars, tmp_path):
    path = tmp_path / "part.json"
    path.write_text(build_partial_map([hars], key=KEY).model_dump_json() + "\n", "utf-8")
    head = json.loads(path.read_text("utf-8"))
    assert list(head)[:2] == ["partial", "schema_version"]
    assert (head["partial"], head["schema_version"]) == (True, "1.0")
    assert is_partial_map(path)
    assert not is_partial_map(hars / "visit-00.har")
    journeys = tmp_path / "journeys.json"
    journeys.write_text(build_journey_map([hars]).model_dump_json(indent=2), "utf-8")
    assert not is_partial_map(journeys)
    assert load_partial_map(path).files
    with pytest.raises(HarError, match="a partial journey map") as raised:
        load_journey_map(path)
    assert raised.value.file == str(path)
    with pytest.raises(HarError, match=r"not a partial journey map of version 1\.0") as raised:
        load_partial_map(journeys)
    assert raised.value.file == str(journeys)


# --- the CLI -----------------------------------------------------------------------------------


def _cli(*args: str, key: str | None = KEY.decode()) -> tuple[int, str, str]:
    env = {"CXE_GATE_MERGE_KEY": key}
    result = CliRunner().invoke(main, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_writes_partial_maps_and_merges_them_into_the_one_run_map(hars, tmp_path):
    code, printed, _ = _cli("journeys", str(hars), "-o", str(tmp_path / "single.json"))
    assert code == 4  # the broken file, reported and skipped
    parts = []
    for i, shard in enumerate(_shards(hars, 3), 1):
        part = tmp_path / f"part-{i}.json"
        code, out, err = _cli("journeys", "--partial", *map(str, shard), "-o", str(part))
        assert code == (4 if hars / "broken.har" in shard else 0), out + err
        assert f"wrote {part} (a partial map)" in out
        assert "note:" not in err  # the key is set
        parts.append(str(part))
    merged = tmp_path / "merged.json"
    code, out, err = _cli("journeys", *reversed(parts), "-o", str(merged))
    assert code == 4
    assert merged.read_bytes() == (tmp_path / "single.json").read_bytes()
    assert out.replace(str(merged), "X") == printed.replace(str(tmp_path / "single.json"), "X")
    assert "broken.har:line 1 column" in err
    # A merge of merges, and partial maps merged with HAR files read on the spot.
    both = tmp_path / "both.json"
    assert _cli("journeys", "--partial", parts[0], parts[2], "-o", str(both))[0] == 4
    again = tmp_path / "again.json"
    shard = _shards(hars, 3)[1]
    assert _cli("journeys", str(both), *map(str, shard), "-o", str(again))[0] == 4
    assert again.read_bytes() == merged.read_bytes()


def test_the_cli_says_what_is_wrong_with_a_merge(hars, tmp_path):
    code, out, err = _cli("journeys", "--partial", str(hars))
    assert code == 2
    assert "give -o" in out + err
    part = tmp_path / "part.json"
    code, out, err = _cli("journeys", "--partial", str(hars), "-o", str(part), key=None)
    assert "CXE_GATE_MERGE_KEY is not set" in err
    code, out, err = _cli("journeys", str(part), "--keep", "email")
    assert code == 2
    assert "partial maps were scrubbed when they were written" in out + err
    keyed = tmp_path / "keyed.json"
    _cli("journeys", "--partial", str(hars / "producers"), "-o", str(keyed))
    code, out, err = _cli("journeys", str(part), str(keyed))
    assert code == 2
    assert f"{keyed}: written with another CXE_GATE_MERGE_KEY than {part}" in err


def test_seed_takes_partial_maps_and_writes_the_suite_one_run_would(hars, tmp_path):
    from_hars = tmp_path / "from-hars"
    assert _cli("seed", str(hars), "-o", str(from_hars))[0] == 4
    parts = []
    for i, shard in enumerate(_shards(hars, 2)):
        part = tmp_path / f"part-{i}.json"
        _cli("journeys", "--partial", *map(str, shard), "-o", str(part))
        parts.append(str(part))
    from_parts = tmp_path / "from-parts"
    code, out, err = _cli("seed", *parts, "-o", str(from_parts))
    assert code == 4, out + err  # the broken file is still reported
    for name in ("conftest.py", "test_journeys.py"):
        assert (from_parts / name).read_bytes() == (from_hars / name).read_bytes()
    one = tmp_path / "one"
    assert _cli("seed", parts[0], "-o", str(one))[0] in (0, 4)  # a merge of one
    assert (one / "test_journeys.py").exists()
