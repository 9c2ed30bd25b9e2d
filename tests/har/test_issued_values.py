"""Values a server issued and the client sent back (a sequence id in hidden inputs, a view state, a
cart's UUID from a JSON answer) leave journeys.json and the seeded suite as captured placeholders;
a client's own values, catalogue ids and ids a client made up stay as recorded."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import scrub_quality
from cxe_gate.har.model import Entry, Produced, ResponseFacts
from cxe_gate.har.pipeline import build_journey_map
from cxe_gate.har.scrub import Finding, Scrubber
from cxe_gate.seed.codegen import SeedOptions, generate

HERE = Path(__file__).parent
CASES = HERE / "scrub_cases.json"
ZAP = HERE / "corpus" / "zap-seq-simple.har"
SEQ_ID = "b4ee8e7a-68c1-47d2-bbd2-a2a3a7ae944f"  # labels.json: the seqId of zap-seq-simple.har
START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def _issued_cases(tmp_path: Path) -> Path:
    """The labelled cases with a `response` part: values a server issued."""
    cases = json.loads(CASES.read_text("utf-8"))
    cases["samples"] = [
        sample for sample in cases["samples"] if any("response" in p for p in sample["parts"])
    ]
    issued = tmp_path / "issued.json"
    issued.write_text(json.dumps(cases), "utf-8")
    return issued


def test_issued_cases_recall_and_precision_are_total(tmp_path: Path):
    quality = scrub_quality.measure(_issued_cases(tmp_path))
    # Counted by hand per sample: secrets 1 + 2 + 1 + 1 + 0 + 0, look-alikes 2 + 3 + 2 + 2 + 1 + 3.
    assert (quality.secrets, quality.kept + quality.changed) == (5, 13)
    assert quality.misses == []
    assert quality.changes == []


def test_the_zap_sequence_id_becomes_a_captured_placeholder():
    journey_map = build_journey_map([ZAP])
    [journey] = journey_map.journeys
    posts = [s.page for s in journey.steps if s.page.method == "POST"]
    # The recording: one GET, then five posts of the form, each sending seqId back.
    assert len(posts) == 5
    for post in posts:
        assert post.fields is not None
        assert post.fields["seqId"] == "${CXE_SECRET_CAPTURED_SEQID_1}"
        assert [(link.target, link.at, link.source, link.key) for link in post.links] == [
            ("form", ["seqId"], "html_input", ["seqId"])
        ]
        assert post.fields["seqStep"] in {"1", "2", "3", "4", "5"}  # a step number stays
    suite = generate(journey_map, SeedOptions())
    code = suite["test_journeys.py"]
    # At replay the test takes each page's live id and posts it back: five captures, five refs.
    assert code.count("capture('html_input', 'seqId')") == 5
    assert "'seqId': ref('seqid')" in code
    # Captured, so no environment variable stands for it.
    assert "CAPTURED" not in "".join(suite.values())
    assert SEQ_ID not in journey_map.model_dump_json() + "".join(suite.values())


def _entry(index: int, url: str, *, post: list[tuple[str, str]] | None = None,
           produced: tuple[Produced, ...] = ()) -> Entry:  # fmt: skip
    return Entry(
        file="s.har", index=index, started=START + timedelta(seconds=index), time_ms=10.0,
        method="POST" if post else "GET", url=url, status=200, mime="text/html",
        resource_type="document", pageref=None, request_headers=(), response_headers=(),
        request_cookies=(), response_cookies=(), post_mime=None, post_text=None,
        post_params=tuple(post) if post else None, facts=ResponseFacts(None, produced),
    )  # fmt: skip


def _scrubbed(entries: list[Entry]) -> list[dict[str, Any]]:
    scrubber = Scrubber()
    scrubber.learn(entries)
    found: list[Finding] = []
    out = []
    for entry in entries:
        clean, more = scrubber.scrub(entry)
        found.extend(more)
        out.append({"url": clean.url, "form": dict(clean.post_params or ())})
    return out


def test_a_value_the_client_sent_first_is_its_own_even_when_echoed():
    term = "oak-lamp-2024-edition"  # opaque enough to be issued, but the customer typed it first
    issued = "9f1c2b3a-4d5e-6f70-8a9b-0c1d2e3f4a5b"
    entries = [
        _entry(0, f"https://s.example/search?q={term}",
               produced=(Produced("html_input", ("q",), term),
                         Produced("html_input", ("wizard",), issued))),
        _entry(1, "https://s.example/search", post=[("q", term), ("wizard", issued)]),
    ]  # fmt: skip
    first, second = _scrubbed(entries)
    assert term in first["url"]
    assert second["form"] == {"q": term, "wizard": "${CXE_SECRET_CAPTURED_WIZARD_1}"}


def test_a_value_sent_back_before_it_was_issued_is_kept():
    # The request comes first in time: nothing had issued the value yet, so it is the client's.
    value = "a7b6c5d4-e3f2-4a1b-9c8d-7e6f5a4b3c2d"
    entries = [
        _entry(0, "https://s.example/start", post=[("ref", value)]),
        _entry(1, "https://s.example/next", produced=(Produced("json", ("ref",), value),)),
    ]
    first, _ = _scrubbed(entries)
    assert first["form"] == {"ref": value}


def test_a_token_by_its_name_keeps_its_kind_and_the_issued_value_is_chased():
    token = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5"
    view = "wEPDwUKMTY3NzE5MjIyMGRk7x2Kp9Qz"
    entries = [
        _entry(0, "https://s.example/form",
               produced=(Produced("html_input", ("authenticity_token",), token),
                         Produced("html_input", ("__VIEWSTATE",), view))),
        _entry(1, "https://s.example/form", post=[("authenticity_token", token),
                                                 ("__VIEWSTATE", view)]),
        # The view state again, in a later page's query string: the same placeholder.
        _entry(2, f"https://s.example/done?from={view}"),
    ]  # fmt: skip
    _, post, done = _scrubbed(entries)
    assert post["form"] == {
        "authenticity_token": "${CXE_SECRET_AUTHENTICITY_TOKEN_1}",
        "__VIEWSTATE": "${CXE_SECRET_CAPTURED_VIEWSTATE_1}",
    }
    assert view not in done["url"]
    assert "CXE_SECRET_CAPTURED_VIEWSTATE_1" in done["url"]


def test_a_response_header_hands_a_value_out_and_never_sends_it_back():
    # The server names each answer (`X-Request-Id`); the client never sends the id back, so it is
    # no captured value, even though the response that carries it is scrubbed after it issued it.
    request_id = "req-4f2a9c1e8b7d6a5f"
    entry = replace(
        _entry(0, "https://s.example/api/cart",
               produced=(Produced("header", ("x-request-id",), request_id),)),
        response_headers=(("X-Request-Id", request_id),),
    )  # fmt: skip
    scrubber = Scrubber()
    scrubber.learn([entry])
    clean, found = scrubber.scrub(entry)
    assert clean.response_headers == (("X-Request-Id", request_id),)
    assert [f for f in found if f.kind == "captured"] == []
