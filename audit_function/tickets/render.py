"""Ticket text: title, and a body as Markdown (GitHub), HTML (Azure DevOps) or plain text (exports).

Everything taken from the estate (names, tags, evidence) is data. Markdown puts it inside code
fences long enough that it cannot close them (no mentions, links or markup); HTML escapes it;
the CSV export neutralizes formulas (``export.py``).

The *digest* summarizes what a ticket says, independent of format; a sink rewrites a ticket only
when the digest it recorded differs, so an unchanged finding leaves the ticket untouched.
"""

from __future__ import annotations

import hashlib
import html
import json
import re

from audit_function.tickets.model import Ticket

TITLE_LIMIT = 250
# GitHub issue bodies stop at 65,536 characters; Jira descriptions at 32,767.
BODY_LIMITS = {"markdown": 60_000, "html": 60_000, "plain": 30_000}
DETAIL_FIELDS = (("Vault", "vaultName"), ("Vault id", "vaultId"),
                 ("Subscription", "subscriptionId"), ("Resource group", "resourceGroup"),
                 ("Principal", "principalId"), ("Owner", "owner"), ("Role assignment", "assignmentId"),
                 ("Role definition", "roleDefinitionId"), ("First seen", "firstSeen"))
#: per finding, what a ticket says (a change rewrites the ticket)
DIGEST_FIELDS = ("fingerprint", "severity", "title", "message", "evidence", "remediation", "firstSeen",
                 "principalName", "owner")


def principal(finding: dict) -> str | None:
    """``principalName (id)`` when the finding names the principal, else the id (None without one)."""
    pid, name = finding.get("principalId"), finding.get("principalName")
    if not pid:
        return None
    if name:
        guest = " (guest)" if str(finding.get("userType") or "").lower() == "guest" else ""
        return f"{name}{guest} ({pid})"
    return str(pid)


OWNER_LABEL = "owner:"
_LABEL_UNSAFE = re.compile(r"[,;\x00-\x1f\x7f]+")


def owner_label(owner: str | None, limit: int = 50) -> str | None:
    """``owner:<value>``, the label (GitHub, at most 50 characters) or tag (Azure DevOps) that names
    a ticket's owner: separators and control characters removed, spaces collapsed, cut to ``limit``."""
    if not owner:
        return None
    value = " ".join(_LABEL_UNSAFE.sub(" ", str(owner)).split())
    return (OWNER_LABEL + value)[:limit].rstrip() if value else None


def where(finding: dict) -> str:
    return str(finding.get("vaultName") or finding.get("scope") or finding.get("assignmentId") or "estate")


def title(ticket: Ticket) -> str:
    group = ticket.group
    if group == "vault":
        text = f"kv-audit: Key Vault {ticket.vault_name or ticket.vault_id} has open findings"
    elif group == "rule":
        finding = ticket.findings[0]
        text = f"kv-audit: {finding.get('title') or ticket.rule_id} (rule {ticket.rule_id})"
    elif group == "owner":
        text = (f"kv-audit: open Key Vault findings owned by {ticket.owner}" if ticket.owner
                else "kv-audit: open Key Vault findings with no owner tag")
    else:
        finding = ticket.findings[0]
        text = f"kv-audit: {finding.get('title') or finding.get('ruleId')} ({where(finding)})"
    text = " ".join(text.split())  # no newlines or control whitespace in a title
    return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 1] + "…"


