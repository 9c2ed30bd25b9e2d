"""Criteria files and overrides that used to be guessed at or crash: deploy times without a time of
day or zone, a --release that would be judged on another release's deploy, and hostile YAML."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from cxe_gate import loader
from cxe_gate.cli import main
from cxe_gate.errors import ConfigError
from cxe_gate.loader import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES, load

CRITERIA = """\
providers:
  local: {type: file, events: events.ndjson, requests: requests.ndjson, feedback: feedback.ndjson}
criteria:
  - {name: errors, metric: error_rate, max_rise: 10%, min_samples: 1, test: none}
"""


def criteria_file(directory: Path, release: str) -> Path:
    """A cxe.yml whose first lines are `release` (so its deployed_at is on line 3)."""
    path = directory / "cxe.yml"
    path.write_text(textwrap.dedent(release) + CRITERIA)
    return path


def with_deploy(directory: Path, deployed_at: str) -> Path:
    return criteria_file(directory, f"release:\n  name: v1\n  deployed_at: {deployed_at}\n")


def validate(path: Path):
    return CliRunner().invoke(main, ["validate", "-c", str(path)])


def load_error(path: Path, **overrides: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load(path, **overrides)
    return str(caught.value)


# --- deploy times: what is accepted, to the exact instant ----------------------------------------


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        # Z is UTC.
        ("2026-11-17T14:00:00Z", datetime(2026, 11, 17, 14, 0, tzinfo=UTC)),
        # 16:00 at +02:00 is 16:00 - 2h = 14:00 UTC.
        ("2026-11-17T16:00:00+02:00", datetime(2026, 11, 17, 14, 0, tzinfo=UTC)),
        # +0200 is the same offset without the colon.
        ("2026-11-17T16:00:00+0200", datetime(2026, 11, 17, 14, 0, tzinfo=UTC)),
        # 09:30 at -05:00 is 09:30 + 5h = 14:30 UTC.
        ("'2026-11-17 09:30:00-05:00'", datetime(2026, 11, 17, 14, 30, tzinfo=UTC)),
        # 00:15 at +05:30 is 00:15 - 5h30 = 18:45 UTC the day before.
        ("2026-11-17T00:15:00+05:30", datetime(2026, 11, 16, 18, 45, tzinfo=UTC)),
        # .25 s is 250,000 µs; 16:00:00.25 at +02:00 is 14:00:00.25 UTC.
        ("2026-11-17T16:00:00.25+02:00", datetime(2026, 11, 17, 14, 0, 0, 250_000, tzinfo=UTC)),
        # Nanoseconds are cut to microseconds: .123456789 → 123,456 µs.
        ('"2026-11-17T14:00:00.123456789Z"', datetime(2026, 11, 17, 14, 0, 0, 123_456, tzinfo=UTC)),
        # A space before the zone, and no seconds: 14:00 at +01:00 is 13:00 UTC.
        ("2026-11-17 14:00 +01:00", datetime(2026, 11, 17, 13, 0, tzinfo=UTC)),
    ],
)
def test_accepted_deploy_times_give_the_instant_they_name(tmp_path, written, instant):
    loaded = load(with_deploy(tmp_path, written))
    assert loaded.config.release.deployed_at == instant
    assert loaded.config.release.deployed_at.utcoffset() is not None


def test_an_offset_is_kept_as_written(tmp_path):
    deployed = load(with_deploy(tmp_path, "2026-11-17T16:00:00+02:00")).config.release.deployed_at
    assert deployed.utcoffset() == timedelta(hours=2)
    assert deployed.isoformat() == "2026-11-17T16:00:00+02:00"


@pytest.mark.parametrize(
    ("given", "instant"),
    [
        ("2026-11-17T14:00:00Z", datetime(2026, 11, 17, 14, 0, tzinfo=UTC)),
        # 15:00 at +01:00 is 14:00 UTC.
        ("2026-11-17T15:00:00+01:00", datetime(2026, 11, 17, 14, 0, tzinfo=UTC)),
        # 14:00:00.5 at -0030 is 14:30:00.5 UTC.
        ("2026-11-17 14:00:00.5-0030", datetime(2026, 11, 17, 14, 30, 0, 500_000, tzinfo=UTC)),
        # An aware datetime from Python is taken as it is: 23:00 at -01:00 is midnight UTC.
        (
            datetime(2026, 11, 16, 23, tzinfo=timezone(timedelta(hours=-1))),
            datetime(2026, 11, 17, 0, tzinfo=UTC),
        ),
    ],
)
def test_deployed_at_override_gives_the_instant_it_names(tmp_path, given, instant):
    loaded = load(with_deploy(tmp_path, "2026-11-10T14:00:00Z"), deployed_at=given)
    assert loaded.config.release.deployed_at == instant


def test_the_cli_reports_an_offset_deploy_in_utc(shop_files):
    # The tiny logs' deploy is 2026-11-10 14:00 UTC, written here as 15:00 at +01:00.
    path = with_deploy(shop_files, "2026-11-10T14:00:00Z")
    result = CliRunner().invoke(
        main, ["evaluate", "-c", str(path), "--deployed-at", "2026-11-10T15:00:00+01:00"]
    )
    assert result.exit_code == 0, result.output
    assert "release v1 deployed 2026-11-10 14:00 UTC" in result.output


# --- deploy times: what is refused, with what to write instead -----------------------------------

EXAMPLES = "such as 2026-11-17T14:00:00Z or 2026-11-17T16:00:00+02:00"
NO_TIME_OF_DAY = (
    "'2026-11-17' is a date without a time of day; give the time of day and zone, "
    "e.g. 2026-11-17T14:00:00Z"
)
NO_ZONE = (
    "'2026-11-17T14:00:00' has no zone; append Z if it is UTC (2026-11-17T14:00:00Z), or the "
    "offset it was written in, such as 2026-11-17T14:00:00+02:00"
)
YEAR_1 = (
    "'0001-01-01T00:00:00Z' is in the year 1; a deploy time is in 2000 or later. Give the real "
    "deploy time, e.g. 2026-11-17T14:00:00Z"
)
NOT_A_DATE = "'2026-02-30T14:00:00Z' is not a real date: day is out of range for month"
NOT_A_TIME = "'2026-11-17T24:30:00Z' is not a real time: hour must be in 0..23"
NO_SUCH_OFFSET = (
    "'2026-11-17T14:00:00+25:00' has the offset +25:00, which no zone has; offsets run from "
    "-23:59 to +23:59, e.g. +02:00"
)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("2026-11-17", NO_TIME_OF_DAY),
        ("2026-11-17T14:00:00", NO_ZONE),
        (
            "2026-11-17 14:00",
            "'2026-11-17 14:00' has no zone; append Z if it is UTC (2026-11-17 14:00Z), or the "
            "offset it was written in, such as 2026-11-17 14:00+02:00",
        ),
        # 1795117348 s = 20,776 days (1970-01-01 + 20,776 d = 2026-11-19) and 70,948 s (19:42:28).
        (
            "1795117348",
            f"expected an ISO 8601 time {EXAMPLES}, got the number 1795117348; a number is never "
            "read as a timestamp (if it is seconds since 1970, write 2026-11-19T19:42:28Z)",
        ),
        (
            "0",
            f"expected an ISO 8601 time {EXAMPLES}, got the number 0; a number is never read as "
            "a timestamp",
        ),
        ("0001-01-01T00:00:00Z", YEAR_1),
        (
            "1999-12-31T23:59:59+00:00",
            "'1999-12-31T23:59:59+00:00' is in the year 1999; a deploy time is in 2000 or later. "
            "Give the real deploy time, e.g. 2026-11-17T14:00:00Z",
        ),
        ("2026-02-30T14:00:00Z", NOT_A_DATE),
        ("2026-11-17T24:30:00Z", NOT_A_TIME),
        ("2026-11-17T14:00:00+25:00", NO_SUCH_OFFSET),
        ("yes", f"expected an ISO 8601 time {EXAMPLES}, got True"),
        ("next tuesday", f"expected an ISO 8601 time {EXAMPLES}, got 'next tuesday'"),
    ],
)
def test_validate_refuses_a_deploy_time_in_the_file_on_its_line(tmp_path, written, message):
    path = with_deploy(tmp_path, written)
    result = validate(path)
    assert result.exit_code == 2
    assert result.output.strip() == f"{path}:3: release.deployed_at: {message}"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("2026-11-17", NO_TIME_OF_DAY),
        (" 2026-11-17T14:00:00 ", NO_ZONE),
        (
            "1795117348",
            f"expected an ISO 8601 time {EXAMPLES}, got the number '1795117348'; a number is never "
            "read as a timestamp (if it is seconds since 1970, write 2026-11-19T19:42:28Z)",
        ),
        ("0001-01-01T00:00:00Z", YEAR_1),
        ("2026-02-30T14:00:00Z", NOT_A_DATE),
        ("2026-11-17T24:30:00Z", NOT_A_TIME),
        ("2026-11-17T14:00:00+25:00", NO_SUCH_OFFSET),
        (
            "2026-11-17T14:00:00 CET",
            f"expected an ISO 8601 time {EXAMPLES}, got '2026-11-17T14:00:00 CET'",
        ),
    ],
)
def test_evaluate_refuses_a_deploy_time_on_the_command_line(tmp_path, given, message):
    path = with_deploy(tmp_path, "2026-11-10T14:00:00Z")
    result = CliRunner().invoke(main, ["evaluate", "-c", str(path), "--deployed-at", given])
    assert result.exit_code == 2
    assert result.output.strip() == f"--deployed-at: {message}"


def test_a_naive_or_too_early_python_datetime_is_refused(tmp_path):
    path = with_deploy(tmp_path, "2026-11-10T14:00:00Z")
    assert load_error(path, deployed_at=datetime(2026, 11, 17, 14)) == (
        "--deployed-at: the datetime 2026-11-17T14:00:00 has no zone; give it one, "
        "e.g. datetime(2026, 11, 17, 14, tzinfo=UTC)"
    )
    # Year 1 would overflow when the gate subtracts the 24 h baseline from it.
    assert "is in the year 1; a deploy time is in 2000 or later" in load_error(
        path, deployed_at=datetime(1, 1, 1, tzinfo=UTC)
    )


def test_a_refused_deploy_time_is_reported_with_every_other_mistake(tmp_path):
    path = criteria_file(
        tmp_path, "release: {deployed_at: 2026-11-17}\nwindows: {baseline: 1 day, release: 2h}\n"
    )
    lines = load_error(path).splitlines()
    assert lines[0].startswith(f"{path}:1: release.deployed_at: '2026-11-17' is a date without")
    assert lines[1].startswith(f"{path}:2: windows.baseline")


# --- --release without --deployed-at ------------------------------------------------------------

SHOP_RELEASE = """\
release:
  name: shop-1.4.0
  deployed_at: 2026-11-10T14:00:00Z
