"""What every `cxe-gate` command shares: exit codes, one red line for an error, the duration
type and the criteria-file option."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from ..errors import ConfigError, CxeGateError
from ..quantities import DURATION_HINT, parse_duration_ms
from ..results import Verdict

if TYPE_CHECKING:
    pass


class ExitCode(IntEnum):
    """What `cxe-gate` exits with; CI steps and the action branch on these numbers (docs/reference/exit-codes.md)."""

    OK = 0  # passed (or warned, unless --fail-on warn)
    FAIL = 1  # the release failed its criteria
    USAGE = 2  # the criteria file or the options are wrong
    INCONCLUSIVE = 3  # too little data to decide
    ERROR = 4  # the data could not be read


_EXIT_CODES = {
    Verdict.PASS: ExitCode.OK,
    Verdict.WARN: ExitCode.OK,
    Verdict.FAIL: ExitCode.FAIL,
    Verdict.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
    Verdict.ERROR: ExitCode.ERROR,
}


def exit_code(verdict: Verdict, *, fail_on: str = "fail") -> ExitCode:
    if verdict == Verdict.WARN and fail_on == "warn":
        return ExitCode.FAIL
    return _EXIT_CODES[verdict]


def fail(error: CxeGateError, code: ExitCode) -> NoReturn:
    click.secho(str(error), fg="red", err=True)
    sys.exit(code)


@contextmanager
def errors_exit() -> Iterator[None]:
    """A mistake in the criteria file exits 2, data that cannot be read 4: one red line each."""
    try:
        yield
    except ConfigError as exc:
        fail(exc, ExitCode.USAGE)
    except CxeGateError as exc:
        fail(exc, ExitCode.ERROR)


class Duration(click.ParamType):
    """A duration as cxe.yml spells it: 90s, 5m, 2h, 1h30m."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            ms = parse_duration_ms(str(value))
        except ValueError:
            self.fail(f"expected {DURATION_HINT}, got {value!r}", param, ctx)
        if ms <= 0:
            self.fail(f"must be longer than zero, got {value!r}", param, ctx)
        return timedelta(milliseconds=ms)


config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="cxe.yml",
    show_default=True,
    help="The success-criteria file.",
)
