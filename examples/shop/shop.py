"""The example shop: `create_app(...)` builds it; `python -m examples.shop.shop` serves it.

Customers need no account: a long-lived cookie carries an anonymous user id and a browser-session
cookie a session id, whose state (cart, CSRF token) stays on the server."""

from __future__ import annotations

import argparse
import random
import re
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from flask import Flask, abort, g, request
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from .api import api
from .breakages import add_breakage_options, parse_breakages
from .clock import parse_timestamp
from .context import Backend, Visit, backend
from .latency import LatencyModel
from .logs import ShopLog
from .metrics import ShopMetrics
from .pages import pages
from .regressions import add_regression_options, chosen_regressions, parse_regressions
from .store import Store, new_token

USER_COOKIE = "shop_uid"
SESSION_COOKIE = "shop_sid"
USER_COOKIE_AGE = timedelta(days=400)  # the longest browsers keep a cookie
SIM_TIME_HEADER = "X-Sim-Time"
# What the shop's own user ids look like; any other cookie value is not ours and is replaced.
_USER_ID = re.compile(r"^[0-9a-f]{16}$")
# Scrapes and static files are not customer requests: they get no session and no log line.
UNTRACKED = frozenset({"static", "metrics"})


def create_app(
    log_dir: Path | str,
    *,
    regressions: Iterable[str] = (),
    simulated_clock: bool = False,
    rng: random.Random | None = None,
    latency_scale: float = 1.0,
    store: Store | None = None,
    breakages: Iterable[str] = (),
) -> Flask:
    """The shop, writing its NDJSON logs to `log_dir`.

    regressions: names from REGRESSIONS that this release ships with.
    simulated_clock: take each request's time from the X-Sim-Time header and model latency
        instead of sleeping it (the traffic simulator's mode).
    rng: the random source of latency, regressions and ids; seed it for reproducible runs.
        The default, SystemRandom, keeps session ids and order ids unguessable.
    latency_scale: multiplies every modelled latency (tests shrink the real sleeps with it).
    store: server-side state; pass one store to two apps to keep sessions across a deploy.
    breakages: names from BREAKAGES (examples.shop.breakages): deterministic faults, for
        checking that a seeded test suite catches them.
    """
    app = Flask(__name__)
    rng = rng if rng is not None else random.SystemRandom()
    app.extensions["shop"] = Backend(
        store=store if store is not None else Store(),
        log=ShopLog(Path(log_dir)),
        metrics=ShopMetrics(),
        latency=LatencyModel(rng, latency_scale),
        rng=rng,
        regressions=parse_regressions(regressions),
        simulated_clock=simulated_clock,
        breakages=parse_breakages(breakages),
    )
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.add_url_rule("/metrics", "metrics", _metrics)
    app.before_request(_arrive)
    app.after_request(_answer)
    return app


def _metrics() -> Response:
    return Response(backend().metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


def _arrival_time(shop: Backend) -> datetime:
    header = request.headers.get(SIM_TIME_HEADER) if shop.simulated_clock else None
    if header is None:
        return datetime.now(UTC)
    try:
        return parse_timestamp(header)
    except ValueError:
        abort(400, f"{SIM_TIME_HEADER} must be an ISO 8601 time")


def _arrive() -> None:
    g.timer = time.perf_counter()
    if request.endpoint in UNTRACKED:
        return
    shop = backend()
    started = _arrival_time(shop)
    user_id = request.cookies.get(USER_COOKIE, "")
    new_user = not _USER_ID.match(user_id)
    if new_user:
        user_id = new_token(shop.rng, 64)
    session, new_session = shop.store.session(
        request.cookies.get(SESSION_COOKIE), user_id, started, shop.rng
    )
    g.visit = Visit(started, g.timer, user_id, session, new_user, new_session)


@cache
def route_template(rule: str) -> str:
    """The Flask rule with its variables written as {id}: '/products/<int:product_id>' →
    '/products/{id}'; one value per route keeps logs and metric labels groupable."""
    return re.sub(r"<[^>]+>", "{id}", rule)


def _answer(response: Response) -> Response:
    elapsed_ms = (time.perf_counter() - g.timer) * 1000
    current: Visit | None = g.get("visit")
    if current is None:
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
        return response
    shop = backend()
    # Live: the modelled time was slept, so it is inside the measured time already.
    duration_ms = elapsed_ms + current.modelled_ms if shop.simulated_clock else elapsed_ms
    response.headers["Server-Timing"] = (
        f'backend;dur={current.modelled_ms:.1f};desc="modelled backend", app;dur={duration_ms:.1f}'
    )
    if current.new_user:
        response.set_cookie(
            USER_COOKIE, current.user_id, max_age=USER_COOKIE_AGE, httponly=True, samesite="Lax"
        )
    if current.new_session:
        # No max-age: the browser forgets it when it closes, which starts a new session.
        response.set_cookie(SESSION_COOKIE, current.session.id, httponly=True, samesite="Lax")
    rule: Rule | None = request.url_rule
    route = route_template(rule.rule) if rule is not None else None
    shop.log.write(
        "requests",
        current.started_text,
        {
            "method": request.method,
            "path": request.path,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(duration_ms, 1),  # finer is noise, and bloats the logs
            "user_id": current.user_id,
            "session_id": current.session.id,
        },
    )
    shop.metrics.observe(
        request.method, route or "unmatched", response.status_code, duration_ms / 1000
    )
    return response


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m examples.shop.shop", description="Serve the example shop on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=Path("out/shop-logs"),
        help="where events.ndjson, requests.ndjson and feedback.ndjson go",
    )
    add_regression_options(parser, "ship")
    add_breakage_options(parser)
    parser.add_argument(
        "--latency-scale",
        type=float,
        default=1.0,
        help="multiply the modelled latencies (0 for no sleeps)",
    )
    args = parser.parse_args(argv)
    regressions = chosen_regressions(args)
    app = create_app(
        args.log_dir,
        regressions=regressions,
        latency_scale=args.latency_scale,
        breakages=args.breakages,
    )
    print(
        f"logs → {args.log_dir.resolve()}; regressions: {', '.join(sorted(regressions)) or 'none'}"
        f"; breakages: {', '.join(sorted(set(args.breakages))) or 'none'}"
    )
    app.run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
