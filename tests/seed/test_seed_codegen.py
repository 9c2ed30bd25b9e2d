"""The code generator on hostile input: whatever a HAR holds in URLs, headers, form fields and JSON
bodies, the seeded files compile, carry those values only as literals, and run none of them; the
same map gives the same bytes; think time is recorded pauses, capped, only when asked for."""

from __future__ import annotations

import ast
import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxe_gate.har.journey_map import (
    JourneyMap,
    Link,
    MappedJourney,
    Request,
    Response,
    Step,
    Summary,
    Timing,
)
from cxe_gate.seed.codegen import SeedOptions, generate, literal
from cxe_gate.seed.names import journey_test_names

HOSTILE_PIECES = [
    "'", '"', "'''", '"""', "\\", "\n", "\r", "\u2028", "\u2029", "\x00", "{", "}", "{0}", "%s",
    "#", "__import__('os').system('touch /tmp/pwned')", "\t", "${CXE_SECRET_X_1}", "é", "\ud7ff",
    "); import os; (", "*/", "\x1b[31m", "\\N{BULLET}", "\\u0041",
]  # fmt: skip
hostile = st.lists(
    st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=6)), min_size=1, max_size=6
).map("".join)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), hostile),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile, inner, max_size=3)
    ),
    max_leaves=8,
)
TIMING = Timing(count=1, min_ms=5.0, p50_ms=5.0, p90_ms=5.0, max_ms=5.0, mean_ms=5.0)
ALLOWED_CALLS = {"Call", "env", "ref", "url", "text", "capture", "float", "page", "think"}
ALLOWED_NAMES = {"Call", "SeededJourney", "env", "ref", "url", "text", "capture", "float", "journey",
                 "None"}  # fmt: skip


def _map(route, path, form, body, header, name, session, duration=TIMING) -> JourneyMap:
    page = Request(method="GET", host="shop.test", route=route, path=path, status=200,
                   body="none", time=TIMING)  # fmt: skip
    post = Request(method="POST", host="shop.test", route=route, path=path, status=303,
                   body="form", fields=form, time=TIMING)  # fmt: skip
    call = Request(
        method="POST", host="shop.test", route=route, path=path, status=200, body="json",
        fields=body, time=TIMING, response=Response(mime="application/json", shape={
            "type": "object", "properties": {name: {"type": "string"}}, "required": [name]}),
        links=[Link(target="header", at=[header], step=0, call=None, source="header",
                    key=[header])],
    )  # fmt: skip
    journey = MappedJourney(
        id="j1", name=name, weight=1, share=1.0, occurrences=1, sessions=[session],
        recorded=["2026-11-23"], duration=duration,
        steps=[Step(page=page, calls=[]), Step(page=post, calls=[call])],
    )  # fmt: skip
    return JourneyMap(
        first_party=["shop.test"],
        summary=Summary(
            files=1,
            files_failed=0,
            sessions=1,
            entries_read=3,
            entries_kept=3,
            entries_dropped=0,
            journeys=1,
        ),
        journeys=[journey],
        scrubbed=[],
        dropped={},
        placeholders=[],
        failures=[],
    )


def _strings(tree: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    route=hostile, path=hostile, form=st.dictionaries(hostile, hostile, min_size=1, max_size=4),
    body=st.dictionaries(hostile, json_values, min_size=1, max_size=3), header=hostile,
    name=hostile, session=hostile,
)  # fmt: skip
def test_hostile_values_stay_literals_and_the_files_compile(
    route, path, form, body, header, name, session
):
    journey_map = _map(route, path, form, body, header, name, session)
    files = generate(journey_map, SeedOptions())
    assert generate(journey_map, SeedOptions()) == files  # byte-identical for the same map
    for file_name, source in files.items():
        if not file_name.endswith(".py"):
            continue
        tree = ast.parse(source, file_name)  # compiles: a SyntaxError fails the test
        compile(tree, file_name, "exec")
    # .env.example: comments, blank lines and NAME= only, whatever the HAR held.
    for line in files[".env.example"].splitlines():
        assert line == "" or line.startswith("# ") or re.fullmatch(r"CXE_SECRET_[A-Z0-9_]+=", line)
        assert all(c in string.printable for c in line), line
    tree = ast.parse(files["test_journeys.py"])
    # Nothing from the HAR became code: only our calls and names appear, HAR text is in constants.
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            assert called in ALLOWED_CALLS, ast.unparse(node)
        if isinstance(node, ast.Name):
            assert node.id in ALLOWED_NAMES or node.id.startswith("SHAPE_"), node.id
        assert not isinstance(node, ast.Lambda | ast.Subscript | ast.JoinedStr | ast.BinOp)
    strings = _strings(tree)
    for value in [*form.values(), *form.keys(), name, route]:
        if "${CXE_SECRET_" not in value:  # those become env(...) calls by design
            assert value in strings, value
    # Comments carry no HAR text that could end a comment and start code.
    for line in files["test_journeys.py"].splitlines():
        if line.lstrip().startswith("#"):
            assert all(c in string.printable for c in line), line


@given(value=json_values)
def test_a_literal_evaluates_back_to_the_value(value):
    source = literal(value)
    tree = ast.parse(source, mode="eval")
    if not any(isinstance(n, ast.Call) for n in ast.walk(tree)):  # no env() / float("nan")
        assert ast.literal_eval(source) == value


@given(name=hostile)
def test_test_names_are_identifiers(name):
    journey = _map(name, name, {"a": "b"}, {"a": 1}, "x-h", name, name).journeys[0]
    (test_name,) = journey_test_names([journey])
    assert test_name.isidentifier() and re.fullmatch(r"[a-z0-9_]+", test_name)
    assert "cxe_secret" not in test_name


def _pauses(source: str) -> list[int]:
    return [int(ms) for ms in re.findall(r"journey\.think\((\d+)\)", source)]


@pytest.mark.parametrize(
    ("duration_ms", "expected"),
    [
        # Two steps, each request 5 ms (p50): the page of step 1, the page and the call of step 2.
        # 4215 - 15 = 4200 ms idle, one pause between the two steps.
        (4215.0, [4200]),
        (4264.0, [4200]),  # 4249 ms: to the nearest 100 ms
        (60_000.0, [10_000]),  # a customer away for a minute: capped at 10 s
        (20.0, []),  # no idle time: no pause written
    ],
)
def test_recorded_think_time_is_the_idle_time_between_steps(duration_ms, expected):
    duration = Timing(count=1, min_ms=duration_ms, p50_ms=duration_ms, p90_ms=duration_ms,
                      max_ms=duration_ms, mean_ms=duration_ms)  # fmt: skip
    journey_map = _map("/a", "/a", {"a": "b"}, {"a": 1}, "x-h", "n", "s.har", duration)
    recorded = generate(journey_map, SeedOptions(think_time="recorded"))["test_journeys.py"]
    assert _pauses(recorded) == expected
    assert _pauses(generate(journey_map, SeedOptions())["test_journeys.py"]) == []  # default none
    with pytest.raises(ValueError, match="think time must be none or recorded"):
        generate(journey_map, SeedOptions(think_time="sometimes"))
