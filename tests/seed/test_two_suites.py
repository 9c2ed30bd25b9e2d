"""Two seeded suites in two directories collect and run in one pytest process (each is a package, so
their test_journeys.py and conftest.py do not clash), and --shard still splits them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from loopback_site import serving
from seed_maps import journey, journey_map

from cxe_gate.seed.codegen import SeedOptions, generate
from cxe_gate.seed.write import write_suite

SHOP = journey_map(journey("GET /", "GET /products"), journey("GET /cart", "GET /checkout"))
ADMIN = journey_map(journey("GET /", "GET /products"), journey("GET /admin", "GET /admin/users"))
# By hand: each suite's tests, named after their pages; the first name is in both suites.
EXPECTED = {
    "shop/test_journeys.py::test_home_products",
    "shop/test_journeys.py::test_cart_checkout",
    "admin/test_journeys.py::test_home_products",
    "admin/test_journeys.py::test_admin_admin_users",
}


def _pytest(root: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CXE_SEEDED_MODE"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "shop", "admin", "-p", "no:cacheprovider", "-p",
         "no:xdist", "--rootdir", str(root), *options],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _suites(root: Path) -> Path:
    write_suite(root / "shop", generate(SHOP, SeedOptions(mode="api")))
    write_suite(root / "admin", generate(ADMIN, SeedOptions(mode="api")))
    return root


def test_two_suites_collect_together(tmp_path):
    root = _suites(tmp_path)
    done = _pytest(root, "--collect-only", "-q")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "import file mismatch" not in output
    assert set(re.findall(r"^(\S+::test_\w+)$", done.stdout, re.MULTILINE)) == EXPECTED


def test_two_suites_run_together_and_split_into_parts(tmp_path):
    root = _suites(tmp_path)
    with serving() as (base, seen):
        done = _pytest(root, "--base-url", base, "-q")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "4 passed" in done.stdout, done.stdout
        # Each journey's pages, once per suite that has it.
        assert sorted(seen) == sorted(
            ["GET /", "GET /products", "GET /cart", "GET /checkout",
             "GET /", "GET /products", "GET /admin", "GET /admin/users"]
        )  # fmt: skip
        ran = []
        for part in ("1/2", "2/2"):
            done = _pytest(root, "--base-url", base, "-v", "--shard", part)
            assert done.returncode == 0, done.stdout + done.stderr
            ran += re.findall(r"^(\S+::test_\w+) PASSED", done.stdout, re.MULTILINE)
    assert sorted(ran) == sorted(EXPECTED)  # every test in exactly one part
