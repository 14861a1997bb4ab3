"""Summary tables for the spreadsheet and the HTML page: counts by severity, rule, owner and
subscription, and the week-over-week trend. Pure functions: report values in, plain rows out.

The counting is done with pandas (the project's table library): one pass over the findings keeps
only five small integer columns (severity, rule, owner, subscription as codes into per-column
value lists, and the suppressed flag), so 566,000 findings cost a few megabytes of arrays, not a
frame of dicts. Counts are of unsuppressed findings, split by severity; suppressed findings are a
column of their own. Owners and subscriptions come sorted by findings (most first) and are cut at
``cap`` rows; ``Table.more`` says how many were left out.

pandas is imported when the tables are built (a writer's work), not when this module is imported.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

NO_OWNER = "(no owner tag)"
NO_SUBSCRIPTION = "(tenant or management-group scope)"
TABLE_CAP = 1_000
TREND_CAP = 104                     # two years of weekly runs
TREND_FIELDS = ("high", "medium", "low", "new", "resolved")


@dataclass(frozen=True)
class Table:
    key: str                        # severity | rule | owner | subscription
    title: str
    headers: tuple[str, ...]
    rows: list[list] = field(default_factory=list)   # str / int / None cells, in header order
    more: int = 0                   # rows past the cap, not listed


class _Codes:
    """Values of one column as small integers (one list entry per distinct value)."""

    def __init__(self) -> None:
        self.index: dict = {}
        self.values: list = []
        self.codes = array("i")

    def add(self, value) -> None:
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.values)
            self.values.append(value)
        self.codes.append(code)

    def extend(self, other: _Codes) -> None:
        """``other``'s codes after this column's, as if its values had been added here one by one."""
        remap = []
        for value in other.values:
            code = self.index.get(value)
            if code is None:
                code = self.index[value] = len(self.values)
                self.values.append(value)
            remap.append(code)
        self.codes.extend(array("i", [remap[code] for code in other.codes]))


class Tally:
    """Collects the columns the tables need, one finding at a time (writers feed it while they
    stream their own rows, so the findings are read once)."""

    def __init__(self) -> None:
        self.severity, self.rule, self.owner, self.subscription = _Codes(), _Codes(), _Codes(), _Codes()
        self.suppressed = array("b")

    def add(self, finding: dict) -> None:
        get = finding.get
        severity = get("severity")
        self.severity.add(str(severity).lower() if severity is not None else None)
        self.rule.add(_text(get("ruleId")))
        self.owner.add(_text(get("owner")))
        sub = get("subscriptionId")
        self.subscription.add(str(sub).lower() if sub else None)
        self.suppressed.append(1 if get("suppressed") else 0)

    def __len__(self) -> int:
        return len(self.suppressed)

    def extend(self, other: Tally) -> None:
        """Another tally's findings after this one's (a run of the Findings sheet made elsewhere)."""
        for name in ("severity", "rule", "owner", "subscription"):
            getattr(self, name).extend(getattr(other, name))
        self.suppressed.extend(other.suppressed)

    def tables(self, vaults, *, severities, rules=(), severity_totals=None, cap: int = TABLE_CAP) -> dict[str, Table]:
        """The four tables. ``rules``: rule ids listed even at zero (the report's ``byRule`` keys);
        ``severity_totals``: the report's ``bySeverity``, used only when no finding was tallied
        (a report whose findings were left out)."""
        import numpy as np
        import pandas as pd

        frame = pd.DataFrame({
            "severity": np.frombuffer(self.severity.codes, dtype=np.int32) if len(self) else np.zeros(0, np.int32),
            "rule": np.frombuffer(self.rule.codes, dtype=np.int32) if len(self) else np.zeros(0, np.int32),
            "owner": np.frombuffer(self.owner.codes, dtype=np.int32) if len(self) else np.zeros(0, np.int32),
            "subscription": np.frombuffer(self.subscription.codes, dtype=np.int32) if len(self) else np.zeros(0, np.int32),
            "suppressed": np.frombuffer(self.suppressed, dtype=np.int8).astype(bool) if len(self) else np.zeros(0, bool),
        })
        severities = list(severities)
        shown = [self.severity.index[s] for s in severities if s in self.severity.index]
        counts = {key: _counts(pd, frame, key, shown) for key in ("rule", "owner", "subscription")}
        vault_owners, vault_subs, sub_names = _vault_counts(vaults)

        def severity_cells(key, code):
            by = counts[key]
            return [int(by["sev"].get((code, self.severity.index[s]), 0)) if s in self.severity.index else 0
                    for s in severities]

        sev_heads = tuple(s.capitalize() for s in severities)
        out = {"severity": self._severity_table(frame, severities, severity_totals)}

        rule_rows = [[rule, int(counts["rule"]["total"].get(code, 0)), *severity_cells("rule", code),
                      int(counts["rule"]["suppressed"].get(code, 0))]
                     for code, rule in enumerate(self.rule.values)]
        rule_rows += [[r, 0, *[0] * len(severities), 0] for r in dict.fromkeys(rules) if r not in self.rule.index]
        rule_rows.sort(key=lambda row: (-row[1], -row[-1], row[0] is None, str(row[0] or "")))
        out["rule"] = Table("rule", "Findings by rule", ("Rule", "Findings", *sev_heads, "Suppressed"),
                            [[r[0] if r[0] is not None else "(no rule id)", *r[1:]] for r in rule_rows])

        owner_rows = []
        for code, owner in enumerate(self.owner.values):
            owner_rows.append([owner, vault_owners.pop(owner, 0), int(counts["owner"]["total"].get(code, 0)),
                               *severity_cells("owner", code), int(counts["owner"]["suppressed"].get(code, 0))])
        owner_rows += [[owner, n, 0, *[0] * len(severities), 0] for owner, n in vault_owners.items()]
        out["owner"] = _capped(Table("owner", "Findings by owner",
                                     ("Owner", "Vaults", "Findings", *sev_heads, "Suppressed")),
                               owner_rows, cap, label=lambda o: o if o is not None else NO_OWNER)

        sub_rows = []
        for code, sub in enumerate(self.subscription.values):
            sub_rows.append([sub, vault_subs.pop(sub, 0), int(counts["subscription"]["total"].get(code, 0)),
                             *severity_cells("subscription", code),
                             int(counts["subscription"]["suppressed"].get(code, 0))])
        sub_rows += [[sub, n, 0, *[0] * len(severities), 0] for sub, n in vault_subs.items()]
        table = _capped(Table("subscription", "Findings by subscription",
                              ("Subscription", "Subscription ID", "Vaults", "Findings", *sev_heads, "Suppressed")),
                        sub_rows, cap, label=lambda s: s)
        for row in table.rows:   # the id kept as the vaults spell it, the name beside it
            name, sub_id = sub_names.get(row[0], (None, row[0]))
            row[0:1] = [name or sub_id or NO_SUBSCRIPTION, sub_id]
        out["subscription"] = table
        return out

    def _severity_table(self, frame, severities, totals) -> Table:
        head = ("Severity", "Findings", "Suppressed")
        if not len(self) and isinstance(totals, dict):
            lowered = {str(k).lower(): v for k, v in totals.items()}
            return Table("severity", "Findings by severity", head,
                         [[s, _int(lowered.get(s)), None] for s in severities])
        open_ = frame.loc[~frame["suppressed"], "severity"].value_counts()
        closed = frame.loc[frame["suppressed"], "severity"].value_counts()
        rows = []
        for s in severities:
            code = self.severity.index.get(s)
            rows.append([s, int(open_.get(code, 0)), int(closed.get(code, 0))])
        return Table("severity", "Findings by severity", head, rows)


def summary_tables(findings, vaults, *, severities, rules=(), severity_totals=None,
                   cap: int = TABLE_CAP) -> dict[str, Table]:
    """The tables for an iterable of findings (a list or the report's streaming store)."""
    tally = Tally()
    for finding in findings or ():
        tally.add(finding)
    return tally.tables(vaults, severities=severities, rules=rules, severity_totals=severity_totals, cap=cap)


def _counts(pd, frame, key: str, severity_codes: list[int]) -> dict:
    """Unsuppressed totals, unsuppressed per (value, severity) and suppressed totals, by code."""
    open_ = frame[~frame["suppressed"]]
    per = open_[open_["severity"].isin(severity_codes)].groupby([key, "severity"]).size()
    return {"total": open_.groupby(key).size().to_dict(), "sev": per.to_dict(),
            "suppressed": frame[frame["suppressed"]].groupby(key).size().to_dict()}


def _capped(table: Table, rows: list[list], cap: int, label) -> Table:
    """Most findings first (then most suppressed, most vaults, the name), at most ``cap`` rows."""
    rows.sort(key=lambda row: (-row[2], -row[-1], -row[1], row[0] is None, str(row[0] or "")))
    kept = [[label(row[0]), *row[1:]] for row in rows[:cap]]
    return Table(table.key, table.title, table.headers, kept, max(0, len(rows) - cap))


def _vault_counts(vaults):
    owners: dict = {}
    subs: dict = {}
    names: dict = {}
    for vault in vaults or ():
        if not isinstance(vault, dict):
            continue
        owner = _text(vault.get("owner"))
        owners[owner] = owners.get(owner, 0) + 1
        sub_id = vault.get("subscriptionId")
        key = str(sub_id).lower() if sub_id else None
        subs[key] = subs.get(key, 0) + 1
        if key is not None and (key not in names or not names[key][0]):
            names[key] = (vault.get("subscriptionName"), sub_id)
    return owners, subs, names


def _text(value):
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# ---- trend ----

def trend_points(summary) -> list[dict]:
    """``summary.trend`` (oldest first, the current run last) as clean points: ``runAt`` a string
    or None, each count a non-negative int or None when missing or not a number. Anything that
    is not a list of objects gives no points; at most the last :data:`TREND_CAP` are kept."""
    trend = summary.get("trend") if isinstance(summary, dict) else None
    if not isinstance(trend, list):
        return []
    points = []
    for item in trend[-TREND_CAP:]:
        if not isinstance(item, dict):
            continue
        run_at = item.get("runAt")
        point = {"runAt": run_at if isinstance(run_at, str) and run_at else None}
        for name in TREND_FIELDS:
            value = item.get(name)
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            point[name] = value if ok else None
        points.append(point)
    return points


def trend_label(point: dict, n: int) -> str:
    """A short x-axis label: the run's date (``2026-11-24``), else ``run <n>``."""
    run_at = point.get("runAt")
    return run_at[:10] if run_at else f"run {n}"
