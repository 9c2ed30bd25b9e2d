"""A multipart post whose field name and file name hold quotes, `${`, backticks, newlines and
script-looking text: the seeded Playwright tests and k6 script carry them only as string literals,
compile (node's own parser for k6), and call nothing but the seeder's own helpers."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path

from har_dicts import entry, har, write_har

from cxe_gate.har.pipeline import build_journey_map
from cxe_gate.seed.codegen import SeedOptions, generate
from cxe_gate.seed.k6 import generate_k6

FIELD = "f'ie\"ld`${alert(1)}`\n}); import os; os.system('x') #"
FILE_FIELD = "up\"lo'ad`${x}`\n"
FILE_NAME = "na'me\"`${process.exit(1)}`\r\n</script>.txt"
MIME = "multipart/form-data; boundary=b"
NODE = shutil.which("node") or "/usr/bin/node"
# Every function a seeded test may call: the journey's own steps and the runtime's markers.
ALLOWED_CALLS = {"page", "think", "env", "text", "ref", "url", "capture", "upload", "Call"}


def _hostile_map(tmp_path: Path):
    post = entry("https://app.test/upload", method="POST", at_s=2, headers={"Accept": "text/html"})
    post["request"]["postData"] = {
        "mimeType": MIME,
        "params": [
            {"name": FIELD, "value": "plain"},
            {"name": FILE_FIELD, "fileName": FILE_NAME, "contentType": "text/plain", "value": "x"},
        ],
    }
    page = entry("https://app.test/upload", headers={"Accept": "text/html"})
    return build_journey_map([write_har(tmp_path / "h.har", har([page, post]))])


def test_hostile_names_are_literals_in_the_seeded_tests(tmp_path):
    journey_map = _hostile_map(tmp_path)
    [upload] = journey_map.journeys[0].steps[1].page.files
    assert (upload.field, upload.name) == (FILE_FIELD, FILE_NAME)  # nothing personal: kept as sent
    for mode in ("browser", "api"):
        source = generate(journey_map, SeedOptions(mode=mode))["test_journeys.py"]
        tree = ast.parse(source)
        compile(tree, "test_journeys.py", "exec")
        called = {
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
        }
        assert called <= ALLOWED_CALLS, called
        strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
        assert {FIELD, FILE_FIELD, FILE_NAME} <= strings
        uploads = [
            n for n in ast.walk(tree)
            if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "upload"
        ]  # fmt: skip
        assert [ast.literal_eval(a) for a in uploads[0].args] == [FILE_NAME, "text/plain"]


def test_hostile_names_are_literals_in_the_k6_script(tmp_path):
    script = generate_k6(_hostile_map(tmp_path))
    # Written as JSON string literals (ASCII, `</` escaped): no template literal, no line break.
    assert json.dumps(FIELD) in script and json.dumps(FILE_FIELD) in script
    assert json.dumps(FILE_NAME).replace("</", "<\\/") in script
    assert "`${alert(1)}`\n" not in script and "${process.exit(1)}`\r" not in script
    checked = subprocess.run(
        [NODE, "--input-type=module", "--check"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
