"""Multipart form posts as HAR producers write them: fields from `postData.params` (with
`fileName`/`contentType` for files) or from the raw `postData.text` split at its boundary; text
fields scrubbed like a url-encoded form's, a file kept as its field, scrubbed name, type and size,
never its content; bad bodies named at their place; older journey maps still read."""

from __future__ import annotations

import base64
import json

import pytest
from har_dicts import entry, har, write_har

from cxe_gate.errors import HarError
from cxe_gate.har.journey_map import load_journey_map
from cxe_gate.har.model import PostedFile
from cxe_gate.har.parse import parse_entry
from cxe_gate.har.pipeline import build_journey_map
from cxe_gate.seed.codegen import SeedOptions, generate

BOUNDARY = "----WebKitFormBoundaryXyZ"
CONTENT = b"%PDF-1.4 SECRET-BYTES"  # 21 bytes
BODY = (
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="display_name"\r\n\r\n'
    "Ada Lovelace\r\n"
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="password"\r\n\r\n'
    "hunter2-Secret!\r\n"
    f"--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="cv"; filename="Ada Lovelace CV.pdf"\r\n'
    "Content-Type: application/pdf\r\n\r\n"
    f"{CONTENT.decode()}\r\n"
    f"--{BOUNDARY}--\r\n"
)
MIME = f"multipart/form-data; boundary={BOUNDARY}"


def _post(post_data: dict, url: str = "https://app.test/profile") -> dict:
    raw = entry(url, method="POST", headers={"Accept": "text/html"}, at_s=2)
    raw["request"]["postData"] = post_data
    return raw


def _map(tmp_path, post_data: dict):
    page = entry("https://app.test/profile", headers={"Accept": "text/html"})
    path = write_har(tmp_path / "s.har", har([page, _post(post_data)]))
    [journey] = build_journey_map([path]).journeys
    return journey.steps[1].page, path


def test_a_raw_body_is_split_at_its_boundary_and_the_file_content_dropped():
    parsed = parse_entry(_post({"mimeType": MIME, "text": BODY}), "a.har", 0)
    assert parsed.post_params == (("display_name", "Ada Lovelace"), ("password", "hunter2-Secret!"))
    # 21 bytes: len("%PDF-1.4 SECRET-BYTES") counted by hand.
    assert parsed.post_files == (PostedFile("cv", "Ada Lovelace CV.pdf", "application/pdf", 21),)
    assert parsed.post_text is None  # the raw body held the file


def test_a_base64_body_reads_the_same():
    encoded = base64.b64encode(BODY.encode()).decode()
    parsed = parse_entry(_post({"mimeType": MIME, "text": encoded, "encoding": "base64"}), "a", 0)
    assert [f.size for f in parsed.post_files] == [21]
    assert dict(parsed.post_params or ())["display_name"] == "Ada Lovelace"


def test_params_with_file_names_are_files():
    params = [
        {"name": "note", "value": "hello"},
        {"name": "doc", "fileName": "a.txt", "contentType": "text/plain", "value": "SECRET"},
        {"name": "doc", "fileName": "b.bin"},  # no type, no content kept by the producer
    ]
    parsed = parse_entry(_post({"mimeType": MIME, "params": params, "text": ""}), "f.har", 0)
    assert parsed.post_params == (("note", "hello"),)
    assert parsed.post_files == (
        PostedFile("doc", "a.txt", "text/plain", 6),  # len("SECRET")
        PostedFile("doc", "b.bin", None, 0),
    )


def test_a_content_type_without_its_boundary_reads_it_from_the_body():
    # Some producers write postData.mimeType without the boundary: the body's first line is it.
    parsed = parse_entry(_post({"mimeType": "multipart/form-data", "text": BODY}), "a.har", 0)
    assert dict(parsed.post_params or ())["display_name"] == "Ada Lovelace"
    assert [f.size for f in parsed.post_files] == [21]


