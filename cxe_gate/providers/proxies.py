"""The proxies and CA bundle `requests` takes from the environment (HTTP(S)_PROXY, NO_PROXY,
REQUESTS_CA_BUNDLE), read once per origin instead of on every request."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests


class EnvironmentOnce(requests.Session):
    """A Session that settles each origin's proxies and CA bundle the first time it sends there,
    and reuses them. requests re-reads the whole environment for every request (~0.13 ms of CPU
    here, a sixth of a loopback request's own cost); what is settled is what it would read, except
    that a change to the environment during the evaluation is not seen, as it is not by
    ProviderContext.environ either. Redirects still resolve their own proxies, as in requests."""

    def __init__(self) -> None:
        super().__init__()
        self._settled: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def merge_environment_settings(
        self,
        url: str,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> dict[str, Any]:
        """As requests' own; only a request that brings no settings of its own (every request
        ApiClient sends) is answered from what its origin settled."""
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        # NO_PROXY is matched on the host and port, and the scheme picks the proxy: the path and
        # query never change the answer.
        origin = f"{parts.scheme}://{parts.netloc}"
        settled = self._settled.get(origin)
        if settled is None:
            settled = super().merge_environment_settings(origin, {}, None, None, None)
            with self._lock:
                self._settled.setdefault(origin, settled)
        # Copies: requests and its adapters may add to the dicts they are given.
        return {**settled, "proxies": dict(settled["proxies"])}
