"""What `requests` works out again for every request, settled once per origin instead: what it
takes from the environment (HTTP(S)_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, ~/.netrc) and the
connection pool that serves the origin."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import get_netrc_auth


class EnvironmentOnce(requests.Session):
    """A Session that settles each origin's proxies, CA bundle and netrc credentials the first time
    it sends there, and reuses them. requests re-reads the whole environment for every request
    (~0.13 ms of CPU here, a sixth of a loopback request's own cost, and three `stat`s for the
    netrc); what is settled is what it would read, except that a change to the environment during
    the evaluation is not seen, as it is not by ProviderContext.environ either. Redirects still
    resolve their own proxies, as in requests."""

    def __init__(self) -> None:
        super().__init__()
        self._settled: dict[str, dict[str, Any]] = {}
        self._auth: dict[str, tuple[str, str] | None] = {}
        self._lock = threading.Lock()

    def settled(self, url: str) -> dict[str, Any]:
        """The settings requests would merge from the environment (proxies, stream, verify, cert)
        for a request to `url` that brings none of its own: what `Session.send` takes."""
        origin = _origin(url)
        settled = self._settled.get(origin)
        if settled is None:
            settled = super().merge_environment_settings(origin, {}, None, None, None)
            with self._lock:
                self._settled.setdefault(origin, settled)
        # Copies: requests and its adapters may add to the dicts they are given.
        return {**settled, "proxies": dict(settled["proxies"])}

    def netrc_auth(self, url: str) -> tuple[str, str] | None:
        """The netrc credentials requests would send to `url`'s host when neither the request nor
        the session has auth of its own (Session.prepare_request's rule)."""
        if not self.trust_env or self.auth:
            return None
        origin = _origin(url)
        if origin not in self._auth:
            found = get_netrc_auth(origin)
            with self._lock:
                self._auth.setdefault(origin, found)
        return self._auth[origin]

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
        return self.settled(url)


class PoolPerOrigin(requests.adapters.HTTPAdapter):
    """requests' adapter, remembering which connection pool serves an origin with given TLS and
    proxy settings: requests works the pool's key out again for every request (URL parsing, a
    `stat` of the CA bundle), ~8% of a loopback request's CPU. A pool closed since is looked up
    again; one the manager forgot (it keeps ten, and urllib3 2 leaves those it drops open) still
    serves its origin."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._pools: dict[tuple[Any, ...], Any] = {}

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: dict[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        key = (
            _origin(request.url or ""),
            verify,
            cert if not isinstance(cert, list) else tuple(cert),
            tuple(sorted((proxies or {}).items())),
        )
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # pool.pool is None: closed
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            self._pools[key] = pool
        return pool


def _origin(url: str) -> str:
    # NO_PROXY is matched on the host and port, the scheme picks the proxy and the netrc entry is
    # the host's: the path and query never change the answer.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
