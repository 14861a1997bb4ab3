"""HTML summary: structure, escaping, caps (no browser here; tests/reports/test_html_chromium.py opens it)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from audit_function.vocabulary import AuditResult
from reports import writer_for
from reports.html_report import PAGE_SIZE, TABLE_CAP, HtmlWriter
from tests.reports.factory_xlsx import finding, vault

HOSTILE = '<script>alert(1)</script>'
QUOTE = '" onmouseover="alert(2)'


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(html: str) -> list[tuple[str, dict]]:
    parser = Elements()
    parser.feed(html)
    return parser.tags


def report_of(findings, vaults, **extra) -> dict:
    report = {
        "schemaVersion": "2.0", "tool": {"name": "kv-audit", "version": "0"},
        "run": {"id": "r1", "startedAt": "2026-11-23T06:00:00Z", "finishedAt": "2026-11-23T06:01:00Z",
                "source": "snapshot", "complete": True, "gaps": [], "notEvaluated": []},
        "summary": {"vaults": len(vaults), "findings": len(findings),
                    "bySeverity": {"high": sum(f["severity"] == "high" for f in findings), "medium": 0, "low": 0},
                    "byRule": {}, "byPermissionModel": {"rbac": len(vaults), "accessPolicy": 0},
                    "byNetworkExposure": {"public": len(vaults), "firewalled": 0, "private": 0}},
        "vaults": vaults, "findings": findings, "migration": [],
    }
    for key, value in extra.items():
        report[key].update(value) if isinstance(value, dict) else report.__setitem__(key, value)
    return report


def render(report: dict) -> str:
    return HtmlWriter().render(AuditResult(report)).decode("utf-8")


def test_estate_text_is_escaped_everywhere():
    v = vault(HOSTILE, tags={"owner": QUOTE})
    f = finding("public-network-open", v, 1, principal=QUOTE, principalName=HOSTILE, owner=QUOTE,
                message=f"{HOSTILE} and {QUOTE}")
    html = render(report_of([f], [v], summary={"fixFirst": [f["fingerprint"]]},
                            run={"coverage": [{"source": HOSTILE, "state": "partial", "note": QUOTE}]}))
    tags = parse(html)
    assert [t for t, _ in tags].count("script") == 1            # only the page's own script
    assert not any(name.startswith("on") for _, attrs in tags for name in attrs)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'onmouseover="alert' not in html


def test_self_contained_and_locked_down():
    v = vault("kv1")
    html = render(report_of([finding("public-network-open", v)], [v]))
    tags = parse(html)
    assert not [t for t, a in tags if t in ("link", "img", "iframe", "object", "embed") or "src" in a]
    assert not re.search(r"""(href|src)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "'sha256-" in csp


def test_incomplete_run_is_the_first_thing_on_the_page():
    v = vault("kv1")
    report = report_of([finding("public-network-open", v)], [v], run={
        "complete": False, "gaps": [{"scope": "/subscriptions/x", "table": "vaults", "reason": "403 Forbidden"}],
        "coverage": [{"source": "directory", "state": "not collected", "note": "names missing"},
                     {"source": "vaults", "state": "collected", "note": ""}]})
    html = render(report)
    assert "(INCOMPLETE)" in html.split("</title>")[0]
    body = html.split("<main>", 1)[1]
    assert body.index('id="run-status"') < body.index('id="fix-first"') < body.index('id="findings-section"')
    assert 'data-complete="false"' in html and "INCOMPLETE RUN: 1 gap(s)" in html and "403 Forbidden" in html
    assert 'class="state-not-collected"' in html and "names missing" in html


def test_fix_first_follows_the_ranking_and_names_people():
    v = vault("kv1")
    a = finding("public-network-open", v, 1, principalName="Alice Admin", principal="p-a", owner="team-a@x")
    b = finding("no-private-endpoint", v, 2)
    html = render(report_of([a, b], [v], summary={"fixFirst": [b["fingerprint"], a["fingerprint"]]}))
    section = html.split('id="fix-first"', 1)[1].split("</section>", 1)[0]
    assert "no fix-first ranking" not in section
    assert section.index("no-private-endpoint") < section.index("public-network-open")
    assert "Alice Admin (p-a)" in section and "team-a@x" in section


def test_absent_v2_fields_render_sensibly():
    v = vault("kv1")
    html = render(report_of([finding("public-network-open", v)], [v]))
    assert "no fix-first ranking" in html and "no per-source coverage" in html


def test_large_estates_cap_the_table_with_a_marker():
    v = vault("kv1")
    findings = [finding("no-private-endpoint", v, n) for n in range(TABLE_CAP + 7)]
    html = render(report_of(findings, [v]))
    assert html.count("<tr data-severity=") == TABLE_CAP
    assert html.count(" hidden>") == TABLE_CAP - PAGE_SIZE     # one page laid out before the script runs
    assert f"Showing the first {TABLE_CAP:,} of {TABLE_CAP + 7:,} findings" in html and "kv-audit-report.json" in html


def test_registered_as_a_format():
    assert writer_for("html").filename == "kv-audit-report.html"


@pytest.mark.parametrize("missing", ["summary", "vaults", "migration"])
def test_minimal_documents_render(missing):
    v = vault("kv1")
    report = report_of([finding("public-network-open", v)], [v])
    del report[missing]
    assert "<table id=\"findings\" data-page-size=" in render(report)


def test_missing_chromium_fails_under_ci_and_skips_elsewhere(monkeypatch):
    from tests.reports import chromium

    monkeypatch.setattr(chromium.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        chromium.chromium_binary()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        chromium.chromium_binary()


def test_a_large_finding_list_is_read_once_and_counted_in_full():
    """The table stops at TABLE_CAP rows, but the summary tables count every finding: the
    spool (sized and iterable, like the engine's finding store) is read exactly once."""
    v = vault("kv1")

    class Spool:
        def __init__(self, n):
            self.n, self.read, self.passes = n, 0, 0

        def __len__(self):
            return self.n

        def __iter__(self):
            self.passes += 1
            for i in range(self.n):
                self.read += 1
                yield finding("no-private-endpoint", v, i, owner=f"team-{i % 3}")

    spool = Spool(TABLE_CAP * 20)
    report = report_of([], [v])
    report["findings"] = spool
    html = render(report)
    assert spool.passes == 1 and spool.read == TABLE_CAP * 20
    assert f"of {TABLE_CAP * 20:,} findings" in html
    assert html.count("<tr data-severity=") == TABLE_CAP
    by_owner = html.split('id="by-owner-table"', 1)[1].split("</table>", 1)[0]
    assert f"<td>team-0</td><td class=\"n\">0</td><td class=\"n\">{TABLE_CAP * 20 // 3 + 1:,}</td>" in by_owner
