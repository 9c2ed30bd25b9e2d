"""A loopback GA4: a token endpoint that verifies a service account's signed assertion, and the Data
API's report endpoints (runReport, runFunnelReport) answering in their documented shape: values as
text, funnel answers with sampling metadata and no time zone, as runFunnelReport's are."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cxe_gate.config import JourneySpec
from cxe_gate.measurement import TimeWindow
from cxe_gate.providers.ga4_client import SCOPE
from cxe_gate.providers.google_token import JWT_GRANT

PROPERTY = "123456"
EMAIL = "cxe-gate@shop-analytics.iam.gserviceaccount.com"
REPORT = f"/v1beta/properties/{PROPERTY}:runReport"
FUNNEL = f"/v1alpha/properties/{PROPERTY}:runFunnelReport"
DEPLOY = datetime(2026, 11, 16, tzinfo=UTC)
WEEKS = [  # the week before the deploy and the week after: whole days in UTC
    TimeWindow("baseline", DEPLOY - timedelta(days=7), DEPLOY),
    TimeWindow("release", DEPLOY, DEPLOY + timedelta(days=7)),
]
CHECKOUT = JourneySpec(steps=["view_item", "add_to_cart", "purchase"])


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass
class Ga4:
    """A loopback GA4. `data[filter][window]` holds each window's metrics (as GA4's text values);
    `funnels[window]` the users per step; `sampled[window]` (events read, events there) where GA4
    sampled. `zone` is the property's time zone, None to leave it out of runReport's metadata.
    `answer` overrides the report endpoints' reply."""

    server: HTTPServer
    public_pem: bytes
    private_pem: str
    zone: str | None = "UTC"
    sampled: dict[str, tuple[str, str]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    funnels: dict[str, list[Any] | None] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    bodies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)  # reports asked for the time zone
    answer: Callable[[Request, dict[str, Any]], Response | None] | None = None

    @property
    def token_uri(self) -> str:
        return self.server.url_for("/token")

    def key(self, private_pem: str | None = None) -> str:
        return json.dumps(
            {
                "type": "service_account",
                "project_id": "shop-analytics",
                "private_key_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0aabbccdd",
                "private_key": private_pem or self.private_pem,
                "client_email": EMAIL,
                "client_id": "100000000000000000001",
                "token_uri": self.token_uri,
            }
        )

    def sign_in(self) -> None:
        """Answer at the token endpoint only (the report endpoints are left to the test)."""
        self.server.expect_request("/token", method="POST").respond_with_handler(self._token)

    def start(self) -> None:
        self.sign_in()
        self.server.expect_request(REPORT, method="POST").respond_with_handler(self._report)
        self.server.expect_request(FUNNEL, method="POST").respond_with_handler(self._funnel)

    def _token(self, request: Request) -> Response:
        if request.form.get("grant_type") != JWT_GRANT:
            return json_reply({"error": "unsupported_grant_type"}, 400)
        try:
            claims = jwt.decode(
                request.form["assertion"], certs=self.public_pem, audience=self.token_uri
            )
        except (ValueError, KeyError) as exc:
            return json_reply({"error": "invalid_grant", "error_description": str(exc)[:60]}, 400)
        if claims.get("scope") != SCOPE or claims.get("iss") != EMAIL:
            return json_reply({"error": "invalid_scope"}, 400)
        assert claims["exp"] - claims["iat"] <= 3600
        token = f"ya29.loopback-token-{len(self.tokens) + 1}-Zq81"
        self.tokens.append(token)
        return json_reply({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _authorized(self, request: Request) -> Response | None:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if sent in self.tokens and sent not in self.revoked:
            return None
        return json_reply(
            {
                "error": {
                    "code": 401,
                    "message": f"Request had invalid authentication credentials: {sent}",
                    "status": "UNAUTHENTICATED",
                }
            },
            401,
        )

    def _report(self, request: Request) -> Response:
        body = json.loads(request.data)
        probe = "name" not in body["dateRanges"][0]
        self.probes.append(body) if probe else self.bodies.append((REPORT, body))
        refused = self._authorized(request)
        if refused is not None:
            return refused
        if self.answer is not None and (reply := self.answer(request, body)) is not None:
            return reply
        text = json.dumps(body.get("dimensionFilter", {}))
        key = next((k for k in self.data if k != "all" and f'"{k}"' in text), "all")
        names = [r.get("name", f"date_range_{i}") for i, r in enumerate(body["dateRanges"])]
        metrics = [m["name"] for m in body["metrics"]]
        rows = [
            {
                "dimensionValues": [{"value": name}],
                "metricValues": [{"value": self.data[key][name].get(m, "0")} for m in metrics],
            }
            for name in names
            if name in self.data.get(key, {})
        ]
        return json_reply(
            {
                "dimensionHeaders": [{"name": "dateRange"}],
                "metricHeaders": [{"name": m, "type": "TYPE_INTEGER"} for m in metrics],
                "rows": rows,
                "rowCount": len(rows),
                "metadata": {"currencyCode": "EUR"}
                | ({"timeZone": self.zone} if self.zone else {})
                | self._sampling(names),
                "propertyQuota": {
                    "tokensPerDay": {"consumed": 12, "remaining": 199850},
                    "tokensPerHour": {"consumed": 12, "remaining": 39950},
                },
                "kind": "analyticsData#runReport",
            }
        )

    def _funnel(self, request: Request) -> Response:
        body = json.loads(request.data)
        self.bodies.append((FUNNEL, body))
        refused = self._authorized(request)
        if refused is not None:
            return refused
        if self.answer is not None and (reply := self.answer(request, body)) is not None:
            return reply
        steps = [s["name"] for s in body["funnel"]["steps"]]
        window = body["dateRanges"][0]["name"]
        users = self.funnels.get(window) or []
        rows = [
            {
                "dimensionValues": [{"value": f"{i + 1}. {step}"}],
                "metricValues": [{"value": n}, {"value": "0.4"}],
            }
            for i, (step, n) in enumerate(zip(steps, users, strict=False))
        ]
        table = {
            "dimensionHeaders": [{"name": "funnelStepName"}],
            "metricHeaders": [
                {"name": "activeUsers", "type": "TYPE_INTEGER"},
                {"name": "funnelStepCompletionRate", "type": "TYPE_FLOAT"},
            ],
            "rows": rows,
            # FunnelResponseMetadata holds sampling only: no time zone, unlike runReport's
            "metadata": self._sampling([window]),
        }
        return json_reply(
            {
                "funnelTable": table,
                "funnelVisualization": {"dimensionHeaders": [], "metricHeaders": [], "rows": []},
                "propertyQuota": {"tokensPerHour": {"consumed": 30, "remaining": 39900}},
                "kind": "analyticsData#runFunnelReport",
            }
        )

    def _sampling(self, windows: list[str]) -> dict[str, Any]:
        if not any(w in self.sampled for w in windows):
            return {}  # GA4 leaves samplingMetadatas out of an answer it did not sample
        return {
            "samplingMetadatas": [
                dict(zip(("samplesReadCount", "samplingSpaceSize"), self.sampled[w], strict=True))
                if w in self.sampled
                else {}
                for w in windows
            ]
        }


def json_reply(body: Any, status: int = 200, **headers: str) -> Response:
    return Response(
        json.dumps(body), status=status, content_type="application/json", headers=headers
    )


def on(server: HTTPServer, key: rsa.RSAPrivateKey) -> Ga4:
    """A loopback GA4 on `server` whose token endpoint accepts assertions signed with `key`; it
    answers nothing until started."""
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Ga4(server, public, pem(key))


def start(server: HTTPServer, key: rsa.RSAPrivateKey) -> Ga4:
    """A loopback GA4 on `server`, answering at every endpoint."""
    service = on(server, key)
    service.start()
    return service
