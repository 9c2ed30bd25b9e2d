"""The provider contract, secrets: no resolved credential (nor a form of it the service was sent: a
Basic pair, an OAuth token) ever appears in a Measurement, an error, a query's text, or the JSON and
Markdown reports; whether the service answers, echoes the credential back, or the credential was
written into the file. The file provider reads local files and has none (see the table)."""

from __future__ import annotations

import re

import pytest
from contract_stand import (
    Gap,
    Stage,
    Stand,
    criteria_file,
    gate_report,
    load_problems,
    measure,
    never_shown,
)
from contract_table import stands
from werkzeug import Request, Response

from cxe_gate.errors import ProviderError
from cxe_gate.report.markdown import render_markdown
from cxe_gate.results import GateReport, Verdict

pytest_plugins = ["postgres_server"]  # the sql provider's credential is a real PostgreSQL's

WITH_CREDENTIALS = stands(lambda stand: not isinstance(stand.credentials, Gap))
# Those whose service can echo what it was sent (PostgreSQL never echoes a password).
ECHOING = stands(
    lambda stand: not isinstance(stand.credentials, Gap) and not isinstance(stand.api, Gap)
)


def shown(report: GateReport) -> str:
    return report.model_dump_json() + render_markdown(report)


def assert_hidden(stand: Stand, stage: Stage, *texts: str) -> None:
    for form in never_shown(stand, stage):
        for text in texts:
            assert form not in text


@pytest.mark.parametrize("stand", WITH_CREDENTIALS)
def test_good_answers_show_no_credential(stand: Stand, stage: Stage):
    stand.main.serve(stage)
    measured = measure(stand, stage, stand.main.criterion)
    report = gate_report(stand, stage, stand.main.criterion)
    (result,) = report.criteria
    assert result.verdict is not Verdict.ERROR, result.message
    assert_hidden(stand, stage, *map(repr, measured.values()), shown(report))


def echo(request: Request) -> Response:
    """A service refusing the query, quoting all it was sent: headers, query string and body."""
    sent = " ".join(
        [
            *(f"{name}: {value}" for name, value in request.headers.items()),
            request.query_string.decode(),
            request.get_data(as_text=True),
        ]
    )
    return Response(f'{{"error": "bad request: {sent}"}}', 400, content_type="application/json")


@pytest.mark.parametrize("stand", ECHOING)
def test_a_service_echoing_the_credentials_is_redacted(stand: Stand, stage: Stage):
    assert stage.server is not None and isinstance(stand.api, str)
    stand.sign_in(stage)
    stage.server.expect_request(re.compile(stand.api)).respond_with_handler(echo)
    with pytest.raises(ProviderError) as refused:
        measure(stand, stage, stand.main.criterion)
    report = gate_report(stand, stage, stand.main.criterion)
    assert report.verdict is Verdict.ERROR
    assert_hidden(stand, stage, str(refused.value), refused.value.query or "", shown(report))


@pytest.mark.parametrize("stand", WITH_CREDENTIALS)
def test_a_credential_written_into_the_file_is_refused_without_showing_it(
    stand: Stand, stage: Stage
):
    assert not isinstance(stand.credentials, Gap)
    path = criteria_file(stand, stage, stand.main.criterion)
    text = path.read_text()
    for variable, value in stand.credentials(stage).items():
        assert f"${{{variable}}}" in text
        text = text.replace(f"${{{variable}}}", value.replace("\\", "\\\\").replace("'", "''"))
    path.write_text(text)
    problems = load_problems(path)
    assert any(
        "providers.svc" in problem and "environment variable" in problem for problem in problems
    ), problems
    assert_hidden(stand, stage, *problems)


def cut_short(request: Request) -> Response:
    """An error page whose first 200 characters end inside the credential it quotes."""
    credential = next(
        value.partition(" ")[2] or value  # the token after a scheme (Bearer, Basic)
        for name, value in request.headers.items()
        if name.lower() not in {"host", "user-agent", "accept", "accept-encoding", "connection"}
        and len(value) > 20
    )
    return Response("upstream unavailable" + "." * 164 + credential, 503)


@pytest.mark.parametrize("stand", ECHOING)
def test_no_part_of_a_credential_is_shown_where_an_error_page_is_cut_short(
    stand: Stand, stage: Stage
):
    assert stage.server is not None and isinstance(stand.api, str)
    stand.sign_in(stage)
    stage.server.expect_request(re.compile(stand.api)).respond_with_handler(cut_short)
    (result,) = gate_report(stand, stage, stand.main.criterion).criteria
    assert result.verdict is Verdict.ERROR
    for form in never_shown(stand, stage):
        if form.lstrip().startswith("{"):
            continue  # a key file's JSON: its public parts (token_uri) may be named; its private
            # key's lines are forms of their own (`hidden`)
        pieces = {form[i : i + 12] for i in range(len(form) - 11)}
        assert not any(piece in result.message for piece in pieces), result.message
