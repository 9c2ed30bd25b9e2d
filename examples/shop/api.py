"""The JSON API the pages' JavaScript calls: products, the cart, the wishlist and orders."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from . import catalog
from .clock import format_timestamp
from .context import backend, emit, spend, visit
from .regressions import CART_ERROR_RATE

api = Blueprint("api", __name__, url_prefix="/api")

MAX_QUANTITY = 10


def _problem(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


def _json_body() -> dict[str, object] | None:
    # JSON only: a cross-site HTML form cannot send application/json without a CORS preflight,
    # which is what keeps these endpoints safe without a CSRF token.
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _cart_json() -> dict[str, object]:
    items = []
    for product_id, quantity in visit().session.cart.items():
        product = catalog.find(product_id)
        if product is not None:
            items.append({**product.as_json(), "quantity": quantity})
    return {
        "items": items,
        "count": sum(i["quantity"] for i in items),
        "total_cents": sum(i["price_cents"] * i["quantity"] for i in items),
    }


@api.get("/products/<int:product_id>")
def product(product_id: int) -> Response | tuple[Response, int]:
    spend("api")
    shop = backend()
    # Before the lookup: a failed product service cannot tell whether the product exists either.
    if shop.broken("product_api_500"):
        return _problem(500, "the product service failed to answer")
    item = catalog.find(product_id)
    if item is None:
        return _problem(404, "no such product")
    if shop.broken("product_field_removed"):
        return jsonify(item.as_json())
    return jsonify({**item.as_json(), "in_stock": True})


@api.get("/cart")
def cart() -> Response:
    spend("api")
    return jsonify(_cart_json())


@api.post("/cart")
def add_to_cart() -> Response | tuple[Response, int]:
    spend("api")
    body = _json_body()
    if body is None:
        return _problem(400, "send a JSON object: {product_id, quantity}")
    product_id, quantity = body.get("product_id"), body.get("quantity", 1)
    if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        return _problem(400, f"quantity must be a whole number from 1 to {MAX_QUANTITY}")
    item = catalog.find(product_id) if isinstance(product_id, int) else None
    if item is None:
        return _problem(404, "no such product")
    shop = backend()
    if shop.regressed("cart_errors") and shop.rng.random() < CART_ERROR_RATE:
        return _problem(500, "the cart service failed to answer")
    cart_now = visit().session.cart
    cart_now[item.id] = min(MAX_QUANTITY, cart_now.get(item.id, 0) + quantity)
    emit("add_to_cart", product_id=item.id, quantity=quantity, price_cents=item.price_cents)
    return jsonify(_cart_json())


@api.post("/wishlist")
def wishlist() -> Response | tuple[Response, int]:
    spend("api")
    body = _json_body()
    product_id = body.get("product_id") if body else None
    item = catalog.find(product_id) if isinstance(product_id, int) else None
    if item is None:
        return _problem(404 if body else 400, "send a JSON object with an existing product_id")
    added = backend().store.wish(visit().user_id, item.id)
    if added:
        emit("wishlist_add", product_id=item.id)
    return jsonify(product_id=item.id, added=added)


@api.get("/orders/<order_id>")
def order(order_id: str) -> Response | tuple[Response, int]:
    spend("api")
    found = backend().store.orders.get(order_id)
    if found is None or found.user_id != visit().user_id:
        return _problem(404, "no such order")
    return jsonify(found.as_json(format_timestamp(found.created)))
