"""What every provider of one service's HTTP API shares (amplitude, mixpanel, datadog, dynatrace,
newrelic, sentry): its client, built from the provider's own settings and context and closed after
the evaluation, and failures that quote the query."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ProviderError
from .answers import provider_error
from .base import Provider
from .transport import ApiClient, HttpSettings, ResetReader


class ApiProvider(Provider):
    """A provider reading one service's API through `client`, which its __init__ builds with
    `_api_client`."""

    settings: HttpSettings
    client: ApiClient
    requests_take_slots = True

    def _api_client(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        auth_hint: str,
        reset_headers: Mapping[str, ResetReader] | None = None,
    ) -> ApiClient:
        """The client of the service at `base_url`: `auth_hint` says what to check when it refuses
        the credentials, `reset_headers` how it says when a rate limit lifts (see ApiClient)."""
        return ApiClient(
            self.context,
            self.settings,
            base_url=base_url,
            headers=headers,
            auth_hint=auth_hint,
            reset_headers=reset_headers,
            slots=self.request_slots(),
        )

    def close(self) -> None:
        self.client.close()

    def _fail(self, message: str, query: str) -> ProviderError:
        return provider_error(self.context, message, query)