def digest(ticket: Ticket) -> str:
    content = {
        "title": title(ticket),
        "severity": ticket.severity,
        "suppressed": ticket.suppressed_count,
        "owner": ticket.owner,
        "findings": [{k: f.get(k) for k in DIGEST_FIELDS} for f in ticket.findings],
    }
    blob = json.dumps(content, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def _details(finding: dict) -> list[tuple[str, str]]:
    rows = [("Rule", str(finding.get("ruleId"))), ("Severity", str(finding.get("severity")))]
    rows += [(label, principal(finding) if key == "principalId" else str(finding[key]))
             for label, key in DETAIL_FIELDS if finding.get(key)]
    rows.append(("Fingerprint", str(finding.get("fingerprint"))))
    return rows


def _heading(ticket: Ticket, finding: dict) -> str:
    """A finding section's heading: its title, and where it is when the ticket groups several places."""
    text = str(finding.get("title") or finding.get("ruleId"))
    return f"{text} ({where(finding)})" if ticket.group in ("rule", "owner") else text


def _evidence(finding: dict, limit: int = 8_000) -> str:
    text = json.dumps(finding.get("evidence"), indent=2, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "\n... (truncated; see the report)"


def _header(ticket: Ticket, managed: bool = True, inert=lambda text: text) -> str:
    """The body's first line; ``inert`` makes estate text (an owner) safe in the body's format."""
    group, count = ticket.group, len(ticket.findings)
    if group != "finding":
        if group == "vault":
            text = f"{count} open finding(s) on this Key Vault"
        elif group == "rule":
            text = f"{count} open finding(s) of rule {inert(ticket.rule_id)}"
        else:
            text = (f"{count} open finding(s) owned by {inert(ticket.owner)}" if ticket.owner else
                    f"{count} open finding(s) whose vault, resource group and subscription name no owner")
        text += f", highest severity {ticket.severity}."
        if ticket.owner and group in ("vault", "rule"):
            text += f" Owner: {inert(ticket.owner)}."
        if ticket.suppressed_count:
            text += f" {ticket.suppressed_count} more are suppressed (see the report)."
        return text
    if not managed:
        return f"Severity {ticket.severity}. Found by kv-audit."
    return f"Severity {ticket.severity}. Opened by kv-audit; it updates and closes this ticket."


# --- Markdown (GitHub) ------------------------------------------------------------------------

def marker(key: str, digest_value: str) -> str:
    return f"<!-- kv-audit:key={key} digest={digest_value} -->"


MARKER_RE = re.compile(r"<!-- kv-audit:key=([A-Za-z0-9._-]+) digest=([0-9a-f]+) -->")


def _fence(text: str, info: str = "text") -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def markdown(ticket: Ticket) -> str:
    sections = []
    for finding in ticket.findings:
        details = "\n".join(f"{label}: {value}" for label, value in _details(finding))
        sections.append("\n\n".join([
            f"### {_md_plain(_heading(ticket, finding))}",
            _fence(str(finding.get("message") or "")),
            _fence(details),
            "**Remediation**",
            _fence(str(finding.get("remediation") or "")),
            "<details><summary>Evidence</summary>\n\n" + _fence(_evidence(finding), "json")
            + "\n\n</details>",
        ]))
    head = marker(ticket.key, digest(ticket)) + "\n\n" + _header(ticket, inert=_md_plain)
    return _limited(head, sections, "", "\n\n", BODY_LIMITS["markdown"]) + "\n"


def _md_plain(text: str) -> str:
    """Rule titles come from the catalog; still, keep them inert."""
    text = " ".join(str(text).split())
    text = re.sub(r"([\\`*_{}\[\]<>#|!~])", r"\\\1", text)
    return text.replace("@", "@\u200b")


# --- HTML (Azure DevOps) ----------------------------------------------------------------------

ADO_MARKER_RE = re.compile(r"kv-audit-digest:\s*([0-9a-f]+)")


def html_body(ticket: Ticket) -> str:
    esc = html.escape
    sections = []
    for finding in ticket.findings:
        rows = "".join(f"<tr><td>{esc(label)}</td><td>{esc(value)}</td></tr>"
                       for label, value in _details(finding))
        sections.append("".join([
            f"<h3>{esc(_heading(ticket, finding))}</h3>",
            f"<p>{esc(str(finding.get('message') or ''))}</p>",
            f"<table>{rows}</table>",
            f"<p><b>Remediation</b></p><pre>{esc(str(finding.get('remediation') or ''))}</pre>",
            f"<p><b>Evidence</b></p><pre>{esc(_evidence(finding))}</pre>",
        ]))
    tail = f"<p>kv-audit-key: {esc(ticket.key)} kv-audit-digest: {digest(ticket)}</p>"
    return _limited(f"<p>{esc(_header(ticket))}</p>", sections, tail, "", BODY_LIMITS["html"],
                    wrap=lambda text: f"<p>{esc(text)}</p>")


# --- plain text (exports) ---------------------------------------------------------------------

def plain(ticket: Ticket) -> str:
    sections = []
    for finding in ticket.findings:
        details = "\n".join(f"{label}: {value}" for label, value in _details(finding))
        sections.append("\n\n".join([
            _heading(ticket, finding),
            str(finding.get("message") or ""),
            details,
            "Remediation:\n" + str(finding.get("remediation") or ""),
            "Evidence:\n" + _evidence(finding),
        ]))
    return _limited(_header(ticket, managed=False), sections, f"kv-audit key: {ticket.key}",
                    "\n\n", BODY_LIMITS["plain"])


def _limited(head: str, sections: list[str], tail: str, sep: str, limit: int,
             wrap=lambda text: text) -> str:
    """Join head, as many whole finding sections as fit in ``limit`` characters, and tail."""
    reserve = len(head) + len(tail) + 200
    kept: list[str] = []
    used = reserve
    for section in sections:
        if used + len(section) + len(sep) > limit and kept:
            break
        kept.append(section if len(section) + reserve <= limit
                    else section[: max(limit - reserve - 100, 0)] + " [truncated]")
        used += len(kept[-1]) + len(sep)
    left = len(sections) - len(kept)
    parts = [head, *kept]
    if left:
        parts.append(wrap(f"... and {left} more finding(s): see the kv-audit report."))
    if tail:
        parts.append(tail)
    return sep.join(parts)


# --- comments ---------------------------------------------------------------------------------

def resolved_comment(plan, entries: list[dict] | None) -> str:
    when = f"run {plan.run_id} ({plan.run_started})" if plan.run_id else "the latest run"
    text = f"kv-audit: no longer found in {when}; the finding is resolved."
    seen = [e.get("lastSeen") for e in entries or [] if e.get("lastSeen")]
    if seen:
        text += f" Last seen {max(seen)}."
    return text


def suppressed_comment(findings: list[dict]) -> str:
    lines = ["kv-audit: this finding is now suppressed (accepted), so kv-audit closes this "
             "ticket; it reopens it if the finding is still present when the suppression ends."]
    seen = set()
    for finding in findings:
        s = finding.get("suppression") or {}
        if s.get("id") in seen:
            continue
        seen.add(s.get("id"))
        lines.append(f"Suppression {s.get('id')}: owner {s.get('owner')}, expires "
                     f"{s.get('expires')}. Justification: {s.get('justification')}")
    return "\n".join(lines)


REOPENED_COMMENT = "kv-audit: the finding is back (found again in the latest run); reopening."
STILL_PRESENT_COMMENT = ("kv-audit: the finding is still present, so the ticket is reopened. "
                         "To accept the finding, add a suppression with a justification, an "
                         "owner and an expiry date (docs/config.md).")
UNSUPPRESSED_COMMENT = ("kv-audit: the finding is no longer suppressed (the suppression expired "
                        "or was removed) and is still present.")
