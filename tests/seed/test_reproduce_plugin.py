"""The pytest plugin names the seeded tests that reproduce a failed criterion, as `cxe-gate evaluate`
does: the example shop's regressed release judged by pytest, with `seeded:` pointing at a suite
seeded from a hand-built journey map."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from seed_maps import journey, journey_map

from cxe_gate.seed.codegen import SeedOptions, generate, seeded_tests
from cxe_gate.seed.write import reseed

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"
# By hand (names.py: each page's last two route segments, placeholders left out, POST prefixed).
BROWSE = "test_home_products"  # GET / → GET /products/{id}, calling GET /api/products/{id}
BUY = "test_home_products_checkout_post_checkout_orders"  # ... → GET, POST /checkout → GET /orders/{id}


def test_a_failed_criterion_item_names_the_seeded_tests_of_its_routes(tmp_path: Path):
    seeded = journey_map(
        journey("GET /", "GET /products/{id}", calls=("GET /api/products/{id}",), weight=3),
        journey("GET /", "GET /products/{id}", "GET /checkout", "POST /checkout", "GET /orders/{id}",
                weight=2),
    )  # fmt: skip
    (tmp_path / "journeys.json").write_text(seeded.model_dump_json(), "utf-8")
    options = SeedOptions(mode="api")
    reseed(tmp_path / "seeded", generate(seeded, options), seeded_tests(seeded, options))
    criteria = (SHOP / "cxe.yml").read_text().replace(" data/", f" {SHOP / 'data'}/")
    (tmp_path / "cxe.yml").write_text(criteria + "\nseeded: {map: journeys.json, suite: seeded}\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--cxe-config", "cxe.yml", "--cxe-release", "shop-1.5.0",
         "--cxe-deployed-at", "2026-11-17T14:00:00Z", "--ignore", "seeded", "-p", "no:cacheprovider",
         "-p", "no:xdist", "-p", "no:randomly", "-q", "-rfw"],
        cwd=tmp_path, env={**os.environ, "COLUMNS": "400"}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    # shop-1.5.0's p95 at /checkout regressed: only the journey through /checkout touches it.
    assert f"1,500 ms; reproduce with: pytest seeded -k {BUY}" in output, output
    # `path LIKE '/api/%'`: only the browsing journey calls the API; its name is part of BUY's, so
    # `-k` would select both and the test is named by node id instead.
    assert f"reproduce with: pytest seeded/test_journeys.py::{BROWSE}" in output, output
    # The checkout funnel is of analytics events no request of the map is tied to, and NPS has no
    # route: each says why no test is named.
    assert "no seeded test to reproduce it: funnel steps without a request" in output, output
    assert "no seeded test to reproduce it: its filter names no route, path or method" in output
