"""A service account's access token, from google-auth's own credentials: google-auth signs the grant
and reads the token endpoint's answer, while the request itself goes through the provider's
ApiClient, so it keeps the provider's timeout, deadline, retries and TLS errors. A refused key or an
odd answer is a ProviderError naming the variable; the assertion and the token are redacted."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from ..errors import ProviderError
from .answers import provider_error
from .base import ProviderContext
from .google_account import ServiceAccount
from .transport import ApiClient, Reply, token_auth

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"  # the grant google-auth sends
_TOKEN_LIFETIME = timedelta(hours=1)  # what google-auth's grant asks for


# google-auth is optional (the `ga4` extra), so these two implement its transport interfaces
# (google.auth.transport.Request and Response) without importing them.


class _TokenReply:
    """A token endpoint's reply as google-auth reads one."""

    def __init__(self, reply: Reply):
        self._reply = reply

    @property
    def status(self) -> int:
        return self._reply.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._reply.headers

    @property
    def data(self) -> bytes:
        return b"" if self._reply.body is None else json.dumps(self._reply.body).encode()


class _TokenRequest:
    """google-auth's HTTP requests, sent by the provider's ApiClient (its timeout, deadline,
    retries and errors). A refusal ends as `refused` says at once: google-auth would retry some
    itself. The last answer is kept for what google-auth does not check."""

    def __init__(
        self,
        client: ApiClient,
        context: ProviderContext,
        query: str,
        refused: Callable[[Reply], ProviderError],
    ):
        self._client = client
        self._context = context
        self._query = query
        self._refused = refused
        self.answer: dict[str, Any] = {}

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # the ApiClient's own (timeout and deadline) applies
        **kwargs: Any,
    ) -> _TokenReply:
        form = dict(parse_qsl(body.decode(), keep_blank_values=True)) if body else None
        if form and "assertion" in form:
            self._context.add_secret(form["assertion"])  # a signed grant: a credential too
        reply = self._client.request(
            method, url, form=form, headers=headers, query=self._query, accept={400, 401, 403}
        )
        if reply.status >= 400:
            raise self._refused(reply)
        self.answer = reply.body if isinstance(reply.body, dict) else {}
        return _TokenReply(reply)


class AccessTokens:
    """The service account's bearer token, kept until google-auth finds it about to expire or the
    service refuses it; one refresh at a time."""

    def __init__(
        self,
        account: ServiceAccount,
        scopes: Sequence[str],
        client: ApiClient,
        context: ProviderContext,
        variable: str,
    ):
        self._account = account
        self._client = client
        self._context = context
        self._variable = variable  # the ${VAR} the key came from: what to check
        self._query = (
            f"POST {account.token_uri} (JWT-bearer grant for {account.email}, scope "
            f"{' '.join(scopes)})"
        )
        self._header: dict[str, str] = {}
        self._lock = threading.Lock()

    def header(self, failed: Mapping[str, str] | None = None) -> dict[str, str]:
        """The Authorization header; a new token when the one it holds is about to expire or
        `failed` (the header a request was refused with) holds it."""
        from google.auth.credentials import TokenState

        with self._lock:
            credentials = self._account.credentials
            if credentials.token_state is not TokenState.FRESH or failed == self._header:
                self._header = token_auth(self._context, self._refreshed())
            return dict(self._header)

    def _refreshed(self) -> str:
        from google.auth.exceptions import RefreshError

        request = _TokenRequest(self._client, self._context, self._query, self._refused)
        credentials = self._account.credentials
        try:
            credentials.refresh(request)
        except RefreshError:  # an answer without an access_token
            raise self._without_token(request.answer) from None
        except (TypeError, ValueError, OverflowError):  # an expires_in google-auth cannot read
            raise self._bad_lifetime(request.answer) from None
        token = credentials.token
        if not isinstance(token, str) or not token:
            raise self._without_token(request.answer)
        self._context.add_secret(token)
        kind = request.answer.get("token_type", "Bearer")
        if str(kind).lower() != "bearer":
            raise self._fail(f"expected a Bearer token, got token_type {kind!r}")
        if credentials.expiry is None:  # google-auth would keep the token for ever
            if "expires_in" in request.answer:
                raise self._bad_lifetime(request.answer)  # null
            # Without expires_in, the token lives as long as the grant asked (google-auth's
            # expiry is naive UTC).
            credentials.expiry = datetime.now(UTC).replace(tzinfo=None) + _TOKEN_LIFETIME
        return token

    def _refused(self, reply: Reply) -> ProviderError:
        body = reply.body if isinstance(reply.body, dict) else {}
        reason = ": ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
        return self._fail(
            f"the token endpoint {self._account.token_uri} refused the service account key "
            f"({reply.status}{': ' + reason if reason else ''}); check {self._variable} "
            "(a revoked or deleted key, or a wrong token_uri)"
        )

    def _without_token(self, answer: dict[str, Any]) -> ProviderError:
        return self._fail(
            f"the token endpoint {self._account.token_uri} answered without an access_token "
            f"(keys: {', '.join(sorted(answer)) or 'none'}); expected access_token, expires_in "
            "and token_type"
        )

    def _bad_lifetime(self, answer: dict[str, Any]) -> ProviderError:
        said = answer.get("expires_in")
        return self._fail(f"expires_in is {said!r}; expected a number of seconds")

    def _fail(self, message: str) -> ProviderError:
        return provider_error(self._context, message, self._query)
