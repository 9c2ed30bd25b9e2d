"""The contract's stands for the product-analytics providers (ga4, amplitude, mixpanel), each on its
loopback API answering as the service documents: funnels, user counts and event counts."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import loopback_amplitude as amp
import loopback_ga4 as ga4
import loopback_mixpanel as mp
from contract_stand import (
    Case,
    Serve,
    Stage,
    Stand,
    credentials_in,
    disguised,
    released,
    served,
)
from cryptography.hazmat.primitives.asymmetric import rsa

TIMING = "timeout: 700ms, backoff: 10ms"  # short, so outages are quick; the behaviour is the same
CONVERSION = "{name: checkout, metric: conversion, journey: checkout, unit: user, max_drop: 10%}"
ACTIVE_USERS = "{name: users, metric: engagement, measure: active_users, min: 100}"


def engagement(measure: str, extra: str = "") -> str:
    return f"{{name: {measure}, metric: engagement, measure: {measure}, min: 0{extra}}}"


def counting(
    fake: Callable[[Stage], amp.FakeAmplitude | mp.FakeMixpanel],
    paths: tuple[str, str],
    funnels: Mapping[tuple[str, str], Any],
    segments: Mapping[tuple[str, str, str, str], Any],
) -> Serve:
    """A service counting users through `funnels` and events or users by `segments`, at its
    funnel and segmentation `paths`."""

    def serve(stage: Stage) -> None:
        assert stage.server is not None
        service = fake(stage)
        service.funnels.update(funnels)
        service.segments.update(segments)
        for path in paths:
            stage.server.expect_request(path).respond_with_handler(service)

    return serve


# --- ga4 ------------------------------------------------------------------------------------------


@cache
def ga4_key() -> rsa.RSAPrivateKey:
    """The service account's key (made once: a 2048-bit key takes a moment)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ga4_credentials(stage: Stage) -> dict[str, str]:
    assert stage.server is not None
    return {"GA4_KEY": ga4.on(stage.server, ga4_key()).key()}


def private_key_lines(credentials: Mapping[str, str]) -> list[str]:
    """The base64 lines of the service account's private key: never to be shown, not even a line."""
    pem = json.loads(credentials["GA4_KEY"])["private_key"]
    return [line for line in pem.splitlines() if "PRIVATE KEY" not in line]


GA4_DATA = {
    "all": {
        "baseline": {
            "activeUsers": "3000",
            "sessions": "5000",
            "eventCount": "72000",
            "keyEvents": "400",
        },
        "release": {
            "activeUsers": "3050",
            "sessions": "5100",
            "eventCount": "74420",
            "keyEvents": "410",
        },
    },
    "add_to_wishlist": {
        "baseline": {"activeUsers": "300", "sessions": "400", "eventCount": "520"},
        "release": {"activeUsers": "310", "sessions": "420", "eventCount": "540"},
    },
}


def ga4_answers(
    data: dict[str, dict[str, dict[str, Any]]], funnels: dict[str, list[Any] | None]
) -> Serve:
    def serve(stage: Stage) -> None:
        assert stage.server is not None
        service = ga4.start(stage.server, ga4_key())
        service.data, service.funnels = data, funnels

    return serve


def ga4_sign_in(stage: Stage) -> None:
    assert stage.server is not None
    ga4.on(stage.server, ga4_key()).sign_in()


GA4_CONVERSION = "{name: checkout, metric: conversion, journey: checkout, max_drop: 5%}"
PER_USER = engagement("events_per_user")
GA4_HEALTHY = ga4_answers(
    GA4_DATA, {"baseline": ["4000", "1500", "600"], "release": ["4100", "1560", "620"]}
)


def ga4_missing(name: str, value: str | None) -> dict[str, Case]:
    """A value GA4 sends as NaN, null or empty text: in the users a report counts, and at a funnel's
    step."""
    users = {"activeUsers": value, "eventCount": "10"}
    return {
        f"{name} users": Case(
            PER_USER, ga4_answers({"all": {"baseline": users, "release": users}}, {})
        ),
        f"{name} at a funnel step": Case(
            GA4_CONVERSION,
            ga4_answers({}, {"baseline": ["100", value, "10"], "release": ["100", value, "10"]}),
        ),
    }


