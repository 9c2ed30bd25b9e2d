"""The one error hierarchy: every failure a user can act on names the file, the place and what was expected."""

from __future__ import annotations


class CxeGateError(Exception):
    """Base of every error cxe-gate reports to a user (never a traceback)."""

    def __init__(self, message: str, *, file: str | None = None, location: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.location = location

    def __str__(self) -> str:
        where = ":".join(part for part in (self.file, self.location) if part)
        return f"{where}: {self.message}" if where else self.message


class ConfigError(CxeGateError):
    """The criteria file (or a command-line override) is wrong: exit code 2."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        location: str | None = None,
        problems: list[str] | None = None,
    ):
        super().__init__(message, file=file, location=location)
        # Each problem is already a complete "file:line: place: expected ..." line.
        self.problems = problems or []

    def __str__(self) -> str:
        if self.problems:
            return "\n".join(self.problems)
        return super().__str__()


class ProviderError(CxeGateError):
    """A data source could not answer (outage, bad credentials, malformed data): verdict `error`."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        query: str | None = None,
        file: str | None = None,
        location: str | None = None,
    ):
        super().__init__(message, file=file, location=location)
        self.provider = provider
        self.query = query


class DataError(ProviderError):
    """A local data file is missing or malformed (a `file` provider's ProviderError)."""


class HarError(CxeGateError):
    """A HAR file cannot be read (missing, not JSON, truncated, wrong types, no entries); `location`
    is the JSON path (`log.entries[3].request.url`) or the line and column. The other files of a
    batch are still read."""
