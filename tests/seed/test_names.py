"""Seeded test names are the journey's own: made from its pages, the same whatever else was recorded
(more sessions, new journeys, other weights, --top), a short hash of the journey's signature when
two journeys' pages give the same name, and never a scrubbed value."""

from __future__ import annotations

import ast
import hashlib

from seed_maps import journey, journey_map

from cxe_gate.har.journey_map import JourneyMap
from cxe_gate.seed.codegen import SeedOptions, generate
from cxe_gate.seed.names import base_name, journey_test_names


def _defined(journey_map: JourneyMap, **options) -> list[str]:
    tree = ast.parse(generate(journey_map, SeedOptions(**options))["test_journeys.py"])
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]


BROWSE = journey("GET /", "GET /products")
BUY = journey("GET /", "GET /products/{id}", "GET /checkout", "POST /checkout", "GET /orders/{id}")


def test_a_name_is_the_journeys_pages_without_a_rank():
    assert base_name(BROWSE) == "test_home_products"
    # {id} is a template, not a word; a POST says so; the last two segments of a route.
    assert base_name(BUY) == "test_home_products_checkout_post_checkout_orders"
    assert base_name(journey("GET /api/v2/users/{id}/cart")) == "test_users_cart"


def test_names_stay_when_journeys_are_added_or_weights_change():
    before = dict(zip(["browse", "buy"], journey_test_names([BROWSE, BUY]), strict=True))
    heavier_new = journey("GET /search", "GET /products", weight=9)
    after = journey_test_names([heavier_new, BUY, BROWSE])
    assert after == ["test_search_products", before["buy"], before["browse"]]
    # The seeded file defines the same names in the new weight order, and --top renames nothing.
    assert _defined(journey_map(BROWSE, BUY)) == ["test_home_products", before["buy"]]
    assert _defined(journey_map(heavier_new, BUY, BROWSE), top=2) == [
        "test_search_products",
        before["buy"],
    ]


def test_journeys_whose_pages_give_one_name_get_a_hash_of_their_own_signature():
    plain = journey("GET /", "GET /products")
    with_call = journey("GET /", "GET /products", calls=("GET /api/products",))
    # Worked out by hand: the signature is each step's "METHOD route"s joined by spaces, the steps
    # joined by newlines; the suffix is its SHA-256, first 6 hex digits.
    suffix = {
        j: hashlib.sha256(text.encode()).hexdigest()[:6]
        for j, text in [("plain", "GET /\nGET /products"),
                        ("with_call", "GET /\nGET /products GET /api/products")]
    }  # fmt: skip
    expected = [
        f"test_home_products_{suffix['plain']}",
        f"test_home_products_{suffix['with_call']}",
    ]
    assert journey_test_names([plain, with_call]) == expected
    assert journey_test_names([with_call, plain]) == expected[::-1]  # the order changes nothing
    assert len(set(expected)) == 2


def test_scrubbed_segments_never_reach_a_name():
    secret = journey("GET /users/${CXE_SECRET_EMAIL_1}/orders", "POST /${CXE_SECRET_TOKEN_2}")
    name = journey_test_names([secret])[0]
    assert name == "test_users_orders_post_home"
    assert "secret" not in name and "email" not in name and "token" not in name


def test_a_long_journey_is_named_from_its_first_page_its_changes_and_its_last():
    pages = ["GET /catalogue/garden", "GET /catalogue/kitchen", "GET /catalogue/bathroom",
             "POST /basket/items", "GET /catalogue/lighting", "GET /checkout/delivery"]  # fmt: skip
    # All six words would be 98 characters: first, the POST, "to", last.
    assert base_name(journey(*pages)) == (
        "test_catalogue_garden_post_basket_items_to_checkout_delivery"
    )
    for name in journey_test_names([journey(*pages), BROWSE, BUY]):
        assert name.isidentifier() and len(name) <= len("test_") + 60 + 7
