"""Customer effort (CES, 1-7) and survey scales of one's own, for `metric: feedback`: the share of
good answers (a rate, judged with a two-proportion test) or the mean answer (`measure: mean`, a
z-test), the same numbers from the file provider and the sql provider on DuckDB and ClickHouse, and
the scale's mistakes refused when cxe.yml is loaded."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from cxe_gate.config import Criterion, FeedbackCriterion
from cxe_gate.errors import ConfigError
from cxe_gate.measurement import Unit
from cxe_gate.results import Verdict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))
from engine_gate import judge, tables, values
from engine_tables import Logs, write_chdb, write_duckdb, write_files
from tiny_logs import at

# (minutes from the deploy, survey, score): the baseline is the day before, the release 2 h after.
ANSWERS = [
    # CES, 1-7, 7 = very easy; good is 5-7.
    *((-300 + i, "ces", s) for i, s in enumerate((7, 6, 5, 4, 2))),
    *((10 + i, "ces", s) for i, s in enumerate((7, 3, 1, 5))),
    # A 1-10 scale, good is 8-10.
    *((-200 + i, "ten", s) for i, s in enumerate((10, 8, 7, 1))),
    *((20 + i, "ten", s) for i, s in enumerate((9, 9, 2))),
]
LOGS = Logs(
    events=[(at(1), "s", "u", "page_view")],
    requests=[(at(1), "/", 200, 10.0)],
    feedback=[(at(m), survey, score) for m, survey, score in ANSWERS],
)
CRITERIA = """\
  - {name: ces, metric: feedback, scale: ces, filter: "survey = 'ces'", max_drop: 90%,
     min_samples: 1}
  - {name: ces mean, metric: feedback, scale: ces, measure: mean, filter: "survey = 'ces'",
     max_drop: 90%, min_samples: 1}
  - {name: ten, metric: feedback, scale: {min: 1, max: 10, good: [8, 10]},
     filter: "survey = 'ten'", max_drop: 90%, min_samples: 1}
  - {name: ten mean, metric: feedback, scale: {min: 1, max: 10, good: [8, 10]}, measure: mean,
     filter: "survey = 'ten'", max_drop: 90%, min_samples: 1}
"""
# Worked out by hand: (baseline, release).
#   ces:      5-7 of (7 6 5 4 2) = 3/5;   of (7 3 1 5) = 2/4
#   ces mean: 24/5 = 4.8;                 16/4 = 4.0
#   ten:      8-10 of (10 8 7 1) = 2/4;   of (9 9 2) = 2/3
#   ten mean: 26/4 = 6.5;                 20/3
WANTED = {
    "ces": (3 / 5, 2 / 4),
    "ces mean": (4.8, 4.0),
    "ten": (2 / 4, 2 / 3),
    "ten mean": (6.5, 20 / 3),
}


def _provider(kind: str, directory: Path) -> str:
    if kind == "file":
        write_files(LOGS, directory)
        return "{type: file, feedback: feedback.ndjson}"
    if kind == "duckdb":
        write_duckdb(LOGS, directory / "answers.duckdb")
        return f"{{type: sql, url: 'duckdb:///{directory}/answers.duckdb', {tables('logs')}}}"
    write_chdb(LOGS, directory / "chdb")
    return f"{{type: sql, url: 'chdb:///{directory}/chdb', {tables('logs')}}}"


@pytest.mark.parametrize("engine", ["file", "duckdb", "chdb"])
def test_each_engine_gives_the_shares_and_means_worked_out_by_hand(tmp_path: Path, engine: str):
    report = judge(tmp_path, _provider(engine, tmp_path), CRITERIA)
    found = values(report)
    assert found.keys() == WANTED.keys()
    for name, (baseline, release) in WANTED.items():
        assert found[name] == (pytest.approx(baseline), pytest.approx(release)), name
    by_name = {c.name: c for c in report.criteria}
    assert by_name["ces"].samples == 4 and by_name["ten mean"].samples == 3


def test_a_mean_carries_the_answers_variance_for_a_z_test(tmp_path: Path):
    # The release's CES answers 7 3 1 5: mean 4, squared deviations 9 1 9 1, sample variance 20/3.
    criteria = (
        "  - {name: ces mean, metric: feedback, scale: ces, measure: mean, "
        "filter: \"survey = 'ces'\", min: 4.5, min_samples: 1}\n"
    )
    (result,) = judge(tmp_path, _provider("file", tmp_path), criteria).criteria
    assert result.value == pytest.approx(4.0)
    # 4.0 is below 4.5, but on 4 answers with a standard error of sqrt(20/3 / 4) = 1.29 the
    # shortfall of 0.5 is far from significant: inconclusive, never a pass.
    assert result.verdict == Verdict.INCONCLUSIVE, result.message


def test_an_answer_off_the_declared_scale_is_an_error_naming_the_scale(tmp_path: Path):
    # No filter: the CES answers (up to 7) fit 1-10, but a 0-based scale misses none and a 1-5
    # scale does: the 6s and 7s are off it.
    criteria = (
        "  - {name: five, metric: feedback, scale: {min: 1, max: 5, good: [4, 5]}, max_drop: 90%,"
        " min_samples: 1}\n"
    )
    (result,) = judge(tmp_path, _provider("file", tmp_path), criteria).criteria
    assert result.verdict == Verdict.ERROR
    assert "scores are not whole numbers from 1 to 5" in result.message
    assert "the 1-5 scale" in result.message


def criterion(**fields: object) -> FeedbackCriterion:
    parsed = TypeAdapter(Criterion).validate_python(
        {"name": "c", "metric": "feedback", "min_samples": 1, **fields}
    )
    assert isinstance(parsed, FeedbackCriterion)
    return parsed


def test_the_scales_say_their_bounds_good_answers_and_unit():
    ces = criterion(scale="ces", max_drop="10%")
    assert (ces.bounds, ces.good, ces.is_share) == ((1, 7), (5, 7), True)
    assert ces.default_unit() == Unit.RATIO
    mean = criterion(scale="ces", measure="mean", min=5)
    assert (mean.is_share, mean.default_unit()) == (False, Unit.NUMBER)
    ten = criterion(scale={"min": 1, "max": 10, "good": [8, 10]}, max_drop="5%")
    assert (ten.bounds, ten.good, ten.scale_name) == ((1, 10), (8, 10), "the 1-10 scale")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"scale": "nps", "measure": "mean", "min": 0}, "measure: mean is for csat, ces"),
        ({"scale": {"min": 5, "max": 1, "good": [4, 5]}, "min": 0.5}, "must be below max"),
        ({"scale": {"min": 1, "max": 10, "good": [8, 11]}, "min": 0.5}, "within 1 to 10"),
        ({"scale": "ces", "measure": "mean", "min": 8}, "outside what a mean CES can be"),
        (
            {"scale": {"min": 1, "max": 10, "good": [8, 10]}, "measure": "mean", "max": 11},
            "1 to 10",
        ),
        ({"scale": "ces", "max_drop": 10}, "is ambiguous"),
        ({"scale": "ces", "min": 1.5}, "outside what a share can be"),
    ],
)
def test_a_scale_s_mistakes_are_refused(fields, expected):
    with pytest.raises(ValidationError, match=expected):
        criterion(**fields)


def test_a_custom_scale_is_refused_at_load_with_its_place(tmp_path: Path):
    criteria = "  - {name: ten, metric: feedback, scale: {min: 1, max: 10}, min: 50%}\n"
    with pytest.raises(ConfigError, match=r"criteria\[0\].*good"):
        judge(tmp_path, "{type: file, feedback: feedback.ndjson}", criteria)