GA4 = Stand(
    type="ga4",
    settings="{type: ga4, property_id: '123456', credentials: '${GA4_KEY}', base_url: '@url', "
    f"{TIMING}}}",
    release=released(ga4.DEPLOY, "2.3.0"),
    windows="{baseline: {start: -7d, end: 0m}, release: 7d}",
    now=datetime(2026, 11, 24, tzinfo=UTC),
    journeys="{checkout: [view_item, add_to_cart, purchase]}",
    served=served(
        GA4_HEALTHY,
        conversion=GA4_CONVERSION,
        active_users=ACTIVE_USERS,
        events_per_user=PER_USER,
        events_per_session=engagement("events_per_session"),
        adoption=engagement("adoption", ", event: add_to_wishlist"),
        custom="{name: key events, metric: custom, min: 0, query: {report: {metrics: "
        "[{name: sessions}, {name: keyEvents}]}, successes: keyEvents, trials: sessions}}",
    ),
    no_data={
        "no funnel rows": Case(
            GA4_CONVERSION, ga4_answers({}, {"baseline": None, "release": None})
        ),
        "no user at any step": Case(
            GA4_CONVERSION,
            ga4_answers({}, {"baseline": ["0", "0", "0"], "release": ["0", "0", "0"]}),
        ),
        "no report rows": Case(PER_USER, ga4_answers({}, {})),  # GA4 drops all-zero rows
        **ga4_missing("NaN", "NaN"),
        **ga4_missing("null", None),
        **ga4_missing("empty text", ""),
    },
    credentials=ga4_credentials,
    api=r"/v1(alpha|beta)/properties/",
    sign_in=ga4_sign_in,
    refusals=2,  # a refused access token is renewed once
    hidden=private_key_lines,
)

# --- amplitude ------------------------------------------------------------------------------------

AMPLITUDE_KEYS = credentials_in("AMPLITUDE_API_KEY", "AMPLITUDE_SECRET_KEY")


def amplitude(stage: Stage) -> amp.FakeAmplitude:
    keys = AMPLITUDE_KEYS(stage)
    return amp.FakeAmplitude(amp.basic(keys["AMPLITUDE_API_KEY"], keys["AMPLITUDE_SECRET_KEY"]))


def amplitude_answers(
    funnels: Mapping[tuple[str, str], Any], segments: Mapping[tuple[str, str, str, str], Any]
) -> Serve:
    """An Amplitude answering `funnels` by day range and `segments` by (event, m, days)."""
    return counting(amplitude, ("/api/2/funnels", "/api/2/events/segmentation"), funnels, segments)


def each_window(baseline: Any, release: Any) -> dict[tuple[str, str], Any]:
    """An answer for the baseline's days and one for the release window's."""
    return {amp.BASELINE_DAY: baseline, amp.RELEASE_DAY: release}


def amplitude_segments(
    counts: Mapping[tuple[str, str], tuple[Any, Any]],
) -> dict[tuple[str, str, str, str], Any]:
    """(event, m) → its (baseline, release) answers, keyed as Amplitude is asked."""
    return {
        (*event, *days): answer
        for event, (baseline, release) in counts.items()
        for days, answer in each_window(baseline, release).items()
    }


AMPLITUDE_HEALTHY = amplitude_answers(
    each_window(amp.funnel(4200, 1300, 609), amp.funnel(1000, 310, 150)),
    amplitude_segments(
        {
            ("_active", "uniques"): (amp.segmentation(4400), amp.segmentation(1050)),
            ("search", "totals"): (amp.segmentation(11000), amp.segmentation(3300)),
            ("share", "uniques"): (amp.segmentation(660), amp.segmentation(170)),
        }
    ),
)


def amplitude_no_funnel(answer: Any) -> Case:
    return Case(CONVERSION, amplitude_answers(each_window(answer, answer), {}))


def amplitude_no_users(answer: Any) -> Case:
    return Case(
        ACTIVE_USERS,
        amplitude_answers({}, amplitude_segments({("_active", "uniques"): (answer, answer)})),
    )


AMPLITUDE = Stand(
    type="amplitude",
    settings="{type: amplitude, url: '@url', api_key: '${AMPLITUDE_API_KEY}', "
    f"secret_key: '${{AMPLITUDE_SECRET_KEY}}', {TIMING}}}",
    release=released(amp.DEPLOY, "r7"),
    windows="{baseline: 24h, release: 2h}",
    now=amp.NOW,
    served=served(
        AMPLITUDE_HEALTHY,
        conversion=CONVERSION,
        active_users=ACTIVE_USERS,
        events_per_user=engagement("events_per_user", ", event: search"),
        adoption=engagement("adoption", ", event: share, unit: user"),
    ),
    no_data={
        **disguised(
            "funnel",
            amplitude_no_funnel,
            {
                "empty": {"data": []},
                "zeros": amp.funnel(0, 0, 0),
                "nulls": amp.funnel(None, None, None),
                "NaN": '{"data": [{"cumulativeRaw": [NaN, NaN, NaN]}]}',
                "null list": {"data": [{"cumulativeRaw": None}]},
            },
        ),
        **disguised(
            "users",
            amplitude_no_users,
            {
                "null": amp.segmentation(None),
                "zero users": amp.segmentation(0),
                "empty": {"data": {"series": [], "seriesCollapsed": [], "xValues": []}},
                "NaN": '{"data": {"series": [[NaN]], "seriesCollapsed": [[{"value": NaN}]]}}',
                "empty series": {"data": {"series": [[]], "xValues": []}},
            },
        ),
    },
    credentials=AMPLITUDE_KEYS,
    api=".*",
    hidden=lambda credentials: [
        amp.basic(*credentials.values()).removeprefix("Basic ")  # the two keys, encoded
    ],
)

