"""The terminal tells the truth: open counts, suppressions needing attention, why --fail-on exits 1,
progress through report writing, and a progress line ended before the summary."""

from __future__ import annotations

import io
import json

from audit_function.cli import audit as cli_audit
from audit_function.pipeline.run import AuditOptions, run_audit
from audit_function.cli.main import main
from audit_function.cli.progress import Progress

CONFIG = """\
suppressions:
  - id: lab-public
    ruleId: public-network-open
    vault: kv-lab-scratch
    justification: lab vault, rebuilt weekly
    owner: lab-team
    expires: 2099-01-31
  - id: erp-public-old
    ruleId: public-network-open
    vault: kv-fabrikam-erp
    justification: migration window
    owner: erp-team
    expires: 2020-01-31
  - id: nothing-here
    ruleId: soft-delete-disabled
    vault: kv-does-not-exist
    justification: stale entry
    owner: nobody
    expires: 2099-01-31
"""


class TtyProgress(Progress):
    def __init__(self, stream=None, enabled=None):
        super().__init__(stream, enabled=True)


def test_counts_suppressions_and_fail_on_are_told(tmp_path, capsys, monkeypatch):
    config = tmp_path / "kv-audit.yaml"
    config.write_text(CONFIG)
    monkeypatch.setattr(cli_audit, "Progress", TtyProgress)   # the audit command makes its Progress
    code = main(["audit", "--demo", "--out", str(tmp_path / "out"), "--config", str(config), "--fail-on", "high"])
    captured = capsys.readouterr()
    report = json.loads((tmp_path / "out" / "kv-audit-report.json").read_text())
    summary = report["summary"]
    open_ = summary["bySeverityUnsuppressed"]
    assert code == 1 and summary["suppressed"] == 1 and open_["high"] == summary["bySeverity"]["high"] - 1
    first = captured.out.splitlines()[0]
    assert f"{summary['findings']} findings: {sum(open_.values())} open (high {open_['high']}," in first
    assert first.endswith("1 suppressed")
    err = captured.err
    assert "1 expired suppression(s)" in err and "erp-public-old (rule public-network-open, owner erp-team" in err
    assert "1 unused suppression(s)" in err and "nothing-here (rule soft-delete-disabled" in err
    assert f"exit 1: {open_['high']} open finding(s) at high severity or above" in err
    failing = err[err.index("exit 1:"):].splitlines()[1:]
    assert len(failing) == 6 and failing[-1].strip() == f"… and {open_['high'] - 5} more in the report"
    assert all(line.split()[0] == "high" for line in failing[:5])
    assert "kv-lab-scratch" not in "".join(line for line in failing if "public-network-open" in line)
    # the report was written with progress on screen, and that line was ended before the summary
    assert "writing xlsx: Findings rows" in err and "writing json:" in err
    before_summary = err[:err.index("  1 expired suppression(s)")]
    assert before_summary.endswith("\n") and not before_summary.rstrip("\n").endswith("\x1b[K")


def test_writers_report_progress_and_end_their_line():
    stream = io.StringIO()
    progress = Progress(stream, enabled=True)
    outcome = run_audit(AuditOptions(source="demo", formats=("json", "xlsx")), progress=progress)
    outcome.files["kv-audit-report.json"].read_all()   # streamed: written when the sink reads it
    text = stream.getvalue()
    rows = len(outcome.result.report["findings"])
    assert f"writing xlsx: Findings rows {rows} of {rows}" in text
    assert "writing json:" in text and "MB, done" in text
    progress("vaults", n=1)      # a line left open…
    progress.end()               # …is ended before anything else is printed
    assert stream.getvalue().endswith("\n")