"""


def test_another_release_without_its_deploy_time_is_refused(tmp_path):
    path = criteria_file(tmp_path, SHOP_RELEASE)
    result = CliRunner().invoke(main, ["evaluate", "-c", str(path), "--release", "shop-1.5.0"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"{path}:2: --release shop-1.5.0 differs from release.name shop-1.4.0 in the file; pass "
        "--deployed-at too, or the release would be judged on the old deploy time "
        "(2026-11-10T14:00:00+00:00)"
    )


def test_the_same_release_another_with_its_deploy_time_or_a_file_without_one_load(tmp_path):
    path = criteria_file(tmp_path, SHOP_RELEASE)
    same = load(path, release="shop-1.4.0").config.release
    assert same.deployed_at == datetime(2026, 11, 10, 14, tzinfo=UTC)
    moved = load(path, release="shop-1.5.0", deployed_at="2026-11-17T14:00:00Z").config.release
    assert (moved.name, moved.deployed_at) == ("shop-1.5.0", datetime(2026, 11, 17, 14, tzinfo=UTC))
    undated = criteria_file(tmp_path, "release: {name: shop-1.4.0}\n")
    assert load(undated, release="shop-1.5.0").config.release.name == "shop-1.5.0"


# --- hostile YAML ---------------------------------------------------------------------------------


def test_a_thousand_nested_lists_are_refused_not_a_recursion_error(tmp_path):
    path = tmp_path / "cxe.yml"
    path.write_text("release: " + "[" * 1000 + "]" * 1000 + "\n")
    result = validate(path)
    assert result.exit_code == 2
    assert result.output.strip() == f"{path}:1: nested deeper than {MAX_DEPTH} levels"


def test_a_thousand_nested_mappings_are_refused_at_the_line_that_goes_too_deep(tmp_path):
    path = tmp_path / "cxe.yml"
    path.write_text("".join(f"{' ' * i}k{i}:\n" for i in range(1000)) + " " * 1000 + "v\n")
    # The mapping starting on line n is level n, so its key is level n + 1: k63, on line 64, is
    # level 65.
    assert load_error(path) == f"{path}:64: nested deeper than {MAX_DEPTH} levels"


def test_nesting_up_to_the_limit_is_read_and_one_more_level_is_not(tmp_path):
    path = tmp_path / "cxe.yml"
    # The top mapping is level 1; 62 lists are levels 2 to 63; the innermost `1` is level 64.
    path.write_text(CRITERIA + "x: " + "[" * 62 + "1" + "]" * 62 + "\n")
    assert "cxe.yml:5: x: unknown key 'x'" in load_error(path)  # read all the way to the model
    path.write_text(CRITERIA + "x: " + "[" * 63 + "1" + "]" * 63 + "\n")
    assert load_error(path) == f"{path}:5: nested deeper than {MAX_DEPTH} levels"


def billion_laughs(levels: int = 9, fan_out: int = 9) -> str:
    """Each anchor is a list of `fan_out` aliases of the one before: fan_out**levels values."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * fan_out)}]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * fan_out)}]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_is_refused_before_it_expands(tmp_path):
    path = tmp_path / "cxe.yml"
    path.write_text(billion_laughs())
    result = validate(path)
    assert result.exit_code == 2
    # a0 stands for 10 values (a list of 9 strings), a1 for 1 + 9 × 10 = 91, a2 for 820, a3 for
    # 7,381, a4 for 66,430 and a5, on line 6, for 597,871: the first past the limit.
    assert result.output.strip() == (
        f"{path}:6: its aliases expand this to more than {MAX_VALUES:,} values; a criteria file "
        "has a few thousand, so write them out or alias less"
    )


