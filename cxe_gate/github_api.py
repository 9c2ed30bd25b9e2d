"""The GitHub REST API as the action's pull-request comment and check run use it: JSON over
`requests` with timeouts, a retry on 5xx and rate limits that honours `Retry-After`, pages followed
by their `Link` header, and errors that say what GitHub answered. The token is sent, never shown."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from . import __version__

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
ATTEMPTS = 3
BACKOFF_S = 1.0  # first wait after a 5xx without Retry-After; doubles each time
MOST_WAIT_S = 60.0  # a longer wait than this is not waited out: the gate's verdict is already known
_SNIPPET = 200


class GitHubApiError(Exception):
    """A call GitHub refused or that never got an answer; `status` is None without an answer."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class GitHubApi:
    """One repository's REST API, authenticated with one token."""

    def __init__(
        self,
        token: str,
        repository: str,
        *,
        base_url: str = DEFAULT_API_URL,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if repository.count("/") != 1 or not all(repository.split("/")):
            raise GitHubApiError(f"GITHUB_REPOSITORY should be owner/name, not {repository!r}")
        self.repository = repository
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._token = token
        self._timeout_s = timeout_s
        self._sleep = sleep
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"cxe-gate/{__version__}",
            }
        )

    def close(self) -> None:
        self._session.close()

    def repo_path(self, rest: str) -> str:
        return f"/repos/{self.repository}/{rest.lstrip('/')}"

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return _json(self.request("GET", self.base_url + path, params=params))

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return _object(self.request("POST", self.base_url + path, body=body))

    def patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return _object(self.request("PATCH", self.base_url + path, body=body))

    def pages(
        self, path: str, params: Mapping[str, str | int] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Each item of a list endpoint, page after page as the `Link: rel="next"` header says."""
        url: str | None = self.base_url + path
        while url:
            response = self.request("GET", url, params=params)
            found = _json(response)
            if not isinstance(found, list):
                raise GitHubApiError(f"GET {urlsplit(url).path}: expected a JSON list")
            yield from (item for item in found if isinstance(item, dict))
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries the query
            if url and _origin(url) != self._origin:
                # The token goes to the API's own host only, whatever a header says.
                raise GitHubApiError(f"GitHub's next page is on another host: {_origin(url)}")

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        """The answer to a 2xx; an error saying what GitHub answered otherwise."""
        where = f"{method} {urlsplit(url).path}"
        problem = ""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=body,
                    headers={"Authorization": f"Bearer {self._token}"},
                    timeout=self._timeout_s,
                    allow_redirects=False,
                )
            except requests.Timeout:
                problem, wait = f"no answer within {self._timeout_s:g} s", BACKOFF_S
            except requests.RequestException as exc:
                problem, wait = f"cannot reach {self._origin}: {type(exc).__name__}", BACKOFF_S
            else:
                if response.ok:
                    return response
                problem = self._said(response)
                asked = _asked_wait(response)
                if asked is None and response.status_code < 500:
                    raise GitHubApiError(f"{where}: {problem}", response.status_code)
                wait = BACKOFF_S * 2 ** (attempt - 1) if asked is None else asked
                if wait > MOST_WAIT_S:
                    raise GitHubApiError(
                        f"{where}: {problem}; asked to wait {wait:g} s, longer than the gate waits",
                        response.status_code,
                    )
            if attempt < ATTEMPTS:
                self._sleep(wait)
        raise GitHubApiError(f"{where}: {problem} (after {ATTEMPTS} attempts)")

    def _said(self, response: requests.Response) -> str:
        """The status and GitHub's own `message`, with the token hidden should a body echo it."""
        try:
            message = str(response.json().get("message", ""))
        except (ValueError, AttributeError):
            message = response.text.strip()
        text = f"{response.status_code} {response.reason}"
        if message:
            text += f": {message[:_SNIPPET]}"
        return self.redact(text)

    def redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        where = f"{response.request.method} {urlsplit(response.url).path}"
        raise GitHubApiError(f"{where}: {response.status_code} but not JSON") from None


def _object(response: requests.Response) -> dict[str, Any]:
    found = _json(response)
    if not isinstance(found, dict):
        where = f"{response.request.method} {urlsplit(response.url).path}"
        raise GitHubApiError(f"{where}: expected a JSON object")
    return found


def _asked_wait(response: requests.Response) -> float | None:
    """Seconds to wait before another attempt, or None when the answer is not worth one. GitHub's
    rate limits answer 403 or 429: `Retry-After` wins; an exhausted primary limit names its reset
    time; a secondary limit without either asks for at least a minute (docs.github.com, "Rate
    limits for the REST API", exceeding the rate limit)."""
    status, headers = response.status_code, response.headers
    retry_after = _number(headers.get("Retry-After"))
    if status not in (403, 429):
        return retry_after
    if retry_after is not None:
        return retry_after
    if headers.get("X-RateLimit-Remaining") == "0":
        reset = _number(headers.get("X-RateLimit-Reset"))
        return None if reset is None else max(0.0, reset - time.time())
    if status == 429 or "secondary rate limit" in response.text.lower():
        return 60.0
    return None  # a permission refusal: another attempt would not change it


def _number(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
