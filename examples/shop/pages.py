"""The shop's server-rendered HTML pages and its two forms (checkout, feedback)."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, redirect, render_template, request
from werkzeug.wrappers import Response

from . import catalog
from .breakages import BROKEN_EMAIL_FIELD, SLOW_CHECKOUT_PAGE_SECONDS
from .checkout import validate
from .clock import format_timestamp
from .context import backend, delay, emit, now, spend, visit
from .regressions import BASE_DECLINE_RATE, PAYMENT_DECLINE_RATE
from .store import Order, OrderLine, new_token

pages = Blueprint("pages", __name__)

NPS_SHARE = 0.8  # of confirmation pages that ask the NPS question; the others ask CSAT
SCALES = {"nps": range(11), "csat": range(1, 6)}


def _page(template: str, title: str, status: int = 200, **context: object) -> tuple[str, int]:
    emit("page_view", path=request.path, title=title)
    return render_template(template, title=title, **context), status


def _cart_lines() -> list[tuple[catalog.Product, int]]:
    lines = []
    for product_id, quantity in visit().session.cart.items():
        product = catalog.find(product_id)
        if product is not None:
            lines.append((product, quantity))
    return lines


def _check_csrf() -> None:
    token = request.form.get("csrf_token", "")
    if not token or not hmac.compare_digest(token.encode(), visit().session.csrf_token.encode()):
        abort(400, "The form's CSRF token is missing or does not match your session.")


@pages.get("/")
def home() -> tuple[str, int]:
    spend("page")
    return _page("home.html", "Home", products=catalog.FEATURED)


@pages.get("/products")
def products() -> tuple[str, int]:
    spend("page")
    query = request.args.get("q", "").strip()
    found = catalog.search(query) if query else list(catalog.PRODUCTS)
    if query:
        emit("search", query=query, results=len(found))
    return _page("products.html", "Products", products=found, query=query)


@pages.get("/products/<int:product_id>")
def product(product_id: int) -> tuple[str, int]:
    spend("page")
    item = catalog.find(product_id)
    if item is None:
        abort(404)
    emit(
        "view_product",
        product_id=item.id,
        name=item.name,
        category=item.category,
        price_cents=item.price_cents,
    )
    return _page("product.html", item.name, product=item)


@pages.get("/cart")
def cart() -> tuple[str, int]:
    spend("page")
    return _page("cart.html", "Your cart")


def _slow_checkout_if_asked() -> None:
    shop = backend()
    if shop.regressed("slow_checkout"):
        spend("slow_checkout")
    if shop.broken("slow_checkout_page"):
        delay(SLOW_CHECKOUT_PAGE_SECONDS)


@pages.get("/checkout")
def checkout_form() -> tuple[str, int]:
    spend("checkout_page")
    _slow_checkout_if_asked()
    lines = _cart_lines()
    if lines:
        emit(
            "begin_checkout",
            items=sum(q for _, q in lines),
            value_cents=sum(p.price_cents * q for p, q in lines),
        )
    return _checkout_page(lines, errors={}, form={})


def _checkout_page(
    lines: list[tuple[catalog.Product, int]],
    *,
    errors: dict[str, str],
    form: dict[str, str],
    declined: bool = False,
    status: int = 200,
) -> tuple[str, int]:
    total = sum(p.price_cents * q for p, q in lines)
    # What each input is named in the HTML; the server reads the form by checkout.FIELDS.
    field_names = {"email": BROKEN_EMAIL_FIELD} if backend().broken("checkout_form_broken") else {}
    return _page(
        "checkout.html",
        "Checkout",
        status=status,
        lines=lines,
        total=total,
        errors=errors,
        form=form,
        declined=declined,
        field_names=field_names,
        csrf_token=visit().session.csrf_token,
    )


@pages.post("/checkout")
def place_order() -> Response | tuple[str, int]:
    _check_csrf()
    spend("payment")
    _slow_checkout_if_asked()
    shop, current = backend(), visit()
    lines = _cart_lines()
    if not lines:
        return redirect("/cart", 303)
    form = {name: request.form.get(name, "") for name in request.form if name != "csrf_token"}
    valid, errors = validate(request.form, now().date())
    if valid is None:
        return _checkout_page(lines, errors=errors, form=form, status=422)
    decline_rate = BASE_DECLINE_RATE + (
        PAYMENT_DECLINE_RATE if shop.regressed("broken_payment") else 0.0
    )
    if shop.rng.random() < decline_rate:
        # A declined payment is a normal page: it shows in conversion, not in the error rate.
        return _checkout_page(lines, errors={}, form=form, declined=True)
    order = Order(
        id=new_token(shop.rng),
        user_id=current.user_id,
        session_id=current.session.id,
        created=now(),
        lines=tuple(OrderLine(p.id, p.name, q, p.price_cents) for p, q in lines),
        survey="nps" if shop.rng.random() < NPS_SHARE else "csat",
    )
    shop.store.add_order(order)
    current.session.cart.clear()
    shop.metrics.orders.inc()
    emit(
        "purchase",
        order_id=order.id,
        items=sum(line.quantity for line in order.lines),
        value_cents=order.total_cents,
    )
    return redirect(f"/orders/{order.id}", 303)


def _own_order(order_id: str) -> Order:
    order = backend().store.orders.get(order_id)
    if order is None or order.user_id != visit().user_id:
        abort(404)
    return order


@pages.get("/orders/<order_id>")
def order_page(order_id: str) -> tuple[str, int]:
    spend("page")
    if backend().broken("order_page_missing"):
        abort(404)
    order = _own_order(order_id)
    return _page(
        "order.html", "Thank you for your order", order=order, csrf_token=visit().session.csrf_token
    )


@pages.post("/feedback")
def feedback() -> Response:
    _check_csrf()
    spend("feedback")
    survey = request.form.get("survey", "")
    score = request.form.get("score", "")
    if survey not in SCALES or not score.isdigit() or int(score) not in SCALES[survey]:
        abort(400, "Pick a score on the survey's scale.")
    comment = request.form.get("comment", "").strip()[:1000]
    current = visit()
    backend().log.write(
        "feedback",
        format_timestamp(now()),
        {
            "survey": survey,
            "score": int(score),
            "user_id": current.user_id,
            "session_id": current.session.id,
            "comment": comment,
        },
    )
    emit(
        "feedback_submitted",
        survey=survey,
        score=int(score),
        order_id=request.form.get("order_id") or None,
    )
    return redirect("/thanks", 303)


@pages.get("/thanks")
def thanks() -> tuple[str, int]:
    spend("page")
    return _page("thanks.html", "Thanks for your feedback")