def test_a_few_aliases_are_still_read(tmp_path):
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {name: v1, deployed_at: &deploy 2026-11-10T14:00:00Z}\n"
        "providers:\n  local: &local {type: file, events: events.ndjson}\n"
        "criteria:\n"
        "  - &errors {name: errors, metric: error_rate, max: 1%, provider: local}\n"
    )
    config = load(path).config
    assert config.release.deployed_at == datetime(2026, 11, 10, 14, tzinfo=UTC)
    assert config.criteria[0].name == "errors"


@pytest.mark.parametrize(
    "text", ["release: &a [*a]\n", "release: &a {name: *a}\n"], ids=["list", "mapping"]
)
def test_an_alias_inside_its_own_anchor_is_refused(tmp_path, text):
    path = tmp_path / "cxe.yml"
    path.write_text(text)
    assert load_error(path) == f"{path}:1: an alias refers to the collection that contains it"


def test_aliases_that_chain_past_the_depth_limit_are_refused(tmp_path):
    path = tmp_path / "cxe.yml"
    # Each anchor is 40 levels deep on its own (under the limit); b inside a is 80.
    path.write_text(
        "a: &a " + "[" * 39 + "1" + "]" * 39 + "\n" + "b: " + "[" * 39 + "*a" + "]" * 39 + "\n"
    )
    assert load_error(path) == f"{path}:1: nested deeper than {MAX_DEPTH} levels through aliases"


