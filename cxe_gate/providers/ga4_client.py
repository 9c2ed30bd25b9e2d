"""GA4's Data API as the provider calls it: requests signed in as the service account (its token
renewed once on a 401), retried as GA4's quotas allow, and answers kept for the evaluation so
criteria reading the same report ask GA4 once."""

from __future__ import annotations

import json
from typing import Any

from ..config import SecretRef
from .analytics import Answers
from .base import ProviderContext
from .ga4_answers import Answer, AnswerReader, sampled_note
from .ga4_requests import ZONE_PROBE, Span, groups, report_body
from .ga4_settings import Ga4Settings
from .google_account import load_service_account
from .google_token import AccessTokens
from .transport import ApiClient, Reply

SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
# The Data API's version of each request (funnel reports are in the alpha API only).
_VERSIONS = {"runReport": "v1beta", "runFunnelReport": "v1alpha"}


class Ga4Client:
    """One GA4 property's Data API, shared by the criteria of an evaluation (thread-safe)."""

    def __init__(self, settings: Ga4Settings, context: ProviderContext):
        ref = SecretRef(settings.credentials)
        account = load_service_account(context.secret(ref, "credentials"), context, ref, [SCOPE])
        self.settings = settings
        self.reader = AnswerReader(settings, context)
        self._client = ApiClient(
            context,
            settings,
            base_url=settings.base_url,
            auth_hint=f"and that {account.email} has Viewer access to GA4 property "
            f"{settings.property_id}",
        )
        self._tokens = AccessTokens(account, [SCOPE], self._client, context, ref.variable)
        self._answers: Answers[Any] = Answers()  # query → parsed reply: criteria share reports

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, body: dict[str, Any]) -> tuple[Any, str]:
        """POST a request to the property's `method` (runReport, runFunnelReport) with a bearer
        token; the parsed answer and the query as sent. Answers are kept: criteria reading the
        same report ask GA4 once."""
        path = f"/{_VERSIONS[method]}/properties/{self.settings.property_id}:{method}"
        query = f"POST {self._client.base_url}{path} {json.dumps(body, separators=(',', ':'))}"

        def worth_retrying(reply: Reply) -> bool:
            return self.reader.worth_retrying(reply, query)

        def ask() -> Any:
            auth = self._tokens.header()
            reply = self._client.post(
                path,
                json_body=body,
                headers=auth,
                query=query,
                accept={401},
                retryable=worth_retrying,
            )
            if reply.status == 401:  # expired or revoked early: one new token, then give up
                reply = self._client.post(
                    path,
                    json_body=body,
                    headers=self._tokens.header(failed=auth),
                    query=query,
                    retryable=worth_retrying,
                )
            if reply.body is None:
                raise self.reader.fail(f"POST {path}: {reply.status} with an empty body", query)
            return reply.body

        return self._answers.get(query, ask), query

    def report(self, base: dict[str, Any], spans: list[Span]) -> dict[str, Answer]:
        """Run a core report over every window, in as few calls as the windows allow."""
        reader = self.reader
        answers: dict[str, Answer] = {}
        for group in groups(spans):
            reply, query = self.call("runReport", report_body(base, group))
            rows = reader.rows(reply, group, query)
            details, notes = reader.metadata(reply, reply.get("metadata"), query)
            sampled = reader.sampling(reply.get("metadata"), query)
            for i, span in enumerate(group):
                fraction = sampled[i] if i < len(sampled) else None
                said = notes
                if fraction is not None:
                    said += (
                        sampled_note(*fraction) + "; the values are estimates, and the tests "
                        "here are not widened for the sampling",
                    )
                answers[span.label] = Answer(rows.get(span.label), query, details, said)
        return answers

    def zone_checked(self) -> tuple[str, tuple[str, ...]]:
        """Funnel answers say nothing of the time zone their days are in: read the property's
        from a one-row core report (asked once per evaluation, as answers are kept) and check it
        as every core report is checked. The probe as asked, and a note when GA4 gave none."""
        reply, query = self.call("runReport", dict(ZONE_PROBE))
        metadata = reply.get("metadata") if isinstance(reply, dict) else None
        zone = metadata.get("timeZone") if isinstance(metadata, dict) else None
        if not zone:
            return query, (
                "GA4 did not say the property's time zone (a runReport answer without "
                f"metadata.timeZone): the windows are cut at midnight in {self.settings.timezone} "
                f"(providers.{self.reader.context.name}.timezone), unchecked",
            )
        self.reader.guard_zone(str(zone), query)
        return query, ()
