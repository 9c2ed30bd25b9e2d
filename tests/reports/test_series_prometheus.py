"""Per-interval series (gate.series) from the `prometheus` provider, through the whole gate to the
HTML report's chart: a real Prometheus holding backfilled samples whose per-interval error rates
are set by hand, errors climbing through the release hour."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_server import backfill, running_prometheus

from cxe_gate.gate import evaluate
from cxe_gate.loader import load
from cxe_gate.report.html import render_html
from cxe_gate.results import Verdict

pytestmark = pytest.mark.server

STEP = timedelta(minutes=5)  # a 1 h window in 12 intervals


def _openmetrics(deploy: datetime) -> str:
    """A scrape every 30 s from 2 h before the deploy to 1 h after. Nothing is served in the
    first hour; in the baseline hour every 5-minute interval serves 100 requests, one of them a
    500; in release interval i, 100 requests, i of them 500s. Each interval's requests land at
    the scrape 2.5 minutes into it."""
    ok = failed = 0
    lines = ["# TYPE http_requests counter"]
    for k in range(3 * 3600 // 30):
        at = deploy - timedelta(hours=2) + timedelta(seconds=30 * k)
        since = at - (deploy - timedelta(hours=1))
        index, into = divmod(since, STEP)  # which interval of the baseline and release hours
        if since >= timedelta(0) and into == STEP / 2:
            errors = 1 if index < 12 else index - 12
            ok, failed = ok + 100 - errors, failed + errors
        stamp = f"{at.timestamp():.3f}"
        lines.append(f'http_requests_total{{job="shop",code="200"}} {ok} {stamp}')
        lines.append(f'http_requests_total{{job="shop",code="500"}} {failed} {stamp}')
    return "\n".join([*lines, "# EOF", ""])


def test_the_html_report_charts_a_prometheus_criterion_per_interval(tmp_path: Path) -> None:
    deploy = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    backfill(tmp_path / "prometheus", _openmetrics(deploy))
    with running_prometheus(tmp_path / "prometheus", []) as url:
        path = tmp_path / "cxe.yml"
        path.write_text(
            f"""
release: {{name: v2, deployed_at: "{deploy.isoformat()}"}}
windows: {{baseline: 1h, release: 1h}}
gate: {{series: true}}
providers:
  prom:
    type: prometheus
    url: {url}
    selector: 'job="shop"'
criteria:
  - {{name: errors, metric: error_rate, max: 5%}}
"""
        )
        report = evaluate(load(path), now=deploy + timedelta(hours=2))
    (result,) = report.criteria
    # Release: 0 + 1 + … + 11 = 66 errors of 1,200 requests, 5.5%, over the 5% allowed (what
    # the judge makes of it is its own story: here, possibly noise).
    assert result.verdict != Verdict.ERROR, result.message
    assert result.value == pytest.approx(66 / 1200)
    release, baseline = result.series["release"], result.series["baseline"]
    assert [p.value for p in release] == pytest.approx([i / 100 for i in range(12)])
    assert [p.samples for p in release] == [100] * 12
    assert [p.start for p in release] == [deploy + STEP * i for i in range(12)]
    assert [p.value for p in baseline] == pytest.approx([0.01] * 12)

    page = render_html(report)
    assert "no per-interval series" not in page
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    chart = next(svg for svg in svgs if "12 equal intervals" in svg)
    (release_run,) = re.findall(r'class="line line-release" points="([^"]+)"', chart)
    (baseline_run,) = re.findall(r'class="line line-baseline" points="([^"]+)"', chart)
    assert len(release_run.split()) == 12 and len(baseline_run.split()) == 12
    dots = re.findall(r'<circle class="dot-release" cx="([\d.]+)" cy="([\d.]+)"', chart)
    # x: interval i at its middle, (i + 0.5)/12 of the plot from 62 to 312.
    assert [float(x) for x, _ in dots] == pytest.approx(
        [62 + 250 * (i + 0.5) / 12 for i in range(12)], abs=0.1
    )
    # y: each interval's rate is higher than the last, so each dot sits higher (a smaller y);
    # interval 5's 5% is the threshold's level.
    ys = [float(y) for _, y in dots]
    assert all(a > b for a, b in itertools.pairwise(ys))
    (threshold,) = re.findall(r'<line class="threshold"[^>]*y1="([\d.]+)"', chart)
    assert float(threshold) == pytest.approx(ys[5], abs=0.1)
    # Described for screen readers by each window's range, the release window's ends under it.
    assert "release 0% to 11.0%" in chart
    assert (
        f"release {deploy:%H:%M} UTC" in chart
        and f"{deploy + timedelta(hours=1):%H:%M} UTC" in chart
    )