def test_too_many_values_even_without_aliases_are_refused(tmp_path, monkeypatch):
    # A lower limit than the real 100,000 only to spare the test two seconds of parsing.
    monkeypatch.setattr(loader, "MAX_VALUES", 1_000)
    path = tmp_path / "cxe.yml"
    path.write_text("x: [" + ", ".join(["1"] * 600) + "]\ny: [" + ", ".join(["1"] * 600) + "]\n")
    # The top mapping, x, its list and 600 values are 603; y, its list and the 397th value of y
    # on line 2 make 1,001.
    assert (
        load_error(path) == f"{path}:2: more than 1,000 values; a criteria file has a few thousand"
    )


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path):
    path = tmp_path / "cxe.yml"
    # Not even valid YAML past the first line: it must never be parsed.
    path.write_bytes(b"release: [\n" + b"{" * MAX_FILE_BYTES)
    result = validate(path)
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"{path}: the criteria file is larger than 5 MB; a criteria file is a few kB: "
        "is this the right file?"
    )


def test_tags_and_unreadable_scalars_are_config_errors(tmp_path):
    path = tmp_path / "cxe.yml"
    path.write_text(
        "release: {name: !vault release, deployed_at: !!int soon}\n"
        f"gate: {{pass_score: {'9' * 5000}}}\n"
        "? [a, b]\n"
        ": 1\n"
    )
    result = validate(path)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{path}:1: release.name: the tag !vault means nothing in a criteria file; "
        "write the value plainly",
        f"{path}:1: release.deployed_at: cannot read 'soon' as an integer",
        f"{path}:2: gate.pass_score: cannot read '99999999999999999999… (5000 characters)' "
        "as an integer",
        f"{path}:3: (top): a key must be a name, not a list or a mapping",
    ]
