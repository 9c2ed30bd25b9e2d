"""A Google Cloud service account's key, read from ${VAR} (its JSON, or a path to the key file) into
google-auth's own service-account credentials. Every failure names the variable and what was
expected, never the key; the key's material is added to the redactions before anything can echo it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import SecretRef
from ..errors import ConfigError
from .base import ProviderContext

if TYPE_CHECKING:  # google-auth is optional (the `ga4` extra): imported when a key is read
    from google.oauth2.service_account import Credentials

# Only when a key file lacks `token_uri`; every key Google issues names its token endpoint.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


@dataclass(frozen=True)
class ServiceAccount:
    email: str
    token_uri: str
    credentials: Credentials  # signs the grant and reads the token endpoint's answer


def load_service_account(
    text: str, context: ProviderContext, ref: SecretRef, scopes: Sequence[str]
) -> ServiceAccount:
    """The service account whose key `text` (the value of `ref`) holds, asking for `scopes`."""
    where = f"providers.{context.name}.credentials"

    def refuse(problem: str) -> ConfigError:
        return ConfigError(f"{where}: {problem}", file=context.where or None)

    try:
        from google.oauth2 import service_account
    except ImportError:
        raise refuse("the ga4 provider needs google-auth: pip install 'cxe-gate[ga4]'") from None
    source = f"{ref.variable}"
    if not text.lstrip().startswith("{"):
        path = Path(text.strip()).expanduser()
        if not path.is_absolute():
            path = context.base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise refuse(
                f"{ref.variable} names the key file {path}, which cannot be read "
                f"({exc.strerror or type(exc).__name__}); it should hold the key's JSON or a path "
                "to the key file"
            ) from None
        source = f"the key file {path} (from {ref.variable})"
    try:
        info = json.loads(text)
    except ValueError as exc:
        # Never quote the text: it is a private key.
        raise refuse(
            f"{source} is not valid JSON (line {getattr(exc, 'lineno', '?')}); expected a "
            "service account key file as downloaded from Google Cloud"
        ) from None
    if not isinstance(info, dict):
        raise refuse(f"{source} is not a JSON object; expected a service account key file")
    if info.get("type", "service_account") != "service_account":
        raise refuse(
            f"{source} is a {info.get('type')!r} credential; expected a service account key "
            "(type: service_account)"
        )
    missing = [k for k in ("client_email", "private_key") if not isinstance(info.get(k), str)]
    if missing:
        raise refuse(f"{source} lacks {' and '.join(missing)}; expected a service account key")
    token_uri = str(info.get("token_uri") or GOOGLE_TOKEN_URI)
    try:
        credentials = service_account.Credentials.from_service_account_info(
            {**info, "token_uri": token_uri},
            scopes=list(scopes),
            # The grant's audience is the key's own token endpoint (google-auth names Google's).
            additional_claims={"aud": token_uri},
        )
    except (ValueError, TypeError, IndexError):
        raise refuse(f"{source}: private_key is not a PEM-encoded RSA private key") from None
    for value in (info["private_key"], info.get("private_key_id"), text):
        if isinstance(value, str):
            context.add_secret(value)  # key material: kept out of every message
    return ServiceAccount(email=info["client_email"], token_uri=token_uri, credentials=credentials)