# --- mixpanel -------------------------------------------------------------------------------------

MIXPANEL_KEYS = credentials_in("MIXPANEL_USER", "MIXPANEL_SECRET")
MIXPANEL_CONVERSION = "{name: checkout, metric: conversion, journey: checkout, max_drop: 10%}"


def mixpanel(stage: Stage) -> mp.FakeMixpanel:
    keys = MIXPANEL_KEYS(stage)
    return mp.FakeMixpanel(mp.basic(keys["MIXPANEL_USER"], keys["MIXPANEL_SECRET"]))


def mixpanel_answers(
    funnels: Mapping[tuple[str, str], Any], segments: Mapping[tuple[str, str, str, str], Any]
) -> Serve:
    """A Mixpanel answering `funnels` by (from, to) and `segments` by (event, type, from, to)."""
    return counting(mixpanel, ("/api/query/funnels", "/api/query/segmentation"), funnels, segments)


def mixpanel_days(event: str, kind: str, baseline: Any, release: Any) -> dict:
    """Segmentation of `event` over both windows' days, as one query answers it."""
    counts = {mp.BASELINE_DAY[0]: baseline, mp.RELEASE_DAY[0]: release}
    return {(event, kind, *mp.BOTH_DAYS): mp.segmentation(event, counts)}


MIXPANEL_HEALTHY = mixpanel_answers(
    {
        mp.BASELINE_DAY: mp.one_bucket("2026-11-22", 4200, 609),
        mp.RELEASE_DAY: mp.one_bucket("2026-11-23", 1000, 150),
    },
    {
        **mixpanel_days("App Open", "unique", 4400, 1050),
        **mixpanel_days("Search", "general", 11000, 3300),
        **mixpanel_days("Share", "unique", 660, 170),
    },
)


def mixpanel_no_funnel(answer: Callable[[str], Any]) -> Case:
    """A funnel without data for each window, as `answer(day)` writes it."""
    return Case(
        MIXPANEL_CONVERSION,
        mixpanel_answers({days: answer(days[0]) for days in (mp.BASELINE_DAY, mp.RELEASE_DAY)}, {}),
    )


def mixpanel_no_users(answer: Any) -> Case:
    return Case(ACTIVE_USERS, mixpanel_answers({}, {("App Open", "unique", *mp.BOTH_DAYS): answer}))


MIXPANEL = Stand(
    type="mixpanel",
    settings="{type: mixpanel, url: '@url', project_id: 31337, username: '${MIXPANEL_USER}', "
    "secret: '${MIXPANEL_SECRET}', funnels: {checkout: 7501}, active_event: App Open, "
    f"{TIMING}}}",
    release=released(mp.DEPLOY, "r7"),
    windows="{baseline: 24h, release: 2h}",
    now=mp.NOW,
    journeys="{checkout: {steps: [view_item, purchase], unit: user}}",
    served=served(
        MIXPANEL_HEALTHY,
        conversion=MIXPANEL_CONVERSION,
        active_users=ACTIVE_USERS,
        events_per_user=engagement("events_per_user", ", event: Search"),
        adoption=engagement("adoption", ", event: Share, unit: user"),
    ),
    no_data={
        **disguised(
            "funnel",
            mixpanel_no_funnel,
            {
                "no days": lambda day: mp.funnel({}),
                "null data": lambda day: {"meta": {"dates": []}, "data": None},
                "no steps": lambda day: mp.funnel({day: {"steps": [], "analysis": {}}}),
                "zero starts": lambda day: mp.funnel({day: mp.funnel_day(0, 0)}),
                "null counts": lambda day: mp.funnel({day: mp.funnel_day(None, None)}),
                "NaN": lambda day: (
                    f'{{"data": {{"{day}": {{"steps": [{{"count": NaN, "event": "view_item"}}, '
                    '{"count": NaN, "event": "purchase"}]}}}'
                ),
            },
        ),
        **disguised(
            "users",
            mixpanel_no_users,
            {
                "no values": {"data": {"series": [], "values": {}}, "legend_size": 0},
                "no dates": mp.segmentation("App Open", {}),
                "zero": mp.segmentation("App Open", {"2026-11-22": 0, "2026-11-23": 0}),
                "null": mp.segmentation("App Open", {"2026-11-22": None, "2026-11-23": None}),
                "NaN": '{"data": {"series": ["2026-11-22", "2026-11-23"], "values": {"App Open": '
                '{"2026-11-22": NaN, "2026-11-23": NaN}}}}',
            },
        ),
    },
    credentials=MIXPANEL_KEYS,
    api=".*",
    hidden=lambda credentials: [mp.basic(*credentials.values()).removeprefix("Basic ")],
)
