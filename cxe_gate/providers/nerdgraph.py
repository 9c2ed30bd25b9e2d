"""NRQL through New Relic's NerdGraph (GraphQL) API: every window's queries in one request, one alias
each, and the one row each answers, with GraphQL errors (which arrive with HTTP 200) named by window."""

from __future__ import annotations

from typing import Any

from ..errors import ProviderError
from .answers import dig, expected_shape, provider_error, shown
from .transport import ApiClient


class NerdGraph:
    """One account's NRQL, each query given `timeout` seconds to run (NerdGraph's nrql timeout)."""

    def __init__(self, client: ApiClient, account_id: int, timeout: int):
        self.client = client
        self.account_id = account_id
        self.timeout = timeout

    def rows(self, asked: list[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """Send every (window label, NRQL) in one GraphQL request; the one row of each (None: no
        data), in the order asked."""
        aliases = {f"w{i}": label for i, (label, _) in enumerate(asked)}
        nrql = {f"w{i}": query for i, (_, query) in enumerate(asked)}
        fields = " ".join(
            f"{alias}: nrql(query: ${alias}, timeout: {self.timeout}) {{ results }}"
            for alias in aliases
        )
        variables_decl = ", ".join(f"${alias}: Nrql!" for alias in aliases)
        graphql = (
            f"query($account: Int!, {variables_decl}) "
            f"{{ actor {{ account(id: $account) {{ {fields} }} }} }}"
        )
        variables: dict[str, Any] = {"account": self.account_id}
        variables.update(nrql)
        sent = "\n".join(query for _, query in asked)
        reply = self.client.post(
            "", json_body={"query": graphql, "variables": variables}, query=sent, accept={400}
        )
        body = reply.body
        if not isinstance(body, dict):
            raise self._error(expected_shape("a GraphQL answer (an object)", body), sent)
        if body.get("errors"):
            raise self._error(_graphql_errors(body["errors"], aliases), sent)
        if reply.status != 200:
            raise self._error(f"{reply.status} without GraphQL errors: {shown(body)}", sent)
        account = dig(body, ("data", "actor", "account"))
        if not isinstance(account, dict):
            raise self._error(expected_shape("data.actor.account in the answer", body), sent)
        rows: list[dict[str, Any] | None] = []
        for alias, label in aliases.items():
            if not isinstance(account.get(alias), dict) or "results" not in account[alias]:
                raise self._error(
                    f"the {label} window: "
                    + expected_shape("nrql.results in the answer", account.get(alias)),
                    nrql[alias],
                )
            rows.append(self._one_row(account[alias]["results"], label, nrql[alias]))
        return rows

    def _one_row(self, results: Any, label: str, query: str) -> dict[str, Any] | None:
        if results is None or results == []:
            return None  # NerdGraph's "no data"
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise self._error(
                f"the {label} window: " + expected_shape("results as a list of rows", results),
                query,
            )
        if len(results) > 1:
            raise self._error(
                f"the {label} window: expected one row, got {len(results)} (a FACET or "
                "TIMESERIES query?)",
                query,
            )
        return results[0]

    def _error(self, message: str, query: str) -> ProviderError:
        return provider_error(self.client.context, message, query)


def _graphql_errors(errors: Any, aliases: dict[str, str]) -> str:
    if not isinstance(errors, list):
        return f"NerdGraph answered with errors: {shown(errors)}"
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            parts.append(shown(error))
            continue
        text = str(error.get("message") or "an error without a message")
        path = error.get("path") or []
        window = next((aliases[p] for p in path if p in aliases), None)
        kind = (error.get("extensions") or {}).get("errorClass") or (
            error.get("extensions") or {}
        ).get("error_code")
        parts.append(
            (f"the {window} window: " if window else "") + text + (f" ({kind})" if kind else "")
        )
    return "NerdGraph answered with errors: " + "; ".join(parts)
