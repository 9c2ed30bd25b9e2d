"""TLS failures in words a user can act on: a wrong scheme or an untrusted certificate fails the same
way every time, so it is never retried, and OpenSSL's own text (ending in a source file's line,
wrapped in three layers of urllib3 reprs) is turned into one sentence."""

from __future__ import annotations

import re


def tls_reason(exc: BaseException, url: str) -> str:
    """What went wrong in a TLS handshake, in words a user can act on (OpenSSL's own text ends in
    a source file's line number; urllib3 wraps it in three layers of reprs)."""
    text = str(exc)
    found = re.search(r"\[SSL: ([A-Z0-9_]+)\] (.*?)(?: \(_ssl\.c:\d+\)|['\"]\)|$)", text)
    code, said = (found[1], found[2].strip().rstrip(".")) if found else ("", "")
    if code in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE"):
        plain = url.replace("https://", "http://", 1)
        return (
            f"TLS failed: the server did not answer in TLS ({said}), so it speaks plain HTTP on "
            f"that port; use url: {plain}"
        )
    if code == "CERTIFICATE_VERIFY_FAILED":
        detail = said.split("certificate verify failed", 1)[-1].strip(" :") or "not trusted"
        advice = (
            "write in url the host name the certificate was issued for"
            if "mismatch" in detail
            else "if it is signed by your own CA, point the REQUESTS_CA_BUNDLE environment "
            "variable at that CA's PEM file"
        )
        return f"TLS failed: the server's certificate was refused ({detail}); {advice}"
    return f"TLS failed: {said or code or type(exc).__name__}"