@pytest.mark.parametrize(
    ("post_data", "location", "said"),
    [
        ({"mimeType": "multipart/form-data", "text": "a=1"}, "postData.mimeType", "boundary"),
        ({"mimeType": MIME, "text": "no parts here"}, "postData.text", "at its boundary"),
        (
            {"mimeType": MIME, "text": f"--{BOUNDARY}\r\nX: y\r\n\r\nv\r\n--{BOUNDARY}--\r\n"},
            "postData.text (part 1)",
            "Content-Disposition: form-data; name=",
        ),
        ({"mimeType": MIME, "params": [{"value": "x"}]}, "postData.params[0]", "`name`"),
    ],
)
def test_a_bad_multipart_body_is_named_at_its_place(post_data, location, said):
    with pytest.raises(HarError) as raised:
        parse_entry(_post(post_data), "bad.har", 3)
    assert raised.value.file == "bad.har"
    assert raised.value.location == f"log.entries[3].request.{location}"
    assert said in raised.value.message


def test_the_journey_map_carries_scrubbed_fields_and_files_never_content(tmp_path):
    request, path = _map(tmp_path, {"mimeType": MIME, "text": BODY})
    assert request.body == "multipart" and request.content_type == "multipart/form-data"
    # Scrubbed as a url-encoded form's fields are (named by field, numbered from 1); the
    # customer's name inside the file name is the same secret, so the same placeholder.
    assert request.fields == {
        "display_name": "${CXE_SECRET_DISPLAY_NAME_1}",
        "password": "${CXE_SECRET_PASSWORD_1}",
    }
    [upload] = request.files
    assert (upload.field, upload.name, upload.type, upload.size) == (
        "cv",
        "${CXE_SECRET_DISPLAY_NAME_1} CV.pdf",
        "application/pdf",
        21,
    )
    document = build_journey_map([path]).model_dump_json()
    for secret in ("Ada Lovelace", "hunter2", "SECRET-BYTES", BOUNDARY):
        assert secret not in document
    files = generate(build_journey_map([path]), SeedOptions(mode="api"))
    tests = files["test_journeys.py"]
    # .env.example says where each variable is sent: the name also goes into the file name.
    assert "POST /profile, file name in multipart field cv" in files[".env.example"]
    assert "POST /profile, multipart field password" in files[".env.example"]
    assert "'cv': upload(text(env('CXE_SECRET_DISPLAY_NAME_1'), ' CV.pdf'), 'application/pdf')" in (
        tests
    )
    assert "Ada" not in tests and "SECRET-BYTES" not in tests


def test_a_journey_map_written_before_multipart_still_loads(tmp_path):
    timing = dict.fromkeys(("min_ms", "p50_ms", "p90_ms", "max_ms", "mean_ms"), 5.0)
    timing["count"] = 1
    old_post = {"method": "POST", "host": "app.test", "route": "/order", "status": 303,
                "body": "form", "fields": {"receipt": "receipt.pdf"}, "time": timing}  # fmt: skip
    summary = dict.fromkeys(("files", "sessions", "entries_read", "entries_kept", "journeys"), 1)
    summary |= {"files_failed": 0, "entries_dropped": 0}
    journey = {"id": "j1", "name": "order", "weight": 1, "share": 1.0, "occurrences": 1,
               "sessions": ["a.har"], "duration": timing,
               "steps": [{"page": old_post, "calls": []}]}  # fmt: skip
    document = {"schema_version": "1.1", "first_party": ["app.test"], "summary": summary,
                "journeys": [journey], "scrubbed": [], "dropped": {}, "placeholders": [],
                "failures": []}  # fmt: skip
    path = tmp_path / "old.json"
    path.write_text(json.dumps(document), "utf-8")
    request = load_journey_map(path).journeys[0].steps[0].page
    assert request.files == [] and request.fields == {"receipt": "receipt.pdf"}
