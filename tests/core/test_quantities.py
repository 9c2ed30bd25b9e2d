from __future__ import annotations

from datetime import timedelta

import pytest

from cxe_gate.quantities import Change, format_duration, parse_change, parse_level, to_timedelta


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("-24h", timedelta(hours=-24)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_durations_as_people_write_them(text, expected):
    assert to_timedelta(text) == expected


@pytest.mark.parametrize("bad", ["2", "2 hours", "h2", "", 5, True])
def test_ambiguous_or_malformed_durations_are_refused(bad):
    with pytest.raises(ValueError, match="duration"):
        to_timedelta(bad)


def test_durations_print_in_their_shortest_form():
    assert format_duration(timedelta(hours=-24)) == "-1d"
    assert format_duration(timedelta(minutes=90)) == "90m"
    assert format_duration(timedelta(milliseconds=500)) == "500ms"


def test_levels():
    assert parse_level("1%") == pytest.approx(0.01)
    assert parse_level("800ms") == 800
    assert parse_level("2s") == 2000
    assert parse_level(0.85) == 0.85
    with pytest.raises(ValueError, match="expected a number"):
        parse_level("lots")


def test_changes_are_relative_with_percent_and_absolute_otherwise():
    assert parse_change("5%") == Change(0.05, relative=True)
    assert parse_change("0.5pp") == Change(0.005, relative=False)
    assert parse_change("100ms") == Change(100, relative=False)
    assert parse_change(3) == Change(3, relative=False)
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_change("-5%")
