"""The HTML page's trend chart (inline SVG) and summary tables, rendered in headless Chromium with
hostile owner, rule and run names: the chart draws for 2 and 12 points, one point is a table and
a first-run note, and no estate text becomes markup."""

from __future__ import annotations

import re

import pytest

from audit_function.vocabulary import AuditResult
from reports.html_report import HtmlWriter
from reports.summary_tables import TREND_FIELDS
from tests.reports.chromium import open_page
from tests.reports.factory_xlsx import finding, trend, vault

pytestmark = pytest.mark.timeout(240)
OWNER = '"><script>alert("owner")</script>'
RULE = "<img src=x onerror=alert(1)>"
RUN = "</title><script>alert(3)</script>"


def hostile_report(points: int) -> dict:
    v = vault("kv-pay", owner=OWNER)
    findings = [finding("public-network-open", v, 1, owner=OWNER),
                finding("public-network-open", v, 2, owner=OWNER, ruleId=RULE, severity="medium"),
                finding("no-private-endpoint", v, 3, owner="team-b", suppressed=True)]
    series = trend(points)
    if series:
        series[0]["runAt"] = RUN          # a label is estate-adjacent text too: escaped like the rest
    return {"schemaVersion": "2.0", "run": {"id": "r", "startedAt": "2026-11-23T06:00:00Z", "complete": True, "gaps": []},
            "summary": {"bySeverity": {"high": 1, "medium": 1, "low": 0}, "byRule": {"public-network-open": 1, RULE: 1},
                        "trend": series},
            "vaults": [v], "findings": findings, "migration": []}


def render(report: dict) -> str:
    return HtmlWriter().render(AuditResult(report)).decode("utf-8")


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start:html.index("</section>", start)]


@pytest.mark.parametrize("points", [1, 2, 12])
def test_trend_renders_in_chromium_with_hostile_names_escaped(points, tmp_path):
    path = tmp_path / "kv-audit-report.html"
    path.write_text(render(hostile_report(points)), encoding="utf-8")
    page = open_page(path)
    assert page.console == []      # no script error, no CSP violation
    dom = page.stdout
    trend_part = section(dom, "trend")
    rows = re.findall(r"<tr><td>", section(dom, "trend").split("<tbody>", 1)[1])
    assert len(rows) == points
    if points == 1:
        assert "<svg" not in trend_part and 'id="first-run"' in trend_part
    else:
        assert 'id="chart-trend"' in trend_part and 'id="first-run"' not in trend_part
        groups = re.findall(r'<g class="line line-([a-z]+)">', trend_part)
        assert groups == list(TREND_FIELDS)
        assert trend_part.count("<circle") == points * len(TREND_FIELDS)
        assert trend_part.count("<polyline") == len(TREND_FIELDS)
    # hostile text stays text: escaped in the DOM, no element made from it
    assert "<script>alert" not in dom and "<img src" not in dom and "</title><script>" not in dom
    owners = section(dom, "summary-tables")
    assert "&lt;script&gt;alert(\"owner\")&lt;/script&gt;" in owners or "&lt;script&gt;alert(&quot;owner&quot;)" in owners
    assert "&lt;img src=x onerror=alert(1)&gt;" in owners


def test_summary_tables_in_the_page_count_unsuppressed_with_suppressed_apart():
    html = render(hostile_report(2))
    by_owner = html.split('id="by-owner-table"', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", by_owner)
    # owner, vaults, findings, high, medium, low, suppressed (the suppressed finding's owner is team-b)
    assert cells[:7] == ['&#34;&gt;&lt;script&gt;alert(&#34;owner&#34;)&lt;/script&gt;', "1", "2", "1", "1", "0", "0"]
    assert cells[7:14] == ["team-b", "0", "0", "0", "0", "0", "1"]
    by_severity = html.split('id="by-severity-table"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", by_severity) == ["high", "1", "0", "medium", "1", "0", "low", "0", "1"]


@pytest.mark.parametrize("trend_value", [None, [], "x", [{"runAt": "2026-11-24T06:00:00Z", "high": "many"}, {}]])
def test_missing_or_broken_trend_never_fails(trend_value):
    report = hostile_report(0)
    report["summary"]["trend"] = trend_value
    html = render(report)
    part = section(html, "trend")
    if isinstance(trend_value, list) and trend_value:
        assert 'id="chart-trend"' in part          # two points, every value missing: an empty chart, no crash
        assert part.count("<circle") == 0
    else:
        assert 'id="no-trend"' in part and "<svg" not in part
